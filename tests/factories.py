"""Small factory functions for tests: each makes one thing with sensible defaults and flushes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from flask.testing import FlaskClient

from app.clock import local_now
from app.extensions import db
from app.models import (
    CentralHousehold,
    CheckinMode,
    HouseholdStatus,
    Member,
    MemberCategory,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    Role,
    RoleAssignment,
    Station,
    StationKind,
    User,
)
from app.services.org import create_node
from app.services.passwords import hash_password

PASSWORD = "correct-horse-9"
_phones = itertools.count(13800000001)
_rooms = itertools.count(101)


def next_phone() -> str:
    return str(next(_phones))


@dataclass
class Tree:
    """Two branches of the org tree, so that "the other community" always exists in tests."""

    district: OrgNode
    township: OrgNode
    community: OrgNode
    grid: OrgNode
    grid_b: OrgNode  # same community, another grid
    township2: OrgNode
    community2: OrgNode
    grid2: OrgNode


def make_tree(name: str = "宜秀区") -> Tree:
    district = create_node(name, OrgLevel.DISTRICT)
    township = create_node("大龙山镇", OrgLevel.TOWNSHIP, district)
    community = create_node("龙山社区", OrgLevel.COMMUNITY, township)
    grid = create_node("第一网格", OrgLevel.GRID, community)
    grid_b = create_node("第二网格", OrgLevel.GRID, community)
    township2 = create_node("杨桥镇", OrgLevel.TOWNSHIP, district)
    community2 = create_node("杨桥社区", OrgLevel.COMMUNITY, township2)
    grid2 = create_node("杨桥一网格", OrgLevel.GRID, community2)
    db.session.commit()
    return Tree(district, township, community, grid, grid_b, township2, community2, grid2)


def make_user(name: str = "张三", phone: str | None = None, password: str | None = PASSWORD,
              active: bool = True) -> User:
    user = User(phone=phone or next_phone(), name=name, active=active,
                password_hash=hash_password(password) if password else None)
    db.session.add(user)
    db.session.commit()
    return user


def make_admin(node: OrgNode, name: str = "管理员", **kw: object) -> User:
    user = make_user(name=name, **kw)  # type: ignore[arg-type]
    db.session.add(RoleAssignment(user=user, role=Role.ORG_ADMIN, org_node_id=node.id))
    db.session.commit()
    return user


def make_member(grid: OrgNode, name: str = "李党员", household: CentralHousehold | None = None,
                category: MemberCategory = MemberCategory.EMPLOYED, user: User | None = None,
                **kw: object) -> Member:
    user = user or make_user(name=name, **kw)  # type: ignore[arg-type]
    member = Member(user=user, grid_id=grid.id, category=category,
                    central_household_id=household.id if household else None)
    db.session.add(member)
    db.session.commit()
    return member


def make_household(grid: OrgNode, head: Member | None = None, number: str | None = None,
                   address: str = "龙山路1号") -> CentralHousehold:
    head = head or make_member(grid, name="王户长")
    household = CentralHousehold(head_member_id=head.id, grid_id=grid.id, address=address,
                                 status=HouseholdStatus.ESTABLISHED,
                                 number=number or f"T-{head.id:04d}")
    db.session.add(household)
    db.session.flush()
    head.central_household_id = household.id
    db.session.commit()
    return household


def make_resident(grid: OrgNode, member: Member | None = None, head_name: str = "赵大爷",
                  phone: str | None = None, building: str = "1", unit: str = "1",
                  room: str | None = None, care_tags: str = "") -> ResidentHousehold:
    room = room or str(next(_rooms))
    resident = ResidentHousehold(
        grid_id=grid.id, building=building, unit=unit, room=room,
        address=f"{grid.name}{building}栋{unit}单元{room}室", head_name=head_name, phone=phone,
        covering_member_id=member.id if member else None, care_tags=care_tags,
    )
    db.session.add(resident)
    db.session.commit()
    return resident


def make_station(node: OrgNode, name: str = "龙山党群驿站",
                 kind: StationKind = StationKind.PARTY_MASS,
                 mode: CheckinMode = CheckinMode.KIOSK) -> Station:
    station = Station(name=name, kind=kind, org_node_id=node.id, checkin_mode=mode,
                      address="龙山路8号", opening_hours="08:30-17:30")
    db.session.add(station)
    db.session.commit()
    return station


def make_station_admin(station: Station, name: str = "驿站管理员", **kw: object) -> User:
    user = make_user(name=name, **kw)  # type: ignore[arg-type]
    db.session.add(RoleAssignment(user=user, role=Role.STATION_ADMIN, station_id=station.id))
    db.session.commit()
    return user


def make_resident_user(name: str = "群众甲", **kw: object) -> User:
    user = make_user(name=name, **kw)  # type: ignore[arg-type]
    db.session.add(RoleAssignment(user=user, role=Role.RESIDENT))
    db.session.commit()
    return user


def login(client: FlaskClient, user: User, password: str = PASSWORD, remember: bool = False):
    """Log ``user`` in through the login form; returns the response."""
    data = {"phone": user.phone, "password": password}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


@dataclass
class Personas:
    """One user per role, plus the same roles in another branch of the tree."""

    tree: Tree
    district_admin: User
    community_admin: User
    other_community_admin: User
    station: Station
    station_admin: User
    member: Member
    other_member: Member
    resident: User
    nobody: User  # an account with no role at all


def make_personas() -> Personas:
    tree = make_tree()
    station = make_station(tree.community)
    household = make_household(tree.grid)
    return Personas(
        tree=tree,
        district_admin=make_admin(tree.district, name="区管理员"),
        community_admin=make_admin(tree.community, name="社区管理员"),
        other_community_admin=make_admin(tree.community2, name="杨桥社区管理员"),
        station=station,
        station_admin=make_station_admin(station),
        member=make_member(tree.grid, name="李党员", household=household),
        other_member=make_member(tree.grid2, name="周党员"),
        resident=make_resident_user(),
        nobody=make_user(name="无角色"),
    )


# --- activities (recording service, diary, visits) ---------------------------------------

def make_activity(author: Member, kind: str = "visit", station: Station | None = None,
                  address: str = "龙山路1号", residents: list[ResidentHousehold] | None = None,
                  fellows: list[Member] | None = None, started_at=None, created_at=None,  # type: ignore[no-untyped-def]
                  duration: int = 30, note: str = ""):
    """An activity recorded by ``author`` (pending when at a station)."""
    from datetime import UTC, datetime

    from app.models import Activity, ActivityKind, VerifyState

    when = started_at or datetime.now(UTC)
    activity = Activity(
        author_member_id=author.id, grid_id=author.grid_id, kind=ActivityKind(kind),
        started_at=when, duration_minutes=duration,
        station_id=station.id if station else None, address="" if station else address,
        note=note, verify_state=VerifyState.PENDING if station else VerifyState.NONE,
        created_by_id=author.user_id, created_at=created_at or when,
    )
    activity.residents = residents or []
    activity.fellows = fellows or []
    db.session.add(activity)
    db.session.commit()
    return activity


def make_diary_entry(member: Member, resident: ResidentHousehold, entry_date=None,  # type: ignore[no-untyped-def]
                     text: str = "反映楼道灯坏了"):
    from datetime import date

    from app.models import DiaryEntry

    entry = DiaryEntry(member_id=member.id, resident_household_id=resident.id,
                       entry_date=entry_date or date.today(), text=text)
    db.session.add(entry)
    db.session.commit()
    return entry


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color: str = "red",
                exif_gps: bool = False) -> bytes:
    """A small generated image; with ``exif_gps`` a JPEG carrying GPS tags, as phones write them."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x0112] = 1  # Orientation
        gps = exif.get_ifd(0x8825)
        gps[1] = "N"
        gps[2] = (31.0, 30.0, 15.0)
        gps[3] = "E"
        gps[4] = (117.0, 2.0, 30.0)
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()
# --- nominations & households ---------------------------------------------------------------------

