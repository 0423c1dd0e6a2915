"""The views' side of access: role decorators and the ``*_or_404`` guards.

The rules themselves live in ``app/policy.py`` (plain predicates, no Flask). Here they meet the
request: a view that takes an id calls one guard first, which loads the object and answers 404 when
the user may not see it (its existence is not revealed), or 403 when they may see it but not do
what they asked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import abort
from flask_login import current_user, login_required

from app import policy
from app.extensions import db
from app.models import Member, OrgNode, Role, Station

F = TypeVar("F", bound=Callable)
M = TypeVar("M")


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow the view to logged-in users holding at least one of ``roles``; others get 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
            if not current_user.role_set.intersection(roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


admin_required = roles_required(Role.ORG_ADMIN)


def get_or_404(model: type[M], object_id: int, may_see: Callable[..., bool] | None = None) -> M:
    """The object of ``model`` with ``object_id`` if it exists and ``may_see(user, obj)`` holds."""
    obj = db.session.get(model, object_id)
    if obj is None or (may_see is not None and not may_see(current_user, obj)):
        abort(404)
    return obj


def require(allowed: bool) -> None:
    """403 unless ``allowed``: for what the user may see but not change."""
    if not allowed:
        abort(403)


def node_or_404(node_id: int) -> OrgNode:
    """An org node the current admin may see, else 404."""
    return get_or_404(OrgNode, node_id, policy.node_in_scope)


def station_or_404(station_id: int, manage: bool = False) -> Station:
    """A station the current user administers (its own admins, org admins over it), else 404;
    with ``manage``, 403 unless they may also change it (its own admins may look, not change)."""
    station = get_or_404(Station, station_id, policy.station_in_scope)
    if manage:
        require(policy.can_manage_station(current_user, station))
    return station


def current_member() -> Member:
    """The logged-in user's member record, or 403 for users who are not (active) members."""
    member = policy.active_member(current_user) if current_user.is_authenticated else None
    if member is None:
        abort(403)
    return member
