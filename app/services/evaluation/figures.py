"""The figures of the yearly evaluation (评先选优), for the members or the central households of a
node, each a GROUP BY over all of them: a fixed number of queries whatever their number.

The year is the Asia/Shanghai calendar year. For a **member**:

- points: the sum of their ``points_entries`` whose day falls in the year;
- activities: those they recorded or took part in, started in the year, by kind — except those
  the station sent back (已退回);
- visit coverage: of the resident households they cover, the share visited in the year — a visit
  is what ``app/services/visits.py`` counts (a 走访 activity naming the household, or a diary entry
  about it, whoever wrote it);
- the three needs rates, as ``app/services/needs/rates.py`` defines them, of the needs routed to
  them (``Need.member_id``) submitted in the year, hidden ones left out;
- training hours: offline sessions they attended (a check-in attached to the session's station
  event, the session starting in the year) and online sessions they completed in the year, each
  credited its ``duration_minutes``;
- mentoring received: the guidance contacts with their central household in the year;
- complaints: their routed needs of the year rated 不满意, plus the objections to a notice of
  their nomination upheld in the year.

For a **central household** the same, over its active members (its head and linked members:
``Member.central_household_id``; a stopped member no longer counts) for points, activities (plus those recorded on the household's
behalf), coverage and training; over the needs routed to the household
(``Need.central_household_id``); its own guidance contacts; upheld objections against its head.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.clock import days_bounds
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    CentralHousehold,
    Checkin,
    DiaryEntry,
    GuidanceContact,
    HouseholdActivityYear,
    Member,
    MemberActivityYear,
    MemberCoverage,
    MemberStatus,
    MemberTrainingYear,
    MemberVisitYear,
    Need,
    NeedRating,
    Nomination,
    NoticeObjection,
    ObjectionStatus,
    PointsYear,
    ResidentHousehold,
    TrainingCompletion,
    TrainingMode,
    TrainingSession,
    VerifyState,
    activity_members,
    activity_residents,
)
from app.services.needs.common import CLOSED_STATES
from app.services.needs.rates import RateRow


class Subject(enum.StrEnum):
    """Who a sheet evaluates."""

    MEMBERS = "members"
    HOUSEHOLDS = "households"


@dataclass(frozen=True)
class Year:
    """A calendar year in Asia/Shanghai: its first and last day, and the instants [start, end)."""

    year: int

    @property
    def first(self) -> date:
        return date(self.year, 1, 1)

    @property
    def last(self) -> date:
        return date(self.year, 12, 31)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return days_bounds(self.first, self.last)


@dataclass
class Figures:
    """One member's or household's figures for the year."""

    points: int = 0
    activities: dict[ActivityKind, int] = field(default_factory=dict)
    covered: int = 0
    visited: int = 0
    needs_submitted: int = 0
    accepted_in_time: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    unsatisfied: int = 0
    training_minutes: int = 0
    mentoring: int = 0
    objections: int = 0

    @property
    def activities_total(self) -> int:
        return sum(self.activities.values())

    @property
    def coverage(self) -> float | None:
        """Visited ÷ covered, 0–1 (None when they cover no household)."""
        return self.visited / self.covered if self.covered else None

    @property
    def rates(self) -> RateRow:
        """The three rates, computed by the needs dashboard's own definitions."""
        return RateRow(None, "", self.needs_submitted, self.accepted_in_time, self.resolved,
                       self.rated, self.satisfied)

    @property
    def needs_rate(self) -> float | None:
        """The mean of the rates that exist (0–1); None when no need was routed to them."""
        if not self.needs_submitted and not self.rated:  # no rate at all (RateRow: None for each)
            return None
        row = self.rates
        rates = [r for r in (row.response_rate, row.resolution_rate, row.satisfaction_rate) if r is not None]
        return sum(rates) / len(rates) / 100 if rates else None

    @property
    def training_hours(self) -> float:
        return self.training_minutes / 60

    @property
    def complaints(self) -> int:
        return self.unsatisfied + self.objections


