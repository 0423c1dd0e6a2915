"""The org tree and the four lists (active search, filters, ledger export) of the structure pages.

The blueprint lives in ``app/structure/__init__.py``; importing this module registers every view
of it, the detail pages and the roster import included.
"""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from app.authz import admin_required, get_or_404, node_or_404
from app.extensions import client_address
from app.htmx import is_partial, render
from app.models import Member
from app.pages import paginate
from app.policy import member_in_scope
from app.responses import xlsx_response
from app.services import structure as svc

# details and roster: importing them registers their views on the blueprint (tables: its template global).
from app.steps import write_now
from app.structure import bp, details, roster, tables  # noqa: F401
from app.web import render_unchanging

__all__ = ["bp"]


# --- The org tree -----------------------------------------------------------------------------


@bp.route("/")
@admin_required
def index():
    """The admin's part of the org tree: each root with its standing, children loaded on demand."""
    return render_template("structure/index.html", **svc.tree(current_user))


@bp.route("/nodes/<int:node_id>")
@admin_required
def node(node_id: int):
    """A node: its standing and its children's (the children alone for an htmx expand)."""
    view = svc.node_view(current_user, node_or_404(node_id), whole_page=not is_partial())
    return render("structure/node.html", "structure/_node_children.html", **view)


# --- Lists ------------------------------------------------------------------------------------


def _filters() -> svc.ListFilters:
    """The list filters from the query string; a node or member outside the admin's scope is a 404."""
    node_id = request.args.get("node", type=int)
    member_id = request.args.get("member", type=int)
    return svc.ListFilters.from_args(
        request.args,
        node=node_or_404(node_id) if node_id else None,
        member_id=get_or_404(Member, member_id, member_in_scope).id if member_id else None,
    )


def _args() -> dict[str, str]:
    """The non-empty filter arguments, for the pager and export links."""
    return {k: v for k, v in request.args.items() if v and k != "page"}


_CHOICES = ("title", "categories", "statuses", "kinds", "modes")  # the same for every page of a list


@admin_required
def list_page(list_name: str):
    """A page of one list (its table alone for an htmx search or page turn): members (search by
    name or phone; grid, category, below 15), central households (head, number or address; below
    10 highlighted), resident households (address or head; uncovered flagged), stations."""
    f = _filters()
    page = paginate(svc.list_query(current_user, list_name, f), per_page=svc.PER_PAGE,
                    total=svc.known_total(current_user, list_name, f), rows=svc.LISTS[list_name].rows,
                    params=svc.list_params(current_user, list_name, f))
    view = svc.list_view(current_user, list_name, page.items, with_options=not is_partial())
    # Kept by what it shows (web.render_unchanging: the filters are the query string's, the
    # enum choices the language's); a list whose options are ORM rows renders as usual.
    shown = (page.items, page.page, page.per_page, page.total, {k: v for k, v in view.items() if k not in _CHOICES})
    template = f"structure/_{list_name}_table.html" if is_partial() else f"structure/{list_name}.html"
    return render_unchanging(template, variant=shown, pagination=page, filters=f, args=_args(), **view)


@admin_required
def list_ledger(list_name: str):
    """The same list with the same filters as an .xlsx ledger; the export is audited."""
    data, filename = write_now(lambda: svc.export_ledger(current_user, list_name, _filters(),
                                                         detail=str(_args()), ip=client_address()))  # audited
    return xlsx_response(data, filename)


# Each list at /structure/<name> (endpoint ``structure.<name>``) and its ledger at
# /structure/<name>.xlsx (``structure.<name>_export``): members, households, residents, stations.
# (Not "kind": that is the stations list's filter in the query string.)
for _name in svc.LISTS:
    bp.add_url_rule(f"/{_name}", _name, list_page, defaults={"list_name": _name})
    bp.add_url_rule(f"/{_name}.xlsx", f"{_name}_export", list_ledger, defaults={"list_name": _name})
