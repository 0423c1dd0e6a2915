"""The audit log for the district admin: who revealed, exported or changed what, failed logins.

One blueprint, ``audit``; its views live in ``views.py``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")
