"""The audit log: search (active, like the structure lists) and its .xlsx export, both for the
district admin only (``policy.can_read_audit_log``); other org admins get 403."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.audit import bp
from app.authz import admin_required, require
from app.extensions import client_address
from app.htmx import is_partial, render
from app.pages import paginate
from app.policy import can_read_audit_log
from app.responses import xlsx_response
from app.services import audit_log as svc
from app.steps import write_now

__all__ = ["bp"]


def _args() -> dict[str, str]:
    """The non-empty filter arguments, for the pager and export links."""
    return {k: v for k, v in request.args.items() if v and k != "page"}


@bp.route("/")
@admin_required
def index():
    """A page of the log, newest first (the table alone for an htmx search or page turn): by who
    (name or full phone), action, object type and Shanghai days."""
    require(can_read_audit_log(current_user))
    f = svc.AuditFilters.from_args(request.args)
    page = paginate(svc.list_query(f))
    options = svc.filter_options() if not is_partial() else {}
    return render("audit/index.html", "audit/_table.html", pagination=page, filters=f, args=_args(),
                  users=svc.users_of(page.items), label=svc.action_label, object_label=svc.object_label,
                  **options)


@bp.route("/export.xlsx")
@admin_required
def export():
    """The same search as an .xlsx ledger; the export is itself audited (``audit.export``)."""
    require(can_read_audit_log(current_user))
    f = svc.AuditFilters.from_args(request.args)
    data, filename = write_now(lambda: svc.export_ledger(current_user, f, ip=client_address()))
    return xlsx_response(data, filename)
