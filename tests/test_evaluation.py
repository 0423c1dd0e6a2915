"""The yearly evaluation sheet (评先选优): figures exact on a hand-computed world, the formula and
the ranking with default and non-default weights, the records behind each figure, the weights
form, the export, and a fixed number of queries."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import (
    ActivityKind,
    AuditEntry,
    EvaluationFactor,
    EvaluationWeight,
    PointsEntry,
    RuleCode,
)
from app.services import evaluation
from app.services.evaluation import sheet as sheet_svc
from tests.evaluation_fixtures import (
    EXPECTED_HOUSEHOLD_SCORES,
    EXPECTED_HOUSEHOLDS,
    EXPECTED_MEMBER_SCORES,
    EXPECTED_MEMBERS,
    YEAR,
    _activity,
    _need,
    make_eval_world,
    sh,
)
from tests.factories import login, make_household, make_member, make_resident
from tests.helpers import count_queries, queries_for

# The personas' own household (王户长, 李党员) lies in the same grid and did nothing in 2025.
IDLE = {"王户长", "李党员"}


def _as_tuple(f):  # type: ignore[no-untyped-def]
    return (f.points, {k.value: n for k, n in f.activities.items()}, f.covered, f.visited,
            (f.needs_submitted, f.accepted_in_time, f.resolved, f.rated, f.satisfied, f.unsatisfied),
            f.training_minutes, f.mentoring, f.objections)


# --- figures and scores ----------------------------------------------------------------------


def test_member_figures_are_exactly_the_hand_counted_ones(app):
    w = make_eval_world()
    sheet = evaluation.compute(evaluation.Subject.MEMBERS, w.p.tree.community, YEAR)
    by_name = {r.subject.name: r for r in sheet.rows}
    assert set(by_name) == set(EXPECTED_MEMBERS) | IDLE  # 赵停 is stopped; 孙书记 and 周党员 elsewhere
    for name, expected in EXPECTED_MEMBERS.items():
        assert _as_tuple(by_name[name].figures) == expected, name
    a = by_name["张甲"].figures
    assert a.coverage == pytest.approx(0.5)
    assert (a.rates.response_rate, a.rates.resolution_rate, a.rates.satisfaction_rate) == \
        pytest.approx((100 / 3, 200 / 3, 50.0))
    assert a.training_hours == pytest.approx(2.25) and a.complaints == 2
    assert by_name["陈丙"].figures.coverage is None and by_name["陈丙"].figures.needs_rate is None


def test_household_figures_are_exactly_the_hand_counted_ones(app):
    w = make_eval_world()
    sheet = evaluation.compute(evaluation.Subject.HOUSEHOLDS, w.p.tree.community, YEAR)
    by_name = {r.subject.name: r for r in sheet.rows}
    assert set(by_name) == set(EXPECTED_HOUSEHOLDS) | {"王户长"}
    for name, expected in EXPECTED_HOUSEHOLDS.items():
        assert _as_tuple(by_name[name].figures) == expected, name
    h = by_name["张甲"].figures
    assert (h.rates.response_rate, h.rates.resolution_rate, h.rates.satisfaction_rate) == \
        pytest.approx((50.0, 75.0, 200 / 3))
    assert h.training_hours == pytest.approx(3.75)


def test_scores_and_ranks_follow_the_written_formula_with_the_default_weights(app):
    w = make_eval_world()
    members = evaluation.compute(evaluation.Subject.MEMBERS, w.p.tree.community, YEAR)
    ranked = [(r.rank, r.subject.name, round(r.score, 3)) for r in members.rows]
    assert ranked[:3] == [(1, "李乙", EXPECTED_MEMBER_SCORES["李乙"]), (2, "张甲", EXPECTED_MEMBER_SCORES["张甲"]),
                          (3, "陈丙", EXPECTED_MEMBER_SCORES["陈丙"])]
    # The two who did nothing share the last rank, by name (李 before 王).
    assert ranked[3:] == [(4, "李党员", 0.0), (4, "王户长", 0.0)]
    households = evaluation.compute(evaluation.Subject.HOUSEHOLDS, w.p.tree.community, YEAR)
    assert [(r.rank, r.subject.name, round(r.score, 3)) for r in households.rows] == [
        (1, "张甲", EXPECTED_HOUSEHOLD_SCORES["张甲"]), (2, "陈丙", EXPECTED_HOUSEHOLD_SCORES["陈丙"]),
        (3, "王户长", 0.0)]


def test_the_nearest_nodes_weights_apply_and_change_the_ranking(app):
    w = make_eval_world()
    t, admin = w.p.tree, w.p.district_admin
    # The township weighs training only; the community below it weighs points against complaints.
    sheet_svc.set_weights(admin, t.township, {f: (100 if f is EvaluationFactor.TRAINING_HOURS else 0)
                                              for f in EvaluationFactor})
    sheet_svc.set_weights(admin, t.community, {f: 0 for f in EvaluationFactor} | {
        EvaluationFactor.POINTS: 100, EvaluationFactor.COMPLAINTS: -100})
    db.session.commit()
    community = evaluation.compute(evaluation.Subject.MEMBERS, t.community, YEAR)
    # 张甲 = 100·6/6 − 100·2/2 = 0; 李乙 = 100·4/6 = 66.667; 陈丙 = 0 → 张甲, 陈丙 and the two
    # idle ones share rank 2 (by name: 张 李 王 陈).
    assert [(r.rank, r.subject.name, round(r.score, 3)) for r in community.rows] == [
        (1, "李乙", 66.667), (2, "张甲", 0.0), (2, "李党员", 0.0), (2, "王户长", 0.0), (2, "陈丙", 0.0)]
    assert community.weights.sources[EvaluationFactor.POINTS].id == t.community.id
    # The grid below the community inherits the community's weights, not the township's.
    grid = evaluation.compute(evaluation.Subject.MEMBERS, t.grid, YEAR)
    assert grid.weights.values[EvaluationFactor.POINTS] == 100
    # The township's sheet uses its own: hours 2.25 (张甲) and 1.5 (李乙) of a maximum 2.25.
    township = evaluation.compute(evaluation.Subject.MEMBERS, t.township, YEAR)
    assert [(r.subject.name, round(r.score, 3)) for r in township.rows][:2] == [("张甲", 100.0), ("李乙", 66.667)]
    # Nothing set above the district: the defaults.
    assert evaluation.weights_for(t.district).values == evaluation.DEFAULT_WEIGHTS


# --- pages -----------------------------------------------------------------------------------


def test_the_sheet_page_shows_the_formula_the_figures_and_links_to_their_records(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    page = client.get(f"/evaluation/{w.p.tree.community.id}/{YEAR}/members").get_data(as_text=True)
    assert "得分 = Σ（权重 × 该项数值 ÷ 本表该项最高值）" in page
    assert "S = Σ<sub>i</sub> w<sub>i</sub> × x<sub>i</sub> ÷ max<sub>i</sub>" in page
    assert "73.3" in page and "68.8" in page  # 李乙, 张甲
    assert ">50%</a>" in page and ">33% / 67% / 50%</a>" in page  # 张甲's coverage and rates
    base = f"/evaluation/{w.p.tree.community.id}/{YEAR}/members/{w.a.id}"
    for factor in EvaluationFactor:
        assert f'href="{base}/{factor.value}"' in page
    assert f'href="{base}/activities?kind=mediation"' in page


@pytest.mark.parametrize(("factor", "present", "absent"), [
    ("points", ["+5", "+3", "-2"], ["+10"]),
    ("activities", ["走访", "矛盾调解"], ["送教到家"]),
    ("visit_coverage", ["户一", "户二", "当年未走访", "2025-01-01"], ["户三"]),
    ("needs_rates", ["满意", "不满意"], []),
    ("training_hours", ["微党课", "线上学习", "1.5", "0.75"], ["取消的课", "去年的课"]),
    ("mentoring", ["2025-02-01", "2025-09-09", "孙书记"], ["2024-12-31"]),
    ("complaints", ["不满意", "有异议"], []),
])
def test_the_records_behind_each_figure_are_the_ones_counted(app, client, factor, present, absent):
    w = make_eval_world()
    login(client, w.p.community_admin)
    response = client.get(f"/evaluation/{w.p.tree.community.id}/{YEAR}/members/{w.a.id}/{factor}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in present:
        assert text in page, (factor, text)
    for text in absent:
        assert text not in page, (factor, text)


def test_the_records_of_an_activity_kind_list_only_that_kind(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    base = f"/evaluation/{w.p.tree.community.id}/{YEAR}/households/{w.h.id}/activities"
    page = client.get(base, query_string={"kind": "mediation"}).get_data(as_text=True)
    assert page.count("<td>矛盾调解</td>") == 1 and "<td>走访</td>" not in page
    page = client.get(base).get_data(as_text=True)
    assert page.count("<td>走访</td>") == 2 and page.count("<td>矛盾调解</td>") == 1


def test_the_subject_page_shows_rank_score_and_figures(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    page = client.get(f"/evaluation/{w.p.tree.community.id}/{YEAR}/members/{w.a.id}").get_data(as_text=True)
    assert "第 2 名，共 5 人" in page and "68.8" in page
    assert "响应率 33.3% · 办结率 66.7% · 满意率 50.0%" in page


def test_weights_are_saved_within_range_and_bad_input_is_refused_in_chinese(app, client):
    w = make_eval_world()
    login(client, w.p.community_admin)
    url = f"/evaluation/{w.p.tree.community.id}/weights"
    good = {"points": "40", "activities": "20", "visit_coverage": "10", "needs_rates": "10",
            "training_hours": "10", "mentoring": "10", "complaints": "-30"}
    for bad, message in [({"points": "101"}, "权重须在 −100 到 100 之间"), ({"complaints": "-101"}, "权重须在 −100 到 100 之间"),
                         ({"mentoring": "abc"}, "请填写整数"), ({"activities": ""}, "请填写权重（整数）"),
                         ({"points": "1.5"}, "请填写整数")]:
        response = client.post(url, data=good | bad)
        assert response.status_code == 422, bad
        page = response.get_data(as_text=True)
        assert message in page, bad
        value = next(iter(bad.values()))
        if value:
            assert f'value="{value}"' in page  # what was typed stays
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluationWeight)) == 0
    response = client.post(url, data=good)
    assert response.status_code == 303
    assert evaluation.weights_for(w.p.tree.community).values[EvaluationFactor.COMPLAINTS] == -30
    page = client.get(url).get_data(as_text=True)
    assert 'value="-30"' in page and "龙山社区" in page
    # Clearing the node's own weights brings the defaults back.
    assert client.post(f"{url}/clear").status_code == 303
    assert evaluation.weights_for(w.p.tree.community).values == evaluation.DEFAULT_WEIGHTS


def test_the_sheet_exports_to_xlsx_cell_by_cell_and_is_audited(app, client):
    w = make_eval_world()
    w.b.user.name = "=HYPERLINK(\"x\")"
    db.session.commit()
    login(client, w.p.community_admin)
    response = client.get(f"/evaluation/{w.p.tree.community.id}/{YEAR}/members.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "2025年度党员评定表"
    assert rows[1][:2] == ("单位：龙山社区", "期间：2025-01-01 至 2025-12-31")
    headers = rows[2]
    assert headers[:6] == ("排名", "姓名", "网格", "得分", "积分", "服务次数")
    col = {h: i for i, h in enumerate(headers)}
    first = rows[3]
    assert first[col["姓名"]] == "'=HYPERLINK(\"x\")"  # formula-safe
    assert (first[col["排名"]], first[col["得分"]], first[col["积分"]], first[col["走访"]]) == (1, 73.3, 4, 1)
    second = rows[4]
    assert second[col["姓名"]] == "张甲"
    assert (second[col["服务次数"]], second[col["矛盾调解"]], second[col["联系群众户"]], second[col["年内走访户"]],
            second[col["走访覆盖率"]], second[col["响应率"]], second[col["培训学时"]], second[col["接受帮带（次）"]],
            second[col["不满意评价"]], second[col["公示异议成立"]]) == (3, 1, 2, 1, "50.0%", "33.3%", 2.25, 2, 1, 1)
    assert len(rows) == 3 + 5
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
        AuditEntry.object_type == "evaluation_sheet")) == 1


def _more(w, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` more members in the community, each heading a household, covering a resident
    household they visited, with points and a need."""
    for i in range(n):
        m = make_member(w.p.tree.grid_b if i % 2 else w.p.tree.grid, name=f"新党员{i}")
        hh = make_household(m.grid, head=m, number=f"NEW-{i}")
        r = make_resident(m.grid, m, head_name=f"新户{i}")
        _activity(m, ActivityKind.VISIT, sh(2025, 3, 3), residents=[r])
        db.session.add(PointsEntry(member_id=m.id, points=3, code=RuleCode.VISIT_DONE, source_type="test",
                                   source_id=1000 + i, occurred_on=date(2025, 3, 3)))
        _need(r, m, hh, sh(2025, 3, 4), accepted=sh(2025, 3, 4, 11))
    db.session.commit()


