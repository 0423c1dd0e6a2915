"""Demo data for residents' needs: two years of needs in every state and category, with realistic
response and resolution times, some SLA breaches and escalations, and ratings.

``generate(conn, rng, now, scale)`` reads the district already in the database (resident
households with covering members, central households, org nodes) and bulk-inserts; it never goes
through the ORM per row, so a few thousand needs take a second or two.

Some residents speak rather than type: a share of card needs carry one of the recordings in
``voice/`` (Mandarin spoken by espeak-ng, Ogg/Opus), some with no text at all, and some members'
progress notes are voice replies. The recordings are checked and stored as uploads are.
"""

from __future__ import annotations

import base64
import io
import math
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app.demo.context import max_id, reset_sequences
from app.models import (
    BreachKind,
    CentralHousehold,
    EventKind,
    Member,
    Need,
    NeedBreach,
    NeedCategory,
    NeedEvent,
    NeedHandler,
    NeedOrigin,
    NeedOutcome,
    NeedRating,
    NeedStatus,
    OrgNode,
    OwnerLevel,
    ResidentHousehold,
    User,
    VoiceClip,
)
from app.services import voice as voice_service
from app.services.needs import (
    CODE_ALPHABET,
    CODE_LENGTH,
    DEFAULT_ACCEPT_HOURS,
    DEFAULT_RESOLVE_HOURS,
)

NEEDS_PER_SCALE = 3000
DAYS = 730
CATEGORY_WEIGHTS = {
    NeedCategory.REPAIR: 24, NeedCategory.ENVIRONMENT: 18, NeedCategory.POLICY: 16, NeedCategory.HEALTH: 12,
    NeedCategory.HARDSHIP: 10, NeedCategory.DISPUTE: 8, NeedCategory.EMPLOYMENT: 6, NeedCategory.OTHER: 6,
}
TEXTS = {
    NeedCategory.REPAIR: ["楼道灯坏了，晚上看不见路", "单元门禁坏了", "家里水管漏水，物业联系不上", "小区路面塌陷"],
    NeedCategory.ENVIRONMENT: ["垃圾桶满了没人清运", "楼下有人乱堆杂物", "绿化带里有积水发臭"],
    NeedCategory.POLICY: ["想咨询医保缴费政策", "孩子入学需要哪些材料", "老旧小区改造什么时候开始"],
    NeedCategory.HEALTH: ["独居老人需要上门测血压", "想申请居家养老服务", "家里老人行动不便，想办助餐"],
    NeedCategory.HARDSHIP: ["家里有困难，想了解低保申请", "冬天取暖有困难"],
    NeedCategory.DISPUTE: ["楼上漏水和邻居协商不成", "邻居占用公共楼道", "停车位纠纷"],
    NeedCategory.EMPLOYMENT: ["想找份离家近的工作", "想了解创业贴息贷款"],
    NeedCategory.OTHER: ["希望社区多组织些活动", "有事想当面和社区反映"],
}
OUTCOMES = [(NeedOutcome.SOLVED, 75), (NeedOutcome.REFERRED, 12), (NeedOutcome.UNSOLVABLE, 6),
            (NeedOutcome.OUT_OF_SCOPE, 7)]
RATINGS = [(NeedRating.SATISFIED, 70), (NeedRating.BASICALLY, 22), (NeedRating.UNSATISFIED, 8)]


VOICE_DIR = Path(__file__).parent / "voice"
# What each recording says: the category a resident would file it under (None: a member's reply).
VOICE_FILES = {"demo-1.ogg": NeedCategory.REPAIR, "demo-2.ogg": NeedCategory.HEALTH,
               "demo-3.ogg": NeedCategory.ENVIRONMENT, "demo-4.ogg": None}
VOICE_TEXTS = {NeedCategory.REPAIR: "楼道灯坏了好几天了", NeedCategory.HEALTH: "想请人上门量血压",
               NeedCategory.ENVIRONMENT: "垃圾桶满了没人清运"}
VOICE_SHARE = 0.25  # of the card needs whose category one of the recordings fits


