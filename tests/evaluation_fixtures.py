"""A small world for the evaluation tests, its records placed by hand around the edges of 2025 (in
Asia/Shanghai) so that every figure is known without running the code under test.

龙山社区 (community) has two grids. In 第一网格: 张甲 heads the central household H and 李乙 is
linked to it; in 第二网格: 陈丙 heads household H2 alone. 赵停 (第一网格) is stopped; 周党员 lives
in the other township. What each of them did, and what counts in 2025, is written next to each
record below; the expected figures are in ``EXPECTED_*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from app.clock import TZ
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    CentralHousehold,
    Checkin,
    CheckinMethod,
    GuidanceContact,
    GuidanceWay,
    Member,
    MemberStatus,
    Need,
    NeedOutcome,
    NeedRating,
    NeedStatus,
    Nomination,
    NominationStatus,
    NominationWay,
    NoticeObjection,
    ObjectionStatus,
    PointsEntry,
    ResidentHousehold,
    RuleCode,
    Station,
    StationEvent,
    StationEventKind,
    TrainingCompletion,
    TrainingKind,
    TrainingMode,
    TrainingSession,
    User,
    VerifyState,
)
from tests.factories import (
    Personas,
    make_diary_entry,
    make_household,
    make_member,
    make_need,
    make_personas,
    make_resident,
    make_station,
)

YEAR = 2025


def sh(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An instant given on the Shanghai wall clock."""
    return datetime.combine(date(y, m, d), time(hh, mm), TZ).astimezone(UTC)


@dataclass
class EvalWorld:
    p: Personas
    a: Member  # 张甲, head of H
    b: Member  # 李乙, linked to H
    c: Member  # 陈丙, head of H2
    stopped: Member
    h: CentralHousehold
    h2: CentralHousehold
    station: Station


def _points(member: Member, points: int, day: date, n: list[int]) -> None:
    n[0] += 1
    db.session.add(PointsEntry(member_id=member.id, points=points, code=RuleCode.CORRECTION if points < 0
                               else RuleCode.DIARY_ENTRY, source_type="test", source_id=n[0],
                               occurred_on=day, note="测试"))


def _activity(author: Member, kind: ActivityKind, at: datetime, residents=(), fellows=(),  # type: ignore[no-untyped-def]
              household: CentralHousehold | None = None, station: Station | None = None,
              state: VerifyState | None = None) -> Activity:
    activity = Activity(author_member_id=author.id, grid_id=author.grid_id, kind=kind, started_at=at,
                        duration_minutes=30, station_id=station.id if station else None,
                        address="" if station else "龙山路1号",
                        verify_state=state or (VerifyState.PENDING if station else VerifyState.NONE),
                        return_reason="不属实" if state is VerifyState.RETURNED else "",
                        central_household_id=household.id if household else None,
                        created_by_id=author.user_id, created_at=at)
    activity.residents = list(residents)
    activity.fellows = list(fellows)
    db.session.add(activity)
    return activity


def _need(resident: ResidentHousehold, to: Member, household: CentralHousehold | None, submitted: datetime,
          accepted: datetime | None = None, resolved: bool = False, rating: NeedRating | None = None,
          hidden: bool = False) -> Need:
    need = make_need(resident, now=submitted)
    need.member_id, need.central_household_id = to.id, household.id if household else None
    need.accepted_at = accepted
    if accepted is not None:
        need.status = NeedStatus.ACCEPTED
    if resolved:
        need.status, need.outcome, need.resolved_at = NeedStatus.RESOLVED, NeedOutcome.SOLVED, submitted
    if rating is not None:
        need.status, need.rating, need.rated_at = NeedStatus.RATED, rating, submitted
    if hidden:
        need.hidden_at, need.hidden_reason = submitted, "重复"
    db.session.commit()
    return need


def _session(title: str, mode: TrainingMode, starts: datetime, minutes: int, station: Station,
             cancelled: bool = False) -> TrainingSession:
    event = None
    if mode is TrainingMode.OFFLINE:
        event = StationEvent(station_id=station.id, title=title, kind=StationEventKind.TRAINING,
                             starts_at=starts, ends_at=starts.replace(day=starts.day + 1))
        db.session.add(event)
        db.session.flush()
    session = TrainingSession(org_node_id=station.org_node_id, title=title, kind=TrainingKind.MICRO_LESSON,
                              mode=mode, starts_at=starts, ends_at=starts.replace(day=starts.day + 1),
                              duration_minutes=minutes, station_event_id=event.id if event else None,
                              link_url="" if event else "https://example.org/lesson",
                              cancelled_at=starts if cancelled else None)
    db.session.add(session)
    db.session.flush()
    return session


def _checkin(member: Member, session: TrainingSession, at: datetime) -> None:
    from app.clock import local_day

    db.session.add(Checkin(member_id=member.id, station_id=session.station_event.station_id,  # type: ignore[union-attr]
                           day=local_day(at), checked_in_at=at, method=CheckinMethod.KIOSK,
                           event_id=session.station_event_id))


