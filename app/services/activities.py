"""Recording service: record, edit and verify an activity, the lists of them and the ledger.

Plain functions; the view's step runner commits. Rule breaks raise ``ActivityError`` (a bad photo
``PhotoError``), both ``Refused``, whose text is the message for the user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import IO, NamedTuple, Protocol

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import defaultload, selectinload

from app import policy
from app.clock import day_start, month_bounds
from app.extensions import db
from app.models import (
    MAX_PHOTOS,
    Activity,
    ActivityKind,
    ActivityPhoto,
    ActivityRevision,
    CentralHousehold,
    HouseholdStatus,
    Member,
    MemberStatus,
    OrgLevel,
    OrgNode,
    Photo,
    ResidentHousehold,
    Station,
    User,
    VerifyState,
    activity_members,
    activity_residents,
)
from app.policy import scope_condition
from app.services import ledger
from app.services import photos as photo_service
from app.services.client_keys import store_once
from app.services.errors import Refused
from app.services.points import sources as points_sources
from app.services.privacy import audit

# A phone's clock may run a little ahead; anything later than this is a typing mistake.
FUTURE_SLACK = timedelta(minutes=10)


class ActivityError(Refused):
    """A rule of the recording workflow was broken; ``str()`` is the message for the user."""


@dataclass
class ActivityInput:
    kind: ActivityKind
    started_at: datetime
    duration_minutes: int
    station_id: int | None
    address: str
    note: str
    resident_ids: list[int] = field(default_factory=list)
    fellow_ids: list[int] = field(default_factory=list)
    on_behalf: bool = False
    remove_photo_ids: list[int] = field(default_factory=list)  # on an edit: photos to drop


class Upload(Protocol):
    """An uploaded file as the form hands it over (a werkzeug ``FileStorage``, say)."""

    filename: str | None
    stream: IO[bytes]


# --- what a member may pick ----------------------------------------------------------------


def covered_residents(member: Member, q: str = "") -> sa.Select[tuple[ResidentHousehold]]:
    """The resident households ``member`` covers, optionally matching ``q`` (address or name)."""
    stmt = sa.select(ResidentHousehold).where(ResidentHousehold.covering_member_id == member.id)
    if q:  # what the member typed is text: % and _ match themselves, not everything
        stmt = stmt.where(
            sa.or_(
                ResidentHousehold.address.icontains(q, autoescape=True),
                ResidentHousehold.head_name.icontains(q, autoescape=True),
            )
        )
    return stmt.order_by(ResidentHousehold.building, ResidentHousehold.unit, ResidentHousehold.room,
                         ResidentHousehold.id)


def _community_path(member: Member) -> str:
    """The member's community (the grid's parent): fellow members are found within it."""
    ids = member.grid.ancestor_ids
    return "".join(f"{i}/" for i in ids[:-1]) if len(ids) > 1 else member.grid.path


def fellow_pool(member: Member) -> sa.Select[tuple[Member]]:
    """Everyone ``member`` may name as a fellow: the other active members of their community."""
    return (
        sa.select(Member)
        .join(User, User.id == Member.user_id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(
            Member.id != member.id,
            Member.status == MemberStatus.ACTIVE,
            OrgNode.under(_community_path(member)),
        )
    )


def fellow_candidates(member: Member, q: str = "") -> sa.Select[tuple[Member]]:
    """The fellow picker's list: by name when ``q`` is given, else the members of the member's own
    central household (the usual companions)."""
    stmt = fellow_pool(member)
    if q:
        stmt = stmt.where(User.name.contains(q, autoescape=True))
    elif member.central_household_id is not None:
        stmt = stmt.where(Member.central_household_id == member.central_household_id)
    else:
        stmt = stmt.where(sa.false())
    return stmt.order_by(User.name, Member.id).limit(30)


def resident_options(member: Member, q: str, chosen: set[int]) -> list[ResidentHousehold]:
    """The picker's households matching ``q``, the ones already ticked kept (and listed first)."""
    matches = list(db.session.scalars(covered_residents(member, q.strip())))
    if chosen:
        ids = {r.id for r in matches}
        extra = [r for r in db.session.scalars(covered_residents(member))
                 if r.id in chosen and r.id not in ids]
        matches = extra + matches
    return sorted(matches, key=lambda r: r.id not in chosen)