def _key(subject: Subject) -> sa.ColumnElement[int]:
    """The column that names the subject on a member row."""
    return Member.id if subject is Subject.MEMBERS else Member.central_household_id  # type: ignore[return-value]


def among(column: sa.ColumnElement, ids: sa.Select | list[int] | None) -> sa.ColumnElement[bool]:
    """``column`` is one of ``ids`` (None: any — the sheet's ranking joins the rows it needs)."""
    return sa.true() if ids is None else column.in_(ids)


def members_of(subject: Subject, ids: sa.Select | list[int] | None, member: type[Member] = Member
               ) -> sa.ColumnElement[bool]:
    """SQL on ``member`` (``Member`` or an alias): the member is one of the subjects (members), or
    an active member of one of them (households: its head and linked members; a stopped member's
    work no longer counts). ``ids`` None: any subject."""
    if subject is Subject.MEMBERS:
        return among(member.id, ids)
    return sa.and_(member.central_household_id.is_not(None), among(member.central_household_id, ids),
                   member.status == MemberStatus.ACTIVE)


def figures(subject: Subject, ids: sa.Select | list[int], year: int) -> dict[int, Figures]:
    """The figures of every subject selected by ``ids`` (a select of member or household ids, or
    a list of them), in seven queries (eight for households) whatever their number. Subjects with
    nothing in the year are absent (their figures are all zero)."""
    y = Year(year)
    found: dict[int, Figures] = defaultdict(Figures)
    for key, total in db.session.execute(points_select(subject, ids, y)):
        found[key].points = int(total or 0)
    for key, kinds in _activities(subject, ids, y).items():
        found[key].activities = kinds
    for key, covered, visited in db.session.execute(coverage_select(subject, ids, y)):
        found[key].covered, found[key].visited = covered, visited
    for key, *counts in db.session.execute(needs_select(subject, ids, y)):
        f = found[key]
        (f.needs_submitted, f.accepted_in_time, f.resolved, f.rated, f.satisfied,
         f.unsatisfied) = counts
    for key, minutes in db.session.execute(training_select(subject, ids, year)):
        found[key].training_minutes = int(minutes)
    for key, n in db.session.execute(mentoring_select(subject, ids, y)):
        found[key].mentoring = n
    for key, n in db.session.execute(objections_select(subject, ids, y)):
        found[key].objections = n
    return dict(found)


# Each factor as a select of (key, figures…), a row per subject with anything, for the subjects
# ``ids`` selects. figures() reads them for a page of the sheet; the sheet's ranking (``sheet.py``)
# joins the needs, mentoring and objections ones (``ids`` None: every subject's) and reads the
# yearly aggregates the others read (one row per member and year) directly.


def points_select(subject: Subject, ids: sa.Select | list[int], y: Year) -> sa.Select:
    """(key, points): net points per subject, the members' maintained yearly totals (the sum of
    their entries whose day falls in the year; a row only for a member with any)."""
    key = _key(subject)
    return (sa.select(key.label("key"), sa.func.sum(PointsYear.points).label("points"))
            .join(Member, Member.id == PointsYear.member_id)
            .where(members_of(subject, ids), PointsYear.year == y.year)
            .group_by(key))


def _activity_window(y: Year) -> tuple[sa.ColumnElement[bool], ...]:
    start, end = y.bounds
    return (Activity.started_at >= start, Activity.started_at < end,
            Activity.verify_state != VerifyState.RETURNED)