@pytest.mark.parametrize("subject", ["members", "households"])
def test_the_sheet_runs_a_fixed_number_of_queries(app, client, subject):
    w = make_eval_world()
    login(client, w.p.community_admin)
    url = f"/evaluation/{w.p.tree.community.id}/{YEAR}/{subject}"
    before = queries_for(client, url)
    _more(w, 8)
    assert queries_for(client, url) == before
    node = w.p.tree.community
    assert node.path  # loaded before counting
    with count_queries() as statements:
        sheet = evaluation.compute(evaluation.Subject(subject), node, YEAR)
    assert len(sheet.rows) >= 11
    # The subjects, seven GROUP BYs (and for households the members of the households whose
    # training is summed), the weights, the outcomes.
    assert len(statements) == (10 if subject == "members" else 11)


# --- the ranking in SQL equals the ranking of the formula, ties included ------------------------


def _ranked_in_python(subject: evaluation.Subject, node, year: int):  # type: ignore[no-untyped-def]
    """The sheet as it was ranked in Python before the ranking moved to SQL: every subject's
    figures, the maxima, the score, a stable sort by the score rounded to 9 decimals over the
    name order, equal rounded scores sharing a rank. [(id, rank, score)] and the maxima."""
    from app.models import CentralHousehold, Member
    from app.services.evaluation.figures import figures

    model = Member if subject is evaluation.Subject.MEMBERS else CentralHousehold
    order = list(db.session.scalars(sheet_svc.subjects_select(subject, node).with_only_columns(model.id)))
    found = figures(subject, sheet_svc._ids_under(subject, node), year)
    weights = evaluation.weights_for(node).values
    per = [(sid, sheet_svc.factor_values(found.get(sid) or evaluation.Figures())) for sid in order]
    maxima = {f: max((v[f] for _sid, v in per), default=0.0) for f in EvaluationFactor}
    scored = [(sid, sheet_svc.score(evaluation.Figures(), weights, maxima, v)) for sid, v in per]
    scored.sort(key=lambda t: -round(t[1], 9))
    out: list[tuple[int, int, float]] = []
    for i, (sid, value) in enumerate(scored):
        rank = out[-1][1] if out and round(out[-1][2], 9) == round(value, 9) else i + 1
        out.append((sid, rank, value))
    return out, maxima


