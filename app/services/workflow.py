"""Pieces the creation and adjustment workflows share: the domain error, "today" in the
district's time zone, who administers a node, and who should be told to act next."""

from __future__ import annotations

from app.models import OrgNode, Role, User
from app.policy import node_in_scope
from app.services.errors import Refused
from app.services.notify import notify
from app.services.org import nearest_admin_ids

# The creation and adjustment workflows' names for the shared domain error.
WorkflowError = Refused


def administers(user: User, node: OrgNode) -> bool:
    """Whether ``user`` is an org admin of ``node`` or of a node above it."""
    return user.has_role(Role.ORG_ADMIN) and node_in_scope(user, node)


# The admins who must act next at a node (kept under this name for the workflows that use it).
admins_for = nearest_admin_ids


def tell(user_ids: list[int], title: str, body: str, url: str, kind: str) -> None:
    for uid in dict.fromkeys(user_ids):
        notify(uid, title, body, url, kind=kind)
