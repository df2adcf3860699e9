"""Compliance supervision (督办达标)."""
from flask_smorest import Blueprint

blp = Blueprint("compliance", __name__, url_prefix="/api", description="Compliance supervision (督办达标)")