def _nomination(candidate: Member, opener: User, status: NominationStatus) -> Nomination:
    grid = candidate.grid
    nom = Nomination(way=NominationWay.SELF, candidate_id=candidate.id, category=candidate.category,
                     grid_id=grid.id, community_id=grid.parent_id, township_id=grid.parent.parent_id,  # type: ignore[union-attr]
                     address="龙山路2号", reason_political="政治坚定", opened_by_id=opener.id, status=status)
    db.session.add(nom)
    db.session.flush()
    return nom


def _objection(nom: Nomination, status: ObjectionStatus, resolved: datetime) -> None:
    db.session.add(NoticeObjection(nomination_id=nom.id, contact_phone="13911119999", text="有异议",
                                   status=status, resolved_at=resolved, resolution="核实"))


def make_eval_world() -> EvalWorld:
    p = make_personas()
    t = p.tree
    a = make_member(t.grid, name="张甲")
    h = make_household(t.grid, head=a, number="LS-001")
    b = make_member(t.grid, name="李乙", household=h)
    c = make_member(t.grid_b, name="陈丙")
    h2 = make_household(t.grid_b, head=c, number="LS-002")
    stopped = make_member(t.grid, name="赵停", household=h)
    stopped.status = MemberStatus.INACTIVE
    mentor = make_member(t.grid2, name="孙书记")
    mentor.is_secretary = True
    station = make_station(t.community, name="龙山党群驿站")
    r1, r2 = make_resident(t.grid, a, head_name="户一"), make_resident(t.grid, a, head_name="户二")
    r3, r4, r5 = (make_resident(t.grid, b, head_name=n) for n in ("户三", "户四", "户五"))
    db.session.commit()

    # Points — 张甲: 5 + 3 − 2 = 6 in 2025 (the 2024 and 2026 entries do not count); 李乙: 4;
    # 赵停 (stopped): 100, not on the sheet.
    n = [0]
    _points(a, 5, date(2025, 3, 1), n)
    _points(a, 3, date(2025, 12, 31), n)
    _points(a, -2, date(2025, 6, 1), n)
    _points(a, 10, date(2024, 12, 31), n)
    _points(a, 10, date(2026, 1, 1), n)
    _points(b, 4, date(2025, 8, 8), n)
    _points(stopped, 100, date(2025, 8, 8), n)
    _points(p.other_member, 50, date(2025, 8, 8), n)

    # Activities — 张甲: a visit to 户一 at 00:30 on 1 January (Shanghai; still 2024 in UTC), a
    # mediation at 23:30 on 31 December recorded on H's behalf, and he took part in 李乙's visit
    # to 户三 → visit 2, mediation 1. Not counted: 00:10 on 1 January 2026, one the station sent
    # back. 李乙: visit 1. 陈丙: errand 1. H: 张甲's two and 李乙's visit (the shared one once) = 3.
    _activity(a, ActivityKind.VISIT, sh(2025, 1, 1, 0, 30), residents=[r1])
    _activity(a, ActivityKind.MEDIATION, sh(2025, 12, 31, 23, 30), household=h)
    _activity(a, ActivityKind.TEACHING, sh(2026, 1, 1, 0, 10))
    _activity(a, ActivityKind.TEACHING, sh(2025, 5, 5), station=station, state=VerifyState.RETURNED)
    _activity(b, ActivityKind.VISIT, sh(2025, 4, 10), residents=[r3], fellows=[a])
    _activity(c, ActivityKind.ERRAND, sh(2025, 7, 7))
    # Visits — 户一 (activity above) and 户三 (activity above) and 户四 (diary 2025-06-01) were
    # visited in 2025; 户二 only on 2024-12-31 (diary) and 户五 only in 2026 (activity, diary).
    db.session.commit()
    make_diary_entry(a, r2, entry_date=date(2024, 12, 31))
    make_diary_entry(b, r4, entry_date=date(2025, 6, 1))
    make_diary_entry(b, r5, entry_date=date(2026, 1, 1))
    _activity(b, ActivityKind.VISIT, sh(2026, 1, 2), residents=[r5])
    db.session.commit()

    # Needs routed to 张甲 (and H): N1 accepted in time, rated 满意; N2 accepted late, rated
    # 不满意; N3 still waiting. Not counted: N4 (23:00 on 31 December 2024), N5 (hidden).
    # Routed to 李乙 (and H): N6 accepted in time, rated 基本满意.
    s1 = sh(2025, 2, 1)
    _need(r1, a, h, s1, accepted=sh(2025, 2, 1, 12), resolved=True, rating=NeedRating.SATISFIED)
    _need(r1, a, h, sh(2025, 3, 1), accepted=sh(2025, 3, 3), resolved=True, rating=NeedRating.UNSATISFIED)
    _need(r2, a, h, sh(2025, 4, 1))
    _need(r2, a, h, sh(2024, 12, 31, 23), accepted=sh(2025, 1, 1, 8), resolved=True,
          rating=NeedRating.UNSATISFIED)
    _need(r2, a, h, sh(2025, 4, 2), rating=None, hidden=True)
    _need(r3, b, h, sh(2025, 5, 1), accepted=sh(2025, 5, 1, 11), resolved=True, rating=NeedRating.BASICALLY)

    # Training — an offline session of 90 minutes (15 March 2025): 张甲 checked in, 李乙 checked in
    # on both of its days (counts once); an online one of 45 minutes completed by 张甲 in June.
    # Not counted: a cancelled session 张甲 attended, a session of 2024, 陈丙's completion at 00:30
    # on 1 January 2026. 张甲 135 min = 2.25 h, 李乙 1.5 h, H 3.75 h.
    offline = _session("微党课", TrainingMode.OFFLINE, sh(2025, 3, 15, 9), 90, station)
    online = _session("线上学习", TrainingMode.ONLINE, sh(2025, 6, 1, 9), 45, station)
    cancelled = _session("取消的课", TrainingMode.OFFLINE, sh(2025, 4, 15, 9), 60, station, cancelled=True)
    old = _session("去年的课", TrainingMode.OFFLINE, sh(2024, 11, 15, 9), 60, station)
    _checkin(a, offline, sh(2025, 3, 15, 9, 5))
    _checkin(b, offline, sh(2025, 3, 15, 9, 10))
    _checkin(b, offline, sh(2025, 3, 16, 9, 10))
    _checkin(a, cancelled, sh(2025, 4, 15, 9, 5))
    _checkin(a, old, sh(2024, 11, 15, 9, 5))
    db.session.add(TrainingCompletion(session_id=online.id, member_id=a.id, completed_at=sh(2025, 6, 2)))
    db.session.add(TrainingCompletion(session_id=online.id, member_id=c.id, completed_at=sh(2026, 1, 1, 0, 30)))

    # Mentoring — H was guided twice in 2025 (and once in 2024); H2 never.
    for day in (date(2025, 2, 1), date(2025, 9, 9), date(2024, 12, 31)):
        db.session.add(GuidanceContact(mentor_member_id=mentor.id, household_id=h.id, contact_date=day,
                                       way=GuidanceWay.IN_PERSON, discussed="指导走访", created_by_id=p.district_admin.id))

    # Objections — to 张甲's earlier nomination: one upheld in August 2025 (counts), one dismissed
    # in 2025, one upheld in 2024.
    earlier = _nomination(a, a.user, NominationStatus.REJECTED)
    _objection(earlier, ObjectionStatus.UPHELD, sh(2025, 8, 1))
    _objection(earlier, ObjectionStatus.DISMISSED, sh(2025, 8, 2))
    _objection(earlier, ObjectionStatus.UPHELD, sh(2024, 8, 1))
    db.session.commit()
    return EvalWorld(p, a, b, c, stopped, h, h2, station)


