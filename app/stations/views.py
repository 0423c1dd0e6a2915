"""Stations for their admins: management, the kiosk, the poster, manual check-in, events, ledgers.

Org admins manage the stations at or below their node (create, edit, assign station admins);
station admins run their own stations (kiosk, poster, events, manual check-in, ledger). A station
outside the user's reach is 404; one a station admin may run but not manage is 403.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.authz import roles_required, station_or_404
from app.clock import TZ, local_naive
from app.database import writing
from app.extensions import db
from app.htmx import is_partial
from app.models import (
    Checkin,
    CheckinMethod,
    OrgNode,
    PosterToken,
    Role,
    RoleAssignment,
    Station,
    StationEvent,
    StationEventKind,
    StationKind,
    User,
    utcnow,
)
from app.phones import normalize_phone
from app.policy import node_in_scope, scope_condition
from app.services import checkin as svc
from app.services import checkin_tokens as tokens
from app.services import ledger, qr
from app.services.entry_tokens import public_url
from app.services.privacy import audit, mask_name
from app.stations.forms import (
    EventEditForm,
    LedgerFilterForm,
    ManualCheckinForm,
    StationAdminAddForm,
    StationEditForm,
    options,
)

bp = Blueprint("stations", __name__, url_prefix="/stations")

station_roles = roles_required(Role.STATION_ADMIN, Role.ORG_ADMIN)
org_admin = roles_required(Role.ORG_ADMIN)
PER_PAGE = 50
PRINT_LEVELS = ("Q", "H")

# The kiosk is a public screen: names on it are masked (张*明); admins' own pages show them whole.
bp.add_app_template_filter(mask_name, "mask_name")


def _manageable_or_404(station_id: int) -> Station:
    """A station the current org admin manages; a station admin of it may look but not change."""
    station = station_or_404(station_id)
    if not node_in_scope(current_user, station.org_node):
        abort(403)
    return station


def _node_choices() -> list[SelectChoice]:
    nodes = db.session.scalars(
        sa.select(OrgNode).where(scope_condition(current_user)).order_by(OrgNode.path)
    )
    return options([(n.id, "　" * n.level.depth + n.name) for n in nodes])


def _write_now() -> None:
    """End the request's read transaction so that the next one takes SQLite's write lock at once
    (a GET that writes — a scan, a first poster token — is not covered by the POST rule)."""
    db.session.commit()


def kiosk_url(station_id: int) -> str:
    return public_url(tokens.KIOSK_PATH + tokens.kiosk_token(station_id))


def poster_url(token: PosterToken) -> str:
    return public_url(tokens.POSTER_PATH + token.token)


def inline_svg(data: str, ec: str) -> str:
    """An SVG for embedding in HTML (no XML declaration); CSS gives it its size."""
    return qr.svg(data, ec).split("?>", 1)[-1].strip()


# List, create, edit ------------------------------------------------------------------------------


@bp.route("/")
@station_roles
def index():
    """The stations the user runs or manages, with today's check-in count."""
    own = [s.id for s in current_user.admin_stations]
    stmt = (
        sa.select(Station)
        .join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(sa.or_(scope_condition(current_user), Station.id.in_(own)))
        .order_by(OrgNode.path, Station.name)
    )
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    ids = [s.id for s in page.items]
    today = svc.local_day(utcnow())
    counts = dict(
        db.session.execute(
            sa.select(Checkin.station_id, sa.func.count(Checkin.id))
            .where(Checkin.station_id.in_(ids), Checkin.day == today)
            .group_by(Checkin.station_id)
        ).all()
    ) if ids else {}
    can_create = Role.ORG_ADMIN in current_user.role_set
    return render_template("stations/index.html", page=page, counts=counts, can_create=can_create)


