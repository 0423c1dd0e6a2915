"""The public-sentiment diary (民情日记): short dated notes about a covered household, and the
hand-over of one to the needs workflow (built in its own area; linked when both are present)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import CentralHousehold, DiaryEntry, Member, Need, ResidentHousehold
from app.services.activities import covered_residents, household_member_condition
from app.services.client_keys import store_once
from app.services.errors import Refused
from app.services.points import sources as points_sources

MAX_TEXT = 500


class DiaryError(Refused):
    """A rule of the diary was broken; ``str()`` is the message for the user."""


def resident_choices(member: Member) -> list[tuple[int, str]]:
    """The households the member may write about, as (id, "address · head") pairs."""
    return [(r.id, f"{r.address} · {r.head_name}")
            for r in db.session.scalars(covered_residents(member))]


def create(member: Member, resident_id: int, entry_date: date, text: str, today: date,
           client_key: str | None = None) -> DiaryEntry:
    """Write an entry about a household the member covers, dated today or earlier — once per
    ``client_key`` the member's phone made (see ``app/services/client_keys.py``)."""
    return store_once(DiaryEntry, DiaryEntry.member_id, member.id, client_key,
                      lambda: _create(member, resident_id, entry_date, text, today, client_key))


def _create(member: Member, resident_id: int, entry_date: date, text: str, today: date,
            client_key: str | None) -> DiaryEntry:
    resident = db.session.get(ResidentHousehold, resident_id)
    if resident is None or resident.covering_member_id != member.id:
        raise DiaryError(str(_l("只能为自己联系的群众户写日记。")))
    if entry_date > today:
        raise DiaryError(str(_l("日期不能晚于今天。")))
    text = text.strip()
    if not text:
        raise DiaryError(str(_l("请填写日记内容。")))
    entry = DiaryEntry(member_id=member.id, resident_household_id=resident.id,
                       entry_date=entry_date, text=text[:MAX_TEXT], client_key=client_key)
    db.session.add(entry)
    points_sources.for_diary_entry(entry)
    return entry


def mine(member: Member) -> sa.Select[tuple[DiaryEntry]]:
    """The member's own entries, newest first."""
    return (sa.select(DiaryEntry).where(DiaryEntry.member_id == member.id)
            .order_by(DiaryEntry.entry_date.desc(), DiaryEntry.id.desc()))


def of_household(household: CentralHousehold) -> sa.Select[tuple[DiaryEntry]]:
    """The entries of the household's members and its head, newest first."""
    members = sa.select(Member.id).where(household_member_condition(household))
    return (sa.select(DiaryEntry).where(DiaryEntry.member_id.in_(members))
            .order_by(DiaryEntry.entry_date.desc(), DiaryEntry.id.desc()))


def to_need(entry: DiaryEntry) -> Need:
    """Turn the entry into a need on the resident's behalf (once)."""
    if entry.need_id is not None:
        raise DiaryError(str(_l("这条日记已经转为诉求。")))
    from app.services.needs import submit_from_diary  # needs imports models this module uses

    try:
        return submit_from_diary(entry)
    except ValueError as e:  # the needs workflow refused it (e.g. a bad registered phone)
        raise DiaryError(str(e)) from e
