"""A lost contact card or a defaced plaque: its QR is revoked and a new one issued."""

from __future__ import annotations

from app.extensions import db
from app.models import EntryKind
from app.services import entry_tokens
from tests.factories import login, make_household, make_member, make_personas, make_resident


def test_member_reissues_a_lost_card_and_the_old_code_stops_working(client):
    p = make_personas()
    resident = make_resident(p.tree.grid, member=p.member)
    old = entry_tokens.current_token(resident).token
    db.session.commit()
    login(client, p.member.user)
    response = client.post(f"/needs/qr/card/{resident.id}/reissue")
    assert response.status_code == 303
    assert entry_tokens.resolve(EntryKind.CARD, old) is None
    assert client.get(f"/c/{old}").status_code == 404
    new = entry_tokens.current_token(resident).token
    assert new != old and client.get(f"/c/{new}").status_code == 200
    assert "作废并重印" in client.get("/needs/cards").get_data(as_text=True)


def test_another_member_cannot_reissue_a_card_they_do_not_hold(client):
    p = make_personas()
    resident = make_resident(p.tree.grid, member=p.member)
    old = entry_tokens.current_token(resident).token
    db.session.commit()
    login(client, p.other_member.user)
    assert client.post(f"/needs/qr/card/{resident.id}/reissue").status_code == 404
    assert entry_tokens.resolve(EntryKind.CARD, old) is not None


def test_admin_reissues_a_plaque_code(client):
    p = make_personas()
    household = make_household(p.tree.grid, head=make_member(p.tree.grid, name="户长乙"))
    old = entry_tokens.current_token(household).token
    db.session.commit()
    login(client, p.community_admin)
    response = client.post(f"/households/{household.id}/plaque/reissue")
    assert response.status_code == 303
    assert entry_tokens.resolve(EntryKind.PLAQUE, old) is None
    page = client.get(f"/households/{household.id}/plaque").get_data(as_text=True)
    assert entry_tokens.current_token(household).token in page


def test_plaque_reissue_is_refused_outside_scope_and_to_members(client, app):
    p = make_personas()
    household = make_household(p.tree.grid, head=make_member(p.tree.grid, name="户长乙"))
    old = entry_tokens.current_token(household).token
    db.session.commit()
    login(client, p.other_community_admin)
    assert client.post(f"/households/{household.id}/plaque/reissue").status_code in (403, 404)
    member_client = app.test_client()
    login(member_client, p.member.user)
    assert member_client.post(f"/households/{household.id}/plaque/reissue").status_code == 403
    assert entry_tokens.resolve(EntryKind.PLAQUE, old) is not None


def test_printing_cards_runs_the_same_queries_for_2_or_12_households(app):
    import sqlalchemy as sa

    from tests.factories import make_member

    p = make_personas()
    few, many = make_member(p.tree.grid, name="少户党员"), make_member(p.tree.grid, name="多户党员")
    for _ in range(2):
        make_resident(p.tree.grid, member=few)
    for _ in range(12):
        make_resident(p.tree.grid, member=many)

    def queries_for(member) -> int:  # type: ignore[no-untyped-def]
        client = app.test_client()
        login(client, member.user)
        client.get("/needs/cards")  # the first print creates the tokens
        seen: list[str] = []

        def count(*_a):  # type: ignore[no-untyped-def]
            seen.append("q")

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("/needs/cards").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    assert queries_for(few) == queries_for(many)
