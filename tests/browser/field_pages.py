"""The pages residents, members and the kiosk see, as URLs on the demo district.

The accessibility and target tests visit every one of them at 360 px (the kiosk at tablet width
too). The demo district is built small (``SCALE``) and given what its demo member lacks at that
scale: a need in each state of the member's inbox, a need the registered resident filed, and the
tokens behind a contact card, a plaque, a tracking page and a station poster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask

from app.demo.district import DEMO_ACCOUNTS, DEMO_PASSWORD
from app.extensions import db
from app.models import (
    Activity,
    DiaryEntry,
    Member,
    NeedCategory,
    NeedOrigin,
    ResidentHousehold,
    RoleAssignment,
    Station,
    TrainingMode,
    TrainingSession,
    User,
)
from app.policy import is_session_member
from app.services import entry_tokens
from app.services.checkin_tokens import poster_token
from app.services.needs import accept, submit_need

SCALE = "0.05"
PASSWORD = DEMO_PASSWORD


@dataclass
class Role:
    """One signed-in user (or nobody) and the pages they visit."""

    phone: str | None
    pages: list[str] = field(default_factory=list)


@dataclass
class FieldPages:
    anonymous: Role
    resident: Role
    member: Role
    head: Role
    mentor: Role  # a community secretary mentoring central households
    kiosk: Role  # the station admin, whose tablet shows the kiosk
    admin: Role  # the district admin's lists (a phone is not their tool, but lists must read on one)
    kiosk_station_id: int = 0
    card_token: str = ""
    district_admin_phone: str = ""

    def roles(self) -> dict[str, Role]:
        return {"anonymous": self.anonymous, "resident": self.resident, "member": self.member,
                "head": self.head, "mentor": self.mentor, "kiosk": self.kiosk, "admin": self.admin}


def _user(key: str) -> User:
    return db.session.scalar(sa.select(User).where(User.phone == DEMO_ACCOUNTS[key][0]))


def build_demo(app: Flask) -> None:
    """The demo district at a small scale (the CLI command, as ``scripts/dev`` runs it)."""
    result = app.test_cli_runner().invoke(args=["demo-district", "--scale", SCALE])
    assert result.exit_code == 0, result.output


def field_pages() -> FieldPages:
    """Add what the pages need to the demo district (commits) and list the pages."""
    member = db.session.scalar(sa.select(Member).where(Member.user_id == _user("member").id))
    head = db.session.scalar(sa.select(Member).where(Member.user_id == _user("head").id))
    resident = _user("resident")
    households = db.session.scalars(sa.select(ResidentHousehold).where(
        ResidentHousehold.covering_member_id == member.id).order_by(ResidentHousehold.id)).all()
    card_household, other = households[0], households[1]
    fresh = submit_need(NeedCategory.REPAIR, "楼道灯坏了三天，晚上看不见路。", origin=NeedOrigin.CARD,
                        household=card_household, consent=True, contact_phone="13911112222")
    taken = submit_need(NeedCategory.HARDSHIP, "老人独居，想申请上门助餐。", origin=NeedOrigin.CARD,
                        household=other, consent=True, contact_phone="13911113333")
    accept(taken, _user("member"))
    own = submit_need(NeedCategory.ENVIRONMENT, "小区门口垃圾堆了一周没人清理。", origin=NeedOrigin.CARD,
                      household=card_household, consent=True, contact_phone=resident.phone,
                      submitted_by=resident)
    card = entry_tokens.current_token(card_household).token
    plaque = entry_tokens.current_token(member.central_household).token
    station_id = db.session.scalar(sa.select(RoleAssignment.station_id).where(
        RoleAssignment.user_id == _user("station").id, RoleAssignment.station_id.is_not(None)))
    online = db.session.scalars(sa.select(TrainingSession).where(TrainingSession.mode == TrainingMode.ONLINE)
                                .order_by(TrainingSession.id.desc())).all()
    study = next(s for s in online if is_session_member(_user("member"), s))
    session = db.session.scalar(sa.select(TrainingSession).where(TrainingSession.mode != TrainingMode.ONLINE)
                                .order_by(TrainingSession.id.desc()).limit(1))
    poster = poster_token(db.session.get(Station, station_id)).token
    activity = db.session.scalar(sa.select(Activity).where(Activity.author_member_id == member.id)
                                 .order_by(Activity.id.desc()).limit(1))
    entry = db.session.scalar(sa.select(DiaryEntry).where(DiaryEntry.member_id == member.id)
                              .order_by(DiaryEntry.id.desc()).limit(1))
    db.session.commit()
    central = head.central_household_id
    common = ["/", "/notifications/", "/account/password"]
    return FieldPages(
        anonymous=Role(None, ["/", "/login", f"/c/{card}", f"/p/{plaque}", "/track", f"/t/{fresh.token}",
                              "/needs/new", "/register", "/offline", f"/s/{poster}"]),
        resident=Role(resident.phone, [*common, "/needs/mine", "/needs/new", f"/t/{own.token}", "/rights"]),
        member=Role(_user("member").phone, [
            *common, "/me/checkins", "/needs/", "/needs/?state=accepted", f"/needs/{fresh.id}",
            f"/needs/{taken.id}", "/needs/cards", "/activities/", "/activities/new",
            f"/activities/{activity.id}", "/diary/", "/diary/new",
            f"/diary/{entry.id}", "/visits/",
            "/nominations/self", "/nominations/notice", "/training/me", f"/training/me/{study.id}",
            f"/training/members/{member.id}", "/checkin/code", "/points/me", f"/s/{poster}"]),
        head=Role(_user("head").phone, ["/", "/needs/", f"/activities/household/{central}",
                                        f"/diary/household/{central}", f"/visits/household/{central}",
                                        f"/training/households/{central}"]),
        mentor=Role(_user("mentor").phone, ["/", "/mentoring/"]),
        kiosk=Role(_user("station").phone, [f"/stations/{station_id}/kiosk"]),
        admin=Role(_user("district").phone, [
            "/", "/structure/", "/structure/members", "/structure/households", "/structure/residents",
            "/structure/stations", f"/structure/members/{member.id}", f"/structure/households/{central}",
            "/structure/import", "/households/", f"/households/{central}", "/households/residents",
            "/households/mentors", "/nominations/", "/activities/ledger", "/needs/dispatch",
            "/needs/dashboard", "/needs/sla", "/visits/coverage", "/audit/", "/stations/",
            f"/stations/{station_id}/", f"/stations/{station_id}/ledger", f"/stations/{station_id}/events",
            "/overview/", "/overview/checkins", "/training/", "/training/participations",
            f"/training/sessions/{session.id}",
            "/points/", "/points/rules", "/mentoring/admin", "/mentoring/mentors", "/mentoring/posts",
            "/mentoring/posts/holders", "/mentoring/posts/holders?unposted=1"]),
        kiosk_station_id=station_id,
        card_token=card,
        district_admin_phone=_user("district").phone,
    )
