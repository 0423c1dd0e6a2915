"""Mentoring (帮带): a mentor — the member linked as a central household's ``mentor_id``, a
Party-organisation secretary guiding 3–5 households — records each guidance contact with one of
their households; their page flags every household not guided this quarter (Asia/Shanghai).

Admins see the mentors of their node for a quarter (households, contacts, households not guided)
and export it as a ledger. ``guidance_counts`` / ``guidance_given_counts`` are what the yearly
evaluation reads ("mentoring received" per household, given per mentor)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import lazyload

from app import policy
from app.clock import local_today, month_bounds
from app.extensions import db
from app.models import (
    MENTOR_MAX,
    MENTOR_MIN,
    CentralHousehold,
    GuidanceContact,
    GuidanceWay,
    HouseholdStatus,
    Member,
    OrgLevel,
    OrgNode,
    User,
)
from app.policy import scope_condition, scope_roots
from app.services.errors import NotAllowed, Refused
from app.services.ledger import build_workbook, today_label
from app.services.privacy import audit

MAX_TEXT = 500
MAX_EXPORT_ROWS = 50_000


class GuidanceError(Refused):
    """A guidance contact was refused; ``str()`` is the message for the user."""


# --- quarters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter of Shanghai dates, both ends included."""

    year: int
    number: int

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, raw: str | None, today: date) -> Quarter:
        """``2026-Q3`` (or ``2026-3``); this quarter when missing, malformed or in the future."""
        match = re.fullmatch(r"(\d{4})-Q?([1-4])", (raw or "").strip(), re.IGNORECASE)
        if not match:
            return cls.of(today)
        quarter = cls(int(match[1]), int(match[2]))
        return quarter if quarter.first <= today else cls.of(today)

    @property
    def first(self) -> date:
        return date(self.year, self.number * 3 - 2, 1)

    @property
    def last(self) -> date:
        return month_bounds(self.year, self.number * 3)[1]

    @property
    def key(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        return str(_l("%(year)d年第%(n)d季度", year=self.year, n=self.number))

    def previous(self) -> Quarter:
        return Quarter(self.year, self.number - 1) if self.number > 1 else Quarter(self.year - 1, 4)


# --- recording ---------------------------------------------------------------------------------


def record_contact(user: User, household: CentralHousehold, contact_date: date, way: str,
                   discussed: str, follow_up: str = "", today: date | None = None) -> GuidanceContact:
    """The household's mentor records one guidance contact (dated today or earlier)."""
    if not policy.can_record_guidance(user, household):
        raise NotAllowed(_l("只有该户的帮带书记可以记录帮带。"))
    mentor = policy.active_member(user)
    assert mentor is not None  # can_record_guidance holds only for an active member
    if contact_date > (today or local_today()):
        raise GuidanceError(_l("帮带日期不能晚于今天。"))
    if way not in {w.value for w in GuidanceWay}:
        raise GuidanceError(_l("请选择帮带方式。"))
    discussed, follow_up = (discussed or "").strip(), (follow_up or "").strip()
    if not discussed:
        raise GuidanceError(_l("请填写帮带内容。"))
    if len(discussed) > MAX_TEXT or len(follow_up) > MAX_TEXT:
        raise GuidanceError(_l("帮带内容和后续跟进各不超过 %(n)d 字。", n=MAX_TEXT))
    contact = GuidanceContact(mentor_member_id=mentor.id, household_id=household.id, contact_date=contact_date,
                              way=GuidanceWay(way), discussed=discussed, follow_up=follow_up,
                              created_by_id=user.id)
    db.session.add(contact)
    return contact


# --- the mentor's page -------------------------------------------------------------------------


@dataclass
class MentoredHousehold:
    """One of a mentor's households, with its last contact and its contacts this quarter."""

    household: CentralHousehold
    last: GuidanceContact | None
    this_quarter: int

    @property
    def not_guided(self) -> bool:
        return self.this_quarter == 0


def mentored_by(member: Member) -> list[CentralHousehold]:
    """The households the member mentors (revoked ones left out), by number."""
    return list(db.session.scalars(
        sa.select(CentralHousehold).where(CentralHousehold.mentor_id == member.id,
                                          CentralHousehold.status != HouseholdStatus.REVOKED)
        .order_by(CentralHousehold.number, CentralHousehold.id)).unique())


def last_contacts(household_ids: Sequence[int]) -> dict[int, GuidanceContact]:
    """The latest guidance contact of each household given (one query)."""
    if not household_ids:
        return {}
    ranked = (sa.select(GuidanceContact.id, sa.func.row_number().over(
        partition_by=GuidanceContact.household_id,
        order_by=(GuidanceContact.contact_date.desc(), GuidanceContact.id.desc())).label("n"))
        .where(GuidanceContact.household_id.in_(list(household_ids))).subquery())
    rows = db.session.scalars(sa.select(GuidanceContact).join(ranked, ranked.c.id == GuidanceContact.id)
                              .where(ranked.c.n == 1)
                              .options(lazyload(GuidanceContact.household), lazyload(GuidanceContact.mentor)))
    return {c.household_id: c for c in rows}


def contact_counts(household_ids: Sequence[int], first: date, last: date) -> dict[int, int]:
    """Guidance contacts per household between two dates, both included (one query)."""
    if not household_ids:
        return {}
    rows = db.session.execute(
        sa.select(GuidanceContact.household_id, sa.func.count(GuidanceContact.id))
        .where(GuidanceContact.household_id.in_(list(household_ids)),
               GuidanceContact.contact_date.between(first, last))
        .group_by(GuidanceContact.household_id))
    return dict(rows.all())


@dataclass
class MentorPage:
    quarter: Quarter
    rows: list[MentoredHousehold]

    @property
    def not_guided(self) -> int:
        return sum(r.not_guided for r in self.rows)


def mentor_page(member: Member, today: date | None = None) -> MentorPage:
    """我的帮带: the mentor's households, each with its last contact, flagged when not guided this
    quarter (three queries whatever the number)."""
    quarter = Quarter.of(today or local_today())
    households = mentored_by(member)
    ids = [h.id for h in households]
    last, counts = last_contacts(ids), contact_counts(ids, quarter.first, quarter.last)
    return MentorPage(quarter, [MentoredHousehold(h, last.get(h.id), counts.get(h.id, 0)) for h in households])


def history(household: CentralHousehold) -> sa.Select[tuple[GuidanceContact]]:
    """The household's guidance contacts, newest first (whoever was its mentor)."""
    return (sa.select(GuidanceContact).where(GuidanceContact.household_id == household.id)
            .order_by(GuidanceContact.contact_date.desc(), GuidanceContact.id.desc()))


def household_quarter(household: CentralHousehold, today: date | None = None) -> tuple[Quarter, int]:
    """This quarter and the household's guidance contacts in it."""
    quarter = Quarter.of(today or local_today())
    return quarter, contact_counts([household.id], quarter.first, quarter.last).get(household.id, 0)


# --- the admins' list of mentors ---------------------------------------------------------------


def _node_condition(user: User, node: OrgNode | None) -> sa.ColumnElement[bool]:
    return OrgNode.under(node.path) if node is not None else scope_condition(user)


def mentors_query(user: User, node: OrgNode | None = None) -> sa.Select[tuple[Member]]:
    """Members of the admin's scope (or of ``node`` in it) who mentor a household that stands,
    in tree order then by name."""
    mentoring = sa.select(CentralHousehold.mentor_id).where(
        CentralHousehold.mentor_id.is_not(None), CentralHousehold.status != HouseholdStatus.REVOKED)
    return (sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id).join(Member.user)
            .where(_node_condition(user, node), Member.id.in_(mentoring))
            .order_by(OrgNode.path, User.name, Member.id))


