"""Points awarded by the events themselves: one function per kind of source record, called by the
service that records the event, inside its transaction (the step that commits the event commits
its points, and a refused step leaves neither).

Which event earns what (the recompute command reads the same facts back from the records):

- a check-in whose event is a 主题党日 → THEME_DAY_CHECKIN; one whose event is an offline training
  session's station event → TRAINING_ATTENDED (source "checkin", day: the check-in's day);
- an activity while it stands verified → ACTIVITY_VERIFIED by its kind, to its author and each
  fellow member (day: the activity's day); a 走访 naming covered households → VISIT_DONE to its
  author (day: the day it was recorded — nobody checks a visit, so a back-dated one must not
  reopen a past month's cap). An activity sent back to verification after an edit loses its
  points by a system reversal, and gets them back by a reinstatement if verified again;
- a need resolved by its deadline → NEED_RESOLVED_IN_SLA to the member who resolved it; rated
  满意 / 不满意 → RATED_SATISFIED / RATED_UNSATISFIED to the member it is attributed to;
- a diary entry → DIARY_ENTRY (day: the day it was written, for the same reason as visits);
- an SLA breach against a member → SLA_BREACH; an upheld notice objection → OBJECTION_UPHELD to
  the candidate.

Every award goes through ``ledger.award`` (exactly once per source, caps, rules by day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.clock import local_day
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    Checkin,
    DiaryEntry,
    Member,
    Need,
    NeedBreach,
    NeedRating,
    Nomination,
    NoticeObjection,
    ObjectionStatus,
    PointsEntry,
    RuleCode,
    StationEvent,
    StationEventKind,
    TrainingMode,
    TrainingSession,
    User,
    VerifyState,
    activity_members,
    activity_residents,
)
from app.services.points.ledger import PointsError, award, reverse

# The source types of awards (and "points_entry": the entry a correction reverses).
CHECKIN, TRAINING_COMPLETION, ACTIVITY, NEED = "checkin", "training_completion", "activity", "need"
NEED_BREACH, DIARY_ENTRY, NOTICE_OBJECTION = "need_breach", "diary_entry", "notice_objection"
CORRECTED_ENTRY = "points_entry"
SOURCE_TYPES = (CHECKIN, TRAINING_COMPLETION, ACTIVITY, NEED, NEED_BREACH, DIARY_ENTRY, NOTICE_OBJECTION)
ACTIVITY_CODES = (RuleCode.ACTIVITY_VERIFIED, RuleCode.VISIT_DONE)


def _user_id(user: User | None) -> int | None:
    return user.id if user is not None else None


# --- check-ins --------------------------------------------------------------------------------


def checkin_codes(event: StationEvent | None) -> list[RuleCode]:
    """What a check-in attached to ``event`` earns."""
    if event is None:
        return []
    codes = []
    if event.kind is StationEventKind.THEME_DAY:
        codes.append(RuleCode.THEME_DAY_CHECKIN)
    session_id = db.session.scalar(
        sa.select(TrainingSession.id).where(
            TrainingSession.station_event_id == event.id,
            TrainingSession.mode == TrainingMode.OFFLINE,
            TrainingSession.cancelled_at.is_(None),
        )
    )
    if session_id is not None:
        codes.append(RuleCode.TRAINING_ATTENDED)
    return codes


def for_checkin(checkin: Checkin) -> list[PointsEntry]:
    """The points of a check-in that counts as attendance of an event (once, however often the
    member scans or the event is attached later)."""
    if checkin.event_id is None:
        return []
    event = db.session.get(StationEvent, checkin.event_id)
    member = db.session.get(Member, checkin.member_id)
    assert member is not None
    actor_id = checkin.recorded_by_id or member.user_id
    actor = db.session.get(User, actor_id)
    entries = []
    for code in checkin_codes(event):
        entry = award(member, code, CHECKIN, checkin.id, checkin.day, actor=actor)
        if entry is not None:
            entries.append(entry)
    return entries


# --- activities (verified; regular visits) ----------------------------------------------------


def activity_wants(activity: Activity) -> dict[tuple[RuleCode, int], tuple[str, object]]:
    """What the activity earns as it stands: (code, member id) → (activity kind, day). Reads the
    households and fellow members from their link tables (flushed by the caller)."""
    wants: dict[tuple[RuleCode, int], tuple[str, object]] = {}
    if activity.kind is ActivityKind.VISIT and db.session.scalar(
        sa.select(sa.exists().where(activity_residents.c.activity_id == activity.id))
    ):
        wants[(RuleCode.VISIT_DONE, activity.author_member_id)] = ("", local_day(activity.created_at))
    if activity.verify_state is VerifyState.VERIFIED:
        fellows = db.session.scalars(
            sa.select(activity_members.c.member_id).where(activity_members.c.activity_id == activity.id)
        ).all()
        for member_id in [activity.author_member_id, *fellows]:
            wants[(RuleCode.ACTIVITY_VERIFIED, member_id)] = (
                activity.kind.value, local_day(activity.started_at))
    return wants


def for_activity(activity: Activity, actor: User | None) -> None:
    """Bring the activity's points in line with it, after it is recorded, edited, verified or
    sent back: award what it now earns; reverse what it no longer does (verification undone by
    an edit, a 走访 turned into something else) and reinstate what it earns again. An admin's
    correction of an entry stands: the system never reinstates over it."""
    db.session.flush()
    wants = activity_wants(activity)
    held = holdings(db.session.scalars(
        sa.select(PointsEntry).where(PointsEntry.source_type == ACTIVITY,
                                     PointsEntry.source_id == activity.id,
                                     PointsEntry.code.in_(ACTIVITY_CODES))
    ).all())
    by_key = {(h.award.code, h.award.member_id): h for h in held}
    members = {m.id: m for m in db.session.scalars(
        sa.select(Member).where(Member.id.in_({member_id for _, member_id in wants}))
    )} if wants else {}
    for key in sorted(set(wants) | set(by_key), key=lambda k: (k[0].value, k[1])):
        holding = by_key.get(key)
        if key in wants and holding is None:
            kind, day = wants[key]
            award(members[key[1]], key[0], ACTIVITY, activity.id, day,  # type: ignore[arg-type]
                  activity_kind=kind, actor=actor)
        elif key in wants and holding is not None and holding.net == 0 and not holding.by_admin:
            holding.add_link(holding.award.points)
        elif key not in wants and holding is not None and holding.net != 0:
            holding.add_link(-holding.net)


# --- needs ------------------------------------------------------------------------------------


def for_need_resolved(need: Need, actor: User, now: datetime) -> PointsEntry | None:
    """Resolved no later than the deadline in force (restarted by each escalation and each
    reopening): the resolving member's points."""
    member = actor.member
    if member is None or need.resolved_at is None or need.resolved_at > need.resolve_due_at:
        return None
    return award(member, RuleCode.NEED_RESOLVED_IN_SLA, NEED, need.id, local_day(now), actor=actor)


