"""Structure pages for org admins: the org tree with its 1+10+15 standing, the lists of members,
central households, resident households and stations (active search, filters, ledger export),
detail pages, and the roster import. Everything is limited to the admin's node and below."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, fresh_login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app.authz import admin_required, node_or_404
from app.extensions import db
from app.htmx import is_partial, render
from app.models import (
    CentralHousehold,
    CheckinMode,
    HouseholdStatus,
    HouseholdType,
    Member,
    MemberCategory,
    OrgNode,
    ResidentHousehold,
    StationKind,
)
from app.policy import member_in_scope, node_in_scope, scope_roots
from app.services import importer
from app.services import structure as svc
from app.services.ledger import XLSX_MIMETYPE, build_workbook, today_label
from app.services.privacy import audit, mask_phone
from app.structure.forms import RosterConfirmForm, RosterUploadForm

bp = Blueprint("structure", __name__, url_prefix="/structure")

PER_PAGE = 50
MAX_EXPORT_ROWS = 50_000


def _ip() -> str:
    return request.remote_addr or ""


# --- The org tree -----------------------------------------------------------------------------


@bp.route("/")
@admin_required
def index():
    """The admin's part of the org tree: each root with its standing, children loaded on demand."""
    roots = scope_roots(current_user)
    return render_template(
        "structure/index.html",
        roots=roots,
        standings=svc.node_standings(roots),
        child_counts=svc.child_counts(roots),
    )


@bp.route("/nodes/<int:node_id>")
@admin_required
def node(node_id: int):
    """A node: its standing and its children's (the children alone for an htmx expand)."""
    node = node_or_404(node_id)
    children = svc.children_of(node)
    context = {
        "node": node,
        "children": children,
        "standings": svc.node_standings([node, *children]) if not is_partial()
        else svc.node_standings(children),
        "child_counts": svc.child_counts(children),
    }
    if not is_partial():
        ids = node.ancestor_ids[:-1]
        ancestors = db.session.scalars(sa.select(OrgNode).where(OrgNode.id.in_(ids))).all()
        context["breadcrumb"] = sorted(
            (a for a in ancestors if node_in_scope(current_user, a)), key=lambda a: len(a.path)
        )
    return render("structure/node.html", "structure/_node_children.html", **context)


# --- Lists ------------------------------------------------------------------------------------


def _enum(cls: type, value: str | None):  # type: ignore[no-untyped-def]
    try:
        return cls(value) if value else None
    except ValueError:
        return None


def _filters() -> svc.ListFilters:
    """The list filters from the query string; a node outside the admin's scope is a 404."""
    args = request.args
    f = svc.ListFilters(q=args.get("q", "").strip()[:64], below=args.get("below") == "1")
    node_id = args.get("node", type=int)
    if node_id:
        f.node = node_or_404(node_id)
    f.category = _enum(MemberCategory, args.get("category"))
    f.status = _enum(HouseholdStatus, args.get("status"))
    f.kind = _enum(StationKind, args.get("kind"))
    f.type_id = args.get("type", type=int)
    f.model = args.get("model") == "1"
    member_id = args.get("member", type=int)
    if member_id:
        f.member_id = _member_or_404(member_id).id
    return f


def _args() -> dict[str, str]:
    """The non-empty filter arguments, for the pager and export links."""
    return {k: v for k, v in request.args.items() if v and k != "page"}


@dataclass(frozen=True)
class ListKind:
    title: object
    query: Callable
    extras: Callable[[Sequence], dict]
    headers: tuple[str, ...]  # ledger headers: Chinese, as the office files them
    row: Callable[[object, dict], list]


def _member_row(m: Member, x: dict) -> list:
    hh = x["households"].get(m.central_household_id)
    return [m.name, mask_phone(m.phone), m.grid.name, m.category.label,
            hh[0] if hh else "", x["covered"][m.id], m.status.label]


def _household_row(h: CentralHousehold, x: dict) -> list:
    return [h.number or "", h.name, h.grid.name, h.address, x["linked"][h.id], h.status.label,
            h.type.name if h.type else "", "是" if h.is_model else "否",
            h.mentor.name if h.mentor else ""]


