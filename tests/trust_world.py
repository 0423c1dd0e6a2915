"""A world for the authorisation matrix and the fuzzers (issue 12): one user per role, and for
every kind of object an id URL rules take, three of them — the primary member's own (or their
grid's), another's in the same node, and one in the other branch of the tree.

Also: filling a URL rule's parameters, a fingerprint of the whole database (did a request write?)
and a snapshot the database can be put back to after a request that was allowed to write.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.clock import local_today, utcnow
from app.extensions import db
from app.models import (
    ActivityPhoto,
    AttendanceMark,
    CampaignCandidate,
    CampaignStatus,
    CandidacyWay,
    EvaluationOutcome,
    GuidanceContact,
    GuidanceWay,
    HouseholdAdjustment,
    HouseholdStatus,
    ModelCampaign,
    ModelTitle,
    NoticeObjection,
    Notification,
    OutcomeKind,
    PointsEntry,
    PostAssignment,
    PostType,
    RuleCode,
    TrainingSession,
    User,
)
from app.services import checkin_tokens, entry_tokens, photos, voice
from tests.factories import (
    image_bytes,
    login,
    make_activity,
    make_admin,
    make_checkin,
    make_diary_entry,
    make_event,
    make_household,
    make_member,
    make_need,
    make_nomination,
    make_station,
    make_station_admin,
    make_world,
    user_of,
)

# The roles every rule is tried as, in the matrix's column order.
ROLES = ("anon", "resident", "member", "head", "station", "grid", "community", "township", "district")
# own: the primary member's (or their grid's, their station's); same: another person's in the same
# node; other: in the other township.
OBJECTS = ("own", "same", "other")

# What a URL's text (not ``<int:…>``) parameters are filled with; a callable gets the world.
# Areas adding a rule with a new text parameter add its value here.
STRING_PARAMS: dict[str, Callable[[TrustWorld], str] | str] = {
    "fmt": "png",
    "ec": "Q",
    "kind": "members",
    "area": "points",
    "mode": "large",
    "slug": "diary_entry",
    "subject": "members",
    "factor": "points",
    "code": "en",
    "signed": "not-a-signed-link",
}
# Per endpoint, when the parameter's name alone does not say it.
STRING_PARAMS_BY_ENDPOINT: dict[tuple[str, str], Callable[[TrustWorld], str]] = {
    ("needs.card", "token"): lambda w: w.tokens["card"],
    ("needs.plaque", "token"): lambda w: w.tokens["plaque"],
    ("needs.track_token", "token"): lambda w: w.tokens["need"],
    ("needs.track_photo", "token"): lambda w: w.tokens["need"],
    ("needs.track_voice", "token"): lambda w: w.tokens["need"],
    ("needs.rate", "token"): lambda w: w.tokens["need"],
    # A kiosk's code lives a few minutes: made when the request is (a slow run outlives one).
    ("checkin.kiosk_scan", "token"): lambda w: checkin_tokens.kiosk_token(w.ids["station"][0]),
    ("checkin.poster_scan", "token"): lambda w: w.tokens["poster"],
}

# Which kind of object an ``<int:…>`` parameter names: by parameter, or by (endpoint, parameter).
ID_KINDS: dict[str, str] = {
    "activity_id": "activity",
    "entry_id": "diary",
    "hh_id": "central",
    "household_id": "central",
    "central_id": "central",
    "resident_id": "resident",
    "member_id": "member",
    "need_id": "need",
    "nom_id": "nomination",
    "objection_id": "objection",
    "adj_id": "adjustment",
    "node_id": "grid",
    "note_id": "note",
    "station_id": "station",
    "event_id": "event",
    "user_id": "station_admin_user",
    "checkin_id": "checkin",
    "session_id": "training",
    "mark_id": "training_mark",
    "clip_id": "voice",
    "title_id": "title",
    "post_id": "post",
    "assignment_id": "post_assignment",
    "campaign_id": "campaign",
    "candidate_id": "candidate",
    "outcome_id": "outcome",
    "year": "year",
    "subject_id": "member",  # the evaluation's subject is "members" (STRING_PARAMS)
}
ID_KINDS_BY_ENDPOINT: dict[tuple[str, str], str] = {
    ("needs.card_qr", "household_id"): "resident",
    ("needs.card_reissue", "household_id"): "resident",
    ("nominations.settings", "node_id"): "township",
    ("activities.photo", "photo_id"): "activity_photo",
    ("activities.photo_thumb", "photo_id"): "activity_photo",
    ("needs.photo", "photo_id"): "need_photo",
    ("needs.track_photo", "photo_id"): "need_photo",
    ("points.correct", "entry_id"): "points_entry",
    # An evaluation is of a node: the member's grid, their community, the other community.
    **{(f"evaluation.{e}", "node_id"): "evaluation_node"
       for e in ("sheet", "sheet_export", "records", "subject_page", "record_outcome", "weights", "weights_clear")},
}


@dataclass
class TrustWorld:
    users: dict[str, User | None]
    ids: dict[str, tuple[int, int, int]]  # kind → (own, same, other)
    notes: dict[str, int]  # role → a notification of that role's user (the "own" notification)
    tokens: dict[str, str]
    extra: dict[str, object] = field(default_factory=dict)

    def object_id(self, kind: str, obj: str, role: str) -> int:
        if kind == "note" and obj == "own":
            return self.notes.get(role, self.ids["note"][0])
        return self.ids[kind][OBJECTS.index(obj)]


def _photo(color: str):  # type: ignore[no-untyped-def]
    photo = photos.store(photos.process(io.BytesIO(image_bytes(color=color))), None)
    db.session.flush()
    return photo


def _voice(seconds: int):  # type: ignore[no-untyped-def]
    """A stored recording (AMR, silent frames: a well-formed file no tool is needed to make)."""
    data = b"#!AMR\n" + (b"\x3c" + bytes(31)) * (seconds * 50)
    clip = voice.store(voice.process(io.BytesIO(data)), None)
    db.session.flush()
    return clip


def build() -> TrustWorld:
    """The world (committed). Ids are the same on every run, so failures name the same objects."""
    w = make_world()
    p = w.p
    tree = p.tree
    grid_admin = make_admin(tree.grid, name="网格管理员")
    township_admin = make_admin(tree.township, name="镇管理员")
    users: dict[str, User | None] = {
        "anon": None, "resident": p.resident, "member": user_of(w.member), "head": user_of(w.head),
        "station": p.station_admin, "grid": grid_admin, "community": p.community_admin,
        "township": township_admin, "district": p.district_admin,
    }
    # Stations: the home one, another in the same community, one in the other township.
    station_b = make_station(tree.community, name="龙山第二驿站")
    station2 = make_station(tree.community2, name="杨桥党群驿站")
    admin_b = make_station_admin(station_b, name="第二驿站管理员")
    admin2 = make_station_admin(station2, name="杨桥驿站管理员")
    now = utcnow()
    events = [make_event(s, now + timedelta(days=1), now + timedelta(days=1, hours=2))
              for s in (p.station, station_b, station2)]
    # Central households: the member's, another in the same grid, one in the other township.
    same_central = make_household(tree.grid, head=make_member(tree.grid, name="吴户长"),
                                  number="T-SAME", address="龙山路9号")
    other_central = make_household(tree.grid2, head=make_member(tree.grid2, name="郑户长"),
                                   number="T-OTHER", address="杨桥路3号")
    centrals = (w.member.central_household, same_central, other_central)
    # Activities (own at the home station, pending; the fellow's; the other member's at station2),
    # each with a photo.
    acts = (
        make_activity(w.member, station=p.station, residents=[w.r1]),
        make_activity(w.fellow, residents=[w.r_fellow], note="同行的走访"),
        make_activity(w.other_member, station=station2, residents=[w.r_other]),
    )
    act_photos = []
    for activity, color in zip(acts, ("red", "green", "blue"), strict=True):
        photo = _photo(color)
        db.session.add(ActivityPhoto(activity_id=activity.id, photo_id=photo.id, position=0))
        act_photos.append(photo.id)
    db.session.commit()
    diary = (make_diary_entry(w.member, w.r1), make_diary_entry(w.fellow, w.r_fellow, text="孙奶奶腿脚不便"),
             make_diary_entry(w.other_member, w.r_other, text="周老汉想修水管"))
    # Needs from each resident household's card: held by its covering member, with a photo.
    need_list = []
    for resident, color, phone in ((w.r1, "yellow", "13911110001"), (w.r_fellow, "purple", "13911110002"),
                                   (w.r_other, "orange", "13911110003")):
        need_list.append(make_need(resident, phone=phone, photo=_photo(color), contact_name="居民",
                                   voice_clip=_voice(len(need_list) + 1)))
    # Nominations: the member's own (self), the fellow's, the other member's; an objection to each.
    noms = tuple(make_nomination(m) for m in (w.member, w.fellow, w.other_member))
    objections = []
    for nom in noms:
        objection = NoticeObjection(nomination_id=nom.id, contact_phone="13922223333", text="有异议")
        db.session.add(objection)
        objections.append(objection)
    adjustments = []
    for central in centrals:
        adj = HouseholdAdjustment(household_id=central.id, reason="户主搬迁", opened_by_id=grid_admin.id)
        central.status = HouseholdStatus.ADJUSTING  # as open_adjustment leaves it
        db.session.add(adj)
        adjustments.append(adj)
    # A notification for every user (the "own" one of each role), and the fellow's and the other's.
    notes: dict[str, int] = {}
    for role, user in users.items():
        if user is not None:
            note = Notification(user_id=user.id, kind="test", title=f"给{role}的通知", url="/")
            db.session.add(note)
            db.session.flush()
            notes[role] = note.id
    fellow_note = Notification(user_id=w.fellow.user_id, kind="test", title="给同行的通知", url="/")
    other_note = Notification(user_id=w.other_member.user_id, kind="test", title="给外镇的通知", url="/")
    db.session.add_all([fellow_note, other_note])
    db.session.commit()
    # Check-ins: the member's and the fellow's at the home station, the other member's at station2.
    checkins = [make_checkin(m, st, now) for m, st in ((w.member, p.station), (w.fellow, p.station),
                                                        (w.other_member, station2))]
    # Training: an online session of the home community open now, an offline one at the home
    # community's other station, an online one of the other township's community; a mark on each.
    trainings = []
    for node, station in ((tree.community, None), (tree.community, station_b), (tree.community2, None)):
        session = TrainingSession(
            org_node_id=node.id, title="微党课", kind="micro_lesson", mode="offline" if station else "online",
            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30), duration_minutes=45,
            created_by_id=p.district_admin.id, link_url="" if station else "https://example.org/lesson")
        if station is not None:
            session.station_event = make_event(station, now - timedelta(hours=1), now + timedelta(hours=2),
                                               title="微实训", kind="training")
        db.session.add(session)
        trainings.append(session)
    db.session.flush()
    marks = [AttendanceMark(session_id=s.id, member_id=m.id, kind="late", marked_by_id=p.district_admin.id)
             for s, m in zip(trainings, (w.member, w.fellow, w.other_member), strict=True)]
    db.session.add_all(marks)
    db.session.commit()
    late = _later_areas(w, centrals, diary, same_central)
    tokens = {
        "card": entry_tokens.current_token(w.r1).token,
        "plaque": entry_tokens.current_token(centrals[0]).token,
        "need": need_list[0].token,
        "poster": checkin_tokens.poster_token(p.station).token,
    }
    db.session.commit()
    ids = {
        "activity": tuple(a.id for a in acts),
        "activity_photo": tuple(act_photos),
        "diary": tuple(d.id for d in diary),
        "central": tuple(c.id for c in centrals),
        "resident": (w.r1.id, w.r_fellow.id, w.r_other.id),
        "member": (w.member.id, w.fellow.id, w.other_member.id),
        "need": tuple(n.id for n in need_list),
        "need_photo": tuple(n.photo_id for n in need_list),
        "voice": tuple(n.voice_clip_id for n in need_list),
        "nomination": tuple(n.id for n in noms),
        "objection": tuple(o.id for o in objections),
        "adjustment": tuple(a.id for a in adjustments),
        "grid": (tree.grid.id, tree.grid_b.id, tree.grid2.id),
        "township": (tree.township.id, tree.township.id, tree.township2.id),
        "note": (notes["member"], fellow_note.id, other_note.id),
        "station": (p.station.id, station_b.id, station2.id),
        "event": tuple(e.id for e in events),
        "station_admin_user": (p.station_admin.id, admin_b.id, admin2.id),
        "checkin": tuple(c.id for c in checkins),
        "training": tuple(t.id for t in trainings),
        "training_mark": tuple(m.id for m in marks),
        **late,
    }
    return TrustWorld(users, ids, notes, tokens, extra={"world": w})  # type: ignore[arg-type]


def _later_areas(w, centrals, diary, same_central) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """Points, mentoring and posts, evaluation, model titles: their objects, own/same/other.

    Objects that belong to a node are at the member's grid (own), at their community (same: seen
    from the grid, held above it) and at the other township's community (other)."""
    p, tree = w.p, w.p.tree
    district, today = p.district_admin, local_today()
    members = (w.member, w.fellow, w.other_member)
    nodes = (tree.grid, tree.community, tree.community2)
    # Points: an entry in each member's ledger (for their diary entry).
    entries = [PointsEntry(member_id=m.id, points=2, code=RuleCode.DIARY_ENTRY, source_type="diary_entry",
                           source_id=d.id, occurred_on=today) for m, d in zip(members, diary, strict=True)]
    # Mentoring: the head of the member's household is a secretary mentoring the other household
    # of the grid (so the head reads their own household's guidance, records the mentored one's).
    w.head.is_secretary = True
    same_central.mentor_id = w.head.id
    db.session.add(GuidanceContact(mentor_member_id=w.head.id, household_id=same_central.id, contact_date=today,
                                   way=GuidanceWay.PHONE, discussed="商量入户走访", created_by_id=w.head.user_id))
    # Posts: one per node; the member holds the grid's, the fellow the community's, the other
    # member the other community's.
    posts = [PostType(org_node_id=n.id, name="政策宣讲岗", duty="宣讲惠民政策") for n in nodes]
    # Campaigns of this year at each node, a household proposed to each (below); an outcome per member;
    # last year's 示范 title for each household.
    campaigns = [ModelCampaign(org_node_id=n.id, year=today.year, title="创建示范中心户", criteria="服务群众好",
                               status=CampaignStatus.OPEN, created_by_id=district.id) for n in nodes]
    outcomes = [EvaluationOutcome(year=today.year, org_node_id=n.id, member_id=m.id, reason="表现突出",
                                  kind=OutcomeKind.EXCELLENT_MEMBER, recorded_by_id=district.id)
                for n, m in zip(nodes, members, strict=True)]
    titles = [ModelTitle(household_id=h.id, year=today.year - 1, granted_by_id=district.id) for h in centrals]
    db.session.add_all([*entries, *posts, *campaigns, *outcomes, *titles])
    db.session.flush()
    assignments = [PostAssignment(member_id=m.id, post_type_id=post.id, duty=post.duty, assigned_by_id=district.id)
                   for m, post in zip(members, posts, strict=True)]
    # The grid's campaign has the other household of the grid as its candidate (the head of the
    # member's household may still apply there), the community's has the member's household.
    proposed = (same_central, centrals[0], centrals[2])
    candidates = [CampaignCandidate(campaign_id=c.id, household_id=h.id, way=CandidacyWay.PROPOSED,
                                    proposed_by_id=district.id) for c, h in zip(campaigns, proposed, strict=True)]
    db.session.add_all([*assignments, *candidates])
    db.session.commit()

    def ids(rows) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
        return tuple(r.id for r in rows)  # type: ignore[return-value]

    return {
        "points_entry": ids(entries), "post": ids(posts), "post_assignment": ids(assignments),
        "campaign": ids(campaigns), "candidate": ids(candidates), "outcome": ids(outcomes),
        "title": ids(titles), "evaluation_node": ids(nodes), "year": (today.year,) * 3,
    }