# name → (points, {kind: n}, covered, visited, (submitted, in time, resolved, rated, satisfied,
#          unsatisfied), training minutes, mentoring, objections)
EXPECTED_MEMBERS = {
    "张甲": (6, {"visit": 2, "mediation": 1}, 2, 1, (3, 1, 2, 2, 1, 1), 135, 2, 1),
    "李乙": (4, {"visit": 1}, 3, 2, (1, 1, 1, 1, 1, 0), 90, 2, 0),
    "陈丙": (0, {"errand": 1}, 0, 0, (0, 0, 0, 0, 0, 0), 0, 0, 0),
}
EXPECTED_HOUSEHOLDS = {
    "张甲": (10, {"visit": 2, "mediation": 1}, 5, 3, (4, 2, 3, 3, 2, 1), 225, 2, 1),
    "陈丙": (0, {"errand": 1}, 0, 0, (0, 0, 0, 0, 0, 0), 0, 0, 0),
}
# Scores with the default weights (30, 20, 15, 15, 10, 10, −20), worked out by hand:
# maxima (members): points 6, activities 3, coverage 2/3, needs 1, hours 2.25, mentoring 2, complaints 2.
#   张甲 = 30·6/6 + 20·3/3 + 15·(1/2)/(2/3) + 15·(1/2)/1 + 10·2.25/2.25 + 10·2/2 − 20·2/2 = 68.75
#         (his needs: response 1/3, resolution 2/3, satisfaction 1/2 → mean 1/2)
#   李乙 = 30·4/6 + 20·1/3 + 15·1 + 15·1 + 10·1.5/2.25 + 10·2/2 − 0 = 73.333…
#   陈丙 = 20·1/3 = 6.666…
EXPECTED_MEMBER_SCORES = {"李乙": 73.333, "张甲": 68.75, "陈丙": 6.667}
# Households: H has every maximum → 30 + 20 + 15 + 15 + 10 + 10 − 20 = 80; H2 = 20·1/3.
EXPECTED_HOUSEHOLD_SCORES = {"张甲": 80.0, "陈丙": 6.667}
