"""The points ledger's pages: 我的积分 for a member; for org admins the rankings (and their
.xlsx), each member's ledger with the 更正 step, and the rules per org node."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.authz import (
    admin_required,
    current_member,
    get_or_404,
    node_or_404,
    require,
    roles_required,
)
from app.clock import local_today, parse_month
from app.extensions import client_address
from app.htmx import render
from app.models import ActivityKind, Member, OrgNode, PointsEntry, Role
from app.pages import paginate
from app.points.forms import CorrectionForm, RuleInheritForm, RuleVersionForm
from app.responses import xlsx_response
from app.services.points import lists
from app.services.points import rules as rule_service
from app.steps import run_step, write_now

bp = Blueprint("points", __name__, url_prefix="/points")


@bp.app_template_filter("activity_kind_label")
def activity_kind_label(value: str) -> str:
    """An activity kind's name from its stored value (a verified activity's entry keeps it)."""
    try:
        return ActivityKind(value).label
    except ValueError:
        return value


# --- a member's own points ------------------------------------------------------------------


@bp.route("/me")
@roles_required(Role.MEMBER)
def mine():
    """我的积分: balance, this year and month, the rank in the member's grid, points by month,
    and one month's entries with the record behind each."""
    member = current_member()
    today = local_today()
    year, month = parse_month(request.args.get("month"), today)
    listing = paginate(lists.entries(member, year, month))
    return render("points/mine.html", "points/_entries.html", summary=lists.summary(member, today),
                  listing=listing, sources=lists.sources(listing.items, own=True), year=year,
                  month=month, open_ids=set(), list_endpoint="points.mine",
                  list_args={"month": f"{year}-{month:02d}"})


# --- rankings ----------------------------------------------------------------------------------


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _band() -> lists.Band | None:
    """A members' ranking's points band (``?min=``, ``?max=``: whole numbers; else no bound)."""
    return lists.Band.of(request.args.get("min", type=int), request.args.get("max", type=int))


def _chosen_node() -> tuple[list[lists.NodeChoice], OrgNode]:
    """The nodes the admin may choose from, and the node ``?node=`` chose (one in their scope,
    else 404; their first by default)."""
    nodes = lists.node_choices(policy.admin_paths(current_user))
    node_id = request.args.get("node", type=int)
    chosen = next((n for n in nodes if n.id == node_id or node_id is None), None)
    if chosen is None:
        abort(404)
    return nodes, node_or_404(chosen.id)


def _ranking_args() -> tuple[list[lists.NodeChoice], OrgNode, str, lists.Period]:
    """The ranking's node (:func:`_chosen_node`), what it ranks and the period, from the query
    string."""
    nodes, node = _chosen_node()
    group = request.args.get("by", "member")
    group = group if group in lists.groups_for(node) else "member"
    period = lists.period_of(request.args.get("period", ""), _day("from"), _day("to"), local_today())
    return nodes, node, group, period


@bp.route("/")
@admin_required
def ranking():
    """积分排名: members (or grids, communities, townships by points per member) under a node
    of the admin's scope, over a month, quarter, year or chosen days; paginated."""
    nodes, node, group, period = _ranking_args()
    band = _band() if group == "member" else None
    listing = paginate(lists.in_band(lists.ranking(node, group, period), node, period, band))
    args = {"node": node.id, "by": group, "period": period.value}
    if period.value == "c":
        args.update({"from": period.first.isoformat(), "to": period.last.isoformat()})
    if band:
        args.update({k: v for k, v in (("min", band.low), ("max", band.high)) if v is not None})
    return render("points/ranking.html", "points/_ranking_table.html", nodes=nodes, node=node,
                  group=group, period=period, listing=listing, band=band,
                  values=lists.ranking_rows(node, group, period, [i.id for i in listing.items]),
                  groups=lists.group_labels(), group_keys=lists.groups_for(node),
                  periods=lists.period_choices(local_today()), list_endpoint="points.ranking",
                  list_args=args)


@bp.route("/ranking.xlsx")
@admin_required
def ranking_export():
    """The whole ranking (of the points band asked for) as a ledger workbook (.xlsx), audited."""
    _nodes, node, group, period = _ranking_args()
    data = write_now(lambda: lists.export_ranking(current_user, node, group, period, client_address(), _band()))
    return xlsx_response(data, f"points-ranking-{period.first.isoformat()}-{period.last.isoformat()}.xlsx")


# --- a member's ledger, corrections ----------------------------------------------------------


@bp.route("/members/<int:member_id>")
@admin_required
def member_ledger(member_id: int):
    """A member's ledger for the admins over them: every entry with its source, and 更正."""
    member = get_or_404(Member, member_id, policy.can_view_member_points)
    listing = paginate(lists.entries(member))
    return render("points/member.html", "points/_entries.html", member=member,
                  summary=lists.summary(member, local_today()), listing=listing,
                  sources=lists.sources(listing.items, own=False),
                  open_ids=lists.open_awards(member, listing.items)
                  if policy.can_correct_points(current_user, member) else set(),
                  list_endpoint="points.member_ledger", list_args={"member_id": member.id})