def activity_ids(subject: Subject, ids: sa.Select, y: Year) -> sa.Select:
    """(subject, activity id, kind) of the subjects' activities in the year: a member's recorded
    or taken part in; a household's recorded by its members or on its behalf. A UNION: each
    activity once per subject."""
    window = _activity_window(y)
    if subject is Subject.MEMBERS:
        first = sa.select(Activity.author_member_id.label("key"), Activity.id.label("activity_id"),
                          Activity.kind.label("kind")).where(Activity.author_member_id.in_(ids), *window)
        second = (sa.select(activity_members.c.member_id, Activity.id, Activity.kind)
                  .join(Activity, Activity.id == activity_members.c.activity_id)
                  .where(activity_members.c.member_id.in_(ids), *window))
    else:
        first = (sa.select(Member.central_household_id.label("key"), Activity.id.label("activity_id"),
                           Activity.kind.label("kind"))
                 .join(Member, Member.id == Activity.author_member_id)
                 .where(members_of(subject, ids), *window))
        second = sa.select(Activity.central_household_id, Activity.id, Activity.kind).where(
            Activity.central_household_id.in_(ids), *window)
    return sa.union(first, second)


def household_activity_parts(ids: sa.Select | list[int] | None, y: Year) -> tuple[sa.Select, sa.Select]:
    """A household's activities of the year, as (household, kind, count) rows of two selects:
    those recorded by its active members (their maintained figures), and those recorded on its
    behalf by anyone else (an author who is an active member is counted once, with their own)."""
    author = aliased(Member)
    behalf = HouseholdActivityYear
    own = (sa.select(Member.central_household_id.label("key"), MemberActivityYear.kind.label("kind"),
                     MemberActivityYear.authored.label("n"))
           .join(Member, Member.id == MemberActivityYear.member_id)
           .where(members_of(Subject.HOUSEHOLDS, ids), MemberActivityYear.year == y.year))
    others = (sa.select(behalf.household_id.label("key"), behalf.kind.label("kind"), behalf.activities.label("n"))
              .join(author, author.id == behalf.author_member_id)
              .where(among(behalf.household_id, ids), behalf.year == y.year,
                     sa.or_(author.central_household_id.is_(None),
                            author.central_household_id != behalf.household_id,
                            author.status != MemberStatus.ACTIVE)))
    return own, others


def _activities(subject: Subject, ids: sa.Select | list[int], y: Year) -> dict[int, dict[ActivityKind, int]]:
    """{subject: {kind: count}} (kinds with none absent), the count of :func:`activity_ids`'
    rows, read from the maintained yearly aggregates: a member's recorded or taken part in; a
    household's by :func:`household_activity_parts`."""
    if subject is Subject.MEMBERS:
        kinds = list(ActivityKind)
        row = MemberActivityYear
        per_kind = [sa.func.sum(row.activities).filter(row.kind == k) for k in kinds]
        return {mid: {k: n for k, n in zip(kinds, counts, strict=True) if n}
                for mid, *counts in db.session.execute(
                    sa.select(row.member_id, *per_kind)
                    .where(row.member_id.in_(ids), row.year == y.year).group_by(row.member_id))}
    found: dict[tuple[int, ActivityKind], int] = defaultdict(int)
    for part in household_activity_parts(ids, y):
        rows = part.subquery()
        for key, kind, n in db.session.execute(
                sa.select(rows.c.key, rows.c.kind, sa.func.sum(rows.c.n)).group_by(rows.c.key, rows.c.kind)):
            found[(key, kind)] += int(n or 0)
    out: dict[int, dict[ActivityKind, int]] = defaultdict(dict)
    for (key, kind), n in found.items():
        if n:
            out[key][kind] = n
    return dict(out)


def visited_residents(subject: Subject, ids: sa.Select | list[int], y: Year) -> sa.Select:
    """The ids of the resident households the subjects' members cover that were visited in the
    year, by visits.py's rule (a 走访 activity naming the household, or a diary entry about it).
    Each branch starts from the subjects' covered households, so only their visits are read
    (measured at demo scale: a township's 7,000 households in ~0.1 s on PostgreSQL and SQLite)."""
    start, end = y.bounds
    resident, member = aliased(ResidentHousehold), aliased(Member)
    covered = (member.id == resident.covering_member_id,
               members_of(subject, ids, member))
    return sa.union(
        sa.select(activity_residents.c.resident_household_id.label("resident_id"))
        .join(resident, resident.id == activity_residents.c.resident_household_id)
        .join(member, covered[0])
        .join(Activity, Activity.id == activity_residents.c.activity_id)
        .where(covered[1], Activity.kind == ActivityKind.VISIT, Activity.started_at >= start,
               Activity.started_at < end),
        sa.select(DiaryEntry.resident_household_id)
        .join(resident, resident.id == DiaryEntry.resident_household_id)
        .join(member, covered[0])
        .where(covered[1], DiaryEntry.entry_date.between(y.first, y.last)),
    )


