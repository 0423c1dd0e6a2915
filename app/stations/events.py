"""A station's events (theme Party days, training sessions …) and who attended them."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.authz import station_or_404
from app.models import Station, StationEvent
from app.pages import paginate
from app.services import checkin
from app.services import stations as svc
from app.stations import PER_PAGE, bp, event_or_404, station_roles, with_error
from app.stations.forms import EventEditForm
from app.steps import run_step


@bp.route("/<int:station_id>/events")
@station_roles
def events(station_id: int):
    """The station's events, newest first, with the number who attended each."""
    station = station_or_404(station_id)
    page = paginate(svc.station_events(station), per_page=PER_PAGE)
    counts = checkin.attendance_counts([e.id for e in page.items])
    return render_template("stations/events.html", station=station, page=page, counts=counts)


def _event_page(station: Station, form: EventEditForm, event: StationEvent | None, error: str | None = None):
    if error:
        with_error(form.ends_at, error)
    status = 422 if request.method == "POST" else 200
    return render_template("stations/event_edit.html", station=station, form=form, event=event), status


def _save_event(station: Station, event: StationEvent | None):
    """The event form, new or filled from ``event``; a valid one is saved in one step."""
    shown = svc.event_form_data(event) if event is not None and request.method == "GET" else None
    form = EventEditForm(obj=shown)
    if not form.validate_on_submit():
        return _event_page(station, form, event)
    data = svc.EventData(form.title.data, form.kind.data, form.starts_at.data, form.ends_at.data)
    return run_step(
        lambda: svc.save_event(station, data, current_user, event),
        lambda e: _event_page(station, form, event, e),
        lambda saved: url_for("stations.event_detail", station_id=station.id, event_id=saved.id),
        _("活动已保存。"),
    )


@bp.route("/<int:station_id>/events/new", methods=["GET", "POST"])
@station_roles
def event_new(station_id: int):
    """Schedule a theme Party day, a training session or another gathering at the station."""
    return _save_event(station_or_404(station_id), None)


@bp.route("/<int:station_id>/events/<int:event_id>/edit", methods=["GET", "POST"])
@station_roles
def event_edit(station_id: int, event_id: int):
    """Change an event's title, kind or times."""
    station = station_or_404(station_id)
    return _save_event(station, event_or_404(station, event_id))


@bp.route("/<int:station_id>/events/<int:event_id>")
@station_roles
def event_detail(station_id: int, event_id: int):
    """An event and who attended it (checked in while it ran)."""
    station = station_or_404(station_id)
    event = event_or_404(station, event_id)
    return render_template("stations/event_detail.html", station=station, event=event,
                           rows=svc.attendance(event))
