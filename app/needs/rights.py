"""Residents' rights (PIPL): what is kept and why, a copy of their data, erasure.

A logged-in resident acts for the needs filed with their account's phone; anyone else proves a
phone with a tracking code and that phone, as on ``/track`` (and under the same rate limit).
"""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from app import policy
from app.extensions import client_address
from app.needs import bp
from app.needs.forms import EraseConfirmForm, RightsProofForm
from app.needs.public import track_limit
from app.services import privacy_rights
from app.services.errors import Refused
from app.services.privacy_rights import RightsError, Subject
from app.steps import run_step


def _by_account() -> bool:
    return policy.can_use_resident_rights(current_user)


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _ip() -> str:
    return client_address()


def _subject(form: RightsProofForm | EraseConfirmForm) -> Subject:
    """Whose data this request may touch: the resident's account, else the code and phone."""
    if _by_account():
        return privacy_rights.subject_of_account(current_user)
    if not form.validate_on_submit():
        raise RightsError(_("请填写查询码和提交时留的手机号。"))
    return privacy_rights.subject_of_code(form.code.data or "", form.phone.data or "")


def _rights_page(form: RightsProofForm, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("needs/rights.html", form=form, error=error, by_account=_by_account(),
                           kept_days=privacy_rights.audit_kept_days(), erased_text=privacy_rights.ERASED_TEXT), status


def _confirm_page(form: EraseConfirmForm, subject: Subject, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("needs/rights_confirm.html", form=form, subject=subject, error=error,
                           by_account=_by_account()), status


def _zip(data: bytes) -> Response:
    """The download: never cached (a shared tablet), named so the resident finds it."""
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_erase(result: privacy_rights.Erased) -> str:
    if result.account_closed:
        logout_user()
    return url_for("needs.rights")


@bp.route("/rights")
def rights():
    """What the platform keeps about residents and why; download or erase one's data."""
    return _rights_page(RightsProofForm())


@bp.post("/rights/export")
@track_limit
def rights_export():
    """Download one's data as a .zip (data.json, the photos and recordings, staff's included); audited."""
    form = RightsProofForm()
    step = lambda: privacy_rights.export_zip(_subject(form), _user_id(), _ip())  # noqa: E731
    return run_step(step, lambda message: _rights_page(form, message, 422), None, show=_zip)


@bp.post("/rights/erase")
@track_limit
def rights_erase():
    """Ask for erasure, first step: check the proof and list what will be erased (nothing changes)."""
    form = RightsProofForm()
    try:
        subject = _subject(form)
    except Refused as e:
        return _rights_page(form, str(e), 422)
    confirm = EraseConfirmForm(formdata=None, code=form.code.data, phone=form.phone.data)
    return _confirm_page(confirm, subject)


def _confirm_again(form: EraseConfirmForm, message: str):  # type: ignore[no-untyped-def]
    """The confirmation page again with the refusal (or the first page if the proof failed)."""
    try:
        return _confirm_page(form, _subject(form), message, 422)
    except Refused:
        return _rights_page(RightsProofForm(formdata=None), message, 422)


@bp.post("/rights/erase/confirm")
@track_limit
def rights_erase_confirm():
    """Ask for erasure, second step (确认删除): erase the personal fields; audited with a count."""
    form = EraseConfirmForm()
    step = lambda: privacy_rights.erase(_subject(form), bool(form.confirm.data), _user_id(), _ip())  # noqa: E731
    done = lambda r: _("已删除 %(n)d 件诉求中的个人信息。", n=r.needs)  # noqa: E731
    return run_step(step, lambda message: _confirm_again(form, message), _after_erase, done)