def _resident_row(r: ResidentHousehold, x: dict) -> list:
    m = r.covering_member
    return [r.grid.name, r.address, r.head_name, mask_phone(r.phone),
            m.name if m else "未落实", "、".join(r.tags)]


def _station_row(s, x: dict) -> list:  # type: ignore[no-untyped-def]
    return [s.name, s.kind.label, s.org_node.name, s.checkin_mode.label,
            "、".join(x["admins"][s.id]), s.address, s.opening_hours]


LISTS: dict[str, ListKind] = {
    "members": ListKind(
        _l("党员"), svc.members_query,
        lambda items: {"covered": svc.covered_counts([m.id for m in items]),
                       "households": svc.household_labels([m.central_household_id for m in items])},
        ("姓名", "手机号", "网格", "党员类别", "所属中心户", "联系群众户数", "状态"), _member_row),
    "households": ListKind(
        _l("中心户"), svc.households_query,
        lambda items: {"linked": svc.linked_counts([h.id for h in items])},
        ("编号", "户长", "网格", "地址", "联系党员数", "状态", "类型", "示范", "帮带书记"),
        _household_row),
    "residents": ListKind(
        _l("群众户"), svc.residents_query, lambda items: {},
        ("网格", "地址", "户主", "联系电话", "联系党员", "关爱标签"), _resident_row),
    "stations": ListKind(
        _l("驿站"), svc.stations_query,
        lambda items: {"admins": svc.station_admin_names([s.id for s in items])},
        ("名称", "类型", "所属组织", "签到方式", "管理员", "地址", "开放时间"), _station_row),
}


def _options(kind: str) -> dict:
    """Choices for the filters above a list."""
    opts: dict = {"nodes": svc.grids_in_scope(current_user)}
    if kind == "members":
        opts["categories"] = MemberCategory.choices()
    elif kind == "households":
        opts["statuses"] = HouseholdStatus.choices()
        opts["types"] = db.session.scalars(sa.select(HouseholdType).order_by(HouseholdType.id)).all()
    elif kind == "stations":
        opts["kinds"] = StationKind.choices()
        opts["modes"] = CheckinMode
    return opts


def _list(kind: str):  # type: ignore[no-untyped-def]
    spec = LISTS[kind]
    f = _filters()
    page = db.paginate(spec.query(current_user, f), per_page=PER_PAGE, max_per_page=PER_PAGE,
                       error_out=False)
    context = {"kind": kind, "title": spec.title, "pagination": page, "filters": f, "args": _args(),
               **spec.extras(page.items)}
    if not is_partial():
        context.update(_options(kind))
    return render(f"structure/{kind}.html", f"structure/_{kind}_table.html", **context)


def _export(kind: str):  # type: ignore[no-untyped-def]
    spec = LISTS[kind]
    f = _filters()
    items = db.session.scalars(spec.query(current_user, f).limit(MAX_EXPORT_ROWS)).all()
    extras: dict = {}
    for start in range(0, len(items), 5000):  # keep IN lists of a sane length
        for key, part in spec.extras(items[start : start + 5000]).items():
            extras.setdefault(key, {}).update(part)
    node_name = f.node.name if f.node else "、".join(n.name for n in scope_roots(current_user))
    title = f"{spec.title}台账"
    data = build_workbook(title, node_name, f"截至 {today_label()}", spec.headers,
                          (spec.row(i, extras) for i in items))
    audit(current_user.id, "export", kind, None, detail=f"{len(items)} rows; {_args()}", ip=_ip())
    db.session.commit()
    return send_file(BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"{title}-{today_label()}.xlsx")


@bp.route("/members")
@admin_required
def members():
    """Party members in scope: search by name or phone, filter by grid, category, below 15."""
    return _list("members")


@bp.route("/members.xlsx")
@admin_required
def members_export():
    """The filtered member list as a ledger (.xlsx)."""
    return _export("members")


@bp.route("/households")
@admin_required
def households():
    """Central households in scope: search by head, number or address; below 10 highlighted."""
    return _list("households")


@bp.route("/households.xlsx")
@admin_required
def households_export():
    """The filtered central-household list as a ledger (.xlsx)."""
    return _export("households")


@bp.route("/residents")
@admin_required
def residents():
    """Resident households in scope: search by address or head; uncovered ones flagged."""
    return _list("residents")


