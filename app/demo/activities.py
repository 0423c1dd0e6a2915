"""Demo data for the recording service: two years of activities (a few with photos), diary
entries and regular visits, for the members and households already in the database.

Rates per member (roughly what an active programme records): every covered household is visited
in about 85% of quarters, a few households per outing (each outing one 走访 activity); about 1.2
other activities a month (40% at a station, where nine in ten older than a week are verified);
about 0.8 diary entries a month; 3% of activities carry one or two of twenty generated photos.
Volumes follow the members and households present, which already reflect the district's scale,
so ``scale`` is not applied again. Ids are explicit and rows go in with bulk inserts.
"""

from __future__ import annotations

import io
import os
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from PIL import Image, ImageDraw

from app.demo.context import Bulk, max_id, reset_sequences
from app.models import (
    Activity,
    ActivityKind,
    ActivityPhoto,
    DiaryEntry,
    Member,
    MemberStatus,
    OrgNode,
    Photo,
    ResidentHousehold,
    Role,
    RoleAssignment,
    Station,
    VerifyState,
    activity_members,
    activity_residents,
)
from app.services import photos as photo_service

DAYS = 730
OTHER_KINDS = [
    (ActivityKind.STUDY_VISIT, 14), (ActivityKind.TEACHING, 8), (ActivityKind.MEDIATION, 10),
    (ActivityKind.TECH_GUIDANCE, 8), (ActivityKind.ERRAND, 22), (ActivityKind.GROUP_STUDY, 12),
    (ActivityKind.PARTY_DAY, 12), (ActivityKind.OTHER, 6),
]
NOTES = {
    ActivityKind.VISIT: ["入户走访，了解家庭近况", "走访独居老人，查看用电用气安全", "上门了解就业和医保情况"],
    ActivityKind.STUDY_VISIT: ["送学上门，宣讲惠民政策", "为行动不便的老党员送学"],
    ActivityKind.TEACHING: ["辅导孩子功课", "教老人使用智能手机"],
    ActivityKind.MEDIATION: ["调解邻里漏水纠纷", "调解停车位争议"],
    ActivityKind.TECH_GUIDANCE: ["指导茶园病虫害防治", "讲解大棚种植技术"],
    ActivityKind.ERRAND: ["代办医保报销", "帮助申请临时救助", "协助办理居住证"],
    ActivityKind.GROUP_STUDY: ["集中学习党的创新理论"],
    ActivityKind.PARTY_DAY: ["主题党日：清理小区环境"],
    ActivityKind.OTHER: ["参与防汛值守", "协助组织文体活动"],
}
DIARY = ["反映楼道灯坏了", "老人希望有人定期上门量血压", "邻居家装修噪音大", "咨询孩子入学政策",
         "小区门口路面破损", "想了解灵活就业社保", "垃圾清运不及时", "家中老人行动不便需要帮扶"]


