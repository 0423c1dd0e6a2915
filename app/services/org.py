"""Building the org tree."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import OrgLevel, OrgNode, Role, RoleAssignment, User
from app.services.errors import Refused


class OrgError(Refused):
    """A change to the tree that would break its shape."""


def create_node(name: str, level: OrgLevel, parent: OrgNode | None = None) -> OrgNode:
    """Add a node below ``parent`` (None for the district) and give it its path."""
    if (parent is None) != (level is OrgLevel.DISTRICT):
        raise OrgError("only the district has no parent")
    if parent is not None and parent.level.child is not level:
        raise OrgError(f"a {level.value} cannot sit below a {parent.level.value}")
    node = OrgNode(name=name, level=level, parent=parent)
    db.session.add(node)
    db.session.flush()
    node.path = f"{parent.path if parent else ''}{node.id}/"
    return node


def descendants(node: OrgNode, level: OrgLevel | None = None) -> sa.Select[tuple[OrgNode]]:
    """Nodes below ``node`` (and the node itself), optionally of one level, ordered for display."""
    stmt = sa.select(OrgNode).where(OrgNode.under(node.path))
    if level is not None:
        stmt = stmt.where(OrgNode.level == level)
    return stmt.order_by(OrgNode.path)


# Built once: a need routed to a community's queue asks it before its write (issue 14).
_ADMINS_OF = (
    sa.select(RoleAssignment.user_id, RoleAssignment.org_node_id)
    .join(User, User.id == RoleAssignment.user_id)
    .where(RoleAssignment.role == Role.ORG_ADMIN, RoleAssignment.org_node_id.in_(sa.bindparam("ids", expanding=True)),
           User.active)
    .order_by(RoleAssignment.user_id)
)


def nearest_admin_ids(node: OrgNode) -> list[int]:
    """User ids of the active org admins nearest to ``node``: its own, else those of the closest
    ancestor that has any (who must act on, or be told about, something at this node)."""
    ids = node.ancestor_ids
    return _nearest(ids, db.session.execute(_ADMINS_OF, {"ids": ids}).all())


def nearest_admin_ids_of(ancestor_ids: list[int]) -> list[int]:
    """:func:`nearest_admin_ids` for the node whose path is ``ancestor_ids`` (root first), read
    in Core on the session's connection (what is committed or flushed)."""
    return _nearest(ancestor_ids, db.session.connection().execute(_ADMINS_OF, {"ids": ancestor_ids}).all())


def _nearest(ancestor_ids: list[int], rows: list) -> list[int]:
    for node_id in reversed(ancestor_ids):
        found = [uid for uid, nid in rows if nid == node_id]
        if found:
            return found
    return []