def _voice_pool(conn: Connection) -> dict[NeedCategory | None, int]:
    """The demo recordings checked like uploads, their files written, their rows inserted (once
    per content); category → clip id."""
    existing = dict(conn.execute(sa.select(VoiceClip.sha256, VoiceClip.id)).all())
    next_id = max_id(conn, "voice_clips") + 1
    pool: dict[NeedCategory | None, int] = {}
    for name, category in VOICE_FILES.items():
        processed = voice_service.process(io.BytesIO((VOICE_DIR / name).read_bytes()))
        if processed.sha256 not in existing:
            path = voice_service.voice_path(VoiceClip(sha256=processed.sha256))
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(processed.data)
            os.replace(tmp, path)
            conn.execute(sa.insert(VoiceClip.__table__), [{
                "id": next_id, "sha256": processed.sha256, "mime": processed.mime,
                "duration_ms": processed.duration_ms, "size_bytes": len(processed.data),
                "uploaded_by_id": None, "created_at": datetime.now(UTC)}])
            existing[processed.sha256] = next_id
            next_id += 1
        pool[category] = existing[processed.sha256]
    reset_sequences(conn, ("voice_clips",))
    return pool


def _pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def _lognormal_hours(rng: random.Random, median: float, sigma: float) -> float:
    return math.exp(math.log(median) + sigma * rng.gauss(0, 1))


