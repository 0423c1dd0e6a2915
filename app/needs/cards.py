"""Contact cards, the QR images of cards and plaques, reissuing a card's code."""

from __future__ import annotations

import base64

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.authz import get_or_404, roles_required
from app.models import CentralHousehold, EntryToken, ResidentHousehold, Role
from app.needs import bp
from app.responses import qr_response
from app.services import entry_tokens, qr
from app.steps import flash_back, run_step, write_now

CARDS_PER_SHEET = 8


def _qr_data_uri(url: str) -> str:
    """The QR inline in the printed page (level Q, a small quiet zone to fit the card)."""
    svg = qr.svg(url, ec="Q", border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _code_of(household: ResidentHousehold | CentralHousehold) -> EntryToken:
    """The household's live code; the first one is issued (and kept) on first use."""
    return entry_tokens.live_token(household) or write_now(lambda: entry_tokens.current_token(household))


@bp.route("/needs/cards")
@roles_required(Role.MEMBER)
def cards():
    """Contact cards for all my households, 8 to an A4 sheet: my name, masked phone, central
    household, the QR (level Q: paper gets dirty) and how to use it."""
    member = current_user.member
    printed = entry_tokens.member_cards(member.id)
    if any(token is None for _h, token in printed):  # the first print issues the codes, and keeps them
        write_now(lambda: entry_tokens.issue_cards(member.id))
        printed = entry_tokens.member_cards(member.id)
    urls = [(h, entry_tokens.entry_url(t)) for h, t in printed]
    items = [{"household": h, "qr": _qr_data_uri(url), "url": url} for h, url in urls]
    sheets = [items[i:i + CARDS_PER_SHEET] for i in range(0, len(items), CARDS_PER_SHEET)]
    return render_template("needs/cards.html", sheets=sheets, member=member,
                           central=member.central_household)


@bp.route("/needs/qr/card/<int:household_id>.<fmt>")
@login_required
def card_qr(household_id: int, fmt: str):
    """The QR of a household's contact card (its covering member and admins in scope)."""
    household = get_or_404(ResidentHousehold, household_id, policy.can_print_card)
    url = entry_tokens.entry_url(_code_of(household))
    return qr_response(url, fmt, "Q")


@bp.route("/needs/qr/plaque/<int:central_id>.<fmt>")
@login_required
def plaque_qr(central_id: int, fmt: str):
    """The QR of a central household's door plaque (its head and admins in scope); level H, since
    a plaque hangs outdoors for years."""
    central = get_or_404(CentralHousehold, central_id, policy.can_print_plaque)
    url = entry_tokens.entry_url(_code_of(central))
    return qr_response(url, fmt, "H")


@bp.post("/needs/qr/card/<int:household_id>/reissue")
@login_required
def card_reissue(household_id: int):
    """Revoke a lost or misused card's code and issue a new one."""
    household = get_or_404(ResidentHousehold, household_id, policy.can_print_card)
    return run_step(lambda: entry_tokens.reissue(household), flash_back(url_for("needs.cards")),
                    url_for("needs.cards"), _("已作废旧联系卡二维码，请重新打印该户的联系卡。"))
