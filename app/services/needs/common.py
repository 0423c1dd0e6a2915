"""What every part of the needs workflow shares: limits, state groups, the error, owner labels."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _

from app.models import (
    OPEN_NEED_STATES,
    Member,
    NeedStatus,
    OrgNode,
    OwnerLevel,
)
from app.services.errors import Refused

DEFAULT_ACCEPT_HOURS = 24
DEFAULT_RESOLVE_HOURS = 7 * 24
# Unambiguous when read aloud or copied from paper: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
NOTE_MAX = 500
RATING_COMMENT_MAX = 200
DUPLICATE_WINDOW = timedelta(days=1)
OPEN_STATES = OPEN_NEED_STATES
CLOSED_STATES = (NeedStatus.RESOLVED, NeedStatus.RATED)
SYSTEM = "系统"
RESIDENT = "群众"


class NeedError(Refused):
    """A change the workflow does not allow, or bad input; ``str()`` is the user's message."""


def owner_label(level: OwnerLevel, member: Member | None, node: OrgNode | None) -> str:
    """How an owner is named on the timeline: "户长 张三", or "某社区管理员"."""
    if member is not None:
        return f"{level.label} {member.name}"
    return f"{node.name if node else ''}{_('管理员')}"
