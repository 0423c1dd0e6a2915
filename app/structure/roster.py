"""The roster import: download a template, upload a file (every row checked, a clean file
previewed), confirm (checked again, written all or nothing)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.authz import admin_required
from app.extensions import client_address
from app.responses import xlsx_response
from app.services import importer
from app.services.errors import Refused
from app.steps import run_step
from app.structure import bp
from app.structure.forms import RosterConfirmForm, RosterUploadForm

# Multipart framing around the file: a body this much past the limit may still hold a file within it.
_MULTIPART_SLACK = 64 * 1024


def _imports_dir() -> str:
    """Where previewed rosters wait for their confirmation."""
    return str(Path(current_app.instance_path) / "imports")


def _import_page(form: RosterUploadForm | None = None, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    return render_template("structure/import.html", form=form or RosterUploadForm(formdata=None),
                           specs=importer.SPECS, **extra), status


def _imported(counts: dict[str, int]) -> str:
    """After a roster is saved: say what was saved, drop the stored preview, back to the import."""
    importer.discard_records(_imports_dir(), request.form.get("token", ""))
    flash(_("导入成功：党员 %(m)d 名，中心户 %(h)d 户，群众户 %(r)d 户。", m=counts["members"],
            h=counts["households"], r=counts["residents"]), "success")
    return url_for("structure.import_roster")


@bp.route("/import", methods=["GET", "POST"])
@admin_required
def import_roster():
    """Upload a roster; every row is checked; errors are listed, a clean file is previewed."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    # Refuse an oversized body before reading it.
    if request.method == "POST" and (request.content_length or 0) > limit + _MULTIPART_SLACK:
        return _import_page(status=422, file_error=importer.too_big_message())
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _import_page(form, 422 if request.method == "POST" else 200)
    try:
        preview = importer.check_upload(current_user, form.kind.data,
                                        form.file.data.stream.read(limit + 1), _imports_dir())
    except importer.RosterRejected as e:
        return _import_page(form, 422, plan=e.plan)
    except Refused as e:
        return _import_page(form, 422, file_error=str(e))
    confirm = RosterConfirmForm(formdata=None, kind=form.kind.data, token=preview.token)
    return render_template("structure/import_preview.html", plan=preview.plan, confirm=confirm,
                           spec=importer.SPECS[form.kind.data], records=preview.records[:20],
                           total=len(preview.records), filename=form.file.data.filename)


@bp.post("/import/confirm")
@admin_required
def import_confirm():
    """Write a previewed roster: checked again (the database may have changed), all or nothing."""
    form = RosterConfirmForm()
    valid = form.validate_on_submit()
    step = importer.Confirmation(current_user, form.kind.data or "", form.token.data if valid else "",
                                 _imports_dir(), ip=client_address())
    return run_step(
        step,
        lambda error: _import_page(RosterUploadForm(formdata=None, kind=step.kind), 422, plan=step.plan)
        if step.plan else _import_page(status=422, file_error=error),
        _imported,
    )


@bp.route("/import/template/<kind>.xlsx")
@admin_required
def import_template(kind: str):
    """The template of a roster: Chinese headers and one example row."""
    if kind not in importer.SPECS:
        abort(404)
    return xlsx_response(importer.template_workbook(kind), f"{importer.SPECS[kind].label}模板.xlsx")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(e: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """A body past MAX_CONTENT_LENGTH (read before the view, e.g. by the CSRF check): on the import
    page, say so there in Chinese rather than with a bare 413."""
    if (request.endpoint == "structure.import_roster" and current_user.is_authenticated
            and current_user.admin_nodes):
        return _import_page(status=422, file_error=importer.too_big_message())
    return render_template("errors/error.html", code=413, title=_("文件太大"),
                           message=_("上传的文件太大。")), 413