def coverage_select(subject: Subject, ids: sa.Select | list[int], y: Year) -> sa.Select:
    """(key, covered, visited) for the subjects whose members cover any household: the
    maintained coverage counters and yearly visited counts (:func:`visited_residents`' rule)."""
    key = _key(subject)
    return (sa.select(key.label("key"), sa.func.sum(MemberCoverage.covered).label("covered"),
                      sa.func.sum(sa.func.coalesce(MemberVisitYear.visited, 0)).label("visited"))
            .select_from(MemberCoverage)
            .join(Member, Member.id == MemberCoverage.member_id)
            .outerjoin(MemberVisitYear, sa.and_(MemberVisitYear.member_id == MemberCoverage.member_id,
                                                MemberVisitYear.year == y.year))
            .where(members_of(subject, ids), MemberCoverage.covered > 0)
            .group_by(key))


def needs_column(subject: Subject) -> sa.ColumnElement[int | None]:
    """The need's attribution that routes it to the subject."""
    return Need.member_id if subject is Subject.MEMBERS else Need.central_household_id  # type: ignore[return-value]


def needs_window(subject: Subject, ids: sa.Select | list[int] | None, y: Year) -> tuple[sa.ColumnElement[bool], ...]:
    """The needs routed to the subjects, submitted in the year, not hidden (as the rates count)."""
    start, end = y.bounds
    return (among(needs_column(subject), ids), Need.hidden_at.is_(None), Need.submitted_at >= start,
            Need.submitted_at < end)


def needs_select(subject: Subject, ids: sa.Select | list[int] | None, y: Year) -> sa.Select:
    """(key, submitted, accepted in time, resolved, rated, satisfied, unsatisfied): the counts of
    rates.rates() over the needs routed to each subject, plus 不满意 for the complaints."""
    col = needs_column(subject)
    return (sa.select(
                col.label("key"),
                sa.func.count(Need.id).label("submitted"),
                sa.func.count(Need.id).filter(Need.accepted_at <= Need.first_accept_due_at).label("in_time"),
                sa.func.count(Need.id).filter(Need.status.in_(CLOSED_STATES)).label("resolved"),
                sa.func.count(Need.id).filter(Need.rating.is_not(None)).label("rated"),
                sa.func.count(Need.id).filter(
                    Need.rating.in_((NeedRating.SATISFIED, NeedRating.BASICALLY))).label("satisfied"),
                sa.func.count(Need.id).filter(Need.rating == NeedRating.UNSATISFIED).label("unsatisfied"),
            )
            .where(*needs_window(subject, ids, y))
            .group_by(col))


def training_sessions(member_ids: sa.Select, year: int) -> sa.Select:
    """(member id, session id, minutes, mode) of the training the members did in the year:
    offline sessions attended (a check-in attached to the session's station event; the session
    starts in the year), online sessions completed in the year. Cancelled sessions do not count."""
    start, end = Year(year).bounds
    offline = (
        sa.select(Checkin.member_id.label("member_id"), TrainingSession.id.label("session_id"),
                  TrainingSession.duration_minutes.label("minutes"), TrainingSession.mode.label("mode"))
        .join(TrainingSession, TrainingSession.station_event_id == Checkin.event_id)
        .where(TrainingSession.mode == TrainingMode.OFFLINE, TrainingSession.cancelled_at.is_(None),
               TrainingSession.starts_at >= start, TrainingSession.starts_at < end,
               Checkin.member_id.in_(member_ids))
    )
    online = (
        sa.select(TrainingCompletion.member_id, TrainingSession.id, TrainingSession.duration_minutes,
                  TrainingSession.mode)
        .join(TrainingSession, TrainingSession.id == TrainingCompletion.session_id)
        .where(TrainingSession.mode == TrainingMode.ONLINE, TrainingSession.cancelled_at.is_(None),
               TrainingCompletion.completed_at >= start, TrainingCompletion.completed_at < end,
               TrainingCompletion.member_id.in_(member_ids))
    )
    # UNION, not UNION ALL: two check-ins at one session (a session over two days) count once.
    return sa.union(offline, online)


