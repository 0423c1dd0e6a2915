"""Who may do what: the one role-and-scope check every view uses.

Org admins hold a node and everything below it (a prefix of ``OrgNode.path``); station admins hold
stations; members act on what is theirs. A view that takes an id calls one of the ``*_or_404``
helpers first: an object outside the user's reach is answered 404 (its existence is not revealed),
one the user may read but not change is answered 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from app.extensions import db
from app.models import Member, OrgNode, Role, RoleAssignment, Station, User

F = TypeVar("F", bound=Callable)


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


def admin_paths(user: User) -> list[str]:
    """The org paths the user administers (empty for non-admins)."""
    return [n.path for n in user.admin_nodes]


def node_in_scope(user: User, node: OrgNode | None) -> bool:
    """Whether ``node`` is one of the user's admin nodes or below one."""
    if node is None:
        return False
    return any(node.path.startswith(p) for p in admin_paths(user))


def node_above_in_scope(user: User, node: OrgNode) -> bool:
    """Whether the user administers ``node`` or an ancestor of it — same as in scope."""
    return node_in_scope(user, node)


def scope_condition(user: User, path_column: sa.ColumnElement[str] = OrgNode.path) -> sa.ColumnElement[bool]:
    """SQL: ``path_column`` lies under one of the user's admin nodes (false for non-admins)."""
    paths = admin_paths(user)
    if not paths:
        return sa.false()
    return sa.or_(*(path_column.startswith(p, autoescape=True) for p in paths))


def scope_roots(user: User) -> list[OrgNode]:
    """The user's admin nodes without the ones already below another of them."""
    nodes = sorted(user.admin_nodes, key=lambda n: len(n.path))
    roots: list[OrgNode] = []
    for n in nodes:
        if not any(n.path.startswith(r.path) for r in roots):
            roots.append(n)
    return roots


def node_or_404(node_id: int) -> OrgNode:
    """An org node the current admin may see, else 404."""
    node = db.session.get(OrgNode, node_id)
    if node is None or not node_in_scope(current_user, node):
        abort(404)
    return node


def station_in_scope(user: User, station: Station) -> bool:
    """Station admins hold their station; org admins hold every station at or below their node."""
    if any(s.id == station.id for s in user.admin_stations):
        return True
    return node_in_scope(user, station.org_node)


def station_or_404(station_id: int) -> Station:
    station = db.session.get(Station, station_id)
    if station is None or not station_in_scope(current_user, station):
        abort(404)
    return station


def member_in_scope(user: User, member: Member) -> bool:
    return node_in_scope(user, member.grid)


def current_member() -> Member:
    """The logged-in user's member record, or 403 for users who are not members."""
    member = current_user.member if current_user.is_authenticated else None
    if member is None or not member.is_active:
        abort(403)
    return member


def nearest_admin_ids(node: OrgNode) -> list[int]:
    """User ids of the active org admins nearest to ``node``: its own, else those of the closest
    ancestor that has any (who must act on, or be told about, something at this node)."""
    ids = node.ancestor_ids
    rows = db.session.execute(
        sa.select(RoleAssignment.user_id, RoleAssignment.org_node_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role == Role.ORG_ADMIN, RoleAssignment.org_node_id.in_(ids), User.active)
        .order_by(RoleAssignment.user_id)
    ).all()
    for node_id in reversed(ids):
        found = [uid for uid, nid in rows if nid == node_id]
        if found:
            return found
    return []
