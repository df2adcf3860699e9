"""Points: score events, member scores, rules administration, dues."""
from flask_smorest import Blueprint

blp = Blueprint("scores", __name__, url_prefix="/api", description="Points: score events, member scores, rules administration, dues")
