"""The points system (党员积分制): the ledger's one way in (``ledger.award``/``reverse``) and what is
built on it."""

from app.services.points.ledger import (
    DEFAULT_RULES,
    PointsError,
    Rule,
    award,
    cap_window,
    reverse,
    rule_in_force,
    rule_keys,
)

__all__ = [
    "DEFAULT_RULES",
    "PointsError",
    "Rule",
    "award",
    "cap_window",
    "reverse",
    "rule_in_force",
    "rule_keys",
]
