"""Contact cards, the QR images of cards and plaques, reissuing a card's code."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.authz import roles_required
from app.extensions import db
from app.models import (
    CentralHousehold,
    ResidentHousehold,
    Role,
)
from app.needs import bp
from app.policy import node_in_scope
from app.services import entry_tokens, qr

CARDS_PER_SHEET = 8


# --- Contact cards and QR codes --------------------------------------------------------------


def _qr_data_uri(url: str) -> str:
    svg = qr.svg(url, ec="Q", border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@bp.route("/needs/cards")
@roles_required(Role.MEMBER)
def cards():
    """Contact cards for all my households, 8 to an A4 sheet: my name, masked phone, central
    household, the QR (level Q: paper gets dirty) and how to use it."""
    member = current_user.member
    households = db.session.scalars(
        sa.select(ResidentHousehold).where(ResidentHousehold.covering_member_id == member.id)
        .order_by(ResidentHousehold.building, ResidentHousehold.unit, ResidentHousehold.room)
    ).all()
    tokens = entry_tokens.current_card_tokens(households)
    items = [
        {"household": h, "qr": _qr_data_uri(entry_tokens.entry_url(tokens[h.id]))} for h in households
    ]
    if db.session.new:  # tokens created on first print are kept (only then: a commit expires
        db.session.commit()  # every household and the template would load each one again)
    sheets = [items[i:i + CARDS_PER_SHEET] for i in range(0, len(items), CARDS_PER_SHEET)]
    return render_template("needs/cards.html", sheets=sheets, member=member,
                           central=member.central_household)


def _card_household_or_404(household_id: int) -> ResidentHousehold:
    household = db.session.get(ResidentHousehold, household_id)
    if household is None:
        abort(404)
    member = current_user.member
    if member is not None and household.covering_member_id == member.id:
        return household
    if node_in_scope(current_user, household.grid):
        return household
    abort(404)


def _plaque_or_404(central_id: int) -> CentralHousehold:
    central = db.session.get(CentralHousehold, central_id)
    if central is None:
        abort(404)
    member = current_user.member
    if member is not None and central.head_member_id == member.id:
        return central
    if node_in_scope(current_user, central.grid):
        return central
    abort(404)


def _qr_response(url: str, fmt: str, ec: str) -> Response:
    if fmt == "svg":
        response = make_response(qr.svg(url, ec=ec))
        response.mimetype = "image/svg+xml"
    elif fmt == "png":
        response = make_response(qr.png(url, ec=ec, box_size=12))
        response.mimetype = "image/png"
    else:
        abort(404)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/needs/qr/card/<int:household_id>.<fmt>")
@login_required
def card_qr(household_id: int, fmt: str):
    """The QR of a household's contact card (its covering member and admins in scope)."""
    household = _card_household_or_404(household_id)
    url = entry_tokens.entry_url(entry_tokens.current_token(household))
    db.session.commit()
    return _qr_response(url, fmt, "Q")


@bp.route("/needs/qr/plaque/<int:central_id>.<fmt>")
@login_required
def plaque_qr(central_id: int, fmt: str):
    """The QR of a central household's door plaque (its head and admins in scope); level H, since
    a plaque hangs outdoors for years."""
    central = _plaque_or_404(central_id)
    url = entry_tokens.entry_url(entry_tokens.current_token(central))
    db.session.commit()
    return _qr_response(url, fmt, "H")


@bp.post("/needs/qr/card/<int:household_id>/reissue")
@login_required
def card_reissue(household_id: int):
    """Revoke a lost or misused card's code and issue a new one."""
    household = _card_household_or_404(household_id)
    entry_tokens.reissue(household)
    db.session.commit()
    flash(_("已作废旧联系卡二维码，请重新打印该户的联系卡。"), "success")
    return redirect(url_for("needs.cards"), 303)
