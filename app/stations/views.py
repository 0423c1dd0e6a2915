"""The station list, a station's page, creating and editing stations, and their admins.

The blueprint lives in ``app/stations/__init__.py``; importing this module registers every station
view (the other modules of the package are imported at the end).
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.authz import station_or_404
from app.extensions import client_address
from app.models import Station
from app.pages import paginate
from app.services import checkin
from app.services import stations as svc
from app.stations import PER_PAGE, bp, org_admin, station_roles, with_error
from app.stations.forms import StationAdminAddForm, StationEditForm, options
from app.steps import run_step

__all__ = ["bp"]


def _to_detail(station: Station) -> str:
    return url_for("stations.detail", station_id=station.id)


# List, create, edit ------------------------------------------------------------------------------


@bp.route("/")
@station_roles
def index():
    """The stations the user runs or manages, with today's check-in count."""
    page = paginate(svc.stations_for(current_user), per_page=PER_PAGE)
    return render_template("stations/index.html", page=page, counts=svc.todays_counts(page.items),
                           can_create=policy.is_org_admin(current_user))


def _station_form(station: Station | None) -> StationEditForm:
    form = StationEditForm(obj=station)
    form.org_node_id.choices = options([(n.id, "　" * n.level.depth + n.name) for n in svc.nodes_for(current_user)])
    if station is not None and request.method == "GET":
        form.kind.data, form.checkin_mode.data = station.kind.value, station.checkin_mode.value
    return form


def _station_data(form: StationEditForm) -> svc.StationData:
    return svc.StationData(
        name=form.name.data, kind=form.kind.data, org_node_id=form.org_node_id.data,
        address=form.address.data, checkin_mode=form.checkin_mode.data,
        opening_hours=form.opening_hours.data, active=form.active.data,
    )


def _edit_page(form: StationEditForm, station: Station | None, error: str | None = None):
    if error:
        with_error(form.name, error)
    status = 422 if request.method == "POST" else 200
    return render_template("stations/edit.html", form=form, station=station), status


@bp.route("/new", methods=["GET", "POST"])
@org_admin
def create():
    """An org admin opens a station at or below their node."""
    form = _station_form(None)
    if not form.validate_on_submit():
        return _edit_page(form, None)
    return run_step(lambda: svc.create_station(_station_data(form)), lambda e: _edit_page(form, None, e),
                    _to_detail, _("驿站已创建。"))


@bp.route("/<int:station_id>/edit", methods=["GET", "POST"])
@station_roles
def edit(station_id: int):
    """Change a station's name, node, check-in mode, opening hours."""
    station = station_or_404(station_id, manage=True)
    form = _station_form(station)
    if not form.validate_on_submit():
        return _edit_page(form, station)
    return run_step(lambda: svc.update_station(station, _station_data(form)),
                    lambda e: _edit_page(form, station, e), _to_detail, _("驿站信息已保存。"))


# A station and its admins ------------------------------------------------------------------------


def _detail(station: Station, admin_form: StationAdminAddForm, status: int = 200, error: str | None = None):
    if error:
        with_error(admin_form.phone, error)
    return render_template(
        "stations/detail.html",
        station=station,
        admins=svc.station_admins(station),
        admin_form=admin_form,
        can_manage=policy.can_manage_station(current_user, station),
        events=checkin.todays_events(station.id),
    ), status


@bp.route("/<int:station_id>/")
@station_roles
def detail(station_id: int):
    """A station's page: what it is, who runs it, and the way to its kiosk, poster, ledger."""
    return _detail(station_or_404(station_id), StationAdminAddForm())


@bp.post("/<int:station_id>/admins")
@station_roles
def add_admin(station_id: int):
    """Make an existing account (found by phone) an admin of the station."""
    station = station_or_404(station_id, manage=True)
    form = StationAdminAddForm()
    if not form.validate_on_submit():
        return _detail(station, form, 422)
    return run_step(
        lambda: svc.add_station_admin(station, form.phone.data, current_user, client_address()),
        lambda e: _detail(station, form, 422, e),
        _to_detail(station), lambda user: _("已添加驿站管理员：%(name)s", name=user.name),
    )


@bp.post("/<int:station_id>/admins/<int:user_id>/remove")
@station_roles
def remove_admin(station_id: int, user_id: int):
    """Take the station-admin role away; the person's sessions end."""
    station = station_or_404(station_id, manage=True)
    assignment = svc.admin_assignment(station, user_id)
    if assignment is None:
        abort(404)
    return run_step(lambda: svc.remove_station_admin(assignment, current_user, client_address()),
                    lambda e: _detail(station, StationAdminAddForm(), 422, e),
                    _to_detail(station), _("已取消其驿站管理员身份。"))


# The other views of the blueprint register themselves on import.
from app.stations import checkins, codes, events  # noqa: E402,F401