REASONS = {"reason_political": "政治立场坚定", "reason_service": "热心为群众办事"}


def make_nomination(candidate: Member, opener: User | None = None, way: str = "self",
                    category: MemberCategory = MemberCategory.EMPLOYED, **kw: object):
    """A nomination opened through the service (自荐 by default), committed."""
    from app.models import NominationWay
    from app.services import nominations as svc

    data = svc.NominationInput(
        way=NominationWay(way), candidate=candidate, category=category,
        address=str(kw.pop("address", "龙山路2号")), reasons=dict(kw.pop("reasons", REASONS)),  # type: ignore[arg-type]
        nominator_members=str(kw.pop("nominator_members", "")),
        nominator_residents=str(kw.pop("nominator_residents", "")),
    )
    nom = svc.open_nomination(opener or candidate.user, data)
    db.session.commit()
    return nom


def advance_to_notice(nom, community_admin: User, township_admin: User):  # type: ignore[no-untyped-def]
    """Village approval, every department's 无异议, township approval: the notice starts now."""
    from app.services import nominations as svc

    svc.community_review(community_admin, nom, True, "同意")
    for dept in svc.pending_departments(nom):
        svc.record_signoff(township_admin, nom, dept.id, True, "")
    svc.township_review(township_admin, nom, True, "同意公示")
    db.session.commit()
    return nom