def for_need_rated(need: Need, now: datetime) -> PointsEntry | None:
    """满意 earns, 不满意 costs the member the need is attributed to (基本满意: nothing)."""
    codes = {NeedRating.SATISFIED: RuleCode.RATED_SATISFIED,
             NeedRating.UNSATISFIED: RuleCode.RATED_UNSATISFIED}
    code = codes.get(need.rating) if need.rating is not None else None
    if code is None or need.member_id is None:
        return None
    member = db.session.get(Member, need.member_id)
    assert member is not None
    return award(member, code, NEED, need.id, local_day(now))


def for_breach(breach: NeedBreach) -> PointsEntry | None:
    """A breach counted against a member (or a household head) costs them."""
    if breach.owner_member_id is None:
        return None
    db.session.flush()  # the breach's id
    member = db.session.get(Member, breach.owner_member_id)
    assert member is not None
    return award(member, RuleCode.SLA_BREACH, NEED_BREACH, breach.id, local_day(breach.at))


# --- diary, objections ------------------------------------------------------------------------


def for_diary_entry(entry: DiaryEntry) -> PointsEntry | None:
    """A new diary entry (weekly cap by default), on the day it was written."""
    db.session.flush()  # the entry's id and time
    member = db.session.get(Member, entry.member_id)
    assert member is not None
    return award(member, RuleCode.DIARY_ENTRY, DIARY_ENTRY, entry.id, local_day(entry.created_at),
                 actor=member.user)


