"""Pieces the creation and adjustment workflows share: the domain error, "today" in the
district's time zone, who administers a node, and who should be told to act next."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.models import OrgNode, Role, User
from app.policy import node_in_scope
from app.services.notify import notify
from app.services.org import nearest_admin_ids

SHANGHAI = ZoneInfo("Asia/Shanghai")


class WorkflowError(ValueError):
    """A step the workflow does not allow here, now, or to this person. The message is Chinese
    (a lazy string) and is shown to the user as it is."""

    def __init__(self, message: object) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class NotAllowed(WorkflowError):
    """The actor holds no role at the node this step belongs to."""


def local_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai."""
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


def administers(user: User, node: OrgNode) -> bool:
    """Whether ``user`` is an org admin of ``node`` or of a node above it."""
    return user.has_role(Role.ORG_ADMIN) and node_in_scope(user, node)


# The admins who must act next at a node (kept under this name for the workflows that use it).
admins_for = nearest_admin_ids


def tell(user_ids: list[int], title: str, body: str, url: str, kind: str) -> None:
    for uid in dict.fromkeys(user_ids):
        notify(uid, title, body, url, kind=kind)
