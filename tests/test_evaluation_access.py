"""Who may use each evaluation route: every route × every role, in and out of scope; another
node's sheet, member, outcome or campaign by id is 404."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.models import EvaluationOutcome, ModelCampaign, OutcomeKind
from app.services.evaluation import campaigns as campaign_svc
from app.services.evaluation import outcomes as outcome_svc
from tests.evaluation_fixtures import YEAR, make_eval_world
from tests.factories import login, make_admin, user_of

ROLES = ["anonymous", "resident", "member", "head", "station_admin", "community_admin",
         "other_community_admin", "township_admin", "district_admin"]
IN_SCOPE = {"community_admin", "township_admin", "district_admin"}


def _users(w) -> dict:  # type: ignore[no-untyped-def]
    return {
        "anonymous": None, "resident": w.p.resident, "member": user_of(w.p.member), "head": user_of(w.a),
        "station_admin": w.p.station_admin, "community_admin": w.p.community_admin,
        "other_community_admin": w.p.other_community_admin,
        "township_admin": make_admin(w.p.tree.township, name="镇管理员"), "district_admin": w.p.district_admin,
    }


def _admin_only(ok: int) -> dict[str, int]:
    """Admins of the node: ``ok``; another community's admin: 404; other roles: 403."""
    return {"anonymous": 302, "resident": 403, "member": 403, "head": 403, "station_admin": 403,
            "other_community_admin": 404, **dict.fromkeys(IN_SCOPE, ok)}


def _any_admin(ok: int) -> dict[str, int]:
    """Pages every org admin has (scoped inside): ``ok`` for all admins, 403 for other roles."""
    return {"anonymous": 302, "resident": 403, "member": 403, "head": 403, "station_admin": 403,
            "other_community_admin": ok, **dict.fromkeys(IN_SCOPE, ok)}


def _campaign_view() -> dict[str, int]:
    return {"anonymous": 302, "resident": 404, "member": 404, "head": 200, "station_admin": 404,
            "other_community_admin": 404, **dict.fromkeys(IN_SCOPE, 200)}


def _routes(w, outcome_id: int, campaign_id: int, candidate_id: int) -> list:  # type: ignore[no-untyped-def]
    n, a = w.p.tree.community.id, w.a.id
    sheet = f"/evaluation/{n}/{YEAR}"
    return [
        ("GET", "/evaluation/", {}, _any_admin(200)),
        ("GET", f"{sheet}/members", {}, _admin_only(200)),
        ("GET", f"{sheet}/households", {}, _admin_only(200)),
        ("GET", f"{sheet}/members.xlsx", {}, _admin_only(200)),
        ("GET", f"{sheet}/households.xlsx", {}, _admin_only(200)),
        ("GET", f"{sheet}/members/{a}", {}, _admin_only(200)),
        ("GET", f"{sheet}/households/{w.h.id}", {}, _admin_only(200)),
        ("GET", f"{sheet}/members/{a}/points", {}, _admin_only(200)),
        ("GET", f"{sheet}/households/{w.h.id}/complaints", {}, _admin_only(200)),
        ("POST", f"{sheet}/members/{a}/outcomes", {"reason": ""}, _admin_only(422)),
        ("POST", f"{sheet}/households/{w.h.id}/outcomes", {"reason": ""}, _admin_only(422)),
        ("POST", f"/evaluation/outcomes/{outcome_id}/withdraw", {f"w{outcome_id}-reason": ""}, _admin_only(422)),
        ("GET", f"/evaluation/{n}/weights", {}, _admin_only(200)),
        ("POST", f"/evaluation/{n}/weights", {"points": "x"}, _admin_only(422)),
        ("POST", f"/evaluation/{n}/weights/clear", {}, _admin_only(303)),
        ("GET", "/evaluation/reserve", {}, _any_admin(200)),
        ("GET", "/evaluation/reserve.xlsx", {}, _any_admin(200)),
        ("GET", "/evaluation/campaigns", {}, _any_admin(200)),
        ("GET", "/evaluation/campaigns.xlsx", {}, _any_admin(200)),
        ("GET", "/evaluation/campaigns/new", {}, _any_admin(200)),
        ("POST", "/evaluation/campaigns/new", {"title": ""}, _any_admin(422)),
        ("GET", f"/evaluation/campaigns/{campaign_id}", {}, _campaign_view()),
        ("POST", f"/evaluation/campaigns/{campaign_id}/apply", {"statement": ""},
         _campaign_view() | {"head": 422} | dict.fromkeys(IN_SCOPE, 403)),
        ("POST", f"/evaluation/campaigns/{campaign_id}/propose", {"household_id": ""},
         _admin_only(422)),
        ("POST", f"/evaluation/campaigns/{campaign_id}/candidates/{candidate_id}/decide", {}, _admin_only(422)),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_evaluation_route_answers_each_role(app, role):
    w = make_eval_world()
    users = _users(w)
    outcome = outcome_svc.record_for_member(w.p.community_admin, w.p.tree.community, YEAR, w.b,
                                            OutcomeKind.EXCELLENT_MEMBER, "优秀", local_today())
    campaign = campaign_svc.create(w.p.community_admin, w.p.tree.community, YEAR, "创建", "标准", local_today())
    candidate = campaign_svc.propose(w.p.community_admin, campaign, w.h2, "")
    db.session.commit()
    client = app.test_client()
    if users[role] is not None:
        login(client, users[role])
    for method, url, data, expected in _routes(w, outcome.id, campaign.id, candidate.id):
        response = client.open(url, method=method, data=data)
        assert response.status_code == expected[role], (role, method, url, response.status_code)
        if expected[role] == 302:
            assert "/login" in response.headers["Location"]
    # Closing last (it changes the campaign): admins over it close it, others are kept out.
    close = client.post(f"/evaluation/campaigns/{campaign.id}/close")
    assert close.status_code == _admin_only(303)[role], role
    # Nothing was recorded, withdrawn or changed by anyone here but the weights/close steps.
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(EvaluationOutcome.id))) == 1
    assert db.session.get(EvaluationOutcome, outcome.id).withdrawn_at is None


def test_another_nodes_objects_by_id_are_404(app, client):
    w = make_eval_world()
    far = outcome_svc.record_for_member(w.p.district_admin, w.p.tree.community2, YEAR, w.p.other_member,
                                        OutcomeKind.RESERVE_POOL, "杨桥", local_today())
    campaign = campaign_svc.create(w.p.district_admin, w.p.tree.community2, YEAR, "杨桥创建", "标准", local_today())
    db.session.commit()
    login(client, w.p.community_admin)
    n = w.p.tree.community.id
    for url in (f"/evaluation/{w.p.tree.community2.id}/{YEAR}/members",  # another community's sheet
                f"/evaluation/{w.p.tree.township.id}/{YEAR}/members",  # the node above
                f"/evaluation/{n}/{YEAR}/members/{w.p.other_member.id}",  # someone not under the node
                f"/evaluation/{n}/{YEAR}/members/{w.p.other_member.id}/points",
                f"/evaluation/{w.p.tree.grid.id}/{YEAR}/members/{w.c.id}",  # 陈丙 lives in 第二网格
                f"/evaluation/{n}/{YEAR}/households/{w.p.tree.community2.id}",
                f"/evaluation/{n}/{YEAR}/members/2147483647",
                f"/evaluation/{n}/{YEAR}/members/99999999999999",
                f"/evaluation/{n}/{local_today().year + 1}/members",  # the future
                f"/evaluation/{n}/1999/members",
                f"/evaluation/{n}/{YEAR}/members/{w.a.id}/nonsense",
                f"/evaluation/campaigns/{campaign.id}",
                "/evaluation/campaigns/99999999999"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/evaluation/outcomes/{far.id}/withdraw", data={f"w{far.id}-reason": "x"}).status_code == 404
    assert client.post(f"/evaluation/campaigns/{campaign.id}/propose", data={"household_id": w.h.id}).status_code == 404
    assert client.post(f"/evaluation/{w.p.tree.community2.id}/{YEAR}/members/{w.p.other_member.id}/outcomes",
                       data={"kind": "reserve_pool", "reason": "越权"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(EvaluationOutcome, far.id).withdrawn_at is None
    assert db.session.scalar(sa.select(sa.func.count(EvaluationOutcome.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(ModelCampaign.id))) == 1


def test_a_decision_on_another_campaigns_candidate_is_404(app, client):
    w = make_eval_world()
    mine = campaign_svc.create(w.p.community_admin, w.p.tree.community, YEAR, "创建", "标准", local_today())
    theirs = campaign_svc.create(w.p.community_admin, w.p.tree.grid, YEAR, "网格创建", "标准", local_today())
    candidate = campaign_svc.propose(w.p.community_admin, theirs, w.h, "")
    db.session.commit()
    login(client, w.p.community_admin)
    response = client.post(f"/evaluation/campaigns/{mine.id}/candidates/{candidate.id}/decide",
                           data={f"d{candidate.id}-decision": "awarded", f"d{candidate.id}-reason": "好"})
    assert response.status_code == 404


def test_the_nav_shows_评先_to_org_admins_only(app):
    w = make_eval_world()
    for user, shown in ((w.p.community_admin, True), (user_of(w.a), False), (w.p.station_admin, False)):
        client = app.test_client()
        login(client, user)
        page = client.get("/").get_data(as_text=True)
        assert ('href="/evaluation/"' in page) is shown, user.name