def for_objection(objection: NoticeObjection, actor: User) -> PointsEntry | None:
    """An objection to a public notice found true costs the candidate."""
    if objection.status is not ObjectionStatus.UPHELD or objection.resolved_at is None:
        return None
    nomination = db.session.get(Nomination, objection.nomination_id)
    assert nomination is not None
    member = db.session.get(Member, nomination.candidate_id)
    assert member is not None
    return award(member, RuleCode.OBJECTION_UPHELD, NOTICE_OBJECTION, objection.id,
                 local_day(objection.resolved_at), actor=actor)


# --- chains of corrections --------------------------------------------------------------------


@dataclass
class Holding:
    """An award and the corrections after it, each reversing the one before (an admin's 更正, a
    system reversal when the source stops earning, a reinstatement when it earns again)."""

    award: PointsEntry
    links: list[PointsEntry] = field(default_factory=list)

    @property
    def head(self) -> PointsEntry:
        return self.links[-1] if self.links else self.award

    @property
    def net(self) -> int:
        return self.award.points + sum(e.points for e in self.links)

    @property
    def by_admin(self) -> bool:
        """The last step was an admin's correction (system steps have no author)."""
        return bool(self.links) and self.links[-1].created_by_id is not None

    def add_link(self, points: int, actor: User | None = None, note: str = "") -> PointsEntry:
        """Append a correction of ``points`` reversing the head; the same step taken at the same
        moment by another request collides on the UNIQUE constraint and is refused."""
        link = PointsEntry(member_id=self.award.member_id, points=points, code=RuleCode.CORRECTION,
                           source_type=CORRECTED_ENTRY, source_id=self.head.id,
                           occurred_on=self.award.occurred_on, note=note[:255],
                           created_by_id=_user_id(actor))
        try:
            with db.session.begin_nested():
                db.session.add(link)
        except sa.exc.IntegrityError as exc:
            raise PointsError(_l("这条积分刚刚已被更正，请刷新后再看。")) from exc
        self.links.append(link)
        return link


def holdings(awards: list[PointsEntry]) -> list[Holding]:
    """Each award with its chain of corrections (one query per link of the longest chain)."""
    result = [Holding(a) for a in awards]
    by_head = {h.award.id: h for h in result}
    while by_head:
        links = db.session.scalars(
            sa.select(PointsEntry).where(PointsEntry.source_type == CORRECTED_ENTRY,
                                         PointsEntry.source_id.in_(list(by_head)))
        ).all()
        next_heads = {}
        for link in links:
            holding = by_head[link.source_id]
            holding.links.append(link)
            next_heads[link.id] = holding
        by_head = next_heads
    return result


def correct(entry: PointsEntry, actor: User, reason: str) -> PointsEntry:
    """An admin's 更正 of an award: a new entry cancelling what it still counts, with the reason
    (``ledger.reverse`` for an award never corrected; the chain's next link otherwise)."""
    if entry.code is RuleCode.CORRECTION:
        return reverse(entry, actor, reason)  # refused there, with its message
    holding = holdings([entry])[0]
    if not holding.links:
        return reverse(entry, actor, reason)
    reason = (reason or "").strip()
    if not reason:
        raise PointsError(_l("请填写更正原因。"))
    if holding.net == 0:
        raise PointsError(_l("这条积分已经更正过了。"))
    return holding.add_link(-holding.net, actor, reason)
