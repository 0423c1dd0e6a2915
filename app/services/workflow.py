"""Pieces the creation and adjustment workflows share: the domain error and who should be told to
act next. (Who administers a node is ``app.policy.node_in_scope``.)"""

from __future__ import annotations

from app.services.errors import Refused
from app.services.notify import notify
from app.services.org import nearest_admin_ids

# The creation and adjustment workflows' names for the shared domain error.
WorkflowError = Refused


# The admins who must act next at a node (kept under this name for the workflows that use it).
admins_for = nearest_admin_ids


def tell(user_ids: list[int], title: str, body: str, url: str, kind: str) -> None:
    """Notify each user once (the same user may stand in the list twice)."""
    for uid in dict.fromkeys(user_ids):
        notify(uid, title, body, url, kind=kind)