def _photo_pool(conn: sa.Connection, rng: random.Random, n: int = 20) -> list[int]:
    """Generate ``n`` small pictures, process them like uploads, write the files, return ids."""
    pool: list[int] = []
    existing = dict(conn.execute(sa.select(Photo.sha256, Photo.id)).all())
    next_id = max_id(conn, "photos") + 1
    for i in range(n):
        image = Image.new("RGB", (640, 480), tuple(rng.randrange(120, 250) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(600), rng.randrange(440)
            draw.rectangle([x, y, x + rng.randrange(40, 200), y + rng.randrange(30, 160)],
                           fill=tuple(rng.randrange(256) for _ in range(3)))
        draw.text((20, 20), f"demo {i + 1}", fill=(0, 0, 0))
        raw = io.BytesIO()
        image.save(raw, format="JPEG")
        raw.seek(0)
        processed = photo_service.process(raw)
        if processed.sha256 in existing:
            pool.append(existing[processed.sha256])
            continue
        row = Photo(id=next_id, sha256=processed.sha256, width=processed.width,
                    height=processed.height, size_bytes=len(processed.jpeg))
        for thumb, content in ((False, processed.jpeg), (True, processed.thumb)):
            path = photo_service.photo_path(row, thumb)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, path)
        conn.execute(sa.insert(Photo.__table__), [{
            "id": next_id, "sha256": processed.sha256, "width": processed.width,
            "height": processed.height, "size_bytes": len(processed.jpeg), "uploaded_by_id": None,
            "created_at": datetime.now(UTC)}])
        existing[processed.sha256] = next_id
        pool.append(next_id)
        next_id += 1
    return pool


def generate(conn: sa.Connection, rng: random.Random, now: datetime, scale: float = 1.0) -> dict[str, int]:
    """Add two years of recording-service history for everyone in the database."""
    del scale  # volumes follow the (already scaled) members and households; see the docstring
    paths = dict(conn.execute(sa.select(OrgNode.id, OrgNode.path)).all())
    members = conn.execute(
        sa.select(Member.id, Member.user_id, Member.grid_id, Member.central_household_id)
        .where(Member.status == MemberStatus.ACTIVE).order_by(Member.id)
    ).all()
    if not members:
        return {"activities": 0, "diary_entries": 0, "visits": 0}
    covered: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for rid, member_id, address in conn.execute(
        sa.select(ResidentHousehold.id, ResidentHousehold.covering_member_id, ResidentHousehold.address)
        .where(ResidentHousehold.covering_member_id.is_not(None)).order_by(ResidentHousehold.id)
    ):
        covered[member_id].append((rid, address))
    stations = conn.execute(
        sa.select(Station.id, Station.org_node_id).where(Station.active).order_by(Station.id)
    ).all()
    station_admin = dict(conn.execute(
        sa.select(RoleAssignment.station_id, sa.func.min(RoleAssignment.user_id))
        .where(RoleAssignment.role == Role.STATION_ADMIN).group_by(RoleAssignment.station_id)
    ).all())
    household_members: dict[int, list[int]] = defaultdict(list)
    for m in members:
        if m.central_household_id:
            household_members[m.central_household_id].append(m.id)
    # The stations a member would go to: those at or above the member's grid, else the township's.
    stations_near: dict[int, list[int]] = {}

    def near(grid_id: int) -> list[int]:
        if grid_id not in stations_near:
            path = paths[grid_id]
            township = "/".join(path.split("/")[:2]) + "/"
            stations_near[grid_id] = (
                [s for s, node in stations if path.startswith(paths[node])]
                or [s for s, node in stations if paths[node].startswith(township)]
            )
        return stations_near[grid_id]

    photo_pool = _photo_pool(conn, rng)
    next_activity = max_id(conn, "activities") + 1
    next_diary = max_id(conn, "diary_entries") + 1
    acts = Bulk(conn, Activity.__table__)
    served = Bulk(conn, activity_residents, acts)
    fellows = Bulk(conn, activity_members, acts)
    pics = Bulk(conn, ActivityPhoto.__table__, acts)
    diary = Bulk(conn, DiaryEntry.__table__)
    start = now - timedelta(days=DAYS)
    week_ago = now - timedelta(days=7)
    visit_links = 0
    kinds, weights = zip(*OTHER_KINDS, strict=True)

    def add_activity(m, kind: ActivityKind, when: datetime, residents: list[tuple[int, str]]) -> None:  # type: ignore[no-untyped-def]
        nonlocal next_activity
        aid = next_activity
        next_activity += 1
        options = near(m.grid_id)
        station_id = rng.choice(options) if options and kind is not ActivityKind.VISIT and rng.random() < 0.4 else None
        state, verifier, verified_at, reason = VerifyState.NONE, None, None, ""
        if station_id is not None:
            state = VerifyState.PENDING
            if when < week_ago:
                roll = rng.random()
                if roll < 0.9:
                    state = VerifyState.VERIFIED
                elif roll < 0.93:
                    state, reason = VerifyState.RETURNED, "照片与活动内容不符，请补充说明"
                if state is not VerifyState.PENDING:
                    verifier = station_admin.get(station_id)
                    verified_at = when + timedelta(days=rng.randint(1, 5))
        address = "" if station_id else (residents[0][1] if residents else "社区活动室")
        acts.add({
            "id": aid, "author_member_id": m.id, "central_household_id": None, "grid_id": m.grid_id,
            "kind": kind.value, "started_at": when,
            "duration_minutes": rng.choice([20, 30, 30, 45, 60, 60, 90, 120]),
            "station_id": station_id, "address": address[:255],
            "note": rng.choice(NOTES[kind]), "verify_state": state.value,
            "verified_by_id": verifier, "verified_at": verified_at, "return_reason": reason,
            "created_by_id": m.user_id, "created_at": when + timedelta(minutes=rng.randint(5, 600)),
            "updated_at": None,
        })
        for rid, _address in residents:
            served.add({"activity_id": aid, "resident_household_id": rid})
        companions = [x for x in household_members.get(m.central_household_id or 0, []) if x != m.id]
        if companions and rng.random() < 0.3:
            for fid in rng.sample(companions, min(len(companions), rng.randint(1, 2))):
                fellows.add({"activity_id": aid, "member_id": fid})
        if rng.random() < 0.03:
            for position, pid in enumerate(rng.sample(photo_pool, rng.randint(1, 2))):
                pics.add({"activity_id": aid, "photo_id": pid, "position": position})

    def moment(lo: datetime, hi: datetime) -> datetime:
        """A daytime moment (08:00–19:00 Shanghai) between ``lo`` and ``hi``."""
        span = max((hi - lo).total_seconds(), 3600)
        t = lo + timedelta(seconds=rng.random() * span)
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return min(day + timedelta(hours=rng.randint(0, 10), minutes=rng.randrange(60)), hi)

    quarters = [(start + timedelta(days=91 * q), min(start + timedelta(days=91 * (q + 1)), now))
                for q in range(8)]
    for m in members:
        homes = covered.get(m.id, [])
        for lo, hi in quarters:
            due = [h for h in homes if rng.random() < 0.85]
            rng.shuffle(due)
            while due:
                size = rng.randint(2, 5)
                group, due = due[:size], due[size:]
                add_activity(m, ActivityKind.VISIT, moment(lo, hi), group)
                visit_links += len(group)
        for _ in range(rng.randint(20, 38)):
            kind = rng.choices(kinds, weights)[0]
            residents = rng.sample(homes, min(len(homes), rng.randint(0, 2))) if homes else []
            add_activity(m, kind, moment(start, now), residents)
        if homes:
            for _ in range(rng.randint(12, 26)):
                rid, _address = rng.choice(homes)
                day = moment(start, now).astimezone(UTC).date()
                diary.add({"id": next_diary, "member_id": m.id, "resident_household_id": rid,
                           "entry_date": day, "text": rng.choice(DIARY), "need_id": None,
                           "created_at": datetime.combine(day, datetime.min.time(), UTC)
                           + timedelta(hours=10)})
                next_diary += 1
    for bulk in (acts, served, fellows, pics, diary):
        bulk.flush()
    reset_sequences(conn, ("activities", "diary_entries", "photos"))
    return {"activities": acts.count, "activity_photos": pics.count, "diary_entries": diary.count,
            "visits": visit_links, "photos": len(set(photo_pool))}