def fellow_options(member: Member, q: str, chosen: set[int]) -> list[Member]:
    """The picker's fellow members matching ``q``, the ones already ticked kept (and first)."""
    matches = list(db.session.scalars(fellow_candidates(member, q.strip())))
    missing = chosen - {m.id for m in matches}
    if missing:
        # Ticked ids come from the browser: only members of the pool are shown back.
        matches = list(db.session.scalars(fellow_pool(member).where(Member.id.in_(missing)))) + matches
    return sorted(matches, key=lambda m: m.id not in chosen)


def stations_for(member: Member) -> list[Station]:
    """Active stations in the member's township (the places a member goes to)."""
    ids = member.grid.ancestor_ids
    township_path = "".join(f"{i}/" for i in ids[:2])
    return list(
        db.session.scalars(
            sa.select(Station)
            .join(OrgNode, OrgNode.id == Station.org_node_id)
            .where(Station.active, OrgNode.under(township_path))
            .order_by(Station.name)
        )
    )


def household_member_condition(household: CentralHousehold) -> sa.ColumnElement[bool]:
    """SQL: the member belongs to the household's work (a linked member or its head)."""
    return sa.or_(Member.central_household_id == household.id, Member.id == household.head_member_id)


def headed_household(member: Member) -> CentralHousehold | None:
    """The established central household this member heads, if any."""
    return db.session.scalar(
        sa.select(CentralHousehold).where(
            CentralHousehold.head_member_id == member.id,
            CentralHousehold.status != HouseholdStatus.REVOKED,
        )
    )


# --- recording and editing ---------------------------------------------------------------


def _check(author: Member, data: ActivityInput, now: datetime) -> tuple[list[ResidentHousehold], list[Member]]:
    if data.started_at > now + FUTURE_SLACK:
        raise ActivityError(str(_l("活动时间不能晚于现在。")))
    if data.station_id is not None:
        if data.station_id not in {s.id for s in stations_for(author)}:
            raise ActivityError(str(_l("请选择本镇（街道）的驿站，或填写地址。")))
    elif not data.address.strip():
        raise ActivityError(str(_l("请选择驿站或填写地址。")))
    residents: list[ResidentHousehold] = []
    if data.resident_ids:
        residents = list(
            db.session.scalars(
                sa.select(ResidentHousehold).where(
                    ResidentHousehold.id.in_(set(data.resident_ids)),
                    ResidentHousehold.covering_member_id == author.id,
                )
            )
        )
        if len(residents) != len(set(data.resident_ids)):
            raise ActivityError(str(_l("只能选择自己联系的群众户。")))
    fellows: list[Member] = []
    if data.fellow_ids:
        # Any active member of the community may be named, not only the household's.
        fellows = list(db.session.scalars(fellow_pool(author).where(Member.id.in_(set(data.fellow_ids)))))
        if len(fellows) != len(set(data.fellow_ids)):
            raise ActivityError(str(_l("同行党员只能选择本社区的党员。")))
    return residents, fellows


def _state_for(station_id: int | None) -> VerifyState:
    return VerifyState.PENDING if station_id is not None else VerifyState.NONE


def _process(uploads: Iterable[Upload]) -> list[photo_service.ProcessedPhoto]:
    """Every chosen photo decoded and re-encoded first: nothing is written when one is bad."""
    return photo_service.process_many(list(uploads), MAX_PHOTOS)


def record(author: Member, data: ActivityInput, uploads: Iterable[Upload], user: User,
           now: datetime, client_key: str | None = None) -> Activity:
    """Add an activity with its households, fellow members and photos — once per ``client_key``
    the author's phone made: sent again (the outbox), it is the activity recorded the first time."""
    return store_once(Activity, Activity.author_member_id, author.id, client_key,
                      lambda: _record(author, data, uploads, user, now, client_key))


