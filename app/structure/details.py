"""Detail pages of the structure: a member, a central household, a resident household; revealing
a phone number (audited) and giving a member's account its initial password."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import render_template, request
from flask_login import current_user, fresh_login_required

from app.authz import admin_required, get_or_404
from app.extensions import client_address
from app.htmx import is_partial
from app.models import CentralHousehold, Member, ResidentHousehold
from app.policy import can_administer_resident, can_manage_household, member_in_scope
from app.services import accounts
from app.services import structure as svc
from app.steps import run_step
from app.structure import bp

T = TypeVar("T")


def _member_page(member: Member, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    return render_template("structure/member.html", **svc.member_view(member), **extra), status


def _resident_page(resident: ResidentHousehold, **extra: object) -> str:
    return render_template("structure/resident.html", **svc.resident_view(resident), **extra)


def _reveal(holder: Member | ResidentHousehold, phone_id: str, page: Callable[[], object]) -> object:
    """Reveal (and audit) the holder's full number: in place of the masked one for htmx, else the
    detail page with it shown."""
    return run_step(
        lambda: svc.reveal_phone(current_user, holder, ip=client_address()), str, None,
        show=lambda phone: render_template("structure/_phone.html", phone=phone, revealed=True,
                                      phone_id=phone_id, reveal_url=request.path)
        if is_partial() else page(),
    )


def _password(member: Member, status: int = 200, error: str | None = None,
              new_password: str | None = None):  # type: ignore[no-untyped-def]
    """The password box (htmx) or the member page around it."""
    if is_partial():
        return render_template("structure/_password.html", member=member, error=error,
                               new_password=new_password), status
    return _member_page(member, status, password_error=error, new_password=new_password)


@bp.route("/members/<int:member_id>")
@admin_required
def member(member_id: int):
    """A member: the households they cover and the central household they belong to."""
    return _member_page(get_or_404(Member, member_id, member_in_scope))


@bp.post("/members/<int:member_id>/phone")
@admin_required
def member_phone(member_id: int):
    """Show a member's full phone number to an admin in scope; the reveal is audited."""
    member = get_or_404(Member, member_id, member_in_scope)
    return _reveal(member, f"phone-member-{member.id}", lambda: _member_page(member, revealed=True))


@bp.post("/members/<int:member_id>/password")
@admin_required
@fresh_login_required
def member_password(member_id: int):
    """设置初始密码: a random password shown once; the member's sessions end; audited."""
    member = get_or_404(Member, member_id, member_in_scope)
    return run_step(
        lambda: accounts.set_initial_password(current_user, member, ip=client_address()),
        lambda error: _password(member, 422, error=error), None,
        show=lambda password: _password(member, new_password=password),
    )


@bp.route("/households/<int:household_id>")
@admin_required
def household(household_id: int):
    """A central household: head, linked members with their counts, duties and standing."""
    household = get_or_404(CentralHousehold, household_id, can_manage_household)
    return render_template("structure/household.html", **svc.household_view(household))


@bp.route("/residents/<int:resident_id>")
@admin_required
def resident(resident_id: int):
    """A resident household: address, head, covering member, care tags; suggestions if uncovered."""
    return _resident_page(get_or_404(ResidentHousehold, resident_id, can_administer_resident))


@bp.post("/residents/<int:resident_id>/phone")
@admin_required
def resident_phone(resident_id: int):
    """Show a resident household's full phone number to an admin in scope; audited."""
    resident = get_or_404(ResidentHousehold, resident_id, can_administer_resident)
    return _reveal(resident, f"phone-resident-{resident.id}", lambda: _resident_page(resident, revealed=True))
