"""Scoring and compliance rules: pure Python, no Flask or SQLAlchemy.

Today it holds the period arithmetic every capped rule and compliance requirement needs; the rule
registry and the rule sets (甘肃, 三晋先锋) arrive with the scoring issue.
"""
from .periods import CHINA, PERIODS, period_bounds, period_key, parse_period

__all__ = ["CHINA", "PERIODS", "period_bounds", "period_key", "parse_period"]