def _tie_world():  # type: ignore[no-untyped-def]
    """The hand-counted world plus members whose scores tie exactly (the same figures; the same
    float by different factors) and nearly (0.1 + 0.2 against 0.3: equal to 9 decimals)."""
    from app.models import TrainingCompletion, TrainingMode
    from tests.evaluation_fixtures import _points, _session

    w = make_eval_world()
    t, n = w.p.tree, [500]
    people = {name: make_member(t.grid if i % 2 else t.grid_b, name=name)
              for i, name in enumerate(["甲满", "乙和", "丙课", "丁分", "戊同", "己同", "庚同", "辛闲", "壬闲"])}
    for name in ("戊同", "己同", "庚同"):  # the same figures, and each heads a household
        make_household(people[name].grid, head=people[name], number=f"TIE-{name}")
    db.session.commit()
    for name, points, activities, minutes in [("甲满", 10, 10, 600), ("乙和", 1, 1, 0), ("丙课", 0, 0, 60),
                                              ("丁分", 3, 0, 0), ("戊同", 5, 2, 0), ("己同", 5, 2, 0),
                                              ("庚同", 5, 2, 0)]:
        m = people[name]
        if points:
            _points(m, points, date(2025, 5, 5), n)
        for _i in range(activities):
            _activity(m, ActivityKind.ERRAND, sh(2025, 5, 5))
        if minutes:
            s = _session(f"课{name}", TrainingMode.ONLINE, sh(2025, 5, 1), minutes, w.station)
            db.session.add(TrainingCompletion(session_id=s.id, member_id=m.id, completed_at=sh(2025, 5, 2)))
    db.session.commit()
    return w, people