def _record(author: Member, data: ActivityInput, uploads: Iterable[Upload], user: User,
            now: datetime, client_key: str | None) -> Activity:
    processed = _process(uploads)
    residents, fellows = _check(author, data, now)
    household_id = None
    if data.on_behalf:
        household = headed_household(author)
        if household is None:
            raise ActivityError(str(_l("只有中心户户长可以代表中心户记录。")))
        household_id = household.id
    if len(processed) > MAX_PHOTOS:
        raise ActivityError(str(_l("最多上传 %(n)d 张照片。", n=MAX_PHOTOS)))
    activity = Activity(
        author_member_id=author.id,
        central_household_id=household_id,
        grid_id=author.grid_id,
        kind=data.kind,
        started_at=data.started_at,
        duration_minutes=data.duration_minutes,
        station_id=data.station_id,
        address="" if data.station_id else data.address.strip(),
        note=data.note.strip(),
        verify_state=_state_for(data.station_id),
        created_by_id=user.id,
        created_at=now,
        client_key=client_key,
    )
    activity.residents = residents
    activity.fellows = fellows
    db.session.add(activity)
    db.session.flush()
    _attach_photos(activity, processed, user, start=0)
    points_sources.for_activity(activity, user)
    return activity


def _attach_photos(activity: Activity, processed: Sequence[photo_service.ProcessedPhoto],
                   user: User, start: int, already: Sequence[int] = ()) -> list[int]:
    seen: set[int] = set(already)
    ids: list[int] = []
    for p in processed:
        photo = photo_service.store(p, uploaded_by_id=user.id)
        db.session.flush()
        if photo.id in seen:
            continue  # the same picture chosen twice is kept once
        seen.add(photo.id)
        db.session.add(ActivityPhoto(activity_id=activity.id, photo_id=photo.id,
                                     position=start + len(ids)))
        ids.append(photo.id)
    return ids


def load_for_edit(activity_id: int) -> Activity | None:
    """The activity with its households, fellow members and photos loaded."""
    return db.session.scalar(
        sa.select(Activity)
        .where(Activity.id == activity_id)
        .options(selectinload(Activity.residents), selectinload(Activity.fellows),
                 selectinload(Activity.photos))
    )


def _snapshot(activity: Activity) -> dict[str, object]:
    return {**_snapshot_fields(activity, activity.residents, activity.fellows),
            "photo_ids": [p.id for p in activity.photos]}


def edit(activity: Activity, user: User, data: ActivityInput, uploads: Iterable[Upload],
         now: datetime) -> ActivityRevision | None:
    """Change an activity (loaded with ``load_for_edit``) and keep what it was in a revision.
    The caller has checked ``can_edit``. An edit by the author sends a decided activity back to
    its station for verification; nothing changed records nothing."""
    processed = _process(uploads)
    author = activity.author
    residents, fellows = _check(author, data, now)
    before = _snapshot(activity)
    state_before = activity.verify_state
    kept = [p for p in activity.photos if p.id not in set(data.remove_photo_ids)]
    if len(kept) + len(processed) > MAX_PHOTOS:
        raise ActivityError(str(_l("最多上传 %(n)d 张照片。", n=MAX_PHOTOS)))
    activity.kind = data.kind
    activity.started_at = data.started_at
    activity.duration_minutes = data.duration_minutes
    activity.station_id = data.station_id
    # The CHECK must hold at the flushes below: off a station nothing is verified; newly at one,
    # the activity waits for its admins (a move there from elsewhere was a 500).
    if data.station_id is None:
        activity.verify_state = VerifyState.NONE
    elif state_before is VerifyState.NONE:
        activity.verify_state = VerifyState.PENDING
    activity.address = "" if data.station_id else data.address.strip()
    activity.note = data.note.strip()
    activity.residents = residents
    activity.fellows = fellows
    db.session.execute(sa.delete(ActivityPhoto).where(ActivityPhoto.activity_id == activity.id))
    db.session.flush()
    for position, photo in enumerate(kept):
        db.session.add(ActivityPhoto(activity_id=activity.id, photo_id=photo.id, position=position))
    db.session.flush()
    new_ids = _attach_photos(activity, processed, user, start=len(kept), already=[p.id for p in kept])
    after = {**_snapshot_fields(activity, residents, fellows),
             "photo_ids": [p.id for p in kept] + new_ids}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return None
    if activity.station_id is None:
        activity.verify_state = VerifyState.NONE
    elif policy.is_activity_author(user, activity) or state_before is VerifyState.NONE:
        activity.verify_state = VerifyState.PENDING
    if activity.verify_state is not state_before:
        activity.verified_by_id = None
        activity.verified_at = None
        activity.return_reason = ""
        changes["verify_state"] = [state_before.value, activity.verify_state.value]
    activity.updated_at = now
    revision = ActivityRevision(activity_id=activity.id, edited_by_id=user.id, edited_at=now,
                                changes=changes)
    db.session.add(revision)
    # The photos relationship is view-only: reload it on next access.
    db.session.expire(activity, ["photos"])
    points_sources.for_activity(activity, user)
    return revision


