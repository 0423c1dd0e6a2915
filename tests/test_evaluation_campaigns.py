"""The model-household campaign (创建示范中心户): opened once per node and year, applied to by a
household's head, proposed by an admin, each candidate decided, closed — and the awarded
households get the year's dated 示范 title with the campaign."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.models import (
    CampaignCandidate,
    CampaignStatus,
    CandidacyDecision,
    CandidacyWay,
    HouseholdEvent,
    HouseholdEventKind,
    ModelCampaign,
    ModelTitle,
)
from app.services.evaluation import campaigns as svc
from tests.evaluation_fixtures import YEAR, make_eval_world
from tests.factories import login, make_household, make_member, user_of
from tests.helpers import queries_for


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _campaign(w, year: int = YEAR, node=None) -> ModelCampaign:  # type: ignore[no-untyped-def]
    campaign = svc.create(w.p.community_admin, node or w.p.tree.community, year, f"{year}年度创建示范中心户",
                          "走访全覆盖；群众满意率90%以上", local_today())
    db.session.commit()
    return campaign


def test_an_admin_opens_a_campaign_once_per_node_and_year(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    form = client.get("/evaluation/campaigns/new").get_data(as_text=True)
    assert "龙山社区" in form and "大龙山镇" not in form  # only nodes in scope
    data = {"node_id": w.p.tree.community.id, "year": "2025", "title": "2025年度创建示范中心户",
            "criteria": "走访全覆盖；群众满意率90%以上"}
    response = client.post("/evaluation/campaigns/new", data=data)
    assert response.status_code == 303
    campaign = db.session.scalar(sa.select(ModelCampaign))
    assert (campaign.org_node_id, campaign.year, campaign.status, campaign.created_by_id) == (
        w.p.tree.community.id, 2025, CampaignStatus.OPEN, w.p.community_admin.id)
    again = client.post("/evaluation/campaigns/new", data=data | {"title": "重复"})
    assert again.status_code == 422 and "龙山社区 已有 2025 年度的创建活动。" in again.get_data(as_text=True)
    assert _count(ModelCampaign) == 1
    page = client.get(f"/evaluation/campaigns/{campaign.id}").get_data(as_text=True)
    assert "走访全覆盖；群众满意率90%以上" in page and "进行中" in page


@pytest.mark.parametrize(("data", "message"), [
    ({"title": ""}, "请填写活动名称"),
    ({"title": "长" * 65}, "不能超过 64 个字"),
    ({"criteria": " "}, "请填写评选标准"),
    ({"criteria": "长" * 2001}, "不能超过 2000 个字"),
    ({"year": "明年"}, "请填写整数"),
    ({"year": "1999"}, "年度不正确"),
    ({"year": ""}, "请填写年度"),
    ({"node_id": "abc"}, "请选择您管辖的组织"),
    ({"node_id": "99999999999"}, "请选择您管辖的组织"),
])
def test_bad_campaign_input_is_refused_in_chinese_keeping_what_was_typed(app, client, data, message):
    w = make_eval_world()
    login(client, w.p.community_admin)
    good = {"node_id": w.p.tree.community.id, "year": "2025", "title": "创建活动", "criteria": "标准一"}
    response = client.post("/evaluation/campaigns/new", data=good | data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    if "title" not in data:
        assert 'value="创建活动"' in page
    assert _count(ModelCampaign) == 0


def test_another_nodes_node_cannot_be_chosen_for_a_campaign(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.post("/evaluation/campaigns/new", data={
        "node_id": w.p.tree.community2.id, "year": "2025", "title": "越权", "criteria": "x"})
    assert response.status_code == 422 and _count(ModelCampaign) == 0


def test_the_head_applies_from_the_household_page_and_cannot_apply_twice(app, client):
    w = make_eval_world()
    campaign = _campaign(w)
    login(client, user_of(w.c))  # 陈丙 heads H2
    household_page = client.get(f"/households/{w.h2.id}").get_data(as_text=True)
    assert f'href="/evaluation/campaigns/{campaign.id}"' in household_page
    page = client.get(f"/evaluation/campaigns/{campaign.id}").get_data(as_text=True)
    assert "申报示范中心户" in page and "候选户" not in page  # a head sees no other candidates
    response = client.post(f"/evaluation/campaigns/{campaign.id}/apply", data={"statement": " "})
    assert response.status_code == 422 and "请填写申报理由" in response.get_data(as_text=True)
    response = client.post(f"/evaluation/campaigns/{campaign.id}/apply", data={"statement": "长" * 501})
    assert response.status_code == 422 and "不能超过 500 个字" in response.get_data(as_text=True)
    assert _count(CampaignCandidate) == 0
    assert client.post(f"/evaluation/campaigns/{campaign.id}/apply",
                       data={"statement": "帮办实事20件"}).status_code == 303
    candidate = db.session.scalar(sa.select(CampaignCandidate))
    assert (candidate.household_id, candidate.way, candidate.statement, candidate.proposed_by_id) == (
        w.h2.id, CandidacyWay.APPLIED, "帮办实事20件", w.c.user_id)
    assert "已是候选户（中心户申报）" in client.get(f"/evaluation/campaigns/{campaign.id}").get_data(as_text=True)
    twice = client.post(f"/evaluation/campaigns/{campaign.id}/apply", data={"statement": "再报"})
    assert twice.status_code == 422 and "陈丙中心户已是这项创建活动的候选户。" in twice.get_data(as_text=True)
    assert _count(CampaignCandidate) == 1


def test_only_the_head_of_a_household_under_the_campaigns_node_may_apply(app):
    w = make_eval_world()
    campaign = _campaign(w, node=w.p.tree.grid_b)  # H2's grid, not H's
    cases = [(user_of(w.a), 404), (user_of(w.b), 404), (user_of(w.p.other_member), 404),
             (w.p.resident, 404), (w.p.station_admin, 404)]
    for user, status in cases:
        client = app.test_client()
        login(client, user)
        assert client.get(f"/evaluation/campaigns/{campaign.id}").status_code == status, user.name
        assert client.post(f"/evaluation/campaigns/{campaign.id}/apply",
                           data={"statement": "x"}).status_code == status, user.name
    assert _count(CampaignCandidate) == 0


def test_an_admin_proposes_households_in_scope_and_a_duplicate_is_refused(app, client):
    w = make_eval_world()
    campaign = _campaign(w)
    login(client, w.p.community_admin)
    url = f"/evaluation/campaigns/{campaign.id}/propose"
    assert client.post(url, data={"household_id": w.h.id, "statement": "群众口碑好"}).status_code == 303
    candidate = db.session.scalar(sa.select(CampaignCandidate))
    assert (candidate.household_id, candidate.way, candidate.proposed_by_id) == (
        w.h.id, CandidacyWay.PROPOSED, w.p.community_admin.id)
    again = client.post(url, data={"household_id": w.h.id})
    assert again.status_code == 422 and "请选择本活动范围内的中心户" in again.get_data(as_text=True)
    # A household of another township, a huge id, nothing: refused, nothing saved.
    other = make_household(w.p.tree.grid2, head=make_member(w.p.tree.grid2, name="杨户长"))
    for data in ({"household_id": other.id}, {"household_id": "99999999999"}, {"household_id": ""},
                 {"household_id": w.h2.id, "statement": "长" * 501}):
        response = client.post(url, data=data)
        assert response.status_code == 422, data
    assert _count(CampaignCandidate) == 1
    # The head of H2 applying after being proposed: the duplicate message.
    svc.propose(w.p.community_admin, campaign, w.h2, "")
    db.session.commit()
    head = app.test_client()
    login(head, user_of(w.c))
    response = head.post(f"/evaluation/campaigns/{campaign.id}/apply", data={"statement": "我也申报"})
    assert response.status_code == 422 and "已是这项创建活动的候选户" in response.get_data(as_text=True)


def test_candidates_show_their_figures_from_the_households_sheet(app, client):
    w = make_eval_world()
    campaign = _campaign(w)
    svc.propose(w.p.community_admin, campaign, w.h, "")
    db.session.commit()
    login(client, w.p.community_admin)
    page = client.get(f"/evaluation/campaigns/{campaign.id}").get_data(as_text=True)
    # H on the 2025 households sheet of 龙山社区: rank 1, score 80.0, points 10, 3 activities,
    # coverage 60.0%, satisfaction 66.7%, 3.75 hours, 2 contacts, 2 complaints.
    row = page[page.index('id="candidate-'):]
    for text in ("80.0", ">10<", ">3<", "60.0%", "66.7%", ">3.75<", ">2<"):
        assert text in row[:4000], text
    assert f'/evaluation/{w.p.tree.community.id}/2025/households/{w.h.id}/points' in page


def test_decide_each_candidate_then_close_grants_dated_titles_with_the_campaign(app, client):
    w = make_eval_world()
    campaign = _campaign(w)
    yes = svc.propose(w.p.community_admin, campaign, w.h, "")
    no = svc.propose(w.p.community_admin, campaign, w.h2, "")
    db.session.commit()
    login(client, w.p.community_admin)
    base = f"/evaluation/campaigns/{campaign.id}"
    # Closing with a candidate undecided is refused.
    response = client.post(f"{base}/close", follow_redirects=True)
    assert "还有 2 户候选户未评定" in response.get_data(as_text=True)
    # Bad decisions: nothing saved.
    for data in ({f"d{yes.id}-decision": "awarded", f"d{yes.id}-reason": ""},
                 {f"d{yes.id}-reason": "没选"}, {f"d{yes.id}-decision": "maybe", f"d{yes.id}-reason": "伪造"}):
        response = client.post(f"{base}/candidates/{yes.id}/decide", data=data)
        assert response.status_code == 422, data
        assert "请填写评定理由" in response.get_data(as_text=True) or "请选择评定结果" in response.get_data(as_text=True)
    db.session.refresh(yes)
    assert yes.decision is None
    assert client.post(f"{base}/candidates/{yes.id}/decide", data={
        f"d{yes.id}-decision": "awarded", f"d{yes.id}-reason": "各项领先"}).status_code == 303
    assert client.post(f"{base}/candidates/{no.id}/decide", data={
        f"d{no.id}-decision": "not_awarded", f"d{no.id}-reason": "走访不足"}).status_code == 303
    # Deciding twice is refused.
    twice = client.post(f"{base}/candidates/{no.id}/decide", data={
        f"d{no.id}-decision": "awarded", f"d{no.id}-reason": "改主意"})
    assert twice.status_code == 422 and "这户已经评定过了" in twice.get_data(as_text=True)
    assert client.post(f"{base}/close").status_code == 303
    db.session.expire_all()
    campaign = db.session.get(ModelCampaign, campaign.id)
    assert campaign.status is CampaignStatus.CLOSED and campaign.closed_by_id == w.p.community_admin.id
    titles = list(db.session.scalars(sa.select(ModelTitle)))
    assert [(t.household_id, t.year, t.campaign_id, t.granted_by_id) for t in titles] == [
        (w.h.id, 2025, campaign.id, w.p.community_admin.id)]
    assert db.session.get(CampaignCandidate, no.id).decision is CandidacyDecision.NOT_AWARDED
    event = db.session.scalar(sa.select(HouseholdEvent).where(HouseholdEvent.kind == HouseholdEventKind.MODEL_GRANTED))
    assert event.household_id == w.h.id and "2025年度" in event.detail
    # Closed: nothing more.
    page = client.get(base).get_data(as_text=True)
    assert "已结束" in page and "2025年度示范" in page
    assert client.post(f"{base}/propose", data={"household_id": w.h2.id}).status_code == 422
    head = app.test_client()
    login(head, user_of(w.c))
    mine = head.get(base).get_data(as_text=True)
    assert "未评上" in mine and "走访不足" in mine and "申报示范中心户" not in mine


def test_a_household_already_titled_for_the_year_keeps_its_title(app):
    w = make_eval_world()
    township = svc.create(w.p.district_admin, w.p.tree.township, YEAR, "镇创建", "标准", local_today())
    community = _campaign(w)
    for c in (township, community):
        cand = svc.propose(w.p.district_admin, c, w.h, "")
        svc.decide(w.p.district_admin, cand, CandidacyDecision.AWARDED, "好")
    svc.close(w.p.district_admin, community)
    svc.close(w.p.district_admin, township)
    db.session.commit()
    titles = list(db.session.scalars(sa.select(ModelTitle)))
    assert [(t.household_id, t.year, t.campaign_id) for t in titles] == [(w.h.id, YEAR, community.id)]


def test_the_campaign_page_runs_a_fixed_number_of_queries(app, client):
    w = make_eval_world()
    campaign = _campaign(w)
    svc.propose(w.p.community_admin, campaign, w.h, "")
    db.session.commit()
    login(client, w.p.community_admin)
    url = f"/evaluation/campaigns/{campaign.id}"
    before = queries_for(client, url)
    for i in range(5):
        hh = make_household(w.p.tree.grid_b, head=make_member(w.p.tree.grid_b, name=f"候选{i}"), number=f"C-{i}")
        svc.propose(w.p.community_admin, campaign, hh, "推荐")
    db.session.commit()
    assert queries_for(client, url) == before


def test_the_campaign_list_runs_a_fixed_number_of_queries(app, client):
    w = make_eval_world()
    _campaign(w)
    login(client, w.p.district_admin)
    before = queries_for(client, "/evaluation/campaigns")
    for year in (2022, 2023, 2024):
        _campaign(w, year=year)
    _campaign(w, node=w.p.tree.grid)
    page = client.get("/evaluation/campaigns").get_data(as_text=True)
    assert page.count("年度创建示范中心户") == 5
    assert queries_for(client, "/evaluation/campaigns") == before


# --- the campaigns list's ledger ---------------------------------------------------------------


def _sheet(response) -> list[tuple]:  # type: ignore[no-untyped-def]
    from io import BytesIO

    from openpyxl import load_workbook

    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(BytesIO(response.data)).active
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    return list(ws.iter_rows(values_only=True))


def _campaigns_world():  # type: ignore[no-untyped-def]
    """龙山社区's 2025 campaign, closed (H awarded, H2 not), its 2024 one (open, no candidate),
    one of its grid's in 2025 titled "=HYPERLINK(…)" (open, H proposed), and 杨桥社区's 2025 one."""
    import time_machine

    from tests.factories import make_household, make_member

    w = make_eval_world()
    admin = w.p.community_admin
    with time_machine.travel("2025-11-03 02:00Z", tick=False):
        main = _campaign(w)
        yes, no = svc.propose(admin, main, w.h, ""), svc.propose(admin, main, w.h2, "")
        old = _campaign(w, year=2024)
        evil = svc.create(admin, w.p.tree.grid, 2025, '=HYPERLINK("http://evil")', "+标准", local_today())
        svc.propose(admin, evil, w.h, "")
        far_head = make_member(w.p.tree.grid2, name="杨桥户长")
        far = svc.create(w.p.district_admin, w.p.tree.community2, 2025, "杨桥创建活动", "标准", local_today())
        svc.propose(w.p.district_admin, far, make_household(w.p.tree.grid2, far_head, number="YQ-1"), "")
        db.session.commit()
    with time_machine.travel("2025-12-20 02:00Z", tick=False):
        svc.decide(admin, yes, CandidacyDecision.AWARDED, "群众满意")
        svc.decide(admin, no, CandidacyDecision.NOT_AWARDED, "尚需努力")
        svc.close(admin, main)
        db.session.commit()
    return w, main, old, evil, far


def test_the_campaigns_ledger_has_node_period_filter_headers_and_each_campaign(app, client):
    import time_machine

    from app.models import AuditEntry

    w, _main, _old, _evil, _far = _campaigns_world()
    with time_machine.travel("2026-01-05 02:00Z", tick=False):
        login(client, w.p.community_admin)
        page = client.get("/evaluation/campaigns").get_data(as_text=True)
        assert 'href="/evaluation/campaigns.xlsx"' in page
        assert 'href="/evaluation/campaigns?year=2024"' in page
        rows = _sheet(client.get("/evaluation/campaigns.xlsx"))
        assert rows[0][0] == "创建示范中心户活动台账"
        assert rows[1][:4] == ("单位：龙山社区", "期间：截至 2026-01-05", "导出日期：2026-01-05", "筛选：年度：全部年度")
        assert rows[2] == ("年度", "活动名称", "组织", "状态", "候选户", "评为示范", "未评上", "待评定", "开展日期",
                           "结束日期", "评选标准")
        assert rows[3:] == [
            (2025, "2025年度创建示范中心户", "龙山社区", "已结束", 2, 1, 1, 0, datetime(2025, 11, 3),
             datetime(2025, 12, 20), "走访全覆盖；群众满意率90%以上"),
            (2025, "'=HYPERLINK(\"http://evil\")", "第一网格", "进行中", 1, 0, 0, 1, datetime(2025, 11, 3), None,
             "'+标准"),
            (2024, "2024年度创建示范中心户", "龙山社区", "进行中", 0, 0, 0, 0, datetime(2025, 11, 3), None,
             "走访全覆盖；群众满意率90%以上"),
        ]
        page = client.get("/evaluation/campaigns?year=2024").get_data(as_text=True)
        assert page.count("年度创建示范中心户") == 1 and 'href="/evaluation/campaigns.xlsx?year=2024"' in page
        rows = _sheet(client.get("/evaluation/campaigns.xlsx?year=2024"))
        assert rows[1][3] == "筛选：年度：2024年度" and [r[1] for r in rows[3:]] == ["2024年度创建示范中心户"]
        for junk in ("abc", "99999999999999999999", "1999"):  # not a year: every year, as the list
            rows = _sheet(client.get(f"/evaluation/campaigns.xlsx?year={junk}"))
            assert rows[1][3] == "筛选：年度：全部年度" and len(rows[3:]) == 3, junk
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type == "model_campaigns", AuditEntry.action == "export")) == 5


def test_each_admin_exports_only_their_own_nodes_campaigns(app, client):
    w, _main, _old, _evil, _far = _campaigns_world()
    login(client, w.p.other_community_admin)
    rows = _sheet(client.get("/evaluation/campaigns.xlsx"))
    assert rows[1][0] == "单位：杨桥社区" and [(r[1], r[4]) for r in rows[3:]] == [("杨桥创建活动", 1)]
    client.post("/logout")
    login(client, w.p.district_admin)
    rows = _sheet(client.get("/evaluation/campaigns.xlsx?year=2025"))
    assert rows[1][0] == "单位：宜秀区" and len(rows[3:]) == 3
    client.post("/logout")
    for user in (user_of(w.p.member), user_of(w.a), w.p.station_admin, w.p.resident):
        login(client, user)
        assert client.get("/evaluation/campaigns.xlsx").status_code == 403
        client.post("/logout")
    response = client.get("/evaluation/campaigns.xlsx")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
