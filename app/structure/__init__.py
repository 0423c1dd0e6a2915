"""Structure pages for org admins: the org tree with its 1+10+15 standing, the lists of members,
central households, resident households and stations, their detail pages, and the roster import.
Everything is limited to the admin's node and below.

One blueprint, ``structure``; its views live in ``views.py`` (tree and lists), ``details.py``
(detail pages, phone reveal, initial password) and ``roster.py`` (the roster import).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("structure", __name__, url_prefix="/structure")