def training_hours(member_ids: sa.Select, year: int) -> dict[int, float]:
    """Each member's training hours in the year (one query), by :func:`training_sessions`.

    Written here, from the models, while the training area's own ``training_hours()`` is built on
    another branch (``app/services/training.py``): the lead may swap this for it at merge, as long
    as it keeps this signature (a select of member ids, a year → hours per member id)."""
    return {mid: minutes / 60 for mid, minutes in _training_minutes(member_ids, year).items()}


def _training_minutes(member_ids: sa.Select, year: int) -> dict[int, int]:
    rows = training_sessions(member_ids, year).subquery()
    return {mid: int(total) for mid, total in db.session.execute(
        sa.select(rows.c.member_id, sa.func.sum(rows.c.minutes)).group_by(rows.c.member_id))}


def training_select(subject: Subject, ids: sa.Select | list[int], year: int) -> sa.Select:
    """(key, minutes): training minutes per subject (:func:`training_sessions`' rule), from the
    maintained yearly figures of the members: a household's are its active members'."""
    key = _key(subject)
    return (sa.select(key.label("key"), sa.func.sum(MemberTrainingYear.minutes).label("minutes"))
            .join(Member, Member.id == MemberTrainingYear.member_id)
            .where(members_of(subject, ids), MemberTrainingYear.year == year)
            .group_by(key))


def mentoring_select(subject: Subject, ids: sa.Select | list[int] | None, y: Year) -> sa.Select:
    """(key, contacts): the guidance contacts of the year with the subject's central household."""
    in_year = GuidanceContact.contact_date.between(y.first, y.last)
    n = sa.func.count(GuidanceContact.id).label("mentoring")
    if subject is Subject.MEMBERS:
        return (sa.select(Member.id.label("key"), n)
                .join(GuidanceContact, GuidanceContact.household_id == Member.central_household_id)
                .where(among(Member.id, ids), in_year).group_by(Member.id))
    return (sa.select(GuidanceContact.household_id.label("key"), n)
            .where(among(GuidanceContact.household_id, ids), in_year).group_by(GuidanceContact.household_id))


def upheld_objections(y: Year) -> tuple[sa.ColumnElement[bool], ...]:
    start, end = y.bounds
    return (NoticeObjection.status == ObjectionStatus.UPHELD, NoticeObjection.resolved_at >= start,
            NoticeObjection.resolved_at < end)


def objections_select(subject: Subject, ids: sa.Select | list[int] | None, y: Year) -> sa.Select:
    """(key, objections): objections to the subject's (a household's head's) nominations upheld
    in the year."""
    n = sa.func.count(NoticeObjection.id).label("objections")
    if subject is Subject.MEMBERS:
        return (sa.select(Nomination.candidate_id.label("key"), n)
                .join(NoticeObjection, NoticeObjection.nomination_id == Nomination.id)
                .where(among(Nomination.candidate_id, ids), *upheld_objections(y))
                .group_by(Nomination.candidate_id))
    return (sa.select(CentralHousehold.id.label("key"), n)
            .join(Nomination, Nomination.candidate_id == CentralHousehold.head_member_id)
            .join(NoticeObjection, NoticeObjection.nomination_id == Nomination.id)
            .where(among(CentralHousehold.id, ids), *upheld_objections(y))
            .group_by(CentralHousehold.id))