@pytest.mark.parametrize("subject", ["members", "households"])
def test_the_sql_ranking_equals_the_formula_ranked_in_python_with_ties_and_pages(app, subject):
    w, people = _tie_world()
    node, subj = w.p.tree.community, evaluation.Subject(subject)
    # Weights under which 乙和 (1 point, 1 activity: 0.1 + 0.2) and 丙课 (1 of 10 hours: 0.3)
    # tie to 9 decimals though not as floats, and 丁分 (3 of 10 points: 0.3) ties 丙课 exactly.
    custom = {f: 0 for f in EvaluationFactor} | {EvaluationFactor.POINTS: 1, EvaluationFactor.ACTIVITIES: 2,
                                                 EvaluationFactor.TRAINING_HOURS: 3}
    for weights in (None, custom, {f: -w_ for f, w_ in evaluation.DEFAULT_WEIGHTS.items()}):
        if weights is not None:
            sheet_svc.set_weights(w.p.district_admin, node, weights)
            db.session.commit()
        expected, maxima = _ranked_in_python(subj, node, YEAR)
        sheet = evaluation.compute(subj, node, YEAR)
        assert [(r.subject_id, r.rank, r.score) for r in sheet.rows] == expected, weights
        assert sheet.maxima == maxima and sheet.total == len(expected)
        # Page by page, the same rows in the same order, each with the sheet's rank; past the
        # end, no rows and the same total.
        paged = []
        for page in range(1, len(expected) // 3 + 3):
            part = evaluation.compute(subj, node, YEAR, page=page, per_page=3)
            assert part.total == len(expected) and part.maxima == maxima
            paged += [(r.subject_id, r.rank, r.score) for r in part.rows]
        assert paged == expected
        # One subject's row: its rank on the whole sheet.
        for sid, rank, value in expected[::4]:
            (row,) = evaluation.compute(subj, node, YEAR, only=[sid]).rows
            assert (row.subject_id, row.rank, row.score) == (sid, rank, value)
        if weights is custom and subj is evaluation.Subject.MEMBERS:
            by_name = {people_name: rank for people_name, m in people.items()
                       for sid, rank, _v in expected if sid == m.id}
            assert by_name["乙和"] == by_name["丙课"] == by_name["丁分"]  # 0.1 + 0.2 ≈ 0.3 = 0.3
            assert by_name["戊同"] == by_name["己同"] == by_name["庚同"]
            # The idle (辛闲, 壬闲 and the personas 李党员, 王户长): four share the last rank.
            assert by_name["辛闲"] == by_name["壬闲"] == len(expected) - 4 + 1
    assert {r for _s, r, _v in expected} != set(range(1, len(expected) + 1))  # there were ties
