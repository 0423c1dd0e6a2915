"""The nomination state machine, at the service layer: every way in, every step, every refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import (
    CentralHousehold,
    Decision,
    EntryKind,
    EntryToken,
    HouseholdStatus,
    Nomination,
    NominationStatus,
    NominationStep,
    Notification,
    StepKind,
)
from app.services import nominations as svc
from app.services.errors import NotAllowed
from app.services.workflow import WorkflowError
from tests.factories import (
    REASONS,
    advance_to_notice,
    make_admin,
    make_member,
    make_nomination,
    make_personas,
)

# Posted at 10:00 Shanghai on 10 May 2024 → with 5 days the notice runs 11–15 May.
POSTED = datetime(2024, 5, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def p(app):
    personas = make_personas()
    personas.township_admin = make_admin(personas.tree.township, name="镇管理员")  # type: ignore[attr-defined]
    return personas


def _candidate(p, name="陈候选"):  # type: ignore[no-untyped-def]
    return make_member(p.tree.grid, name=name)


def _steps(nom: Nomination) -> list[tuple[str, str | None]]:
    rows = db.session.scalars(sa.select(NominationStep).where(NominationStep.nomination_id == nom.id)
                              .order_by(NominationStep.id))
    return [(s.kind.value, s.decision.value if s.decision else None) for s in rows]


def _establish_after_notice(p, nom):  # type: ignore[no-untyped-def]
    with time_machine.travel(POSTED, tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
    with time_machine.travel(datetime(2024, 5, 16, 0, 0, tzinfo=UTC), tick=False):
        hh = svc.establish(p.township_admin, nom)
        db.session.commit()
    return hh


@pytest.mark.parametrize("way", ["self", "joint", "organisation"])
def test_each_way_of_nominating_leads_to_an_established_household(p, way):
    candidate = _candidate(p)
    opener = candidate.user if way == "self" else p.community_admin
    nom = make_nomination(candidate, opener, way=way, nominator_members="王甲、李乙" if way == "joint" else "")
    hh = _establish_after_notice(p, nom)
    assert nom.status is NominationStatus.ESTABLISHED and nom.household_id == hh.id
    assert hh.number == "YX-2024-001" and hh.status is HouseholdStatus.ESTABLISHED
    assert hh.head_member_id == candidate.id and candidate.central_household_id == hh.id
    assert hh.established_on == date(2024, 5, 16)
    token = db.session.scalar(sa.select(EntryToken).where(EntryToken.central_household_id == hh.id))
    assert token.kind is EntryKind.PLAQUE and token.revoked_at is None
    assert _steps(nom) == [
        ("opened", None), ("community_review", "approved"), ("joint_review", "no_objection"),
        ("joint_review", "no_objection"), ("township_review", "approved"), ("established", "approved"),
    ]


def test_household_numbers_count_up_within_a_year(p):
    a, b = _candidate(p, "甲"), _candidate(p, "乙")
    first = _establish_after_notice(p, make_nomination(a))
    second = _establish_after_notice(p, make_nomination(b))
    assert (first.number, second.number) == ("YX-2024-001", "YX-2024-002")


def test_each_step_notifies_whoever_must_act_next(p):
    candidate = _candidate(p)
    nom = make_nomination(candidate)
    assert db.session.scalar(sa.select(Notification.user_id)) == p.community_admin.id
    svc.community_review(p.community_admin, nom, True, "")
    db.session.commit()
    users = db.session.scalars(sa.select(Notification.user_id).order_by(Notification.id)).all()
    assert users[-1] == p.township_admin.id


def test_a_rejection_ends_the_nomination_with_its_reason(p):
    nom = make_nomination(_candidate(p))
    svc.community_review(p.community_admin, nom, False, "群众基础尚需加强")
    db.session.commit()
    assert nom.status is NominationStatus.REJECTED
    assert "群众基础尚需加强" in nom.rejection_reason
    with pytest.raises(WorkflowError):
        svc.township_review(p.township_admin, nom, True, "")


def test_rejecting_needs_a_reason(p):
    nom = make_nomination(_candidate(p))
    with pytest.raises(WorkflowError, match="理由"):
        svc.community_review(p.community_admin, nom, False, "  ")


def test_one_department_objection_stops_the_nomination(p):
    nom = make_nomination(_candidate(p))
    svc.community_review(p.community_admin, nom, True, "")
    depts = svc.pending_departments(nom)
    assert [d.name for d in depts] == ["纪检", "公安"]
    svc.record_signoff(p.township_admin, nom, depts[0].id, True, "")
    svc.record_signoff(p.township_admin, nom, depts[1].id, False, "有违法记录")
    db.session.commit()
    assert nom.status is NominationStatus.REJECTED
    assert nom.rejection_reason == "公安联审有异议：有违法记录"


def test_township_cannot_approve_before_every_department_signs_off(p):
    nom = make_nomination(_candidate(p))
    svc.community_review(p.community_admin, nom, True, "")
    dept = svc.pending_departments(nom)[0]
    svc.record_signoff(p.township_admin, nom, dept.id, True, "")
    with pytest.raises(WorkflowError, match="公安 还未签署"):
        svc.township_review(p.township_admin, nom, True, "")
    assert nom.status is NominationStatus.TOWNSHIP_REVIEW


def test_a_department_the_township_adds_must_sign_off_too(p):
    svc.add_department(p.township_admin, p.tree.township, "信访")
    nom = make_nomination(_candidate(p))
    svc.community_review(p.community_admin, nom, True, "")
    assert [d.name for d in svc.pending_departments(nom)] == ["纪检", "公安", "信访"]


def test_a_department_cannot_sign_twice(p):
    nom = make_nomination(_candidate(p))
    svc.community_review(p.community_admin, nom, True, "")
    dept = svc.pending_departments(nom)[0]
    svc.record_signoff(p.township_admin, nom, dept.id, True, "")
    with pytest.raises(WorkflowError, match="已经签署"):
        svc.record_signoff(p.township_admin, nom, dept.id, True, "")


def test_illegal_jumps_are_refused(p):
    nom = make_nomination(_candidate(p))
    with pytest.raises(WorkflowError):  # joint review before the village approved
        svc.record_signoff(p.township_admin, nom, 1, True, "")
    with pytest.raises(WorkflowError):  # township review before the village approved
        svc.township_review(p.township_admin, nom, True, "")
    with pytest.raises(WorkflowError):  # establishing before any notice
        svc.establish(p.township_admin, nom)
    svc.community_review(p.community_admin, nom, True, "")
    with pytest.raises(WorkflowError):  # village approval twice
        svc.community_review(p.community_admin, nom, True, "")
    with pytest.raises(WorkflowError):
        svc.establish(p.township_admin, nom)


def test_only_the_right_role_at_the_right_node_may_act(p):
    nom = make_nomination(_candidate(p))
    with pytest.raises(NotAllowed):
        svc.community_review(p.other_community_admin, nom, True, "")
    with pytest.raises(NotAllowed):
        svc.community_review(p.member.user, nom, True, "")
    svc.community_review(p.community_admin, nom, True, "")
    # A community admin is below the township: the township's step is not theirs.
    with pytest.raises(NotAllowed):
        svc.township_review(p.community_admin, nom, True, "")
    with pytest.raises(NotAllowed):
        svc.record_signoff(p.community_admin, nom, svc.pending_departments(nom)[0].id, True, "")
    other_township_admin = make_admin(p.tree.township2, name="杨桥镇管理员")
    with pytest.raises(NotAllowed):
        svc.township_review(other_township_admin, nom, False, "x")
    # The district is above everyone.
    svc.record_signoff(p.district_admin, nom, svc.pending_departments(nom)[0].id, True, "")


def test_a_member_may_only_nominate_themselves(p):
    other = _candidate(p)
    with pytest.raises(NotAllowed):
        make_nomination(other, p.member.user, way="self")


def test_an_admin_may_only_nominate_within_their_scope(p):
    with pytest.raises(NotAllowed):
        make_nomination(p.other_member, p.community_admin, way="organisation")


def test_nominations_need_a_reason_and_joint_ones_need_nominators(p):
    candidate = _candidate(p)
    with pytest.raises(WorkflowError, match="至少"):
        make_nomination(candidate, reasons={"reason_political": "  "})
    with pytest.raises(WorkflowError, match="联名"):
        make_nomination(candidate, p.community_admin, way="joint")


def test_one_open_nomination_per_candidate_and_none_for_a_head(p):
    candidate = _candidate(p)
    make_nomination(candidate)
    with pytest.raises(WorkflowError, match="正在办理"):
        make_nomination(candidate, p.community_admin, way="organisation")
    head = db.session.get(CentralHousehold, p.member.central_household_id).head
    with pytest.raises(WorkflowError, match="户主"):
        make_nomination(head, p.community_admin, way="organisation")


def test_the_database_refuses_a_second_open_nomination(p):
    nom = make_nomination(_candidate(p))
    twin = Nomination(way=nom.way, candidate_id=nom.candidate_id, category=nom.category, grid_id=nom.grid_id,
                      community_id=nom.community_id, township_id=nom.township_id, address="x",
                      reason_role="x", opened_by_id=nom.opened_by_id, status=NominationStatus.COMMUNITY_REVIEW)
    db.session.add(twin)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


# --- the notice period, with a frozen clock ---------------------------------------------------------


def test_notice_runs_the_set_number_of_days_from_the_day_after_posting(p):
    nom = make_nomination(_candidate(p))
    with time_machine.travel(POSTED, tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
    assert nom.notice_last_day == date(2024, 5, 15)
    # 23:59 Shanghai on the last day: still running, establishing refused.
    with time_machine.travel(datetime(2024, 5, 15, 15, 59, tzinfo=UTC), tick=False):
        assert svc.notice_running(nom) and not svc.can_establish(nom)
        with pytest.raises(WorkflowError, match="公示期未满"):
            svc.establish(p.township_admin, nom)
        assert nom in db.session.scalars(svc.public_notices()).all()
    # Midnight Shanghai: the notice is over and the household may be created.
    with time_machine.travel(datetime(2024, 5, 15, 16, 0, tzinfo=UTC), tick=False):
        assert not svc.notice_running(nom) and svc.can_establish(nom)
        assert nom not in db.session.scalars(svc.public_notices()).all()
        svc.establish(p.township_admin, nom)


def test_notice_days_are_set_per_township(p):
    svc.set_notice_days(p.township_admin, p.tree.township, 7)
    nom = make_nomination(_candidate(p))
    with time_machine.travel(POSTED, tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
    assert nom.notice_last_day == date(2024, 5, 17)
    assert svc.notice_days(p.tree.township2) == 5
    with pytest.raises(NotAllowed):
        svc.set_notice_days(p.community_admin, p.tree.township, 3)
    with pytest.raises(WorkflowError):
        svc.set_notice_days(p.township_admin, p.tree.township, 0)


def test_an_objection_holds_the_notice_until_it_is_resolved(p):
    nom = make_nomination(_candidate(p))
    with time_machine.travel(POSTED, tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
    with time_machine.travel(datetime(2024, 5, 12, 4, 0, tzinfo=UTC), tick=False):
        objection = svc.lodge_objection(nom, "139 1234 5678", "该同志曾拒绝调解邻里纠纷")
        db.session.commit()
        assert objection.contact_phone == "13912345678"
    # The period ends meanwhile: still held.
    with time_machine.travel(datetime(2024, 5, 17, 2, 0, tzinfo=UTC), tick=False):
        assert not svc.can_establish(nom)
        with pytest.raises(WorkflowError, match="未处理的异议"):
            svc.establish(p.township_admin, nom)
        with pytest.raises(WorkflowError, match="不在公示期"):
            svc.lodge_objection(nom, "13912345678", "迟到的异议")
        with pytest.raises(NotAllowed):
            svc.resolve_objection(p.other_community_admin, objection, False, "x")
        svc.resolve_objection(p.community_admin, objection, False, "经核实系误会，已当面说明")
        db.session.commit()
        assert svc.can_establish(nom)
        svc.establish(p.township_admin, nom)
    assert [k for k, _d in _steps(nom)][-3:] == ["objection_lodged", "objection_resolved", "established"]


def test_an_upheld_objection_rejects_the_nomination(p):
    nom = make_nomination(_candidate(p))
    with time_machine.travel(POSTED, tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
        objection = svc.lodge_objection(nom, "13912345678", "长期不在本地居住")
        svc.resolve_objection(p.community_admin, objection, True, "经核实属实")
        db.session.commit()
    assert nom.status is NominationStatus.REJECTED
    assert nom.rejection_reason == "公示异议经核实成立：经核实属实"
    with pytest.raises(WorkflowError):
        svc.resolve_objection(p.community_admin, objection, False, "again")


def test_objections_need_a_valid_phone_and_text(p):
    nom = make_nomination(_candidate(p))
    with time_machine.travel(POSTED, tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
        with pytest.raises(WorkflowError, match="手机号"):
            svc.lodge_objection(nom, "12345", "内容")
        with pytest.raises(WorkflowError, match="异议内容"):
            svc.lodge_objection(nom, "13912345678", " ")


def test_steps_record_who_when_decision_and_comment(p):
    nom = make_nomination(_candidate(p))
    svc.community_review(p.community_admin, nom, True, "支部大会讨论同意")
    db.session.commit()
    step = db.session.scalars(sa.select(NominationStep).where(NominationStep.kind == StepKind.COMMUNITY_REVIEW)).one()
    assert (step.actor_id, step.decision, step.comment) == (p.community_admin.id, Decision.APPROVED, "支部大会讨论同意")
    assert step.created_at is not None and REASONS["reason_political"] == nom.reason_political