def _snapshot_fields(activity: Activity, residents: list[ResidentHousehold],
                     fellows: list[Member]) -> dict[str, object]:
    return {
        "kind": activity.kind.value,
        "started_at": activity.started_at.astimezone(UTC).isoformat(),
        "duration_minutes": activity.duration_minutes,
        "station_id": activity.station_id,
        "address": activity.address,
        "note": activity.note,
        "resident_ids": sorted(r.id for r in residents),
        "fellow_ids": sorted(m.id for m in fellows),
    }


# --- who may do what ---------------------------------------------------------------------


def verify(activity: Activity, user: User, now: datetime) -> None:
    """The station's administrator confirms the activity took place."""
    _decide(activity, user, now)
    activity.verify_state = VerifyState.VERIFIED
    activity.return_reason = ""
    points_sources.for_activity(activity, user)


def return_(activity: Activity, user: User, reason: str, now: datetime) -> None:
    """The station's administrator sends the activity back with a reason."""
    reason = reason.strip()
    if not reason:
        raise ActivityError(str(_l("请填写退回原因。")))
    _decide(activity, user, now)
    activity.verify_state = VerifyState.RETURNED
    activity.return_reason = reason[:255]
    points_sources.for_activity(activity, user)


def _decide(activity: Activity, user: User, now: datetime) -> None:
    if activity.verify_state is not VerifyState.PENDING:
        raise ActivityError(str(_l("这条记录已处理过（%(state)s），不能再次审核。",
                                   state=activity.verify_state.label)))
    if policy.is_activity_author(user, activity):
        raise ActivityError(str(_l("不能审核自己记录的活动。")))
    activity.verified_by_id = user.id
    activity.verified_at = now


# --- lists -------------------------------------------------------------------------------


class ActivityCounts(NamedTuple):
    residents: int
    photos: int


NO_COUNTS = ActivityCounts(0, 0)


def counts(activity_ids: sa.Select | Sequence[int]) -> dict[int, ActivityCounts]:
    """How many households each activity served and how many photos it has (two queries);
    every id of a list is a key, a select's activities without either are left out."""
    served = dict(db.session.execute(
        sa.select(activity_residents.c.activity_id, sa.func.count())
        .where(activity_residents.c.activity_id.in_(activity_ids))
        .group_by(activity_residents.c.activity_id)
    ).all())
    photos = dict(db.session.execute(
        sa.select(ActivityPhoto.activity_id, sa.func.count())
        .where(ActivityPhoto.activity_id.in_(activity_ids))
        .group_by(ActivityPhoto.activity_id)
    ).all())
    keys = set(served) | set(photos) | (set() if isinstance(activity_ids, sa.Select) else set(activity_ids))
    return {i: ActivityCounts(served.get(i, 0), photos.get(i, 0)) for i in keys}


def _listing(where: sa.ColumnElement[bool]) -> sa.Select[tuple[Activity]]:
    return sa.select(Activity).where(where).order_by(Activity.started_at.desc(), Activity.id.desc())