# --- rules and URLs ----------------------------------------------------------------------------


def int_params(rule) -> list[str]:  # type: ignore[no-untyped-def]
    return [name for name, conv in rule._converters.items() if conv.__class__.__name__ == "IdConverter"]


def id_kind(endpoint: str, param: str) -> str:
    kind = ID_KINDS_BY_ENDPOINT.get((endpoint, param)) or ID_KINDS.get(param)
    assert kind is not None, (
        f"{endpoint}: no object kind for <int:{param}> — add it to ID_KINDS or ID_KINDS_BY_ENDPOINT "
        "in tests/trust_world.py (and the objects to build())")
    return kind


def fill(world: TrustWorld, rule, obj: str | None, role: str, ids: dict[str, object] | None = None) -> str:  # type: ignore[no-untyped-def]
    """The rule's URL with every parameter filled: ids of ``obj`` (own/same/other), or ``ids``."""
    values: dict[str, object] = {}
    for name in sorted(rule.arguments - set(rule.defaults or {})):
        if ids and name in ids:
            values[name] = ids[name]
        elif name in int_params(rule):
            values[name] = world.object_id(id_kind(rule.endpoint, name), obj or "own", role)
        else:
            value = STRING_PARAMS_BY_ENDPOINT.get((rule.endpoint, name)) or STRING_PARAMS.get(name)
            assert value is not None, (
                f"{rule.endpoint}: no value for <{name}> — add it to STRING_PARAMS in tests/trust_world.py")
            values[name] = value(world) if callable(value) else value
    path = rule.rule
    for name, value in values.items():
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?" + re.escape(name) + ">", str(value), path)
    return path