def filter_nodes(user: User) -> list[OrgNode]:
    """The townships and communities in the admin's scope, for the list's node filter (at most 500)."""
    return list(db.session.scalars(sa.select(OrgNode).where(
        scope_condition(user), OrgNode.level.in_([OrgLevel.TOWNSHIP, OrgLevel.COMMUNITY]))
        .order_by(OrgNode.path).limit(500)))


@dataclass
class MentorStats:
    """A mentor's figures for a period."""

    households: int = 0
    contacts: int = 0
    not_guided: int = 0
    not_guided_names: list[str] = field(default_factory=list)

    @property
    def standing(self) -> str:
        """'ok' inside 3–5, else 'below' or 'above'."""
        if self.households < MENTOR_MIN:
            return "below"
        return "above" if self.households > MENTOR_MAX else "ok"


def mentor_stats(mentor_ids: Sequence[int], first: date, last: date) -> dict[int, MentorStats]:
    """For each mentor: the households they mentor, the contacts they recorded in the period and
    their households with no contact in it (two queries whatever the number)."""
    stats = {i: MentorStats() for i in mentor_ids}
    if not stats:
        return stats
    guided = sa.exists().where(GuidanceContact.household_id == CentralHousehold.id,
                               GuidanceContact.contact_date.between(first, last))
    rows = db.session.execute(
        sa.select(CentralHousehold.mentor_id, CentralHousehold.number, User.name, guided)
        .join(Member, Member.id == CentralHousehold.head_member_id).join(User, User.id == Member.user_id)
        .where(CentralHousehold.mentor_id.in_(list(stats)), CentralHousehold.status != HouseholdStatus.REVOKED)
        .order_by(CentralHousehold.number, CentralHousehold.id))
    for mentor_id, number, head_name, was_guided in rows:
        s = stats[mentor_id]
        s.households += 1
        if not was_guided:
            s.not_guided += 1
            s.not_guided_names.append(f"{head_name}（{number or '—'}）")
    for mentor_id, n in db.session.execute(
        sa.select(GuidanceContact.mentor_member_id, sa.func.count(GuidanceContact.id))
        .where(GuidanceContact.mentor_member_id.in_(list(stats)),
               GuidanceContact.contact_date.between(first, last))
        .group_by(GuidanceContact.mentor_member_id)):
        stats[mentor_id].contacts = n
    return stats


