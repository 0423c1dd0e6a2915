"""Structure pages for admins: the org tree and the 1+10+15 lists within their scope."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.authz import admin_required, scope_roots

bp = Blueprint("structure", __name__, url_prefix="/structure")


@bp.route("/")
@admin_required
def index():
    """The admin's part of the org tree."""
    return render_template("structure/index.html", roots=scope_roots(current_user))
