"""Members: the inbox, one need's page and the steps its owner takes (with its htmx answers)."""

from __future__ import annotations

from collections.abc import Callable

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app import policy
from app.authz import get_or_404, require, roles_required
from app.clock import utcnow
from app.htmx import hx_target, is_partial
from app.models import Member, Need, NeedOutcome, NeedStatus, OwnerLevel, Role
from app.needs import bp
from app.needs.forms import (
    PHOTO_HINT,
    VOICE_HINT,
    NeedAssignForm,
    NeedHideForm,
    NeedPassOnForm,
    NeedProgressForm,
    NeedResolveForm,
    options,
)
from app.needs.helpers import need_or_404, need_photo, need_voice, upload_of, validated
from app.pages import paginate_rows
from app.services import needs
from app.steps import run_step
from app.web import render_unchanging


@bp.app_template_global()
def sla_left(need: Need) -> tuple[str, bool] | None:
    """("剩 5 小时", False) or ("超时 3 小时", True) for the deadline now running; None when closed."""
    if need.status is NeedStatus.SUBMITTED:
        due = need.accept_due_at
    elif need.status in (NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS):
        due = need.resolve_due_at
    else:
        return None
    delta = due - utcnow()
    late = delta.total_seconds() < 0
    hours = int(abs(delta.total_seconds()) // 3600)
    span = _("%(d)d 天 %(h)d 小时", d=hours // 24, h=hours % 24) if hours >= 24 else _("%(h)d 小时", h=hours)
    if hours == 0:
        span = _("不到 1 小时")
    return (_("超时 %(span)s", span=span) if late else _("剩 %(span)s", span=span)), late


@bp.route("/needs/")
@roles_required(Role.MEMBER)
def inbox():
    """My needs by state, each with the time left on its deadline; accept in one tap."""
    box = needs.inbox(current_user.member_id, request.args.get("state"))
    page = paginate_rows(box.select, needs.InboxRow, box.params, total=box.total)
    # Kept by what it shows (web.render_unchanging): the rows, the page, the tabs' counts, and each
    # row's time left as it reads now.
    shown = (page.items, page.page, page.per_page, page.total, box.state, box.counts, box.headed_id,
             [sla_left(need) for need in page.items])
    return render_unchanging("needs/inbox.html", variant=shown, page=page, state=box.state, counts=box.counts,
                             is_head=box.is_head, labels=needs.inbox_labels())


@bp.route("/needs/<int:need_id>")
@login_required
def detail(need_id: int):
    """One need with its whole timeline (internal notes included) and what the user may do."""
    return detail_page(need_or_404(need_id))


def _forms_for(need: Need) -> dict[str, FlaskForm]:
    """The step forms the user may use on ``need``."""
    forms: dict[str, FlaskForm] = {}
    if policy.can_act_on_need(current_user, need) and need.hidden_at is None:
        forms["progress"] = NeedProgressForm(prefix="p")
        forms["resolve"] = NeedResolveForm(prefix="r")
        if need.owner_level is OwnerLevel.HEAD and need.status.is_open:
            forms["pass"] = pass_form()
    if policy.can_administer_need(current_user, need) and current_user.has_role(Role.ORG_ADMIN):
        if need.status.is_open and need.hidden_at is None:
            forms["assign"] = assign_form(need)
        if need.hidden_at is None:
            forms["hide"] = NeedHideForm(prefix="h")
    return forms


def pass_form() -> NeedPassOnForm:
    """The head's pass-on form, offering the household's other active members."""
    form = NeedPassOnForm(prefix="pass")
    form.member.choices = options(needs.household_member_choices(current_user.member))
    return form


def assign_form(need: Need) -> NeedAssignForm:
    """The admin's assign form, offering the active members of the need's community in scope."""
    form = NeedAssignForm(prefix="a")
    form.member.choices = options(needs.assignable_choices(need, current_user))
    return form


def detail_page(need: Need, status: int = 200, forms: dict | None = None, error: str | None = None):  # type: ignore[no-untyped-def]
    """The need's page, or for htmx its row (``need-<id>``) or its panel (``need-panel``)."""
    if is_partial() and hx_target() == f"need-{need.id}":
        return render_template("needs/_need_row.html", need=need), status
    context = {
        "need": need, "forms": _forms_for(need) | (forms or {}), "error": error,
        "events": needs.timeline(need, public=False), "phone": needs.shown_phone(current_user, need),
        "can_act": policy.can_act_on_need(current_user, need), "photo_hint": PHOTO_HINT,
        "voice_hint": VOICE_HINT,
        "owner": needs.owner_label(need.owner_level, need.owner_member, need.owner_node),
        "breaches": needs.breach_count(need),
    }
    template = "needs/_need_panel.html" if is_partial() and hx_target() == "need-panel" else "needs/detail.html"
    return render_template(template, **context), status


def _back(need: Need) -> str:
    """Where a step sends the browser: the inbox tab it came from (``next=inbox``), else the need."""
    if request.form.get("next") != "inbox":
        return url_for("needs.detail", need_id=need.id)
    return url_for("needs.inbox", state=request.form.get("state", "submitted"))


def step(need: Need, action: Callable[[], object], done: str, key: str | None = None,
         form: FlaskForm | None = None, invalid: str = ""):  # type: ignore[no-untyped-def]
    """Take one step on ``need``: a form that does not validate or a refusal shows the need again
    (422) with the form; success answers the row or panel for htmx (``need-updated``), else a flash
    and a redirect."""
    if form is not None:
        action = validated(form, action, invalid)
    forms = {key: form} if key else None
    return run_step(action, lambda message: detail_page(need, 422, forms, message), lambda _r: _back(need), done,
                    partial=lambda _r: detail_page(need)[0], events=("need-updated",))


def _acting_on(need_id: int) -> Need:
    """A need the user may read and, as its current owner, act on (else 404 / 403)."""
    need = need_or_404(need_id)
    require(policy.can_act_on_need(current_user, need))
    return need


@bp.post("/needs/<int:need_id>/accept")
@login_required
def accept(need_id: int):
    """接单 — the current owner takes the need on (one tap)."""
    need = _acting_on(need_id)
    return step(need, lambda: needs.accept(need, current_user), _("已接单。"))


@bp.post("/needs/<int:need_id>/progress")
@login_required
def progress(need_id: int):
    """A progress note (the resident sees it) or an internal note, in words or by voice, with an
    optional photo."""
    need = _acting_on(need_id)
    form = NeedProgressForm(prefix="p")
    return step(need, lambda: needs.add_progress(need, current_user, form.text.data, bool(form.internal.data),
                                                 upload=upload_of(form.photo), voice_upload=upload_of(form.voice)),
                _("已记录。"), "progress", form, _("请修改下面标红的内容后再提交。"))


@bp.post("/needs/<int:need_id>/resolve")
@login_required
def resolve(need_id: int):
    """办结 — close the need with what happened and a note."""
    need = _acting_on(need_id)
    form = NeedResolveForm(prefix="r")
    return step(need, lambda: needs.resolve(need, current_user, NeedOutcome(form.outcome.data), form.note.data,
                                            form.referred_to.data or "", upload=upload_of(form.photo)),
                _("已办结。"), "resolve", form, _("请修改下面标红的内容后再提交。"))


@bp.post("/needs/<int:need_id>/pass")
@login_required
def pass_on(need_id: int):
    """A central household's head passes a need to one of the household's members."""
    need = _acting_on(need_id)
    form = pass_form()
    return step(need, lambda: needs.pass_on(need, current_user, get_or_404(Member, form.member.data)),
                _("已转交。"), "pass", form, _("请选择党员。"))


@bp.route("/needs/<int:need_id>/photo/<int:photo_id>")
@login_required
def photo(need_id: int, photo_id: int):
    """A photo of this need or of its timeline, internal notes included."""
    return need_photo(need_or_404(need_id), photo_id, public=False)


@bp.route("/needs/<int:need_id>/voice/<int:clip_id>")
@login_required
def voice(need_id: int, clip_id: int):
    """A voice clip of this need or of its timeline (internal notes included), for whoever may
    see the need — the same check as its photos."""
    return need_voice(need_or_404(need_id), clip_id, public=False)