@bp.route("/new", methods=["GET", "POST"])
@org_admin
def create():
    """An org admin opens a station at or below their node."""
    form = StationEditForm()
    form.org_node_id.choices = _node_choices()
    if form.validate_on_submit():
        station = Station(
            name=form.name.data.strip(),
            kind=StationKind(form.kind.data),
            org_node_id=form.org_node_id.data,
            address=(form.address.data or "").strip(),
            checkin_mode=form.checkin_mode.data,
            opening_hours=(form.opening_hours.data or "").strip(),
            active=form.active.data,
        )
        db.session.add(station)
        db.session.commit()
        flash(_("驿站已创建。"), "success")
        return redirect(url_for("stations.detail", station_id=station.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("stations/edit.html", form=form, station=None), status


@bp.route("/<int:station_id>/edit", methods=["GET", "POST"])
@station_roles
def edit(station_id: int):
    """Change a station's name, node, check-in mode, opening hours."""
    station = _manageable_or_404(station_id)
    form = StationEditForm(obj=station)
    form.org_node_id.choices = _node_choices()
    if request.method == "GET":
        form.kind.data = station.kind.value
        form.checkin_mode.data = station.checkin_mode.value
    if form.validate_on_submit():
        station.name = form.name.data.strip()
        station.kind = StationKind(form.kind.data)
        station.org_node_id = form.org_node_id.data
        station.address = (form.address.data or "").strip()
        station.checkin_mode = form.checkin_mode.data
        station.opening_hours = (form.opening_hours.data or "").strip()
        station.active = form.active.data
        db.session.commit()
        flash(_("驿站信息已保存。"), "success")
        return redirect(url_for("stations.detail", station_id=station.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("stations/edit.html", form=form, station=station), status


def _station_admins(station_id: int) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.role == Role.STATION_ADMIN, RoleAssignment.station_id == station_id)
            .order_by(User.name)
        )
    )


def _detail(station: Station, admin_form: StationAdminAddForm, status: int = 200):
    return render_template(
        "stations/detail.html",
        station=station,
        admins=_station_admins(station.id),
        admin_form=admin_form,
        can_manage=node_in_scope(current_user, station.org_node),
        events=svc.todays_events(station.id),
    ), status


@bp.route("/<int:station_id>/")
@station_roles
def detail(station_id: int):
    """A station's page: what it is, who runs it, and the way to its kiosk, poster, ledger."""
    return _detail(station_or_404(station_id), StationAdminAddForm())


@bp.post("/<int:station_id>/admins")
@station_roles
def add_admin(station_id: int):
    """Make an existing account (found by phone) an admin of the station."""
    station = _manageable_or_404(station_id)
    form = StationAdminAddForm()
    if not form.validate_on_submit():
        return _detail(station, form, 422)
    phone = normalize_phone(form.phone.data)
    user = db.session.scalar(sa.select(User).where(User.phone == phone)) if phone else None
    if phone is None:
        form.phone.errors.append(_("请输入11位手机号"))
    elif user is None:
        form.phone.errors.append(_("没有使用这个手机号的账号，请先为其开通账号"))
    elif any(r.role is Role.STATION_ADMIN and r.station_id == station.id for r in user.roles):
        form.phone.errors.append(_("此人已是本驿站管理员"))
    if form.phone.errors:
        return _detail(station, form, 422)
    db.session.add(RoleAssignment(user_id=user.id, role=Role.STATION_ADMIN, station_id=station.id))
    user.end_sessions()  # a changed role starts from a fresh login
    audit(current_user.id, "station.admin_add", "station", station.id, detail=f"user={user.id}",
          ip=request.remote_addr or "")
    db.session.commit()
    flash(_("已添加驿站管理员：%(name)s", name=user.name), "success")
    return redirect(url_for("stations.detail", station_id=station.id), 303)


@bp.post("/<int:station_id>/admins/<int:user_id>/remove")
@station_roles
def remove_admin(station_id: int, user_id: int):
    """Take the station-admin role away; the person's sessions end."""
    station = _manageable_or_404(station_id)
    assignment = db.session.scalar(
        sa.select(RoleAssignment).where(
            RoleAssignment.user_id == user_id,
            RoleAssignment.role == Role.STATION_ADMIN,
            RoleAssignment.station_id == station.id,
        )
    )
    if assignment is None:
        abort(404)
    assignment.user.end_sessions()
    db.session.delete(assignment)
    audit(current_user.id, "station.admin_remove", "station", station.id, detail=f"user={user_id}",
          ip=request.remote_addr or "")
    db.session.commit()
    flash(_("已取消其驿站管理员身份。"), "success")
    return redirect(url_for("stations.detail", station_id=station.id), 303)


# Kiosk -------------------------------------------------------------------------------------------


def _kiosk_context(station: Station) -> dict:
    now = utcnow()
    url = kiosk_url(station.id)
    return {
        "station": station,
        "qr_svg": inline_svg(url, "M"),
        "checkins": svc.todays_checkins(station.id, now),
        "events": svc.todays_events(station.id, now),
        "running": svc.running_event(station.id, now),
        "now": now,
    }


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:station_id>/kiosk")
@station_roles
def kiosk(station_id: int):
    """The station tablet's screen: name, rotating QR, clock, today's events, live check-ins."""
    station = station_or_404(station_id)
    return _no_store(make_response(render_template("stations/kiosk.html", **_kiosk_context(station))))


@bp.route("/<int:station_id>/kiosk/live")
def kiosk_live(station_id: int):
    """The kiosk's live part (QR, events, check-ins), polled every 5 s — one request per poll."""
    if not current_user.is_authenticated:
        # A signed-out kiosk must not swap the login page into its live region: reload instead.
        target = url_for("auth.login", next=url_for("stations.kiosk", station_id=station_id))
        if is_partial():
            return "", 204, {"HX-Redirect": target}
        return redirect(target)
    if not current_user.role_set & {Role.STATION_ADMIN, Role.ORG_ADMIN}:
        abort(403)
    station = station_or_404(station_id)
    return _no_store(make_response(render_template("stations/_kiosk_live.html", **_kiosk_context(station))))


@bp.route("/<int:station_id>/kiosk/qr.<fmt>")
@station_roles
def kiosk_qr(station_id: int, fmt: str):
    """The current kiosk code as an image (screen: level M). Changes every 30 s: never cached."""
    station = station_or_404(station_id)
    url = kiosk_url(station.id)
    return _no_store(_qr_response(url, "M", fmt))


def _qr_response(data: str, ec: str, fmt: str) -> Response:
    if fmt == "png":
        return make_response(qr.png(data, ec, box_size=10), 200, {"Content-Type": "image/png"})
    if fmt == "svg":
        return make_response(qr.svg(data, ec), 200, {"Content-Type": "image/svg+xml"})
    abort(404)


# Poster ------------------------------------------------------------------------------------------


def _live_poster_token(station: Station) -> PosterToken:
    found = db.session.scalar(
        sa.select(PosterToken).where(
            PosterToken.station_id == station.id, PosterToken.revoked_at.is_(None)
        )
    )
    if found is None:
        _write_now()
        with writing():
            found = tokens.poster_token(station)
            db.session.commit()
    return found


@bp.route("/<int:station_id>/poster")
@station_roles
def poster(station_id: int):
    """A printable A4 poster: the station's name, its long-lived QR and how to use it."""
    station = station_or_404(station_id)
    token = _live_poster_token(station)
    return render_template(
        "stations/poster.html", station=station, token=token, qr_svg=inline_svg(poster_url(token), "Q")
    )


@bp.route("/<int:station_id>/poster/qr-<ec>.<fmt>")
@station_roles
def poster_qr(station_id: int, ec: str, fmt: str):
    """The poster code for print (Q or H). The URL names the token version (?v=), so the image
    never changes under it: cached privately for a year, with an ETag for revalidation."""
    station = station_or_404(station_id)
    if ec not in PRINT_LEVELS or fmt not in ("png", "svg"):
        abort(404)
    token = _live_poster_token(station)
    if request.args.get("v") != str(token.id):
        return redirect(url_for("stations.poster_qr", station_id=station.id, ec=ec, fmt=fmt, v=token.id))
    etag = hashlib.sha256(f"{token.token}:{ec}:{fmt}".encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = _qr_response(poster_url(token), ec, fmt)
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@bp.post("/<int:station_id>/poster/regenerate")
@station_roles
def regenerate_poster(station_id: int):
    """Revoke the poster code (a poster that leaked) and issue a new one to print."""
    station = station_or_404(station_id)
    tokens.regenerate_poster_token(station)
    audit(current_user.id, "station.poster_regenerate", "station", station.id, ip=request.remote_addr or "")
    db.session.commit()
    flash(_("已生成新的海报二维码，旧海报已失效，请重新打印。"), "success")
    return redirect(url_for("stations.poster", station_id=station.id), 303)


# Manual check-in ---------------------------------------------------------------------------------


@bp.route("/<int:station_id>/manual", methods=["GET", "POST"])
@station_roles
def manual(station_id: int):
    """Check a member in by hand (a forgotten phone): search by name or phone, then confirm."""
    station = station_or_404(station_id)
    form = ManualCheckinForm()
    q = (request.values.get("q") or "").strip()
    results, error, status = [], None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            member = svc.member_in_station_scope(station, form.member_id.data)
            if member is None or not member.is_active:
                error, status = _("没有找到这名党员（只能为本驿站所属组织的在册党员补签）。"), 422
            else:
                try:
                    result = svc.check_in(member, station, CheckinMethod.MANUAL, recorded_by=current_user)
                except svc.CheckinError as e:
                    error, status = str(e), 422
                else:
                    db.session.commit()
                    if result.created:
                        flash(_("已为 %(name)s 补签。", name=member.name), "success")
                    else:
                        flash(_("%(name)s 今日已签到（%(time)s）。", name=member.name,
                                time=_hhmm(result.checkin.checked_in_at)), "info")
                    return redirect(url_for("stations.manual", station_id=station.id), 303)
        else:
            error, status = _("请选择要补签的党员。"), 422
    elif "q" in request.args:
        try:
            results = svc.search_members(station, q)
        except svc.CheckinError as e:
            error, status = str(e), 422
        else:
            if not results:
                error = _("没有找到匹配的党员。")
    return render_template(
        "stations/manual.html", station=station, form=form, q=q, results=results, error=error,
        checkins=svc.todays_checkins(station.id),
    ), status


def _hhmm(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%H:%M")


# Events ------------------------------------------------------------------------------------------


def _event_or_404(station: Station, event_id: int) -> StationEvent:
    event = db.session.get(StationEvent, event_id)
    if event is None or event.station_id != station.id:
        abort(404)
    return event


@bp.route("/<int:station_id>/events")
@station_roles
def events(station_id: int):
    """The station's events, newest first, with the number who attended each."""
    station = station_or_404(station_id)
    stmt = (
        sa.select(StationEvent)
        .where(StationEvent.station_id == station.id)
        .order_by(StationEvent.starts_at.desc())
    )
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    counts = svc.attendance_counts([e.id for e in page.items])
    return render_template("stations/events.html", station=station, page=page, counts=counts)


def _save_event(station: Station, event: StationEvent | None):
    form = EventEditForm(obj=None)
    if request.method == "GET" and event is not None:
        form.title.data, form.kind.data = event.title, event.kind.value
        form.starts_at.data, form.ends_at.data = local_naive(event.starts_at), local_naive(event.ends_at)
    if form.validate_on_submit():
        try:
            event = svc.save_event(
                station, form.title.data, StationEventKind(form.kind.data),
                form.starts_at.data.replace(tzinfo=TZ), form.ends_at.data.replace(tzinfo=TZ),
                by=current_user, event=event,
            )
        except svc.CheckinError as e:
            form.ends_at.errors.append(str(e))
        else:
            db.session.commit()
            flash(_("活动已保存。"), "success")
            return redirect(url_for("stations.event_detail", station_id=station.id, event_id=event.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("stations/event_edit.html", station=station, form=form, event=event), status


@bp.route("/<int:station_id>/events/new", methods=["GET", "POST"])
@station_roles
def event_new(station_id: int):
    """Schedule a theme Party day, a training session or another gathering at the station."""
    return _save_event(station_or_404(station_id), None)


@bp.route("/<int:station_id>/events/<int:event_id>/edit", methods=["GET", "POST"])
@station_roles
def event_edit(station_id: int, event_id: int):
    """Change an event's title, kind or times."""
    station = station_or_404(station_id)
    return _save_event(station, _event_or_404(station, event_id))


@bp.route("/<int:station_id>/events/<int:event_id>")
@station_roles
def event_detail(station_id: int, event_id: int):
    """An event and who attended it (checked in while it ran)."""
    station = station_or_404(station_id)
    event = _event_or_404(station, event_id)
    rows = list(
        db.session.scalars(
            sa.select(Checkin).where(Checkin.event_id == event.id).order_by(Checkin.checked_in_at)
        ).unique()
    )
    return render_template("stations/event_detail.html", station=station, event=event, rows=rows)


# Ledger ------------------------------------------------------------------------------------------


def _ledger_filter(station: Station) -> tuple[LedgerFilterForm, date, date, CheckinMethod | None, int | None]:
    form = LedgerFilterForm(request.args)
    today = svc.local_day(utcnow())
    recent = db.session.scalars(
        sa.select(StationEvent)
        .where(StationEvent.station_id == station.id)
        .order_by(StationEvent.starts_at.desc())
        .limit(100)
    ).all()
    form.event.choices = options([("", _("全部"))] + [
        (str(e.id), f"{local_naive(e.starts_at):%Y-%m-%d} {e.title}") for e in recent
    ])
    form.validate()
    start = form.start.data if not form.start.errors and form.start.data else today.replace(day=1)
    end = form.end.data if not form.end.errors and form.end.data else today
    if form.errors:
        start, end = today.replace(day=1), today
    if not form.start.data:
        form.start.data = start
    if not form.end.data:
        form.end.data = end
    method = CheckinMethod(form.method.data) if form.method.data and not form.method.errors else None
    event_id = int(form.event.data) if form.event.data and not form.event.errors else None
    return form, start, end, method, event_id


@bp.route("/<int:station_id>/ledger")
@station_roles
def ledger_view(station_id: int):
    """The station's check-ins over a period, by method and event; exportable to Excel."""
    station = station_or_404(station_id)
    form, start, end, method, event_id = _ledger_filter(station)
    page = db.paginate(svc.ledger_query(station.id, start, end, method, event_id),
                       per_page=PER_PAGE, error_out=False)
    status = 422 if form.errors else 200
    return render_template("stations/ledger.html", station=station, form=form, page=page,
                           start=start, end=end), status


@bp.route("/<int:station_id>/ledger.xlsx")
@station_roles
def ledger_export(station_id: int):
    """The ledger as .xlsx: Chinese headers, the station's name and the period; audited."""
    station = station_or_404(station_id)
    form, start, end, method, event_id = _ledger_filter(station)
    rows = db.session.scalars(svc.ledger_query(station.id, start, end, method, event_id)).unique()
    period = f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    content = ledger.build_workbook(
        title=f"{station.name} 签到台账",
        node_name=f"{station.org_node.name} · {station.name}",
        period=period,
        headers=["日期", "时间", "姓名", "网格", "签到方式", "活动", "补签人"],
        rows=(
            [
                c.day, _hhmm(c.checked_in_at), c.member.name, c.member.grid.name, str(c.method.label),
                c.event.title if c.event else "", c.recorded_by.name if c.recorded_by else "",
            ]
            for c in rows
        ),
    )
    _write_now()
    with writing():
        audit(current_user.id, "checkin.ledger_export", "station", station.id,
              detail=f"{start}..{end} method={method or ''} event={event_id or ''}",
              ip=request.remote_addr or "")
        db.session.commit()
    filename = f"checkins-{station.id}-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
    return Response(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )

