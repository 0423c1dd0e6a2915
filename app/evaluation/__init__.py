"""The yearly evaluation (评先选优) and the model-household campaign (创建示范中心户).

One blueprint, ``evaluation``: ``views`` (the sheets, the records behind each figure, outcomes,
weights, the 后备人才库) and ``campaigns``. Org admins work on their node and below: another node,
member, household, outcome or campaign is 404; one they may see but not change is 403. Heads of
central households see the campaigns covering their household and apply there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, request

from app import policy
from app.authz import get_or_404
from app.clock import local_today
from app.models import CentralHousehold, Member, OrgNode
from app.services.evaluation import Subject, valid_year

bp = Blueprint("evaluation", __name__, url_prefix="/evaluation")

SUBJECT = "<any(members, households):subject>"
FACTOR = ("<any(points, activities, visit_coverage, needs_rates, training_hours, mentoring,"
          " complaints):factor>")
SHEET_PER_PAGE = 50


def node_or_404(node_id: int) -> OrgNode:
    """A node whose evaluation the current admin keeps (theirs or below), else 404."""
    return get_or_404(OrgNode, node_id, policy.can_evaluate_node)


def year_or_404(year: int) -> int:
    """A year the evaluation looks at (2000 to this year), else 404."""
    if not valid_year(year, local_today()):
        abort(404)
    return year


def subject_or_404(node: OrgNode, subject: Subject, subject_id: int) -> Member | CentralHousehold:
    """The member or household ``subject_id`` under ``node``, else 404."""
    if subject is Subject.MEMBERS:
        return get_or_404(Member, subject_id, lambda u, m: policy.can_evaluate_member(u, node, m))
    return get_or_404(CentralHousehold, subject_id, lambda u, h: policy.can_evaluate_household(u, node, h))


@dataclass
class ListPage:
    """One page of a list cut by its service (the sheet is ranked over the whole node in SQL),
    with the attributes the shared pager macro reads."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def page_asked() -> int:
    """The page number asked for by ``?page=`` (1 when absent or not a positive number)."""
    return max(1, request.args.get("page", 1, type=int) or 1)


def list_page(rows: list[Any], total: int, per_page: int = SHEET_PER_PAGE) -> ListPage:
    """The page asked for by ``?page=``, its ``rows`` already cut by the service (past the end:
    empty, never a 404); ``total`` is the whole list's length."""
    return ListPage(rows, page_asked(), per_page, total)


# The modules register their routes on ``bp``; imported last because they import ``bp``.
from app.evaluation import campaigns, views  # noqa: E402, F401
