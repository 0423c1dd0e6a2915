"""Outcomes of the yearly evaluation: each kind recorded with who, when and why; 按程序调整 opens the
household's adjustment; withdrawal is a recorded step, after which the same kind may be recorded
again; a second live outcome of a kind is refused; the 后备人才库 and its export."""

from __future__ import annotations

from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.clock import local_today
from app.extensions import db
from app.models import (
    AdjustmentStatus,
    AuditEntry,
    EvaluationOutcome,
    HouseholdAdjustment,
    HouseholdStatus,
    OutcomeKind,
)
from app.services.evaluation import outcomes as svc
from tests.evaluation_fixtures import YEAR, make_eval_world
from tests.factories import login, make_member
from tests.helpers import queries_for


def _count(model=EvaluationOutcome) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _url(w, subject: str, obj) -> str:  # type: ignore[no-untyped-def]
    return f"/evaluation/{w.p.tree.community.id}/{YEAR}/{subject}/{obj.id}"


@pytest.mark.parametrize("kind", ["excellent_member", "recommend_deputy", "reserve_pool"])
def test_an_admin_records_each_member_outcome_with_who_when_and_why(app, client, kind):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.post(f"{_url(w, 'members', w.b)}/outcomes", data={"kind": kind, "reason": "走访全覆盖，群众满意"})
    assert response.status_code == 303
    outcome = db.session.scalar(sa.select(EvaluationOutcome))
    assert (outcome.kind.value, outcome.member_id, outcome.household_id, outcome.year, outcome.org_node_id,
            outcome.reason, outcome.recorded_by_id) == (kind, w.b.id, None, YEAR, w.p.tree.community.id,
                                                        "走访全覆盖，群众满意", w.p.community_admin.id)
    assert outcome.recorded_at is not None and outcome.withdrawn_at is None
    page = client.get(_url(w, "members", w.b)).get_data(as_text=True)
    assert OutcomeKind(kind).label in page and "社区管理员 记录于" in page
    # The sheet shows it on the member's row.
    sheet = client.get(f"/evaluation/{w.p.tree.community.id}/{YEAR}/members").get_data(as_text=True)
    assert OutcomeKind(kind).label in sheet


