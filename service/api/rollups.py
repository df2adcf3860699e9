"""Org totals (三晋 formulas) and leaderboards."""
from flask_smorest import Blueprint

blp = Blueprint("rollups", __name__, url_prefix="/api", description="Org totals (三晋 formulas) and leaderboards")