def mine(member: Member, month: tuple[int, int] | None = None) -> sa.Select[tuple[Activity]]:
    """Activities the member recorded or took part in, newest first (of one Asia/Shanghai month
    when ``month`` is given as (year, month))."""
    # A union of two indexed lookups: an OR across the two would make PostgreSQL scan every
    # activity (measured at city scale: 474 ms before).
    ids = sa.union(
        sa.select(Activity.id).where(Activity.author_member_id == member.id),
        sa.select(activity_members.c.activity_id).where(activity_members.c.member_id == member.id),
    )
    stmt = _listing(Activity.id.in_(ids))
    if month is not None:
        first, last = month_bounds(*month)
        stmt = stmt.where(Activity.started_at >= day_start(first),
                          Activity.started_at < day_start(last + timedelta(days=1)))
    return stmt


def of_household(household: CentralHousehold) -> sa.Select[tuple[Activity]]:
    """Activities of a central household: its members' and those recorded on its behalf."""
    members = sa.select(Member.id).where(household_member_condition(household))
    ids = sa.union(
        sa.select(Activity.id).where(Activity.author_member_id.in_(members)),
        sa.select(Activity.id).where(Activity.central_household_id == household.id),
    )
    return _listing(Activity.id.in_(ids))


def to_verify(user: User, state: VerifyState | None) -> sa.Select[tuple[Activity]]:
    """Activities held at the stations the user administers (station admins) or holds in scope."""
    station_ids = [s.id for s in user.admin_stations]
    in_reach = Activity.station_id.in_(station_ids) if station_ids else sa.false()
    if user.admin_nodes:
        in_reach = sa.or_(
            in_reach,
            Activity.station_id.in_(
                sa.select(Station.id).join(OrgNode, OrgNode.id == Station.org_node_id)
                .where(scope_condition(user))
            ),
        )
    stmt = _listing(in_reach)
    if state is not None:
        stmt = stmt.where(Activity.verify_state == state)
    return stmt


@dataclass
class LedgerFilter:
    kind: ActivityKind | None = None
    date_from: date | None = None
    date_to: date | None = None
    grid_id: int | None = None
    state: VerifyState | None = None

    def period_label(self) -> str:
        """The period as the ledger's heading names it."""
        if not self.date_from and not self.date_to:
            return str(_l("全部"))
        return f"{self.date_from or '…'} — {self.date_to or '…'}"


def in_scope(user: User, flt: LedgerFilter) -> sa.Select[tuple[Activity]]:
    """The org admin's activities (by the author's grid) with the ledger filters. The ledger shows
    the author's name, the grid and the place: their grids and the station's node are not joined
    (fewer tables for PostgreSQL to plan the page's statement over)."""
    grid = sa.select(OrgNode.id).where(scope_condition(user))
    stmt = _listing(Activity.grid_id.in_(grid)).options(
        defaultload(Activity.author).lazyload(Member.grid), defaultload(Activity.station).lazyload(Station.org_node))
    if flt.kind is not None:
        stmt = stmt.where(Activity.kind == flt.kind)
    if flt.state is not None:
        stmt = stmt.where(Activity.verify_state == flt.state)
    if flt.grid_id is not None:
        stmt = stmt.where(Activity.grid_id == flt.grid_id)
    if flt.date_from is not None:
        stmt = stmt.where(Activity.started_at >= day_start(flt.date_from))
    if flt.date_to is not None:
        stmt = stmt.where(Activity.started_at < day_start(flt.date_to + timedelta(days=1)))
    return stmt


def ledger_total(user: User, flt: LedgerFilter) -> int | None:
    """How many activities :func:`in_scope` lists, from the maintained activities per grid,
    month and kind (app/services/aggregates.py) — whole months from them, the days at the edges
    counted — so a district's ledger does not count a month's 60,000 activities per page. None
    (the list is counted) when it filters by verification, which they do not keep."""
    if flt.state is not None:
        return None
    from app.services import aggregates

    grids = sa.select(OrgNode.id).where(scope_condition(user))
    if flt.grid_id is not None:
        grids = grids.where(OrgNode.id == flt.grid_id)
    counts = aggregates.activities_by_kind(grids, flt.date_from, flt.date_to)
    return counts.get(flt.kind, 0) if flt.kind is not None else sum(counts.values())