def _correct_page(entry: PointsEntry, form: CorrectionForm, error: str | None = None, status: int = 200):
    """The entry, where it came from, and the reason form."""
    return render_template("points/correct.html", entry=entry, form=form, error=error,
                           source=lists.sources([entry], own=False)[entry.id]), status


@bp.route("/entries/<int:entry_id>/correct", methods=["GET", "POST"])
@admin_required
def correct(entry_id: int):
    """更正: a new entry cancelling what an entry counts, with the reason (audited)."""
    entry = get_or_404(PointsEntry, entry_id, lambda user, e: policy.can_view_member_points(user, e.member))
    require(policy.can_correct_points(current_user, entry.member))
    form = CorrectionForm()
    if not form.validate_on_submit():
        return _correct_page(entry, form, status=422 if form.is_submitted() else 200)
    return run_step(
        lambda: lists.correct(entry, current_user, form.reason.data, client_address()),
        lambda error: _correct_page(entry, form, error, 422),
        url_for("points.member_ledger", member_id=entry.member_id),
        _("已更正：新增一条冲正记录，原记录保留。"),
    )


# --- rules ---------------------------------------------------------------------------------------


@bp.route("/rules")
@admin_required
def rules():
    """积分规则 at a node of the admin's scope: each rule in force (its own, inherited from
    above, or the built-in default) and the versions still to start."""
    nodes, node = _chosen_node()
    today = local_today()
    return render_template("points/rules.html", nodes=nodes, node=node, today=today,
                           rows=rule_service.in_force_at(node, today),
                           pending=rule_service.pending_at(node, today), slug=rule_service.key_slug)


def _rule_target(node_id: int, slug: str) -> tuple[OrgNode, rule_service.RuleKey]:
    """A node the admin may set rules for (404 otherwise) and one of the rules (404 otherwise)."""
    node = get_or_404(OrgNode, node_id, policy.can_set_points_rules)
    key = rule_service.parse_key(slug)
    if key is None:
        abort(404)
    return node, key


def _rule_page(node: OrgNode, key: rule_service.RuleKey, form: RuleVersionForm,
               inherit: RuleInheritForm, error: str | None = None, status: int = 200):
    """One rule at one node: in force now, the node's versions, and the two forms."""
    today = local_today()
    in_force = next(r for r in rule_service.in_force_at(node, today) if r.key == key)
    return render_template("points/rule_edit.html", node=node, key=key, in_force=in_force,
                           label=rule_service.key_label(key), slug=rule_service.key_slug(key),
                           versions=rule_service.history(node, key), form=form, inherit=inherit,
                           error=error, today=today), status


def _prefill(node: OrgNode, key: rule_service.RuleKey, form: RuleVersionForm,
             inherit: RuleInheritForm | None = None) -> None:
    """The version form starts from the rule in force, from tomorrow."""
    current = next(r for r in rule_service.in_force_at(node, local_today()) if r.key == key).rule
    form.points.data, form.cap_points.data = current.points, current.cap_points
    form.cap_period.data = current.cap_period.value if current.cap_period else ""
    form.starts_on.data = local_today() + timedelta(days=1)
    if inherit is not None:
        inherit.starts_on.data = form.starts_on.data


@bp.route("/rules/<int:node_id>/<slug>", methods=["GET", "POST"])
@admin_required
def rule_edit(node_id: int, slug: str):
    """Set a new version of one rule at a node, from a start date (today or later)."""
    node, key = _rule_target(node_id, slug)
    form, inherit = RuleVersionForm(), RuleInheritForm(prefix="inherit")
    if request.method == "GET":
        _prefill(node, key, form, inherit)
    if not form.validate_on_submit():
        return _rule_page(node, key, form, inherit, status=422 if form.is_submitted() else 200)
    return run_step(
        lambda: rule_service.set_version(node, key, form.points.data, form.period(), form.cap_points.data,
                                         form.starts_on.data, current_user, local_today()),
        lambda error: _rule_page(node, key, form, inherit, error, 422),
        url_for("points.rules", node=node.id), _("已保存：新规则从开始日期起生效。"),
    )


@bp.post("/rules/<int:node_id>/<slug>/inherit")
@admin_required
def rule_inherit(node_id: int, slug: str):
    """From a date, the node follows the rule of the nodes above it again."""
    node, key = _rule_target(node_id, slug)
    form, inherit = RuleVersionForm(formdata=None), RuleInheritForm(prefix="inherit")
    _prefill(node, key, form)
    if not inherit.validate_on_submit():
        return _rule_page(node, key, form, inherit, status=422)
    return run_step(
        lambda: rule_service.inherit_from(node, key, inherit.starts_on.data, current_user, local_today()),
        lambda error: _rule_page(node, key, form, inherit, error, 422),
        url_for("points.rules", node=node.id), _("已保存：从开始日期起沿用上级规则。"),
    )
