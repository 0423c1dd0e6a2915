"""The needs services the views call: a resident's submission (photo, duplicate, routing) and
a resident's registration, without a request."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import Need, NeedCategory, NeedOrigin, Role, User
from app.services import needs, residents
from app.services.errors import Refused
from app.services.photos import PhotoError
from tests.factories import make_need, make_need_world


def _jpeg() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 10)).save(out, format="JPEG")
    out.seek(0)
    return out


def _card_entry(w) -> needs.Entry:  # type: ignore[no-untyped-def]
    return needs.Entry(NeedOrigin.CARD, household=w.household)


def test_submit_stores_the_photo_by_relationship_and_routes_the_need(app):
    w = make_need_world()
    submission = needs.submit(_card_entry(w), needs.NeedInput(NeedCategory.REPAIR, "楼道灯坏了", consent=True),
                              _jpeg(), None)
    assert isinstance(submission, needs.Submission)
    assert db.session.scalar(sa.select(sa.func.count(Need.id))) == 0  # decided, not yet written
    filed = submission.file()
    db.session.commit()
    need = db.session.get(Need, filed.id)
    assert need.token == filed.token and need.code == filed.code and need.photo_id is not None
    assert need.owner_member_id == w.member.id
    assert [e.photo_id for e in needs.timeline(need, public=True)][0] == need.photo_id


def test_submit_warns_of_a_duplicate_until_confirmed(app):
    w = make_need_world()
    first = make_need(w.household)
    data = needs.NeedInput(NeedCategory.REPAIR, "还是不亮", consent=True)
    found = needs.submit(_card_entry(w), data, None, None)
    assert isinstance(found, needs.DuplicateFound) and found.need.id == first.id
    data.confirm_duplicate = True
    assert isinstance(needs.submit(_card_entry(w), data, None, None), needs.Submission)


def test_submit_refuses_a_bad_photo_before_anything_is_stored(app):
    w = make_need_world()
    with pytest.raises(PhotoError):
        needs.submit(_card_entry(w), needs.NeedInput(NeedCategory.REPAIR, "灯坏了", consent=True),
                     io.BytesIO(b"not an image"), None)
    assert db.session.scalar(sa.select(sa.func.count(Need.id))) == 0


def test_register_needs_a_code_filed_with_that_phone_and_a_new_phone(app):
    w = make_need_world()
    need = make_need(w.household, phone="13955556666")
    with pytest.raises(Refused, match="不匹配"):
        residents.register("13955556666", "WRONGCODE", "王女士", "a-long-password")
    user = residents.register("139 5555 6666", need.code.lower(), " 王女士 ", "a-long-password")
    db.session.commit()
    assert user.name == "王女士" and Role.RESIDENT in user.role_set
    with pytest.raises(Refused, match="已有账号"):
        residents.register("13955556666", need.code, "王女士", "a-long-password")
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.phone == "13955556666")) == 1