def routes(app: Flask):  # type: ignore[no-untyped-def]
    """(endpoint, method, rule) for every rule but static files, in a fixed order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule)):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, rule


# --- clients -----------------------------------------------------------------------------------


class Clients:
    """A logged-in session per role; each request gets a fresh client holding that session's
    cookie, so a request that logs out or changes the session touches nothing after it."""

    def __init__(self, app: Flask, world: TrustWorld) -> None:
        self.app = app
        self.cookies: dict[str, str | None] = {}
        name = app.config["SESSION_COOKIE_NAME"]
        for role, user in world.users.items():
            if user is None:
                self.cookies[role] = None
                continue
            client = app.test_client()
            login(client, user)
            self.cookies[role] = client.get_cookie(name).value
        self.name = name

    def for_role(self, role: str) -> FlaskClient:
        client = self.app.test_client()
        if self.cookies[role] is not None:
            client.set_cookie(self.name, self.cookies[role])  # type: ignore[arg-type]
        return client


# --- the database: a fingerprint, a snapshot -----------------------------------------------------


def _tables() -> list[sa.Table]:
    return list(db.metadata.sorted_tables)


def fingerprint() -> str:
    """A hash of every row of every table (what a refused request must leave as it was)."""
    db.session.commit()
    digest = hashlib.sha256()
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            parts = [f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {t.name} t)"
                     for t in _tables()]
            cursor.execute("SELECT " + ", ".join(parts))
            digest.update(repr(cursor.fetchone()).encode())
        else:
            for table in _tables():
                cursor.execute(f"SELECT * FROM {table.name} ORDER BY 1, 2")
                digest.update(table.name.encode() + repr(cursor.fetchall()).encode())
        cursor.close()
        raw.commit()
    finally:
        raw.close()
    return digest.hexdigest()


class Writes:
    """Whether any statement run since the last ``reset()`` changed a row (a cheap "did this
    request write?", so that the world is put back only when it must be)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        sa.event.listen(db.engine, "after_cursor_execute", self._after)

    def _after(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # A statement with RETURNING has not counted its rows yet (SQLite's cursor says 0 until
        # they are fetched): it counts as a write.
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE") and (
                cursor.rowcount != 0 or "RETURNING" in statement.upper()):
            self.seen.append(statement.split("\n")[0][:80])

    def reset(self) -> None:
        self.seen = []

    def close(self) -> None:
        sa.event.remove(db.engine, "after_cursor_execute", self._after)


def changed_tables(before: dict[str, list], after: dict[str, list]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def snapshot() -> dict[str, list[dict]]:
    db.session.commit()
    with db.engine.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(t.select()).mappings()] for t in _tables()}


def restore(snap: dict[str, list[dict]]) -> None:
    """Put every table back as it was in ``snap`` (foreign keys checked at the end)."""
    db.session.commit()
    tables = _tables()
    with db.engine.begin() as conn:
        triggers = []
        if conn.dialect.name == "postgresql":  # no triggers, foreign keys checked by triggers too
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        else:  # SQLite: triggers (an append-only ledger) dropped and made again in the transaction
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            triggers = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
            for name, _sql in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        for table in reversed(tables):
            conn.execute(table.delete())
        for table in tables:
            if snap[table.name]:
                conn.execute(table.insert(), snap[table.name])
        for _name, sql in triggers:
            conn.exec_driver_sql(sql)
    db.session.expire_all()