def generate(conn: Connection, rng: random.Random, now: datetime, scale: float) -> dict[str, int]:
    """Insert ~3,000 × ``scale`` needs over the two years before ``now``; returns counts."""
    households = conn.execute(
        sa.select(ResidentHousehold.id, ResidentHousehold.grid_id, ResidentHousehold.covering_member_id,
                  ResidentHousehold.phone, ResidentHousehold.head_name, ResidentHousehold.address)
        .where(ResidentHousehold.covering_member_id.is_not(None))
    ).all()
    if not households:
        return {"needs": 0}
    members = {m.id: m for m in conn.execute(
        sa.select(Member.id, Member.user_id, Member.central_household_id, User.name)
        .join(User, User.id == Member.user_id)).all()}
    heads = dict(conn.execute(sa.select(CentralHousehold.id, CentralHousehold.head_member_id)).all())
    parents = dict(conn.execute(sa.select(OrgNode.id, OrgNode.parent_id)).all())
    start_id = max_id(conn, "needs") + 1
    used_codes = set(conn.scalars(sa.select(Need.code)))
    voices = _voice_pool(conn)

    def code() -> str:
        while True:
            c = "".join(rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if c not in used_codes:
                used_codes.add(c)
                return c

    cats = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    n = max(1, int(NEEDS_PER_SCALE * scale))
    need_rows: list[dict] = []
    events: list[dict] = []
    handlers: list[dict] = []
    breaches: list[dict] = []
    for i in range(n):
        nid = start_id + i
        hh = rng.choice(households)
        grid_id, member_id = hh.grid_id, hh.covering_member_id
        community_id = parents[grid_id]
        township_id = parents[community_id]
        member = members[member_id]
        head_id = heads.get(member.central_household_id)
        category = rng.choices(cats, weights=weights)[0]
        submitted = now - timedelta(days=rng.random() * DAYS)
        # A fresh tail so that every inbox has work in it: 1 % waiting, 2 % being worked on.
        fresh = "waiting" if i < n * 0.01 else "working" if i < n * 0.03 else None
        if fresh == "waiting":
            submitted = now - timedelta(hours=rng.random() * 20)
        elif fresh == "working":
            submitted = now - timedelta(hours=24 + rng.random() * 120)
        origin = NeedOrigin.CARD if rng.random() < 0.7 else rng.choice([NeedOrigin.PLAQUE, NeedOrigin.PUBLIC,
                                                                         NeedOrigin.MEMBER])
        age_h = (now - submitted).total_seconds() / 3600
        owner_level = OwnerLevel.HEAD if head_id == member_id else OwnerLevel.MEMBER
        owner_member = member_id
        spoken = voices.get(category) if origin is NeedOrigin.CARD and rng.random() < VOICE_SHARE else None
        # Half of those who speak type nothing; the others type a few words as well.
        text = rng.choice(TEXTS[category]) if spoken is None else rng.choice(["", VOICE_TEXTS[category]])
        row = dict(
            id=nid, token=base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode().rstrip("="),
            code=code(), category=category, text=text, address="", photo_id=None, voice_clip_id=spoken,
            origin=origin, contact_name=hh.head_name, contact_phone=hh.phone, consent_at=submitted,
            submitted_by_id=None, resident_household_id=hh.id, grid_id=grid_id, community_id=community_id,
            township_id=township_id, node_id=grid_id, member_id=member_id,
            central_household_id=member.central_household_id, owner_node_id=None,
            accept_hours=DEFAULT_ACCEPT_HOURS, resolve_hours=DEFAULT_RESOLVE_HOURS,
            first_accept_due_at=submitted + timedelta(hours=DEFAULT_ACCEPT_HOURS),
            accept_due_at=submitted + timedelta(hours=DEFAULT_ACCEPT_HOURS),
            resolve_due_at=submitted + timedelta(hours=DEFAULT_RESOLVE_HOURS), submitted_at=submitted,
            accepted_at=None, resolved_at=None, outcome=None, outcome_note="", referred_to="", rating=None,
            rating_comment="", rated_at=None, reopen_count=0, hidden_at=None, hidden_reason=None, hidden_by_id=None,
        )

        def ev(kind: EventKind, at: datetime, label: str, text: str = "", nid: int = nid, **kw: object) -> None:
            events.append(dict(need_id=nid, kind=kind, at=at, actor_id=kw.pop("actor_id", None),
                               actor_label=label, text=text, internal=False, photo_id=None,
                               voice_clip_id=kw.pop("voice_clip_id", None),
                               to_level=kw.pop("to_level", None), to_label=kw.pop("to_label", "")))

        ev(EventKind.SUBMITTED, submitted, "群众", origin.label, voice_clip_id=spoken)
        ev(EventKind.ROUTED, submitted, "系统", to_level=owner_level, to_label=f"{owner_level.label} {member.name}")
        handlers.append(dict(need_id=nid, member_id=member_id))
        # Response: median 3 h, a long tail; ~8 % miss the 24 h deadline.
        accept_h = _lognormal_hours(rng, 3.0, 1.25)
        if fresh == "waiting":
            accept_h = 1e9
        elif fresh == "working":
            accept_h = min(accept_h, 20.0)
        status = NeedStatus.SUBMITTED
        if accept_h > DEFAULT_ACCEPT_HOURS and age_h > DEFAULT_ACCEPT_HOURS:
            due = submitted + timedelta(hours=DEFAULT_ACCEPT_HOURS)
            breaches.append(dict(need_id=nid, level=owner_level, owner_member_id=owner_member, owner_node_id=None,
                                 kind=BreachKind.ACCEPT, due_at=due, at=due + timedelta(minutes=5)))
            if owner_level is OwnerLevel.MEMBER and head_id:
                owner_level, owner_member = OwnerLevel.HEAD, head_id
                handlers.append(dict(need_id=nid, member_id=head_id))
                ev(EventKind.ESCALATED, due + timedelta(minutes=5), "系统", "超时未接单", to_level=owner_level,
                   to_label=f"{owner_level.label} {members[head_id].name}")
            row["accept_due_at"] = due + timedelta(minutes=5, hours=DEFAULT_ACCEPT_HOURS)
            accept_h = min(accept_h, DEFAULT_ACCEPT_HOURS + 20)
        if accept_h < age_h:
            status = NeedStatus.ACCEPTED
            row["accepted_at"] = submitted + timedelta(hours=accept_h)
            actor = members[owner_member]
            ev(EventKind.ACCEPTED, row["accepted_at"], actor.name, actor_id=actor.user_id)
            resolve_h = accept_h + _lognormal_hours(rng, 40.0, 0.9)
            if fresh == "working":
                resolve_h = 1e9
            if resolve_h < age_h:
                if rng.random() < 0.5:
                    ev(EventKind.PROGRESS, submitted + timedelta(hours=(accept_h + resolve_h) / 2), actor.name,
                       "已上门了解情况", actor_id=actor.user_id)
                status = NeedStatus.RESOLVED
                outcome = _pick(rng, OUTCOMES)
                row.update(resolved_at=submitted + timedelta(hours=resolve_h), outcome=outcome,
                           outcome_note="已与群众沟通并处理", referred_to="街道城管科" if outcome is NeedOutcome.REFERRED else "")
                ev(EventKind.RESOLVED, row["resolved_at"], actor.name, f"{outcome.label}：已与群众沟通并处理",
                   actor_id=actor.user_id)
                rated_at = row["resolved_at"] + timedelta(hours=_lognormal_hours(rng, 20, 0.8))
                if rng.random() < 0.75 and rated_at < now:
                    rating = _pick(rng, RATINGS)
                    row.update(rating=rating, rated_at=rated_at)
                    ev(EventKind.RATED, rated_at, "群众", rating.label)
                    status = NeedStatus.RATED
                    if rating is NeedRating.UNSATISFIED:
                        row["reopen_count"] = 1
                        ev(EventKind.REOPENED, rated_at, "系统", "群众不满意，重新办理（第 1 次）")
                        again = rated_at + timedelta(hours=_lognormal_hours(rng, 48, 0.6))
                        if again < now:
                            ev(EventKind.RESOLVED, again, actor.name, "已解决：再次上门处理", actor_id=actor.user_id)
                            row.update(resolved_at=again, outcome=NeedOutcome.SOLVED, outcome_note="再次上门处理")
                            status = NeedStatus.RESOLVED
                        else:
                            status = NeedStatus.IN_PROGRESS
                            row.update(resolved_at=None, outcome=None, outcome_note="", referred_to="",
                                       resolve_due_at=rated_at + timedelta(hours=DEFAULT_RESOLVE_HOURS))
            elif rng.random() < 0.5:
                status = NeedStatus.IN_PROGRESS
                # A member now and then answers by voice ("我明天上午过去看看").
                reply = voices[None] if rng.random() < 0.2 else None
                ev(EventKind.PROGRESS, row["accepted_at"] + timedelta(hours=2), actor.name,
                   "" if reply else "正在协调处理", actor_id=actor.user_id, voice_clip_id=reply)
        if status.is_open and age_h > DEFAULT_RESOLVE_HOURS:
            # Old needs left open in a demo would all sit at the township; close them as resolved.
            actor = members[owner_member]
            if row["accepted_at"] is None:
                row["accepted_at"] = submitted + timedelta(hours=30)
                ev(EventKind.ACCEPTED, row["accepted_at"], actor.name, actor_id=actor.user_id)
            ev(EventKind.RESOLVED, submitted + timedelta(hours=DEFAULT_RESOLVE_HOURS - 1), actor.name, "已解决：已处理",
               actor_id=actor.user_id)
            row.update(status=NeedStatus.RESOLVED, resolved_at=submitted + timedelta(hours=DEFAULT_RESOLVE_HOURS - 1),
                       outcome=NeedOutcome.SOLVED, outcome_note="已处理")
            status = NeedStatus.RESOLVED
        row.update(status=status, owner_level=owner_level, owner_member_id=owner_member)
        need_rows.append(row)
    conn.execute(sa.insert(Need.__table__), need_rows)
    conn.execute(sa.insert(NeedEvent.__table__), events)
    conn.execute(sa.insert(NeedHandler.__table__).prefix_with("OR IGNORE", dialect="sqlite"),
                 [dict(t) for t in {tuple(sorted(h.items())) for h in handlers}])
    if breaches:
        conn.execute(sa.insert(NeedBreach.__table__), breaches)
    reset_sequences(conn, ("needs",))
    by_status: dict[str, int] = {}
    for r in need_rows:
        by_status[r["status"].value] = by_status.get(r["status"].value, 0) + 1
    return {"needs": len(need_rows), "need_events": len(events), "need_breaches": len(breaches),
            "voice_needs": sum(1 for r in need_rows if r["voice_clip_id"]),
            **{f"needs_{k}": v for k, v in sorted(by_status.items())}}
