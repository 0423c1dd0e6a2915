"""Stations for their admins: management, the kiosk, the poster, manual check-in, events, ledgers.

One blueprint, ``stations``, whose views live in the modules of this package by what they do:
``views`` (the list, a station, its admins), ``codes`` (kiosk and poster QR codes), ``events``,
``checkins`` (manual check-in and the ledger). Org admins manage the stations at or below their
node (create, edit, assign station admins); station admins run their own stations. A station
outside the user's reach is 404; one a station admin may run but not manage is 403.
"""

from __future__ import annotations

from flask import Blueprint, abort
from wtforms import Field

from app.authz import roles_required
from app.models import Role, Station, StationEvent
from app.services import stations as svc
from app.services.privacy import mask_name

bp = Blueprint("stations", __name__, url_prefix="/stations")

station_roles = roles_required(Role.STATION_ADMIN, Role.ORG_ADMIN)
org_admin = roles_required(Role.ORG_ADMIN)
PER_PAGE = 50

# The kiosk is a public screen: names on it are masked (张*明); admins' own pages show them whole.
bp.add_app_template_filter(mask_name, "mask_name")


def event_or_404(station: Station, event_id: int) -> StationEvent:
    """The station's event ``event_id``; 404 for an unknown one or another station's."""
    event = svc.event_at(station, event_id)
    if event is None:
        abort(404)
    return event



def with_error(field: Field, message: str) -> None:
    """Show a refusal from a service under the form field it concerns."""
    field.errors = [*field.errors, message]