@bp.route("/residents.xlsx")
@admin_required
def residents_export():
    """The filtered resident-household list as a ledger (.xlsx)."""
    return _export("residents")


@bp.route("/stations")
@admin_required
def stations():
    """Stations in scope with their kind, node, check-in mode and administrators."""
    return _list("stations")


@bp.route("/stations.xlsx")
@admin_required
def stations_export():
    """The filtered station list as a ledger (.xlsx)."""
    return _export("stations")


# --- Detail pages -----------------------------------------------------------------------------


def _member_or_404(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or not member_in_scope(current_user, member):
        abort(404)
    return member


def _household_or_404(household_id: int) -> CentralHousehold:
    household = db.session.get(CentralHousehold, household_id)
    if household is None or not node_in_scope(current_user, household.grid):
        abort(404)
    return household


def _resident_or_404(resident_id: int) -> ResidentHousehold:
    resident = db.session.get(ResidentHousehold, resident_id)
    if resident is None or not node_in_scope(current_user, resident.grid):
        abort(404)
    return resident


def _member_page(member: Member, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    return render_template(
        "structure/member.html", member=member, residents=svc.covered_residents(member),
        household=member.central_household, **extra,
    ), status


@bp.route("/members/<int:member_id>")
@admin_required
def member(member_id: int):
    """A member: the households they cover and the central household they belong to."""
    return _member_page(_member_or_404(member_id))


@bp.post("/members/<int:member_id>/phone")
@admin_required
def member_phone(member_id: int):
    """Show a member's full phone number to an admin in scope; the reveal is audited."""
    member = _member_or_404(member_id)
    audit(current_user.id, "phone.reveal", "member", member.id, ip=_ip())
    db.session.commit()
    if is_partial():
        return render_template("structure/_phone.html", phone=member.phone, revealed=True,
                               phone_id=f"phone-member-{member.id}", reveal_url=request.path)
    return _member_page(member, revealed=True)


@bp.post("/members/<int:member_id>/password")
@admin_required
@fresh_login_required
def member_password(member_id: int):
    """设置初始密码: a random password shown once; the member's sessions end; audited."""
    member = _member_or_404(member_id)
    try:
        password = svc.set_initial_password(member.user)
    except svc.StructureError as e:
        db.session.rollback()
        if is_partial():
            return render_template("structure/_password.html", member=member, error=str(e)), 422
        return _member_page(member, 422, password_error=str(e))
    audit(current_user.id, "password.initial", "user", member.user_id,
          detail=f"member {member.id}", ip=_ip())
    db.session.commit()
    if is_partial():
        return render_template("structure/_password.html", member=member, new_password=password)
    return _member_page(member, new_password=password)


@bp.route("/households/<int:household_id>")
@admin_required
def household(household_id: int):
    """A central household: head, linked members with their counts, duties and standing."""
    household = _household_or_404(household_id)
    linked = svc.linked_members(household)
    linked_count = sum(1 for m, _n in linked if m.id != household.head_member_id and m.is_active)
    return render_template("structure/household.html", household=household, linked=linked,
                           linked_count=linked_count)


def _resident_page(resident: ResidentHousehold, **extra: object):  # type: ignore[no-untyped-def]
    candidates = [] if resident.covering_member_id else svc.covering_candidates(resident.grid_id)
    return render_template("structure/resident.html", resident=resident, candidates=candidates,
                           **extra)


@bp.route("/residents/<int:resident_id>")
@admin_required
def resident(resident_id: int):
    """A resident household: address, head, covering member, care tags; suggestions if uncovered."""
    return _resident_page(_resident_or_404(resident_id))


@bp.post("/residents/<int:resident_id>/phone")
@admin_required
def resident_phone(resident_id: int):
    """Show a resident household's full phone number to an admin in scope; audited."""
    resident = _resident_or_404(resident_id)
    audit(current_user.id, "phone.reveal", "resident_household", resident.id, ip=_ip())
    db.session.commit()
    if is_partial():
        return render_template("structure/_phone.html", phone=resident.phone, revealed=True,
                               phone_id=f"phone-resident-{resident.id}", reveal_url=request.path)
    return _resident_page(resident, revealed=True)


# --- Roster import ----------------------------------------------------------------------------


def _imports_dir() -> str:
    return str(Path(current_app.instance_path) / "imports")


def _too_big_message() -> str:
    limit = current_app.config["IMPORT_MAX_BYTES"] / (1024 * 1024)
    return _("文件太大：名册文件不能超过 %(mb)g MB。请删去多余的工作表或分成几个文件导入。", mb=limit)


def _import_page(form: RosterUploadForm, status: int = 200, **extra: object):  # type: ignore[no-untyped-def]
    return render_template("structure/import.html", form=form, specs=importer.SPECS,
                           **extra), status


@bp.route("/import", methods=["GET", "POST"])
@admin_required
def import_roster():
    """Upload a roster; every row is checked; errors are listed, a clean file is previewed."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    # Refuse an oversized body before reading it (multipart adds a little; allow for that).
    if request.method == "POST" and (request.content_length or 0) > limit + 64 * 1024:
        return _import_page(RosterUploadForm(formdata=None), 422, file_error=_too_big_message())
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _import_page(form, 422 if request.method == "POST" else 200)
    data = form.file.data.stream.read(limit + 1)
    if len(data) > limit:
        return _import_page(form, 422, file_error=_too_big_message())
    kind = form.kind.data
    try:
        records = importer.parse(kind, data)
    except importer.ImportFileError as e:
        return _import_page(form, 422, file_error=str(e))
    plan = importer.validate(kind, records, current_user)
    db.session.rollback()  # validation only reads
    if not plan.ok:
        return _import_page(form, 422, plan=plan)
    token = importer.store_records(_imports_dir(), current_user.id, kind, records)
    confirm = RosterConfirmForm(formdata=None, kind=kind, token=token)
    return render_template("structure/import_preview.html", plan=plan, spec=importer.SPECS[kind],
                           records=records[:20], total=len(records), confirm=confirm,
                           filename=form.file.data.filename)


@bp.post("/import/confirm")
@admin_required
def import_confirm():
    """Write a previewed roster: checked again (the database may have changed), all or nothing."""
    confirm = RosterConfirmForm()
    records = None
    if confirm.validate_on_submit() and confirm.kind.data in importer.SPECS:
        records = importer.load_records(_imports_dir(), confirm.token.data, current_user.id,
                                        confirm.kind.data)
    if records is None:
        return _import_page(RosterUploadForm(formdata=None), 422,
                            file_error=_("预览已过期或无效，请重新上传文件。"))
    kind = confirm.kind.data
    plan = importer.validate(kind, records, current_user)
    if not plan.ok:
        db.session.rollback()
        return _import_page(RosterUploadForm(formdata=None, kind=kind), 422, plan=plan)
    counts = importer.commit(plan, current_user)
    audit(current_user.id, "import", kind, None, detail=str(counts), ip=_ip())
    db.session.commit()
    importer.discard_records(_imports_dir(), confirm.token.data)
    flash(_("导入成功：党员 %(m)d 名，中心户 %(h)d 户，群众户 %(r)d 户。", m=counts["members"],
            h=counts["households"], r=counts["residents"]), "success")
    return redirect(url_for("structure.import_roster"), 303)


@bp.route("/import/template/<kind>.xlsx")
@admin_required
def import_template(kind: str):
    """The template of a roster: Chinese headers and one example row."""
    if kind not in importer.SPECS:
        abort(404)
    return send_file(BytesIO(importer.template_workbook(kind)), mimetype=XLSX_MIMETYPE,
                     as_attachment=True, download_name=f"{importer.SPECS[kind].label}模板.xlsx")


@bp.errorhandler(RequestEntityTooLarge)
def too_large(e: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """A body past MAX_CONTENT_LENGTH (read before the view, e.g. by the CSRF check): on the import
    page, say so there in Chinese rather than with a bare 413."""
    if (request.endpoint == "structure.import_roster" and current_user.is_authenticated
            and current_user.admin_nodes):
        return _import_page(RosterUploadForm(formdata=None), 422, file_error=_too_big_message())
    return render_template("errors/error.html", code=413, title=_("文件太大"),
                           message=_("上传的文件太大。")), 413
