"""The loop end to end through the web: resident → member → resolution → rating."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import EntryKind, Need, NeedStatus
from app.services import entry_tokens
from tests.factories import login, make_need_world


def test_card_submission_reaches_the_covering_member_and_back(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    assert "李党员" in page.get_data(as_text=True)
    r = client.post(f"/c/{token}", data={"category": "repair", "text": "楼道灯坏了", "consent": "y"})
    assert r.status_code == 303, r.get_data(as_text=True)
    need = db.session.scalar(sa.select(Need))
    assert need.owner_member_id == w.member.id and need.contact_phone == "13911112222"
    track = client.get(r.headers["Location"])
    assert need.code in track.get_data(as_text=True)
    login(client, w.member.user)
    inbox = client.get("/needs/")
    assert "楼道灯坏了" in inbox.get_data(as_text=True)
    assert client.post(f"/needs/{need.id}/accept").status_code == 303
    r = client.post(f"/needs/{need.id}/resolve", data={"r-outcome": "solved", "r-note": "已换灯泡"})
    assert r.status_code == 303, r.get_data(as_text=True)
    client.post("/logout")
    r = client.post(f"/t/{need.token}/rate", data={"rating": "unsatisfied", "comment": "还是不亮"})
    assert r.status_code == 303
    db.session.refresh(need)
    assert need.status is NeedStatus.IN_PROGRESS and need.reopen_count == 1
    assert EntryKind.CARD