def grids_in_scope(user: User) -> list[sa.Row]:
    """The grids the admin holds, for the ledger's grid filter: (id, name), in tree order."""
    return list(db.session.execute(
        sa.select(OrgNode.id, OrgNode.name).where(scope_condition(user), OrgNode.level == OrgLevel.GRID)
        .order_by(OrgNode.path)))


def resident_addresses(activity_ids: sa.Select) -> dict[int, list[str]]:
    """For the activities selected by ``activity_ids`` (a select of ids): the addresses served."""
    rows = db.session.execute(
        sa.select(activity_residents.c.activity_id, ResidentHousehold.address)
        .join(ResidentHousehold, ResidentHousehold.id == activity_residents.c.resident_household_id)
        .where(activity_residents.c.activity_id.in_(activity_ids))
        .order_by(activity_residents.c.activity_id, ResidentHousehold.id)
    )
    found: dict[int, list[str]] = {}
    for activity_id, address in rows:
        found.setdefault(activity_id, []).append(address)
    return found


def revisions(activity: Activity) -> list[ActivityRevision]:
    """The activity's history, newest first."""
    return list(db.session.scalars(
        sa.select(ActivityRevision).where(ActivityRevision.activity_id == activity.id)
        .order_by(ActivityRevision.edited_at.desc(), ActivityRevision.id.desc())
    ))


def activity_photo(activity: Activity, photo_id: int) -> Photo | None:
    """The photo if it belongs to this activity (a photo id alone proves nothing)."""
    return db.session.scalar(
        sa.select(Photo).join(ActivityPhoto, ActivityPhoto.photo_id == Photo.id)
        .where(ActivityPhoto.activity_id == activity.id, Photo.id == photo_id)
    )


def fellow_names(activity_ids: sa.Select) -> dict[int, list[str]]:
    """For the activities selected by ``activity_ids``: the names of the fellow members."""
    rows = db.session.execute(
        sa.select(activity_members.c.activity_id, User.name)
        .join(Member, Member.id == activity_members.c.member_id)
        .join(User, User.id == Member.user_id)
        .where(activity_members.c.activity_id.in_(activity_ids))
        .order_by(activity_members.c.activity_id, Member.id)
    )
    found: dict[int, list[str]] = {}
    for activity_id, name in rows:
        found.setdefault(activity_id, []).append(name)
    return found


def export_ledger(user: User, flt: LedgerFilter, query: str, ip: str) -> bytes:
    """The admin's filtered ledger as a workbook (.xlsx); the export is audited with the query
    that asked for it."""
    stmt = in_scope(user, flt)
    ids = sa.select(stmt.order_by(None).subquery().c.id)
    activities = list(db.session.scalars(stmt))
    served, fellows, numbers = resident_addresses(ids), fellow_names(ids), counts(ids)
    headers = [_("时间"), _("类型"), _("时长（分钟）"), _("地点"), _("记录党员"), _("网格"),
               _("服务群众户"), _("同行党员"), _("照片数"), _("审核状态"), _("退回原因"), _("内容")]
    body = (
        [a.started_at, a.kind.label, a.duration_minutes, a.place, a.author.name, a.grid.name,
         "、".join(served.get(a.id, [])), "、".join(fellows.get(a.id, [])),
         numbers.get(a.id, NO_COUNTS).photos, a.verify_state.label, a.return_reason, a.note]
        for a in activities
    )
    node_name = "、".join(n.name for n in user.admin_nodes)
    data = ledger.build_workbook(_("服务活动台账"), node_name, flt.period_label(), headers, body)
    audit(user.id, "export", "activities", detail=f"{len(activities)} rows; {query[:200]}", ip=ip)
    return data
