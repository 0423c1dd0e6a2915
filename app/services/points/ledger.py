"""The ledger's one way in: ``award`` an event's points exactly once, under the rule in force for
the member on the event's day, within the rule's cap; ``reverse`` an entry by a new one.

Rules: an org node's versions (``PointsRule``) override its ancestors' and the built-in defaults
below; among a node's versions of one rule, the latest ``starts_on`` ≤ the event's day applies, so
a change never reaches back over entries already awarded. Exactly once: the UNIQUE constraint on
(code, source, member) — a replay, a second worker or the recompute command finds the first
entry instead of writing a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol, TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import (
    ActivityKind,
    CapPeriod,
    Member,
    OrgNode,
    PointsEntry,
    PointsRule,
    RuleCode,
    User,
)
from app.services.errors import Refused


class PointsError(Refused):
    """A step on the ledger the rules refuse; ``str()`` is the message for the user."""


@dataclass(frozen=True)
class Rule:
    """The rule in force: ``rule_id`` None for a built-in default no node has changed."""

    code: RuleCode
    activity_kind: str
    points: int
    cap_period: CapPeriod | None
    cap_points: int | None
    rule_id: int | None = None
    starts_on: date | None = None


# Built-in defaults (a node's admin overrides any of them from a start date).
DEFAULT_RULES: dict[tuple[RuleCode, str], Rule] = {
    (r.code, r.activity_kind): r
    for r in [
        Rule(RuleCode.THEME_DAY_CHECKIN, "", 5, CapPeriod.DAY, 5),
        Rule(RuleCode.TRAINING_ATTENDED, "", 3, CapPeriod.DAY, 6),
        Rule(RuleCode.TRAINING_COMPLETED, "", 2, CapPeriod.DAY, 4),
        Rule(RuleCode.NEED_RESOLVED_IN_SLA, "", 3, None, None),
        Rule(RuleCode.RATED_SATISFIED, "", 2, None, None),
        Rule(RuleCode.RATED_UNSATISFIED, "", -2, None, None),
        Rule(RuleCode.DIARY_ENTRY, "", 1, CapPeriod.WEEK, 3),
        Rule(RuleCode.VISIT_DONE, "", 1, CapPeriod.MONTH, 20),
        Rule(RuleCode.SLA_BREACH, "", -2, None, None),
        Rule(RuleCode.OBJECTION_UPHELD, "", -5, None, None),
        *[
            Rule(RuleCode.ACTIVITY_VERIFIED, kind.value, points, CapPeriod.DAY, 2 * points)
            for kind, points in [
                (ActivityKind.STUDY_VISIT, 2),
                (ActivityKind.TEACHING, 3),
                (ActivityKind.MEDIATION, 3),
                (ActivityKind.TECH_GUIDANCE, 2),
                (ActivityKind.ERRAND, 2),
                (ActivityKind.GROUP_STUDY, 2),
                (ActivityKind.VISIT, 1),
                (ActivityKind.PARTY_DAY, 2),
                (ActivityKind.OTHER, 1),
            ]
        ],
    ]
}


def rule_keys() -> list[tuple[RuleCode, str]]:
    """Every rule an admin may set, in the order the rules page lists them."""
    return list(DEFAULT_RULES)


def node_ids_on_path(path: str) -> list[int]:
    """The ids on an org path ``1/4/17/``, root first."""
    return [int(p) for p in path.strip("/").split("/") if p]


def rule_in_force(path: str, code: RuleCode, activity_kind: str, day: date) -> Rule | None:
    """The rule for a member whose grid has org ``path``, on ``day``: the latest version started
    by ``day`` at the deepest node on the path that has one (a version that ``inherits`` passes
    the rule up to the nodes above); else the built-in default (None when there is none: the
    event earns nothing)."""
    ids = node_ids_on_path(path)
    rows = db.session.execute(
        sa.select(PointsRule, OrgNode.path)
        .join(OrgNode, OrgNode.id == PointsRule.org_node_id)
        .where(
            PointsRule.org_node_id.in_(ids),
            PointsRule.code == code,
            PointsRule.activity_kind == activity_kind,
            PointsRule.starts_on <= day,
        )
    ).all()
    row = choose_version([(len(p), r) for r, p in rows], day)
    if row is not None:
        return as_rule(row)
    return DEFAULT_RULES.get((code, activity_kind))


class _Version(Protocol):
    id: int
    code: RuleCode
    activity_kind: str
    points: int
    cap_period: CapPeriod | None
    cap_points: int | None
    starts_on: date
    inherits: bool


V = TypeVar("V", bound=_Version)


def choose_version(versions: Iterable[tuple[int, V]], day: date) -> V | None:
    """Of one rule's versions at the nodes of one path, given as (depth of the node, version):
    the one in force on ``day`` — at each node the latest started by ``day``, the deepest node
    first, skipping a node whose latest version ``inherits``. None: the built-in default."""
    latest: dict[int, V] = {}
    for depth, row in versions:
        if row.starts_on > day:
            continue
        held = latest.get(depth)
        if held is None or (row.starts_on, row.id) > (held.starts_on, held.id):
            latest[depth] = row
    for depth in sorted(latest, reverse=True):
        if not latest[depth].inherits:
            return latest[depth]
    return None


def as_rule(row: _Version) -> Rule:
    """A stored version as the rule it makes."""
    return Rule(row.code, row.activity_kind, row.points, row.cap_period, row.cap_points,
                row.id, row.starts_on)


def cap_window(period: CapPeriod, day: date) -> tuple[date, date]:
    """The first and last day of the cap period holding ``day`` (weeks start on Monday)."""
    if period is CapPeriod.DAY:
        return day, day
    if period is CapPeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=6)
    if period is CapPeriod.MONTH:
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        return start, nxt - timedelta(days=1)
    return day.replace(month=1, day=1), day.replace(month=12, day=31)


def _existing(member_id: int, code: RuleCode, source_type: str, source_id: int) -> PointsEntry | None:
    return db.session.scalar(
        sa.select(PointsEntry).where(
            PointsEntry.member_id == member_id,
            PointsEntry.code == code,
            PointsEntry.source_type == source_type,
            PointsEntry.source_id == source_id,
        )
    )


def _used(member_id: int, rule: Rule, day: date) -> int:
    """Points the member already has under this rule in the cap period holding ``day``."""
    assert rule.cap_period is not None
    first, last = cap_window(rule.cap_period, day)
    stmt = sa.select(sa.func.coalesce(sa.func.sum(PointsEntry.points), 0)).where(
        PointsEntry.member_id == member_id,
        PointsEntry.code == rule.code,
        PointsEntry.occurred_on.between(first, last),
    )
    if rule.activity_kind:
        stmt = stmt.where(PointsEntry.activity_kind == rule.activity_kind)
    return abs(int(db.session.scalar(stmt) or 0))


def award(
    member: Member,
    code: RuleCode,
    source_type: str,
    source_id: int,
    occurred_on: date,
    *,
    activity_kind: str = "",
    actor: User | None = None,
) -> PointsEntry | None:
    """Award the points of ``code`` for one source event (``source_type`` + ``source_id``) to the
    member, in the caller's transaction. Returns the entry — the one already there if the event
    was processed before — or None when the rule gives nothing or the cap is full (the whole
    entry must fit under the cap: the last one that fits is in, the next one out)."""
    found = _existing(member.id, code, source_type, source_id)
    if found is not None:
        return found
    rule = rule_in_force(member.grid.path, code, activity_kind, occurred_on)
    if rule is None or rule.points == 0:
        return None
    if rule.cap_points is not None:
        _lock_member(member.id)
        if _used(member.id, rule, occurred_on) + abs(rule.points) > rule.cap_points:
            return None
    entry = PointsEntry(
        member_id=member.id,
        points=rule.points,
        code=code,
        activity_kind=activity_kind,
        rule_id=rule.rule_id,
        source_type=source_type,
        source_id=source_id,
        occurred_on=occurred_on,
        created_by_id=actor.id if actor else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except sa.exc.IntegrityError:
        # The same event processed at the same moment by another request: it holds the entry.
        found = _existing(member.id, code, source_type, source_id)
        if found is None:
            raise
        return found
    return entry


def _lock_member(member_id: int) -> None:
    """Serialise capped awards for one member on PostgreSQL (SQLite's writer lock already does)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Member.id).where(Member.id == member_id).with_for_update())


def reverse(entry: PointsEntry, actor: User, reason: str) -> PointsEntry:
    """Correct an entry by a new one of the opposite sign (the ledger is never edited). Once."""
    reason = reason.strip()
    if not reason:
        raise PointsError(str(_l("请填写更正原因。")))
    if entry.code is RuleCode.CORRECTION:
        raise PointsError(str(_l("更正记录不能再更正；如有需要请联系上级管理员。")))
    if _existing(entry.member_id, RuleCode.CORRECTION, "points_entry", entry.id) is not None:
        raise PointsError(str(_l("这条积分已经更正过了。")))
    correction = PointsEntry(
        member_id=entry.member_id,
        points=-entry.points,
        code=RuleCode.CORRECTION,
        source_type="points_entry",
        source_id=entry.id,
        occurred_on=entry.occurred_on,
        note=reason[:255],
        created_by_id=actor.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(correction)
    except sa.exc.IntegrityError as exc:
        raise PointsError(str(_l("这条积分已经更正过了。"))) from exc
    return correction
