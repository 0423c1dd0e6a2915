"""The records behind each figure of the evaluation sheet: the points entries, activities, covered
households (with their visit in the year), needs, training, guidance contacts and complaints that
make one member's or household's number — selected by the very conditions that count them in
``figures.py``, so the list and the figure cannot disagree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.clock import local_day
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    CentralHousehold,
    DiaryEntry,
    EvaluationFactor,
    GuidanceContact,
    Member,
    Need,
    NeedRating,
    Nomination,
    NoticeObjection,
    PointsEntry,
    ResidentHousehold,
    TrainingSession,
    User,
    activity_residents,
)
from app.services.evaluation.figures import (
    Subject,
    Year,
    activity_ids,
    members_of,
    needs_window,
    training_sessions,
    upheld_objections,
)


@dataclass
class Records:
    """What a records page shows: a ``select`` the view paginates (with ``extra`` computed for the
    page's items), and/or short lists that need no pages (a year's training, complaints)."""

    factor: EvaluationFactor
    select: sa.Select | None = None
    extra: Callable[[Sequence], dict] | None = None
    lists: dict[str, list] = field(default_factory=dict)


def _member_key(subject: Subject, subject_id: int) -> sa.ColumnElement[bool]:
    return members_of(subject, [subject_id])


def records(subject: Subject, obj: Member | CentralHousehold, year: int, factor: EvaluationFactor,
            kind: ActivityKind | None = None) -> Records:
    """The records behind ``obj``'s figure for ``factor`` in ``year`` (activities: of one kind
    when ``kind`` is given)."""
    y = Year(year)
    build = {
        EvaluationFactor.POINTS: _points,
        EvaluationFactor.ACTIVITIES: lambda s, o, y: _activities(s, o, y, kind),
        EvaluationFactor.VISIT_COVERAGE: _coverage,
        EvaluationFactor.NEEDS_RATES: _needs,
        EvaluationFactor.TRAINING_HOURS: _training,
        EvaluationFactor.MENTORING: _mentoring,
        EvaluationFactor.COMPLAINTS: _complaints,
    }[factor]
    return build(subject, obj, y)  # type: ignore[operator]


def _points(subject: Subject, obj: Member | CentralHousehold, y: Year) -> Records:
    return Records(EvaluationFactor.POINTS, select=(
        sa.select(PointsEntry).join(Member, Member.id == PointsEntry.member_id)
        .where(_member_key(subject, obj.id), PointsEntry.occurred_on.between(y.first, y.last))
        .order_by(PointsEntry.occurred_on.desc(), PointsEntry.id.desc())))


def _activities(subject: Subject, obj: Member | CentralHousehold, y: Year, kind: ActivityKind | None) -> Records:
    rows = activity_ids(subject, [obj.id], y).subquery()  # type: ignore[arg-type]
    ids = sa.select(rows.c.activity_id)
    if kind is not None:
        ids = ids.where(rows.c.kind == kind)
    return Records(EvaluationFactor.ACTIVITIES, select=(
        sa.select(Activity).where(Activity.id.in_(ids))
        .order_by(Activity.started_at.desc(), Activity.id.desc())))


def visits_in_year(resident_ids: Sequence[int], y: Year) -> dict[int, date]:
    """The last visit in the year of each household (two queries), by visits.py's rule."""
    if not resident_ids:
        return {}
    start, end = y.bounds
    last: dict[int, date] = {}
    for rid, when in db.session.execute(
            sa.select(activity_residents.c.resident_household_id, sa.func.max(Activity.started_at))
            .join(Activity, Activity.id == activity_residents.c.activity_id)
            .where(Activity.kind == ActivityKind.VISIT, Activity.started_at >= start,
                   Activity.started_at < end, activity_residents.c.resident_household_id.in_(resident_ids))
            .group_by(activity_residents.c.resident_household_id)):
        last[rid] = local_day(when)
    for rid, day in db.session.execute(
            sa.select(DiaryEntry.resident_household_id, sa.func.max(DiaryEntry.entry_date))
            .where(DiaryEntry.entry_date.between(y.first, y.last), DiaryEntry.resident_household_id.in_(resident_ids))
            .group_by(DiaryEntry.resident_household_id)):
        if rid not in last or day > last[rid]:
            last[rid] = day
    return last


def _coverage(subject: Subject, obj: Member | CentralHousehold, y: Year) -> Records:
    return Records(
        EvaluationFactor.VISIT_COVERAGE,
        select=(sa.select(ResidentHousehold).join(Member, Member.id == ResidentHousehold.covering_member_id)
                .where(_member_key(subject, obj.id))
                .options(joinedload(ResidentHousehold.covering_member))
                .order_by(ResidentHousehold.address, ResidentHousehold.id)),
        extra=lambda items: visits_in_year([r.id for r in items], y),
    )


def _needs(subject: Subject, obj: Member | CentralHousehold, y: Year) -> Records:
    return Records(EvaluationFactor.NEEDS_RATES, select=(
        sa.select(Need).where(*needs_window(subject, [obj.id], y))  # type: ignore[arg-type]
        .order_by(Need.submitted_at.desc(), Need.id.desc())))


def _training(subject: Subject, obj: Member | CentralHousehold, y: Year) -> Records:
    rows = training_sessions(sa.select(Member.id).where(_member_key(subject, obj.id)), y.year).subquery()
    found = db.session.execute(
        sa.select(TrainingSession, User.name, rows.c.minutes)
        .join(TrainingSession, TrainingSession.id == rows.c.session_id)
        .join(Member, Member.id == rows.c.member_id).join(User, User.id == Member.user_id)
        .order_by(TrainingSession.starts_at.desc(), TrainingSession.id, User.name)
    ).all()
    return Records(EvaluationFactor.TRAINING_HOURS, lists={"training": list(found)})


def _household_id(subject: Subject, obj: Member | CentralHousehold) -> int | None:
    return obj.id if subject is Subject.HOUSEHOLDS else obj.central_household_id  # type: ignore[union-attr]


def _mentoring(subject: Subject, obj: Member | CentralHousehold, y: Year) -> Records:
    hid = _household_id(subject, obj)
    return Records(EvaluationFactor.MENTORING, select=(
        sa.select(GuidanceContact).where(GuidanceContact.household_id == (hid or 0),
                                         GuidanceContact.contact_date.between(y.first, y.last))
        .order_by(GuidanceContact.contact_date.desc(), GuidanceContact.id.desc())))


def _complaints(subject: Subject, obj: Member | CentralHousehold, y: Year) -> Records:
    unsatisfied = list(db.session.scalars(
        sa.select(Need).where(*needs_window(subject, [obj.id], y), Need.rating == NeedRating.UNSATISFIED)  # type: ignore[arg-type]
        .order_by(Need.submitted_at.desc(), Need.id.desc())))
    candidate = obj.id if subject is Subject.MEMBERS else obj.head_member_id  # type: ignore[union-attr]
    objections = list(db.session.execute(
        sa.select(NoticeObjection, Nomination.id)
        .join(Nomination, Nomination.id == NoticeObjection.nomination_id)
        .where(Nomination.candidate_id == candidate, *upheld_objections(y))
        .order_by(NoticeObjection.resolved_at.desc())).all())
    return Records(EvaluationFactor.COMPLAINTS, lists={"unsatisfied": unsatisfied, "objections": objections})
