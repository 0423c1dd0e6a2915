"""The three rates of 接诉即办, computed exactly on a small fixture; dashboards in fixed queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import NeedOutcome, NeedRating
from app.policy import scope_condition
from app.services import needs
from tests.factories import login, make_need, make_need_world, make_resident
from tests.helpers import queries_for

T0 = datetime(2025, 5, 6, 2, 0, tzinfo=UTC)
START, END = T0 - timedelta(days=1), T0 + timedelta(days=30)


def _fixture(w):  # type: ignore[no-untyped-def]
    """Six needs for the member, two for the fellow (who covers another household):
    member: a accepted at 2 h, resolved, 满意        → in time, resolved, rated+satisfied
            b accepted at exactly 24 h, resolved, 基本满意 → in time, resolved, rated+satisfied
            c accepted at 30 h, resolved, 不满意 (reopened) → late, not resolved, rated
            d accepted at 1 h, resolved, not rated  → in time, resolved
            e never accepted                         → nothing
            f hidden                                 → left out entirely
    fellow: g accepted at 3 h, resolved, 不满意 then resolved again → in time, resolved, rated
            h submitted before the period           → left out"""
    fellow_home = make_resident(w.p.tree.grid, member=w.fellow, phone="13922223333")
    out = {}
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        out["h"] = make_need(fellow_home, phone="13922223333")
    for key, at in zip("abcdef", range(6), strict=True):
        with time_machine.travel(T0 + timedelta(minutes=at), tick=False):
            out[key] = make_need(w.household, phone=f"1391111{at:04d}")
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        out["g"] = make_need(fellow_home, phone="13922223333")

    def step(key, hours, fn):  # type: ignore[no-untyped-def]
        need = out[key]
        with time_machine.travel(need.submitted_at + timedelta(hours=hours), tick=False):
            fn(need)

    m, f = w.member.user, w.fellow.user
    step("a", 2, lambda n: needs.accept(n, m))
    step("b", 24, lambda n: needs.accept(n, m))
    step("c", 30, lambda n: needs.accept(n, m))
    step("d", 1, lambda n: needs.accept(n, m))
    step("g", 3, lambda n: needs.accept(n, f))
    for key, user in (("a", m), ("b", m), ("c", m), ("d", m), ("g", f)):
        step(key, 40, lambda n, u=user: needs.resolve(n, u, NeedOutcome.SOLVED, "好了"))
    step("a", 50, lambda n: needs.rate(n, NeedRating.SATISFIED))
    step("b", 50, lambda n: needs.rate(n, NeedRating.BASICALLY))
    step("c", 50, lambda n: needs.rate(n, NeedRating.UNSATISFIED))
    step("g", 50, lambda n: needs.rate(n, NeedRating.UNSATISFIED))
    step("g", 60, lambda n: needs.resolve(n, f, NeedOutcome.SOLVED, "再次处理"))
    needs.hide(out["f"], w.p.community_admin, "测试屏蔽")
    db.session.commit()
    return out


def test_rates_by_member_are_exact(app):
    w = make_need_world()
    _fixture(w)
    rows, total = needs.rates(scope_condition(w.p.community_admin), "member", START, END)
    by = {r.name: r for r in rows}
    m = by["李党员"]
    assert (m.submitted, m.accepted_in_time, m.resolved, m.rated, m.satisfied) == (5, 3, 3, 3, 2)
    assert m.response_rate == pytest.approx(60.0)
    assert m.resolution_rate == pytest.approx(60.0)
    assert m.satisfaction_rate == pytest.approx(200 / 3)
    f = by["钱党员"]
    assert (f.submitted, f.accepted_in_time, f.resolved, f.rated, f.satisfied) == (1, 1, 1, 1, 0)
    assert f.satisfaction_rate == 0.0
    assert (total.submitted, total.accepted_in_time, total.resolved, total.rated, total.satisfied) == (6, 4, 4, 4, 2)


@pytest.mark.parametrize("group", ["household", "grid", "community", "township"])
def test_rates_roll_up_to_every_level(app, group):
    w = make_need_world()
    _fixture(w)
    rows, total = needs.rates(scope_condition(w.p.district_admin), group, START, END)
    assert len(rows) == 1
    assert (rows[0].submitted, rows[0].accepted_in_time, rows[0].resolved, rows[0].rated, rows[0].satisfied) == (6, 4, 4, 4, 2)


def test_rates_outside_scope_are_empty_and_show_a_dash(app):
    w = make_need_world()
    _fixture(w)
    rows, total = needs.rates(scope_condition(w.p.other_community_admin), "member", START, END)
    assert rows == [] and total.response_rate is None


def test_dashboard_page_shows_the_definitions_and_the_numbers(client):
    w = make_need_world()
    _fixture(w)
    login(client, w.p.community_admin)
    page = client.get("/needs/dashboard?by=member&from=2025-05-01&to=2025-05-31").get_data(as_text=True)
    assert "响应率" in page and "在首次接单时限内" in page and "÷ 已评价的诉求数" in page
    assert "60.0%" in page and "66.7%" in page


@pytest.mark.parametrize("url", ["/needs/dashboard?by=member&from=2025-05-01&to=2025-05-31",
                                 "/needs/dispatch"])
def test_admin_pages_run_a_fixed_number_of_queries(client, url):
    w = make_need_world()
    login(client, w.p.community_admin)
    with time_machine.travel(T0, tick=False):
        make_need(w.household)
        make_need(community=w.p.tree.community, address="无", phone="13700000001")
    few = queries_for(client, url)
    with time_machine.travel(T0, tick=False):
        for i in range(8):
            hh = make_resident(w.p.tree.grid, member=w.fellow if i % 2 else w.member)
            make_need(hh, phone=f"137000001{i:02d}")
            make_need(community=w.p.tree.community, address=f"无{i}", phone=f"137000002{i:02d}")
    assert queries_for(client, url) == few


def test_inbox_runs_a_fixed_number_of_queries(client):
    w = make_need_world()
    login(client, w.member.user)
    make_need(w.household)
    few = queries_for(client, "/needs/")
    for i in range(8):
        make_need(make_resident(w.p.tree.grid, member=w.member), phone=f"137000003{i:02d}")
    assert queries_for(client, "/needs/") == few


def test_dashboard_exports_the_same_rates_as_a_ledger(client, app):
    import io

    import openpyxl

    from app.models import AuditEntry

    w = make_need_world()
    _fixture(w)
    login(client, w.p.community_admin)
    response = client.get("/needs/dashboard.xlsx?by=member&from=2025-05-01&to=2025-05-31")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "接诉即办统计台账"
    assert rows[1][1] == "期间：2025-05-01 至 2025-05-31"
    assert rows[2][:4] == ("党员", "诉求数", "按时接单", "响应率")
    cells = {c for row in rows[3:] for c in row}
    assert "60.0%" in cells and "66.7%" in cells
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.object_type == "needs_rates")) == 1
    for user in (w.p.member.user, w.p.station_admin, w.p.resident):
        other = app.test_client()
        login(other, user)
        assert other.get("/needs/dashboard.xlsx").status_code == 403