# --- needs (群众诉求) ---


@dataclass
class NeedWorld:
    """A community with a central household (head + two members), a covered resident household,
    and admins at community and township level; plus the other branch from make_personas."""

    p: Personas
    head: Member
    member: Member
    fellow: Member
    household: ResidentHousehold
    township_admin: User


def make_need_world() -> NeedWorld:
    p = make_personas()
    central = db.session.get(CentralHousehold, p.member.central_household_id)
    head = central.head
    fellow = make_member(p.tree.grid, name="钱党员", household=central)
    household = make_resident(p.tree.grid, member=p.member, head_name="赵大爷", phone="13911112222",
                              building="3", unit="2", room="501")
    township_admin = make_admin(p.tree.township, name="镇管理员")
    return NeedWorld(p, head, p.member, fellow, household, township_admin)


def make_need(household: ResidentHousehold | None = None, *, category=None, text: str = "楼道灯坏了",
              phone: str | None = "13911112222", now=None, **kw: object):
    """A need filed from the household's contact card (or with ``central=``/``community=``)."""
    from app.models import NeedCategory, NeedOrigin
    from app.services.needs import submit_need

    origin = kw.pop("origin", NeedOrigin.CARD if household is not None else NeedOrigin.PUBLIC)
    need = submit_need(category or NeedCategory.REPAIR, text, origin=origin, household=household,
                       contact_phone=phone, consent=True, now=now, **kw)  # type: ignore[arg-type]
    db.session.commit()
    return need
# ---- check-in ----------------------------------------------------------------------------------


def make_event(station: Station, starts_at, ends_at, title: str = "主题党日",  # type: ignore[no-untyped-def]
               kind: str = "theme_day") -> object:
    from app.models import StationEvent, StationEventKind

    event = StationEvent(station_id=station.id, title=title, kind=StationEventKind(kind),
                         starts_at=starts_at, ends_at=ends_at)
    db.session.add(event)
    db.session.commit()
    return event


def make_checkin(member: Member, station: Station, at, method: str = "kiosk",  # type: ignore[no-untyped-def]
                 recorded_by: User | None = None, event=None) -> object:  # type: ignore[no-untyped-def]
    from app.models import Checkin, CheckinMethod
    from app.services.checkin import local_day

    row = Checkin(member_id=member.id, station_id=station.id, day=local_day(at), checked_in_at=at,
                  method=CheckinMethod(method), recorded_by_id=recorded_by.id if recorded_by else None,
                  event_id=event.id if event else None)
    db.session.add(row)
    db.session.commit()
    return row


# --- a small world for recording service (activities, diary, visits) ----------------------------


@dataclass
class World:
    """Personas plus the members and resident households the activity, diary and visit tests use."""

    p: object
    member: Member
    fellow: Member
    head: Member
    other_member: Member
    r1: ResidentHousehold
    r2: ResidentHousehold
    r_fellow: ResidentHousehold
    r_other: ResidentHousehold


def make_world() -> World:
    p = make_personas()
    member = p.member
    household = member.central_household
    fellow = make_member(p.tree.grid, name="陈同行", household=household)
    r1 = make_resident(p.tree.grid, member, head_name="赵大爷")
    r2 = make_resident(p.tree.grid, member, head_name="钱大妈")
    r_fellow = make_resident(p.tree.grid, fellow, head_name="孙奶奶")
    r_other = make_resident(p.tree.grid2, p.other_member, head_name="周老汉")
    return World(p, member, fellow, household.head, p.other_member, r1, r2, r_fellow, r_other)


def user_of(m: Member) -> User:
    return db.session.get(User, m.user_id)


def activity_form_data(**overrides: object) -> dict:
    data: dict[str, object] = {
        "kind": "visit",
        "started_at": local_now().strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "45",
        "station_id": "",
        "address": "龙山路12号",
        "note": "上门宣讲医保政策",
    }
    data.update(overrides)
    return data
