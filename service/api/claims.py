"""Declared points (积分申报)."""
from flask_smorest import Blueprint

blp = Blueprint("claims", __name__, url_prefix="/api", description="Declared points (积分申报)")
