"""Residents' needs: one blueprint, its views in a module per audience.

``public`` (residents: forms, tracking, rating, registration), ``inbox`` (members: inbox, detail,
steps), ``dispatch`` (admins: queue, assign, hide, dashboard, SLA), ``cards`` (contact cards, QR),
``rights`` (residents' PIPL rights: download, erasure, what is kept).
"""

from flask import Blueprint

bp = Blueprint("needs", __name__)

# The modules register their routes on ``bp``; imported last because they import ``bp``.
from app.needs import cards, dispatch, inbox, public, rights  # noqa: E402, F401