@dataclass
class Summary:
    """The admin's scope in one line: mentors, households mentored, contacts, not guided."""

    mentors: int
    households: int
    contacts: int
    not_guided: int


def summary(user: User, quarter: Quarter) -> Summary:
    """The figures of the admin's whole scope for a quarter (three queries)."""
    in_scope = sa.select(OrgNode.id).where(scope_condition(user))
    live = sa.and_(CentralHousehold.status != HouseholdStatus.REVOKED, CentralHousehold.mentor_id.is_not(None),
                   CentralHousehold.grid_id.in_(in_scope))
    guided = sa.exists().where(GuidanceContact.household_id == CentralHousehold.id,
                               GuidanceContact.contact_date.between(quarter.first, quarter.last))
    mentors, households, not_guided = db.session.execute(sa.select(
        sa.func.count(sa.distinct(CentralHousehold.mentor_id)), sa.func.count(CentralHousehold.id),
        sa.func.count(CentralHousehold.id).filter(~guided)).where(live)).one()
    contacts = db.session.scalar(sa.select(sa.func.count(GuidanceContact.id)).join(
        CentralHousehold, CentralHousehold.id == GuidanceContact.household_id).where(
        CentralHousehold.grid_id.in_(in_scope), GuidanceContact.contact_date.between(quarter.first, quarter.last)))
    return Summary(mentors, households, contacts or 0, not_guided)


def export_mentors(user: User, node: OrgNode | None, quarter: Quarter, ip: str = "") -> tuple[bytes, str]:
    """The mentors list of the node (or the admin's scope) for a quarter as an .xlsx ledger;
    the export is audited."""
    mentors = list(db.session.scalars(mentors_query(user, node).limit(MAX_EXPORT_ROWS)).unique())
    stats: dict[int, MentorStats] = {}
    for start in range(0, len(mentors), 5000):  # IN lists of a sane length
        stats.update(mentor_stats([m.id for m in mentors[start:start + 5000]], quarter.first, quarter.last))
    standing = {"ok": "达标", "below": f"不足{MENTOR_MIN}户", "above": f"超过{MENTOR_MAX}户"}
    headers = ("帮带书记", "网格", "帮带户数", "3—5户标准", "本期帮带次数", "本期未帮带户数", "本期未帮带的中心户")
    rows = ([m.name, m.grid.name, s.households, standing[s.standing], s.contacts, s.not_guided,
             "、".join(s.not_guided_names)] for m in mentors for s in [stats[m.id]])
    node_name = node.name if node else "、".join(n.name for n in scope_roots(user))
    title = "帮带台账"
    # In Chinese whatever the admin's language: the ledger is filed as the office files it.
    period = f"{quarter.year}年第{quarter.number}季度（{quarter.first.isoformat()} 至 {quarter.last.isoformat()}）"
    data = build_workbook(title, node_name, period, headers, rows)
    audit(user.id, "export", "mentoring", None, detail=f"{len(mentors)} rows; {quarter.key}", ip=ip)
    return data, f"{title}-{quarter.key}-{today_label()}.xlsx"


# --- what other areas read (the yearly evaluation, home pages) ----------------------------------


def guidance_counts(household_ids: Iterable[int], year: int) -> dict[int, int]:
    """Guidance contacts each household received in a calendar year ("mentoring received"), 0
    for none; one query."""
    ids = list(household_ids)
    found = contact_counts(ids, date(year, 1, 1), date(year, 12, 31)) if ids else {}
    return {i: found.get(i, 0) for i in ids}


def guidance_given_counts(mentor_ids: Iterable[int], year: int) -> dict[int, int]:
    """Guidance contacts each mentor recorded in a calendar year, 0 for none; one query."""
    ids = list(mentor_ids)
    if not ids:
        return {}
    found = dict(db.session.execute(
        sa.select(GuidanceContact.mentor_member_id, sa.func.count(GuidanceContact.id))
        .where(GuidanceContact.mentor_member_id.in_(ids),
               GuidanceContact.contact_date.between(date(year, 1, 1), date(year, 12, 31)))
        .group_by(GuidanceContact.mentor_member_id)).all())
    return {i: found.get(i, 0) for i in ids}
