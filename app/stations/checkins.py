"""Check-ins an admin handles: manual check-in for a forgotten phone, and the station's ledger."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.authz import station_or_404
from app.clock import local_naive, local_today
from app.extensions import client_address
from app.models import CheckinMethod, Station
from app.pages import paginate
from app.responses import xlsx_response
from app.services import checkin
from app.services import stations as svc
from app.stations import PER_PAGE, bp, station_roles
from app.stations.forms import LedgerFilterForm, ManualCheckinForm, options
from app.steps import run_step, write_now

# Manual check-in ---------------------------------------------------------------------------------


def _manual_page(station: Station, form: ManualCheckinForm, results: list | None = None,
                 error: str | None = None, status: int = 422):
    return render_template(
        "stations/manual.html", station=station, form=form, q=(request.values.get("q") or "").strip(),
        results=results or [], error=error, checkins=checkin.todays_checkins(station.id),
    ), status


def _search(station: Station, form: ManualCheckinForm):
    """The search half of the page: members matching ?q=, or the refusal of a too-short query."""
    if "q" not in request.args:
        return _manual_page(station, form, status=200)
    try:
        results = checkin.search_members(station, (request.args.get("q") or "").strip())
    except checkin.CheckinError as e:
        return _manual_page(station, form, error=str(e))
    return _manual_page(station, form, results, None if results else _("没有找到匹配的党员。"), 200)


def _checked_in(result: checkin.CheckinResult) -> str:
    """Where a manual check-in goes next, with what it did (a second one says when the first was)."""
    row = result.checkin
    if result.created:
        flash(_("已为 %(name)s 补签。", name=row.member.name), "success")
    else:
        flash(_("%(name)s 今日已签到（%(time)s）。", name=row.member.name,
                time=f"{local_naive(row.checked_in_at):%H:%M}"), "info")
    return url_for("stations.manual", station_id=row.station_id)


@bp.route("/<int:station_id>/manual", methods=["GET", "POST"])
@station_roles
def manual(station_id: int):
    """Check a member in by hand (a forgotten phone): search by name or phone, then confirm."""
    station = station_or_404(station_id)
    form = ManualCheckinForm()
    if request.method != "POST":
        return _search(station, form)
    if not form.validate_on_submit():
        return _manual_page(station, form, error=_("请选择要补签的党员。"))
    return run_step(lambda: svc.manual_check_in(station, form.member_id.data, current_user),
                    lambda e: _manual_page(station, form, error=e), _checked_in)


# Ledger ------------------------------------------------------------------------------------------


def _ledger_filter(station: Station) -> tuple[LedgerFilterForm, svc.LedgerFilter]:
    """The ledger's filter from the query string: this month so far unless a valid period is asked."""
    form = LedgerFilterForm(request.args)
    today = local_today()
    form.event.choices = options([("", _("全部"))] + [
        (str(e.id), f"{local_naive(e.starts_at):%Y-%m-%d} {e.title}") for e in svc.recent_events(station)
    ])
    form.validate()
    start = form.start.data if not form.start.errors and form.start.data else today.replace(day=1)
    end = form.end.data if not form.end.errors and form.end.data else today
    if form.errors:
        start, end = today.replace(day=1), today
    form.start.data, form.end.data = form.start.data or start, form.end.data or end
    method = CheckinMethod(form.method.data) if form.method.data and not form.method.errors else None
    event_id = int(form.event.data) if form.event.data and not form.event.errors else None
    return form, svc.LedgerFilter(start, end, method, event_id)


@bp.route("/<int:station_id>/ledger")
@station_roles
def ledger_view(station_id: int):
    """The station's check-ins over a period, by method and event; exportable to Excel."""
    station = station_or_404(station_id)
    form, period = _ledger_filter(station)
    page = paginate(period.query(station), per_page=PER_PAGE)
    return render_template("stations/ledger.html", station=station, form=form, page=page,
                           start=period.start, end=period.end), 422 if form.errors else 200


@bp.route("/<int:station_id>/ledger.xlsx")
@station_roles
def ledger_export(station_id: int):
    """The ledger as .xlsx: Chinese headers, the station's name and the period; audited."""
    station = station_or_404(station_id)
    _form, period = _ledger_filter(station)
    content = write_now(lambda: svc.export_ledger(station, period, current_user, client_address()))
    return xlsx_response(content, f"checkins-{station.id}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx")
