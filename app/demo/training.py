"""Demo data for training: a year of sessions for the district already generated, with attendance.

- every township: a monthly 集中学习 at one of its stations (its own, else one below it), an
  afternoon between the 11th and the 25th on a day with no other event there, 2 hours;
- every community with a station of its own: a 微实训 · 微党课 · 微分享 · 微实践 · 微朗读 every
  other month there, an evening, 1–1.5 hours; a community without one gets them online;
- every township: an online 微党课 or 微朗读 (a link) each quarter, open two weeks, and one open now;
- next month's sessions are already planned (nobody has attended them yet).

Attendance is a check-in at the station while the session runs, by 60–85% of the node's active
members (each session its own rate): a member who had already checked in there that day keeps
that check-in, now counted for the session (as a second scan does). A few late arrivals and early
leaves are marked by the station's admin. Online sessions are completed by 60–85% of the members,
about half with a short 心得. The demo member account has not completed the session open now, so
the demo can press "我已学完". No points are awarded here: the points generator backfills them.

Everything is decided by ``rng``; ids are explicit and rows go in with bulk inserts.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from app.clock import TZ, local_day
from app.demo.context import DemoContext, demo_extension, insert_rows, max_id, reset_sequences
from app.models import (
    AttendanceMark,
    AttendanceMarkKind,
    Checkin,
    CheckinMethod,
    CheckinMode,
    Member,
    MemberStatus,
    OrgLevel,
    OrgNode,
    Role,
    RoleAssignment,
    Station,
    StationEvent,
    StationEventKind,
    TrainingCompletion,
    TrainingKind,
    TrainingMode,
    TrainingSession,
)

MONTHS_BACK = 12
ATTEND_RATE = (0.60, 0.85)
LATE_SHARE, EARLY_SHARE, REFLECTION_SHARE = 0.05, 0.01, 0.5
CONCENTRATED_TOPICS = [
    "学习《中国共产党章程》", "学习党的二十届三中全会精神", "学习《中国共产党纪律处分条例》",
    "学习习近平新时代中国特色社会主义思想", "基层治理与网格服务", "乡村振兴政策解读", "安全生产与防汛知识",
    "民法典与邻里纠纷调解", "党员中心户工作经验交流", "廉洁文化教育", "为民服务“急难愁盼”专题",
    "年度工作总结与部署",
]
MICRO_TITLES = {
    TrainingKind.MICRO_TRAINING: ["入户走访技巧实训", "矛盾调解情景演练", "应急救护实训", "智能手机助老实训"],
    TrainingKind.MICRO_LESSON: ["微党课：初心与使命", "微党课：红色家书", "微党课：身边的好党员"],
    TrainingKind.MICRO_SHARING: ["微分享：我的走访故事", "微分享：调解一起邻里纠纷", "微分享：帮老人办医保"],
    TrainingKind.MICRO_PRACTICE: ["微实践：清理楼道杂物", "微实践：垃圾分类宣传", "微实践：关爱独居老人"],
    TrainingKind.MICRO_READING: ["微朗读：《可爱的中国》", "微朗读：《谁是最可爱的人》", "微朗读：党章选段"],
}
MICRO_KINDS = list(MICRO_TITLES)
LINKS = ["https://www.12371.cn/", "https://www.xuexi.cn/", "https://www.12371.cn/dyjy/"]
REFLECTIONS = [
    "学习后对党员中心户的职责更清楚了。", "结合走访工作，要多听群众意见。", "收获很大，准备在网格里再讲一讲。",
    "要把学到的政策讲给联系户听。", "深受教育，今后要更好发挥先锋模范作用。", "内容实在，贴近基层工作。",
    "重温入党誓词，初心更坚定。", "以后调解纠纷心里更有底了。",
]
EARLY_NOTES = ["家中有事提前离开", "值班提前离开", "接孩子提前离开"]


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ).astimezone(UTC)


def _month_starts(today: date) -> list[date]:
    """The first day of the last MONTHS_BACK months, oldest first, then next month."""
    y, m = today.year, today.month
    out = []
    for _ in range(MONTHS_BACK):
        out.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    out.reverse()
    ny, nm = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return [*out, date(ny, nm, 1)]


@dataclass
class _Plan:
    node_id: int
    kind: TrainingKind
    title: str
    starts_at: datetime
    ends_at: datetime
    minutes: int
    station_id: int | None = None
    link: str = ""
    spare: set[int] = field(default_factory=set)  # members who have not taken it (yet)


class _Generator:
    def __init__(self, conn: sa.Connection, rng: random.Random, now: datetime, spare: Collection[int]) -> None:
        self.conn, self.rng, self.now, self.spare = conn, rng, now, set(spare)
        self.today = local_day(now)
        nodes = conn.execute(sa.select(OrgNode.id, OrgNode.level, OrgNode.path).order_by(OrgNode.path)).all()
        self.path = {i: p for i, _, p in nodes}
        self.townships = [i for i, level, _ in nodes if level == OrgLevel.TOWNSHIP]
        self.communities = [i for i, level, _ in nodes if level == OrgLevel.COMMUNITY]
        self.members_under: dict[int, list[int]] = defaultdict(list)
        for mid, path in conn.execute(
            sa.select(Member.id, OrgNode.path).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(Member.status == MemberStatus.ACTIVE).order_by(Member.id)
        ):
            for part in path.strip("/").split("/"):
                self.members_under[int(part)].append(mid)
        self.stations = conn.execute(
            sa.select(Station.id, Station.org_node_id, Station.checkin_mode).where(Station.active).order_by(Station.id)
        ).all()
        self.mode = {sid: CheckinMode(m) for sid, _, m in self.stations}
        self.station_admin = dict(conn.execute(
            sa.select(RoleAssignment.station_id, RoleAssignment.user_id)
            .where(RoleAssignment.role == Role.STATION_ADMIN).order_by(RoleAssignment.id)).all())
        self.node_admin = dict(conn.execute(
            sa.select(RoleAssignment.org_node_id, RoleAssignment.user_id)
            .where(RoleAssignment.role == Role.ORG_ADMIN).order_by(RoleAssignment.id)).all())
        # Days already holding an event at a station: a session there would split its check-ins.
        self.busy: set[tuple[int, date]] = {
            (sid, local_day(start)) for sid, start in conn.execute(
                sa.select(StationEvent.station_id, StationEvent.starts_at))
        }
        self.plans: list[_Plan] = []

    # ------------------------------------------------------------------ planning

    def _stations_under(self, node_id: int, own_only: bool = False) -> list[int]:
        prefix = self.path[node_id]
        if own_only:
            return [sid for sid, node, _ in self.stations if node == node_id]
        own = [sid for sid, node, _ in self.stations if node == node_id]
        return own or [sid for sid, node, _ in self.stations if self.path[node].startswith(prefix)]

    def _free_day(self, station_id: int, first: date, lo: int, hi: int) -> date | None:
        days = [first + timedelta(days=d) for d in range(lo, hi + 1)]
        self.rng.shuffle(days)
        for day in days:
            if (station_id, day) not in self.busy:
                self.busy.add((station_id, day))
                return day
        return None

    def plan(self) -> None:
        months = _month_starts(self.today)
        for township in self.townships:
            stations = self._stations_under(township)
            for i, first in enumerate(months):
                if i % 3 == 1:
                    self._online(township, first)
                station = self.rng.choice(stations) if stations else None
                day = self._free_day(station, first, 10, 24) if station is not None else None
                if station is None or day is None:
                    continue
                topic = CONCENTRATED_TOPICS[(first.month - 1) % len(CONCENTRATED_TOPICS)]
                self.plans.append(_Plan(township, TrainingKind.CONCENTRATED, f"{first.month}月集中学习：{topic}"[:64],
                                        _at(day, 14, 30), _at(day, 16, 30), 120, station_id=station))
            self._online_now(township)
        for community in self.communities:
            own = self._stations_under(community, own_only=True)
            for i, first in enumerate(months):
                if i % 2:
                    continue
                kind = MICRO_KINDS[(i // 2 + community) % len(MICRO_KINDS)]
                title = self.rng.choice(MICRO_TITLES[kind])
                minutes = self.rng.choice((60, 90))
                if own:
                    day = self._free_day(own[0], first, 10, 27)
                    if day is None:
                        continue
                    start = _at(day, 19, 0)
                    self.plans.append(_Plan(community, kind, title, start, start + timedelta(minutes=minutes),
                                            minutes, station_id=own[0]))
                else:
                    start = _at(first + timedelta(days=self.rng.randint(5, 15)), 8, 0)
                    self.plans.append(_Plan(community, kind, title, start, start + timedelta(days=10), minutes,
                                            link=self.rng.choice(LINKS)))

    def _online(self, township: int, first: date) -> None:
        kind = self.rng.choice((TrainingKind.MICRO_LESSON, TrainingKind.MICRO_READING))
        start = _at(first + timedelta(days=self.rng.randint(0, 10)), 8, 0)
        self.plans.append(_Plan(township, kind, f"线上{self.rng.choice(MICRO_TITLES[kind])}"[:64], start,
                                start + timedelta(days=14), 45, link=self.rng.choice(LINKS)))

    def _online_now(self, township: int) -> None:
        """A session open now, which the demo member account has not completed yet."""
        start = _at(self.today - timedelta(days=5), 8, 0)
        self.plans.append(_Plan(township, TrainingKind.MICRO_LESSON, "线上微党课：学习新修订的《条例》", start,
                                _at(self.today + timedelta(days=10), 22, 0), 45, link=LINKS[0],
                                spare=set(self.spare)))

    # ------------------------------------------------------------------ writing

    def write(self) -> dict[str, int]:
        conn = self.conn
        next_event, next_session = max_id(conn, "station_events") + 1, max_id(conn, "training_sessions") + 1
        events, sessions = [], []
        for plan in self.plans:
            event_id = None
            if plan.station_id is not None:
                event_id, next_event = next_event, next_event + 1
                events.append({"id": event_id, "station_id": plan.station_id, "title": plan.title,
                               "kind": StationEventKind.TRAINING, "starts_at": plan.starts_at,
                               "ends_at": plan.ends_at, "created_by_id": self.node_admin.get(plan.node_id),
                               "created_at": plan.starts_at - timedelta(days=10)})
            sessions.append({"id": next_session, "org_node_id": plan.node_id, "title": plan.title,
                             "kind": plan.kind,
                             "mode": TrainingMode.OFFLINE if event_id else TrainingMode.ONLINE,
                             "description": "", "starts_at": plan.starts_at, "ends_at": plan.ends_at,
                             "duration_minutes": plan.minutes, "station_event_id": event_id,
                             "link_url": plan.link, "document_id": None,
                             "created_by_id": self.node_admin.get(plan.node_id),
                             "created_at": plan.starts_at - timedelta(days=10), "cancelled_at": None})
            next_session += 1
        insert_rows(conn, StationEvent.__table__, events)
        insert_rows(conn, TrainingSession.__table__, sessions)
        checkins, marks = self._attendance(sessions)
        completions = self._completions(sessions)
        reset_sequences(conn, ["station_events", "training_sessions", "checkins", "training_attendance_marks",
                               "training_completions"])
        return {"training_sessions": len(sessions), "training_checkins": checkins, "training_marks": marks,
                "training_completions": completions}

    def _attendance(self, sessions: list[dict]) -> tuple[int, int]:
        conn, rng = self.conn, self.rng
        offline = [s for s in sessions if s["station_event_id"] and s["starts_at"] < self.now]
        days = {local_day(s["starts_at"]) for s in offline}
        station_of = {e_id: sid for e_id, sid in conn.execute(
            sa.select(StationEvent.id, StationEvent.station_id)
            .where(StationEvent.id.in_([s["station_event_id"] for s in offline])))} if offline else {}
        existing = {
            (mid, sid, day): (cid, at) for cid, mid, sid, day, at in conn.execute(
                sa.select(Checkin.id, Checkin.member_id, Checkin.station_id, Checkin.day, Checkin.checked_in_at)
                .where(Checkin.day.in_(days)))
        } if days else {}
        rows, updates, marks = [], [], []
        next_checkin, next_mark = max_id(conn, "checkins") + 1, max_id(conn, "training_attendance_marks") + 1
        for s in offline:
            sid, day, start, end = station_of[s["station_event_id"]], local_day(s["starts_at"]), s["starts_at"], s["ends_at"]
            rate = rng.uniform(*ATTEND_RATE)
            method = CheckinMethod.POSTER if self.mode[sid] is CheckinMode.POSTER else CheckinMethod.KIOSK
            for mid in self.members_under[s["org_node_id"]]:
                if rng.random() > rate:
                    continue
                late = rng.random() < LATE_SHARE
                at = start + timedelta(minutes=rng.randint(16, 45) if late else rng.randint(0, 12),
                                       seconds=rng.randint(0, 59))
                if at >= self.now or at >= end:
                    continue
                found = existing.get((mid, sid, day))
                if found is not None:  # there already that day: the scan during the session renews it
                    cid, first_at = found
                    updates.append({"cid": cid, "eid": s["station_event_id"], "at": min(first_at, at)})
                else:
                    rows.append({"id": next_checkin, "station_id": sid, "member_id": mid, "day": day,
                                 "checked_in_at": at, "method": method, "event_id": s["station_event_id"],
                                 "recorded_by_id": None})
                    existing[(mid, sid, day)] = (next_checkin, at)
                    next_checkin += 1
                by = self.station_admin.get(sid) or self.node_admin.get(s["org_node_id"])
                if by is None or end > self.now:
                    continue
                if late and rng.random() < 0.5:
                    minutes = int((at - start).total_seconds() // 60)
                    marks.append({"id": next_mark, "session_id": s["id"], "member_id": mid,
                                  "kind": AttendanceMarkKind.LATE, "note": f"迟到{minutes}分钟",
                                  "marked_by_id": by, "marked_at": end})
                    next_mark += 1
                if rng.random() < EARLY_SHARE:
                    marks.append({"id": next_mark, "session_id": s["id"], "member_id": mid,
                                  "kind": AttendanceMarkKind.LEFT_EARLY, "note": rng.choice(EARLY_NOTES),
                                  "marked_by_id": by, "marked_at": end})
                    next_mark += 1
        insert_rows(conn, Checkin.__table__, rows)
        if updates:
            table = Checkin.__table__
            conn.execute(
                sa.update(table).where(table.c.id == sa.bindparam("cid"))
                .values(event_id=sa.bindparam("eid"), checked_in_at=sa.bindparam("at")),
                updates,
            )
        insert_rows(conn, AttendanceMark.__table__, marks)
        return len(rows) + len(updates), len(marks)

    def _completions(self, sessions: list[dict]) -> int:
        rng = self.rng
        rows = []
        next_id = max_id(self.conn, "training_completions") + 1
        for s, plan in zip(sessions, self.plans, strict=True):  # written in the order planned
            if s["station_event_id"] or s["starts_at"] >= self.now:
                continue
            rate = rng.uniform(*ATTEND_RATE)
            if s["ends_at"] > self.now:
                rate /= 2  # still open: half of those who will have done it
            open_seconds = (min(s["ends_at"], self.now) - s["starts_at"]).total_seconds()
            for mid in self.members_under[s["org_node_id"]]:
                if mid in plan.spare or rng.random() > rate:
                    continue
                at = s["starts_at"] + timedelta(seconds=rng.uniform(0, open_seconds))
                text = rng.choice(REFLECTIONS) if rng.random() < REFLECTION_SHARE else ""
                rows.append({"id": next_id, "session_id": s["id"], "member_id": mid, "completed_at": at,
                             "reflection": text})
                next_id += 1
        insert_rows(self.conn, TrainingCompletion.__table__, rows)
        return len(rows)


def generate(conn: sa.Connection, rng: random.Random, now: datetime,
             spare_member_ids: Collection[int] = ()) -> dict[str, int]:
    """Insert a year of training (and next month's plan) with its attendance; return how many.
    ``spare_member_ids`` have not yet completed the online session open now."""
    generator = _Generator(conn, rng, now, spare_member_ids)
    generator.plan()
    if not generator.plans:
        return {"training_sessions": 0}
    return generator.write()


@demo_extension
def generate_training(ctx: DemoContext) -> dict[str, int]:
    """The demo district's year of training (see the module's docstring)."""
    member_user = ctx.demo_user_ids.get("member")
    spare = [mid for mid, uid in ctx.member_user_ids.items() if uid == member_user]
    return generate(ctx.conn, ctx.rng, ctx.now, spare)