def test_model_household_is_recorded_for_a_household(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.post(f"{_url(w, 'households', w.h)}/outcomes", data={"kind": "model_household", "reason": "三率领先"})
    assert response.status_code == 303
    outcome = db.session.scalar(sa.select(EvaluationOutcome))
    assert (outcome.kind, outcome.household_id, outcome.member_id) == (OutcomeKind.MODEL_HOUSEHOLD, w.h.id, None)


def test_adjust_opens_the_households_adjustment_workflow_and_links_it(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.post(f"{_url(w, 'households', w.h2)}/outcomes", data={"kind": "adjust", "reason": "长期不履职"})
    assert response.status_code == 303
    outcome = db.session.scalar(sa.select(EvaluationOutcome))
    adjustment = db.session.get(HouseholdAdjustment, outcome.adjustment_id)
    assert adjustment.household_id == w.h2.id and adjustment.status is AdjustmentStatus.COMMUNITY_REVIEW
    assert "长期不履职" in adjustment.reason and adjustment.opened_by_id == w.p.community_admin.id
    db.session.refresh(w.h2)
    assert w.h2.status is HouseholdStatus.ADJUSTING
    page = client.get(_url(w, "households", w.h2)).get_data(as_text=True)
    assert f'href="/households/{w.h2.id}#household-adjustment"' in page
    # The household's own page shows the adjustment waiting for the community's review.
    assert "待村党组织审查" in client.get(f"/households/{w.h2.id}").get_data(as_text=True)


def test_adjust_on_a_household_already_adjusting_is_refused_and_nothing_is_recorded(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    client.post(f"/households/{w.h2.id}/adjustments", data={"reason": "另行启动"})
    assert _count(HouseholdAdjustment) == 1
    response = client.post(f"{_url(w, 'households', w.h2)}/outcomes", data={"kind": "adjust", "reason": "长期不履职"})
    assert response.status_code == 422
    assert "只有已创建的中心户才能启动调整" in response.get_data(as_text=True)
    assert _count() == 0 and _count(HouseholdAdjustment) == 1


def test_a_second_live_outcome_of_the_same_kind_is_refused_in_chinese(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    url = f"{_url(w, 'members', w.b)}/outcomes"
    assert client.post(url, data={"kind": "excellent_member", "reason": "第一次"}).status_code == 303
    response = client.post(url, data={"kind": "excellent_member", "reason": "第二次"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "李乙 在 2025 年度已有「优秀党员」的结果；如需重新评定，请先撤回原结果。" in page
    assert "第二次" in page  # what was typed stays
    # Even from another node (the township's evaluation): one live outcome per kind and year.
    login(client, w.p.district_admin)
    response = client.post(f"/evaluation/{w.p.tree.township.id}/{YEAR}/members/{w.b.id}/outcomes",
                           data={"kind": "excellent_member", "reason": "镇里也评"})
    assert response.status_code == 422
    assert _count() == 1
    # Another kind is fine.
    assert client.post(url, data={"kind": "reserve_pool", "reason": "后备"}).status_code == 303
    assert _count() == 2


def test_the_unique_index_refuses_a_second_live_outcome_even_past_the_check(app, monkeypatch):
    w = make_eval_world()
    svc.record_for_member(w.p.community_admin, w.p.tree.community, YEAR, w.b, OutcomeKind.RESERVE_POOL,
                          "第一次", local_today())
    db.session.commit()
    # A racing second request that passed the check: the partial unique index answers.
    monkeypatch.setattr(svc, "_live", lambda *a: None)
    with pytest.raises(svc.OutcomeError, match="已有「纳入村级后备人才库」"):
        svc.record_for_member(w.p.district_admin, w.p.tree.township, YEAR, w.b, OutcomeKind.RESERVE_POOL,
                              "第二次", local_today())
    db.session.rollback()
    assert _count() == 1


def test_withdrawal_is_a_recorded_step_and_the_kind_may_then_be_recorded_again(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    url = f"{_url(w, 'members', w.b)}/outcomes"
    client.post(url, data={"kind": "reserve_pool", "reason": "年轻有为"})
    first = db.session.scalar(sa.select(EvaluationOutcome))
    # A withdrawal without a reason is refused, nothing changes.
    response = client.post(f"/evaluation/outcomes/{first.id}/withdraw", data={f"w{first.id}-reason": " "})
    assert response.status_code == 422 and "请填写撤回理由" in response.get_data(as_text=True)
    db.session.refresh(first)
    assert first.withdrawn_at is None
    response = client.post(f"/evaluation/outcomes/{first.id}/withdraw", data={f"w{first.id}-reason": "本人调离"})
    assert response.status_code == 303
    db.session.refresh(first)
    assert (first.withdrawn_by_id, first.withdraw_reason, first.reason, first.kind) == (
        w.p.community_admin.id, "本人调离", "年轻有为", OutcomeKind.RESERVE_POOL)
    assert first.withdrawn_at is not None
    # Withdrawing twice is refused.
    again = client.post(f"/evaluation/outcomes/{first.id}/withdraw", data={f"w{first.id}-reason": "再撤"})
    assert again.status_code == 422 and "这项结果已经撤回" in again.get_data(as_text=True)
    # A new live outcome of the same kind is allowed; both rows stay.
    assert client.post(url, data={"kind": "reserve_pool", "reason": "重新纳入"}).status_code == 303
    assert _count() == 2
    page = client.get(_url(w, "members", w.b)).get_data(as_text=True)
    assert "已撤回" in page and "本人调离" in page and "重新纳入" in page


def test_a_community_admin_sees_but_cannot_withdraw_an_outcome_the_township_recorded(app, client):
    w = make_eval_world()
    outcome = svc.record_for_member(w.p.district_admin, w.p.tree.township, YEAR, w.b, OutcomeKind.EXCELLENT_MEMBER,
                                    "镇优秀", local_today())
    db.session.commit()
    login(client, w.p.community_admin)
    page = client.get(_url(w, "members", w.b)).get_data(as_text=True)
    assert "镇优秀" in page and "撤回这项结果" not in page
    assert client.post(f"/evaluation/outcomes/{outcome.id}/withdraw",
                       data={f"w{outcome.id}-reason": "不同意"}).status_code == 403
    other = app.test_client()
    login(other, w.p.other_community_admin)
    assert other.post(f"/evaluation/outcomes/{outcome.id}/withdraw",
                      data={f"w{outcome.id}-reason": "不同意"}).status_code == 404
    db.session.refresh(outcome)
    assert outcome.withdrawn_at is None


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "excellent_member", "reason": ""}, "请填写评定理由"),
    ({"kind": "excellent_member", "reason": "   "}, "请填写评定理由"),
    ({"kind": "excellent_member", "reason": "长" * 501}, "不能超过 500 个字"),
    ({"reason": "没选结果"}, "请选择评定结果"),
    ({"kind": "model_household", "reason": "中心户的结果"}, "请选择评定结果"),
    ({"kind": "<script>", "reason": "伪造"}, "请选择评定结果"),
])
def test_bad_outcome_input_is_refused_in_chinese_keeping_what_was_typed(app, client, data, message):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.post(f"{_url(w, 'members', w.b)}/outcomes", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    if data["reason"].strip():
        assert data["reason"][:50] in page
    assert _count() == 0


def test_a_stopped_member_gets_no_outcome(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.post(f"{_url(w, 'members', w.stopped)}/outcomes", data={"kind": "reserve_pool", "reason": "x"})
    assert response.status_code == 422 and "赵停 已停用" in response.get_data(as_text=True)
    assert _count() == 0


# --- the 后备人才库 ---------------------------------------------------------------------------


def _pool(w) -> None:  # type: ignore[no-untyped-def]
    today = local_today()
    svc.record_for_member(w.p.community_admin, w.p.tree.community, YEAR, w.b, OutcomeKind.RESERVE_POOL,
                          "=CMD|' /C calc'!A0", today)
    svc.record_for_member(w.p.district_admin, w.p.tree.district, YEAR, w.c, OutcomeKind.RESERVE_POOL, "群众基础好", today)
    withdrawn = svc.record_for_member(w.p.community_admin, w.p.tree.community, YEAR, w.a, OutcomeKind.RESERVE_POOL,
                                      "撤回的", today)
    svc.withdraw(w.p.community_admin, withdrawn, "调离")
    svc.record_for_member(w.p.community_admin, w.p.tree.community, YEAR, w.a, OutcomeKind.EXCELLENT_MEMBER, "优秀", today)
    svc.record_for_member(w.p.district_admin, w.p.tree.district, YEAR, w.p.other_member, OutcomeKind.RESERVE_POOL,
                          "别的镇", today)
    db.session.commit()


def test_the_reserve_pool_lists_live_members_in_scope_with_since_source_and_recorder(app, client):
    w = make_eval_world()
    _pool(w)
    login(client, w.p.community_admin)
    page = client.get("/evaluation/reserve").get_data(as_text=True)
    assert "李乙" in page and "陈丙" in page
    assert "2025年度 · 龙山社区" in page and "2025年度 · 宜秀区" in page
    assert "社区管理员" in page and "区管理员" in page and local_today().isoformat() in page
    assert "张甲" not in page  # withdrawn; 优秀党员 is not the pool
    assert "周党员" not in page  # another township
    assert "共 2 人" in page
    login(client, w.p.district_admin)
    assert "共 3 人" in client.get("/evaluation/reserve").get_data(as_text=True)


def test_the_reserve_pool_exports_cell_by_cell_formula_safe_and_audited(app, client):
    w = make_eval_world()
    _pool(w)
    login(client, w.p.community_admin)
    response = client.get("/evaluation/reserve.xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "村级后备人才库"
    assert rows[1][:3] == ("单位：龙山社区", f"期间：截至 {local_today().isoformat()}", f"导出日期：{local_today().isoformat()}")
    assert rows[2] == ("姓名", "网格", "党员类别", "纳入日期", "来源评定", "记录人", "理由")
    body = sorted(rows[3:], key=lambda r: r[0])
    assert [r[:3] for r in body] == [("李乙", "第一网格", "在职党员"), ("陈丙", "第二网格", "在职党员")]
    assert body[0][3].date() == local_today() and body[1][3].date() == local_today()
    assert body[0][4:] == ("2025年度 · 龙山社区", "社区管理员", "'=CMD|' /C calc'!A0")
    assert body[1][4:] == ("2025年度 · 宜秀区", "区管理员", "群众基础好")
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
        AuditEntry.object_type == "reserve_pool")) == 1


def test_the_reserve_pool_runs_a_fixed_number_of_queries(app, client):
    w = make_eval_world()
    _pool(w)
    login(client, w.p.district_admin)
    before = queries_for(client, "/evaluation/reserve")
    today = local_today()
    for i in range(6):
        m = make_member(w.p.tree.grid_b, name=f"后备{i}")
        svc.record_for_member(w.p.district_admin, w.p.tree.district, YEAR, m, OutcomeKind.RESERVE_POOL, "好", today)
    db.session.commit()
    assert queries_for(client, "/evaluation/reserve") == before
