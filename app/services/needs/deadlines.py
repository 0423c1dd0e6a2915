"""SLA deadlines and escalation.

The escalation ladder is member → central-household head → community admins → township admins.
A deadline passes when ``now > due`` (a need accepted at exactly 24 h is on time). Each new owner
gets a fresh window, so a need nobody touches reaches the township after at most
3 × (accept SLA + cron period) when routed to an ordinary member (see ``test_needs_escalation``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app.clock import utcnow
from app.extensions import db
from app.models import (
    BreachKind,
    EventKind,
    HouseholdStatus,
    Member,
    Need,
    NeedBreach,
    NeedCategory,
    NeedSla,
    NeedStatus,
    OrgNode,
    OwnerLevel,
    User,
)
from app.services import notify
from app.services.needs.common import (
    DEFAULT_ACCEPT_HOURS,
    DEFAULT_RESOLVE_HOURS,
    SYSTEM,
    NeedError,
    owner_label,
)
from app.services.needs.notifications import add_event, notify_owner, owner_user_ids
from app.services.needs.routing import move_owner
from app.services.points import sources as points_sources

# --- SLA -------------------------------------------------------------------------------------


def sla_for(node: OrgNode, category: NeedCategory) -> tuple[int, int]:
    """(accept hours, resolve hours) for a need at ``node``: the nearest ancestor with a row wins;
    at one node, the row for the category beats the row for all categories."""
    ancestors = node.ancestor_ids
    rows = db.session.scalars(
        sa.select(NeedSla).where(
            NeedSla.org_node_id.in_(ancestors),
            sa.or_(NeedSla.category.is_(None), NeedSla.category == category),
        )
    ).all()
    if not rows:
        return DEFAULT_ACCEPT_HOURS, DEFAULT_RESOLVE_HOURS
    best = max(rows, key=lambda r: (ancestors.index(r.org_node_id), r.category is not None))
    return best.accept_hours, best.resolve_hours


def set_sla(node: OrgNode, category: NeedCategory | None, accept_hours: int, resolve_hours: int,
            by: User) -> NeedSla:
    """Create or change the SLA row of ``node`` for ``category`` (None: all categories)."""
    if not 0 < accept_hours <= 720:
        raise NeedError(_("接单时限应在 1 到 720 小时之间。"))
    if not accept_hours <= resolve_hours <= 8760:
        raise NeedError(_("办结时限不能短于接单时限，且不超过 8760 小时。"))
    row = db.session.scalar(
        sa.select(NeedSla).where(
            NeedSla.org_node_id == node.id,
            NeedSla.category.is_(None) if category is None else NeedSla.category == category,
        )
    )
    if row is None:
        row = NeedSla(org_node_id=node.id, category=category, accept_hours=0, resolve_hours=0)
        db.session.add(row)
    row.accept_hours, row.resolve_hours = accept_hours, resolve_hours
    row.updated_by_id, row.updated_at = by.id, utcnow()
    return row



# --- Escalation ------------------------------------------------------------------------------


def next_owner(need: Need) -> tuple[OwnerLevel, Member | None, OrgNode | None] | None:
    """One rung up: member → head (if the member has one) → community → township; None at the top."""
    if need.owner_level is OwnerLevel.MEMBER:
        member = need.owner_member
        ch = member.central_household if member else None
        if ch is not None and ch.status is not HouseholdStatus.REVOKED and ch.head.is_active \
                and ch.head_member_id != member.id:  # type: ignore[union-attr]
            return OwnerLevel.HEAD, ch.head, None
        return OwnerLevel.COMMUNITY, None, need.community
    if need.owner_level is OwnerLevel.HEAD:
        return OwnerLevel.COMMUNITY, None, need.community
    if need.owner_level is OwnerLevel.COMMUNITY:
        return OwnerLevel.TOWNSHIP, None, db.session.get(OrgNode, need.township_id)
    return None


def overdue_condition(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Need.hidden_at.is_(None),
        sa.or_(
            sa.and_(Need.status == NeedStatus.SUBMITTED, Need.accept_due_at < now),
            sa.and_(Need.status.in_((NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)), Need.resolve_due_at < now),
        ),
    )


def escalate_overdue(now: datetime | None = None) -> int:
    """Move every need past its deadline one rung up, record the breach against the rung that let
    it pass, restart the deadline for the new owner and tell the new and the old owner. Running it
    again at the same moment finds nothing: every deadline it touched now lies in the future."""
    now = now or utcnow()
    needs = db.session.scalars(sa.select(Need).where(overdue_condition(now)).order_by(Need.id)).all()
    for need in needs:
        kind = BreachKind.ACCEPT if need.status is NeedStatus.SUBMITTED else BreachKind.RESOLVE
        due = need.accept_due_at if kind is BreachKind.ACCEPT else need.resolve_due_at
        breach = NeedBreach(need_id=need.id, level=need.owner_level, owner_member_id=need.owner_member_id,
                            owner_node_id=need.owner_node_id, kind=kind, due_at=due, at=now)
        db.session.add(breach)
        points_sources.for_breach(breach)
        old_users = owner_user_ids(need)
        old_label = owner_label(need.owner_level, need.owner_member, need.owner_node)
        up = next_owner(need)
        if up is not None and up[2] is None and up[1] is None:
            up = None
        text = _("%(who)s%(kind)s", who=old_label, kind=kind.label)
        if up is not None:
            level, member, node = up
            move_owner(need, level, member, node, now)
            add_event(need, EventKind.ESCALATED, now, label=SYSTEM, text=text, to_level=level,
                   to_label=owner_label(level, member, node))
            notify_owner(need, _("超时上报的诉求：%(cat)s", cat=need.category.label),
                          _("%(old)s%(kind)s，已上报由您办理。", old=old_label, kind=kind.label))
            for uid in old_users:
                notify.notify(uid, _("诉求已超时上报"), _("%(kind)s，已上报给%(new)s。", kind=kind.label,
                              new=owner_label(level, member, node)), url=f"/needs/{need.id}", kind="need")
        else:
            # Top of the ladder: count the breach, remind the township, give it another window.
            add_event(need, EventKind.ESCALATED, now, label=SYSTEM, text=text, internal=True)
            notify_owner(need, _("诉求仍然超时：%(cat)s", cat=need.category.label), text)
        if kind is BreachKind.ACCEPT:
            need.accept_due_at = now + timedelta(hours=need.accept_hours)
        else:
            need.resolve_due_at = now + timedelta(hours=need.resolve_hours)
    return len(needs)
