"""The evaluation sheet of a node and year: every member (or central household) under the node with
their figures, a score and a rank within the node, by a formula written on the page.

The score::

    score = Σᵢ wᵢ × xᵢ ÷ maxᵢ

for each factor i (积分, 服务次数, 走访覆盖率, 诉求三率, 培训学时, 接受帮带, 投诉): xᵢ is the subject's
value, maxᵢ the highest value of that factor on the sheet (the factor counts 0 for everyone when
maxᵢ ≤ 0), wᵢ the factor's weight (−100…100) at the nearest node on the path that set one, else the
default below. 诉求三率 is the mean of the rates that exist; a subject without any routed need, or
without covered households, counts 0 there. Equal scores share a rank (1, 2, 2, 4).

The ranking is one SQL statement (:func:`ranking`): every subject's factor values from the kept
yearly figures (``MemberYear``, the coverage counters, the needs, mentoring and objections of the
year grouped once), the maxima, the score — the same float operations as :func:`score`, so the
same numbers — and the page's rows in the sheet's order with how many score higher than its
first; a page loads only its own rows' figures, outcomes and names. Scores are compared rounded
to ``TIE_DIGITS`` decimals, so two subjects with the same figures share a rank however the floats
fell; ties go by name.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased, lazyload

from app import policy
from app.extensions import db
from app.models import (
    ActivityKind,
    CentralHousehold,
    EvaluationFactor,
    EvaluationOutcome,
    EvaluationWeight,
    HouseholdStatus,
    HouseholdYear,
    Member,
    MemberCoverage,
    MemberStatus,
    MemberYear,
    OrgNode,
    User,
    utcnow,
)
from app.services import ledger
from app.services.errors import NotAllowed, Refused
from app.services.evaluation.figures import (
    Figures,
    Subject,
    Year,
    figures,
    household_activity_parts,
    mentoring_select,
    objections_select,
)
from app.services.privacy import audit

DEFAULT_WEIGHTS: dict[EvaluationFactor, int] = {
    EvaluationFactor.POINTS: 30,
    EvaluationFactor.ACTIVITIES: 20,
    EvaluationFactor.VISIT_COVERAGE: 15,
    EvaluationFactor.NEEDS_RATES: 15,
    EvaluationFactor.TRAINING_HOURS: 10,
    EvaluationFactor.MENTORING: 10,
    EvaluationFactor.COMPLAINTS: -20,
}
WEIGHT_MIN, WEIGHT_MAX = -100, 100
FIRST_YEAR = 2000
TIE_DIGITS = 9  # scores equal to this many decimals share a rank


class EvaluationError(Refused):
    """A step of the evaluation the rules refuse; ``str()`` is the message for the user."""


def valid_year(year: int, today: date) -> bool:
    """A year the evaluation may look at: from 2000 to this year (Asia/Shanghai)."""
    return FIRST_YEAR <= year <= today.year


# --- weights ---------------------------------------------------------------------------------


@dataclass
class Weights:
    """The weights in force at a node, with the node each comes from (None: the default)."""

    values: dict[EvaluationFactor, int]
    sources: dict[EvaluationFactor, OrgNode | None]

    def own(self, node: OrgNode) -> bool:
        """Whether the node has set weights of its own."""
        return any(s is not None and s.id == node.id for s in self.sources.values())


def weights_for(node: OrgNode) -> Weights:
    """Each factor's weight at the nearest node on ``node``'s path that set it (one query)."""
    rows = db.session.execute(
        sa.select(EvaluationWeight, OrgNode)
        .join(OrgNode, OrgNode.id == EvaluationWeight.org_node_id)
        .where(EvaluationWeight.org_node_id.in_(node.ancestor_ids))
    ).all()
    values, sources = dict(DEFAULT_WEIGHTS), dict.fromkeys(EvaluationFactor)
    depth: dict[EvaluationFactor, int] = {}
    for weight, owner in rows:
        d = len(owner.ancestor_ids)
        if d > depth.get(weight.factor, 0):
            depth[weight.factor] = d
            values[weight.factor], sources[weight.factor] = weight.weight, owner
    return Weights(values, sources)  # type: ignore[arg-type]


def set_weights(actor: User, node: OrgNode, values: dict[EvaluationFactor, int]) -> None:
    """Set all seven weights at ``node`` (they apply to it and below, until a lower node sets its own)."""
    if not policy.can_evaluate_node(actor, node):
        raise NotAllowed(_l("您没有设置这个组织评分权重的权限。"))
    for factor in EvaluationFactor:
        value = values.get(factor)
        if not isinstance(value, int) or isinstance(value, bool) or not WEIGHT_MIN <= value <= WEIGHT_MAX:
            raise EvaluationError(_l("「%(f)s」的权重须是 −100 到 100 之间的整数。", f=factor.label))
    for factor in EvaluationFactor:
        row = db.session.get(EvaluationWeight, (node.id, factor))
        if row is None:
            row = EvaluationWeight(org_node_id=node.id, factor=factor)
            db.session.add(row)
        row.weight, row.updated_by_id, row.updated_at = values[factor], actor.id, utcnow()


def clear_weights(actor: User, node: OrgNode) -> int:
    """Drop the node's own weights: the nearest node above (or the defaults) applies again."""
    if not policy.can_evaluate_node(actor, node):
        raise NotAllowed(_l("您没有设置这个组织评分权重的权限。"))
    result = db.session.execute(sa.delete(EvaluationWeight).where(EvaluationWeight.org_node_id == node.id))
    return result.rowcount or 0


# --- the sheet -------------------------------------------------------------------------------


def factor_value(f: Figures, factor: EvaluationFactor) -> float:
    """The subject's value of a factor, as the formula takes it."""
    if factor is EvaluationFactor.POINTS:
        return float(f.points)
    if factor is EvaluationFactor.ACTIVITIES:
        return float(f.activities_total)
    if factor is EvaluationFactor.VISIT_COVERAGE:
        return f.coverage or 0.0
    if factor is EvaluationFactor.NEEDS_RATES:
        return f.needs_rate or 0.0
    if factor is EvaluationFactor.TRAINING_HOURS:
        return f.training_hours
    if factor is EvaluationFactor.MENTORING:
        return float(f.mentoring)
    return float(f.complaints)


def factor_values(f: Figures) -> dict[EvaluationFactor, float]:
    return {factor: factor_value(f, factor) for factor in EvaluationFactor}


def score(f: Figures, weights: dict[EvaluationFactor, int], maxima: dict[EvaluationFactor, float],
          values: dict[EvaluationFactor, float] | None = None) -> float:
    """Σ wᵢ × xᵢ ÷ maxᵢ (a factor whose maximum is ≤ 0 adds nothing)."""
    values = values or factor_values(f)
    total = 0.0
    for factor, w in weights.items():
        top = maxima.get(factor, 0.0)
        if top > 0:
            total += w * values[factor] / top
    return total


LOAD_CHUNK = 50  # the sheet's page: the subjects shown on one page are loaded in one query


class _Subjects:
    """The sheet's members or households as ORM objects, loaded when first shown, a page of rows
    (``LOAD_CHUNK``, in the sheet's order) per query: a district's sheet ranks every member by
    their figures, but shows fifty at a time."""

    def __init__(self, subject: Subject, node: OrgNode, order: list[int]) -> None:
        self.subject, self.node, self.order = subject, node, order
        self.position: dict[int, int] = {}
        self.loaded: dict[int, Member | CentralHousehold] = {}

    def place(self, ranked: list[int]) -> None:
        """Record the rows' order (the chunks follow it)."""
        self.order = ranked
        self.position = {sid: i for i, sid in enumerate(ranked)}

    def _load(self, ids: list[int]) -> None:
        model = Member if self.subject is Subject.MEMBERS else CentralHousehold
        for obj in db.session.scalars(subjects_select(self.subject, self.node).where(model.id.in_(ids))).unique():
            self.loaded[obj.id] = obj

    def get(self, subject_id: int) -> Member | CentralHousehold:
        if subject_id not in self.loaded:
            start = self.position[subject_id] // LOAD_CHUNK * LOAD_CHUNK
            self._load(self.order[start:start + LOAD_CHUNK])
        return self.loaded[subject_id]

    def load_all(self) -> None:
        missing = [sid for sid in self.order if sid not in self.loaded]
        if missing:
            self.loaded.update({o.id: o for o in db.session.scalars(
                subjects_select(self.subject, self.node)).unique()})


@dataclass
class Row:
    subject_id: int
    figures: Figures
    score: float
    rank: int
    outcomes: list[EvaluationOutcome]
    subjects: _Subjects = field(repr=False, compare=False)

    @property
    def subject(self) -> Member | CentralHousehold:
        """The member or household (loaded with the rest of its page of the sheet)."""
        return self.subjects.get(self.subject_id)

    @classmethod
    def of(cls, obj: Member | CentralHousehold, figures: Figures, score: float, rank: int,
           outcomes: list[EvaluationOutcome]) -> Row:
        """A row for a subject already loaded (one not on the sheet)."""
        subject = Subject.MEMBERS if isinstance(obj, Member) else Subject.HOUSEHOLDS
        subjects = _Subjects(subject, None, [obj.id])  # type: ignore[arg-type]
        subjects.loaded[obj.id] = obj
        return cls(obj.id, figures, score, rank, outcomes, subjects)


@dataclass
class Sheet:
    """The sheet of a node and year: its ``rows`` (all of them, one page, or the subjects asked
    for, in the sheet's order), ``total`` the number of subjects ranked on the whole sheet."""

    node: OrgNode
    year: int
    subject: Subject
    weights: Weights
    maxima: dict[EvaluationFactor, float]
    rows: list[Row]
    total: int

    def row_of(self, subject_id: int) -> Row | None:
        return next((r for r in self.rows if r.subject_id == subject_id), None)


def subjects_select(subject: Subject, node: OrgNode) -> sa.Select:
    """The members (active) or central households (not revoked) under ``node``, by name."""
    if subject is Subject.MEMBERS:
        return (sa.select(Member).join(User, User.id == Member.user_id)
                .join(OrgNode, OrgNode.id == Member.grid_id)
                .where(OrgNode.under(node.path), Member.status == MemberStatus.ACTIVE)
                .options(lazyload(Member.user, User.roles))  # the sheet never reads their roles
                .order_by(User.name, Member.id))
    head = aliased(Member)
    return (sa.select(CentralHousehold).join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
            .join(head, head.id == CentralHousehold.head_member_id)
            .join(User, User.id == head.user_id)
            .where(OrgNode.under(node.path), CentralHousehold.status != HouseholdStatus.REVOKED)
            .options(lazyload(CentralHousehold.head, Member.user, User.roles), lazyload(CentralHousehold.duties))
            .order_by(User.name, CentralHousehold.id))


def _ids_under(subject: Subject, node: OrgNode) -> sa.Select:
    """The subjects' ids under ``node`` (the same set as :func:`subjects_select`, without names)."""
    if subject is Subject.MEMBERS:
        return (sa.select(Member.id).join(OrgNode, OrgNode.id == Member.grid_id)
                .where(OrgNode.under(node.path), Member.status == MemberStatus.ACTIVE))
    return (sa.select(CentralHousehold.id).join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
            .where(OrgNode.under(node.path), CentralHousehold.status != HouseholdStatus.REVOKED))


def _named(subject: Subject, node: OrgNode) -> sa.Select:
    """(id, name, household_id) of the subjects under ``node`` (:func:`subjects_select`'s set; the
    name is its order: the member's, the household head's; a member's central household)."""
    if subject is Subject.MEMBERS:
        return (sa.select(Member.id.label("id"), User.name.label("name"),
                          Member.central_household_id.label("household_id"))
                .join(User, User.id == Member.user_id).join(OrgNode, OrgNode.id == Member.grid_id)
                .where(OrgNode.under(node.path), Member.status == MemberStatus.ACTIVE))
    head = aliased(Member)
    return (sa.select(CentralHousehold.id.label("id"), User.name.label("name"),
                      CentralHousehold.id.label("household_id"))
            .join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
            .join(head, head.id == CentralHousehold.head_member_id).join(User, User.id == head.user_id)
            .where(OrgNode.under(node.path), CentralHousehold.status != HouseholdStatus.REVOKED))


def _member_years(member_id: sa.ColumnElement[int], y: Year, joined: sa.FromClause) -> sa.FromClause:
    """``joined`` with the member's kept figures of the year (``MemberYear``: points, activities,
    visited, training, the needs' counts — :func:`figures.figures`' sources side by side) and their coverage (the
    households they cover, if any), each joined on its key."""
    return (joined
            .outerjoin(MemberYear, sa.and_(MemberYear.member_id == member_id, MemberYear.year == y.year))
            .outerjoin(MemberCoverage, sa.and_(MemberCoverage.member_id == member_id, MemberCoverage.covered > 0)))


# Visited households count where the member covers any (coverage_select's rows).
_VISITED = sa.case((MemberCoverage.covered > 0, MemberYear.visited), else_=0)


def _figure_columns(subject: Subject, node: OrgNode, y: Year) -> tuple[sa.Subquery, sa.FromClause, dict]:
    """The subjects under ``node`` joined to their raw figures of the year: (subjects, the
    joined FROM, {figure: column}). A member's come straight from the yearly aggregates; a
    household's are its active members' summed (activities: those they recorded, plus those
    recorded on its behalf by anyone else), one GROUP BY over the node's members."""
    subjects = _named(subject, node).subquery("subjects")
    if subject is Subject.MEMBERS:
        joined = _member_years(subjects.c.id, y, subjects)
        cols = {"points": MemberYear.points, "activities": MemberYear.activities,
                "covered": MemberCoverage.covered, "visited": _VISITED, "minutes": MemberYear.minutes}
    else:
        member = Member.__table__.alias("member")
        own = (sa.select(member.c.central_household_id.label("key"),
                         sa.func.sum(MemberYear.points).label("points"),
                         sa.func.sum(MemberYear.authored).label("authored"),
                         sa.func.sum(MemberCoverage.covered).label("covered"),
                         sa.func.sum(_VISITED).label("visited"),
                         sa.func.sum(MemberYear.minutes).label("minutes"))
               .select_from(_member_years(member.c.id, y, member))
               .where(member.c.central_household_id.in_(_ids_under(subject, node)),
                      member.c.status == MemberStatus.ACTIVE)
               .group_by(member.c.central_household_id).subquery("own"))
        others = household_activity_parts(None, y)[1].subquery()
        behalf = (sa.select(others.c.key, sa.func.sum(others.c.n).label("n"))
                  .group_by(others.c.key).subquery("behalf"))
        joined = (subjects.outerjoin(own, own.c.key == subjects.c.id)
                  .outerjoin(behalf, behalf.c.key == subjects.c.id))
        cols = {"points": own.c.points,
                "activities": sa.func.coalesce(own.c.authored, 0) + sa.func.coalesce(behalf.c.n, 0),
                "covered": own.c.covered, "visited": own.c.visited, "minutes": own.c.minutes}
    needs_figures = ("submitted", "in_time", "resolved", "rated", "satisfied", "unsatisfied")
    if subject is Subject.MEMBERS:  # kept with the member's other figures of the year
        kept: type = MemberYear
    else:  # kept per household and year
        kept = HouseholdYear
        joined = joined.outerjoin(kept, sa.and_(kept.household_id == subjects.c.id, kept.year == y.year))
    cols.update({name: getattr(kept, f"needs_{name}") for name in needs_figures})
    mentoring = mentoring_select(Subject.HOUSEHOLDS, None, y).subquery("mentoring")
    objections = objections_select(subject, None, y).subquery("objections")
    joined = (joined.outerjoin(mentoring, mentoring.c.key == subjects.c.household_id)
              .outerjoin(objections, objections.c.key == subjects.c.id))
    cols.update(mentoring=mentoring.c.mentoring, objections=objections.c.objections)
    return subjects, joined, cols


def _float(value: sa.ColumnElement) -> sa.ColumnElement[float]:
    return sa.cast(value, sa.Float)


def _factor_values(subject: Subject, node: OrgNode, year: int) -> sa.Select:
    """(id, name, one column per factor named by its value): every subject under ``node`` with
    the value of each factor as :func:`factor_value` takes it (the same float operations, in the
    same order, so the SQL and Python values are the same numbers)."""
    subjects, joined, raw = _figure_columns(subject, node, Year(year))
    c = {name: sa.func.coalesce(col, 0) for name, col in raw.items()}

    def pct(num: str, den: str) -> sa.ColumnElement[float]:  # RateRow._pct
        return sa.literal(100.0, sa.Float) * _float(c[num]) / _float(c[den])

    def per(value: sa.ColumnElement[float], n: int) -> sa.ColumnElement[float]:
        return value / _float(sa.literal(n)) / _float(sa.literal(100))

    response, resolution, satisfaction = pct("in_time", "submitted"), pct("resolved", "submitted"), \
        pct("satisfied", "rated")
    submitted, rated = c["submitted"], c["rated"]
    values = {
        EvaluationFactor.POINTS: _float(c["points"]),
        EvaluationFactor.ACTIVITIES: _float(c["activities"]),
        EvaluationFactor.VISIT_COVERAGE: sa.case((c["covered"] > 0, _float(c["visited"]) / _float(c["covered"])),
                                                 else_=0.0),
        EvaluationFactor.NEEDS_RATES: sa.case(  # Figures.needs_rate: the mean of the rates that exist
            (sa.and_(submitted > 0, rated > 0), per(response + resolution + satisfaction, 3)),
            (submitted > 0, per(response + resolution, 2)),
            (rated > 0, per(satisfaction, 1)), else_=0.0),
        EvaluationFactor.TRAINING_HOURS: _float(c["minutes"]) / _float(sa.literal(60)),
        EvaluationFactor.MENTORING: _float(c["mentoring"]),
        EvaluationFactor.COMPLAINTS: _float(c["unsatisfied"] + c["objections"]),
    }
    return (sa.select(subjects.c.id, subjects.c.name, *[v.label(f.value) for f, v in values.items()])
            .select_from(joined))


@dataclass(frozen=True)
class Ranking:
    """The sheet in SQL. ``scored``: a row per subject under the node — ``id``, ``name``,
    ``score`` (the formula, with the maxima over the sheet) and ``tie`` (the score as ranks
    compare it: to ``TIE_DIGITS`` decimals); ``tops``: one row, the sheet's ``total`` and each
    factor's maximum (``max_<factor>``)."""

    scored: sa.CTE
    tops: sa.CTE

    def order(self, rows: sa.FromClause | None = None) -> tuple[sa.ColumnElement, ...]:
        """The sheet's order (score, then name, then id) on ``scored`` or a selection of it."""
        c = (rows if rows is not None else self.scored).c
        return (c.tie.desc(), c.name, c.id)


def ranking(subject: Subject, node: OrgNode, year: int, weights: dict[EvaluationFactor, int]) -> Ranking:
    """:class:`Ranking` of the sheet: the subjects' factor values computed once (a CTE), their
    maxima in one pass, the score and its tie key once per subject."""
    v = _factor_values(subject, node, year).cte("figures")
    tops = sa.select(*[sa.func.max(v.c[f.value]).label(f"max_{f.value}") for f in EvaluationFactor],
                     sa.func.count().label("total")).cte("tops")
    terms = [sa.case((tops.c[f"max_{f.value}"] > 0, w * v.c[f.value] / tops.c[f"max_{f.value}"]), else_=0.0)
             for f, w in weights.items()]  # score(): Σ wᵢ × xᵢ ÷ maxᵢ, in the weights' order
    score = functools.reduce(operator.add, terms)
    scored = (sa.select(v.c.id, v.c.name, score.label("score"),
                        sa.func.round(score * 10**TIE_DIGITS).label("tie"))
              .select_from(v.join(tops, sa.true())).cte("scored"))
    return Ranking(scored, tops)


def _ranked_rows(r: Ranking, page: int | None, per_page: int, only: Collection[int] | None) -> list:
    """(id, score, tie, above, total, max_…) of the rows asked for, in the sheet's order; ``above``:
    how many subjects score higher — for every row of ``only``; for a page (or the whole sheet)
    for its first row only (the page's other ranks follow from their positions)."""
    if only is not None:
        other = r.scored.alias("other")
        above = sa.select(sa.func.count()).select_from(other).where(other.c.tie > r.scored.c.tie).scalar_subquery()
        return db.session.execute(
            sa.select(r.scored.c.id, r.scored.c.score, r.scored.c.tie, above.label("above"), r.tops)
            .select_from(r.scored.join(r.tops, sa.true())).where(r.scored.c.id.in_(list(only)))
            .order_by(*r.order())).all()
    rows = sa.select(r.scored).order_by(*r.order())
    if page is not None:  # a heap of the page's rows, not a sort of the sheet (rank and position windows)
        rows = rows.limit(per_page).offset((page - 1) * per_page)
    shown = rows.cte("shown")
    first = sa.select(sa.func.max(shown.c.tie)).scalar_subquery()
    above = sa.select(sa.func.count()).select_from(r.scored).where(r.scored.c.tie > first).scalar_subquery()
    return db.session.execute(
        sa.select(shown.c.id, shown.c.score, shown.c.tie, above.label("above"), r.tops)
        .select_from(shown.join(r.tops, sa.true())).order_by(*r.order(shown))).all()


def _ranks(found: list, offset: int, each: bool) -> list[int]:
    """Competition ranks (1, 2, 2, 4) of rows in the sheet's order starting at ``offset``: from
    each row's ``above`` (``each``), or from the first row's and the rows' positions."""
    if each:
        return [r.above + 1 for r in found]
    ranks: list[int] = []
    for i, r in enumerate(found):
        if i == 0:
            ranks.append(r.above + 1)
        elif r.tie == found[i - 1].tie:
            ranks.append(ranks[-1])
        else:
            ranks.append(offset + i + 1)  # every row above it scores higher
    return ranks


def live_outcomes(subject: Subject, ids: sa.Select | list[int], year: int) -> dict[int, list[EvaluationOutcome]]:
    """The outcomes of the year not withdrawn, per subject (recorded at any node)."""
    col = EvaluationOutcome.member_id if subject is Subject.MEMBERS else EvaluationOutcome.household_id
    found: dict[int, list[EvaluationOutcome]] = {}
    for o in db.session.scalars(sa.select(EvaluationOutcome).where(
            col.in_(ids), EvaluationOutcome.year == year, EvaluationOutcome.withdrawn_at.is_(None))
            .order_by(EvaluationOutcome.id)):
        found.setdefault(o.member_id if subject is Subject.MEMBERS else o.household_id, []).append(o)  # type: ignore[arg-type]
    return found


def compute(subject: Subject, node: OrgNode, year: int, page: int | None = None, per_page: int = LOAD_CHUNK,
            only: Collection[int] | None = None) -> Sheet:
    """The sheet: every subject under ``node``, ranked by score (ties by name) — all the rows, or
    page ``page`` of ``per_page`` rows, or the rows of the subjects in ``only``. A fixed number of
    queries: the weights, the ranked rows (:func:`ranking`, :func:`_ranked_rows`), the rows'
    figures (seven or eight queries, read from the maintained aggregates), their outcomes; the
    subjects themselves are loaded a page at a time when shown (:class:`_Subjects`). Past the
    last page: no rows (one more query for the total and the maxima)."""
    weights = weights_for(node)
    sheet = ranking(subject, node, year, weights.values)
    found = _ranked_rows(sheet, page, per_page, only)
    ranks = _ranks(found, (page - 1) * per_page if page is not None else 0, each=only is not None)
    head = found[0] if found else db.session.execute(sa.select(sheet.tops)).first()
    maxima = {f: float(getattr(head, f"max_{f.value}") or 0.0) if head else 0.0 for f in EvaluationFactor}
    ids: sa.Select | list[int] = [r.id for r in found] if page is not None or only is not None \
        else _ids_under(subject, node)
    values = figures(subject, ids, year) if found else {}
    outcomes = live_outcomes(subject, ids, year) if found else {}
    subjects = _Subjects(subject, node, [])
    subjects.place([r.id for r in found])
    rows = [Row(r.id, values.get(r.id) or Figures(), float(r.score), rank, outcomes.get(r.id, []), subjects)
            for r, rank in zip(found, ranks, strict=True)]
    return Sheet(node, year, subject, weights, maxima, rows, head.total if head else 0)


# --- export ----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def export(actor: User, sheet: Sheet, ip: str) -> bytes:
    """The sheet as a ledger workbook (.xlsx): one row per subject, every figure, the score and the
    year's outcomes; the export is audited."""
    if not policy.can_evaluate_node(actor, sheet.node):
        raise NotAllowed(_l("您没有查看这个组织评定表的权限。"))
    members = sheet.subject is Subject.MEMBERS
    if sheet.rows:
        sheet.rows[0].subjects.load_all()  # every row is exported: one query, not one a page
    headers = [_("排名"), _("姓名") if members else _("中心户"), _("网格"), _("得分"), _("积分"),
               _("服务次数"), *[k.label for k in ActivityKind], _("联系群众户"), _("年内走访户"),
               _("走访覆盖率"), _("诉求数"), _("响应率"), _("办结率"), _("满意率"), _("培训学时"),
               _("接受帮带（次）"), _("不满意评价"), _("公示异议成立"), _("评定结果")]
    body = []
    for r in sheet.rows:
        f, rates = r.figures, r.figures.rates
        name = r.subject.name if members else f"{r.subject.name}（{r.subject.number or '—'}）"  # type: ignore[union-attr]
        body.append([
            r.rank, name, r.subject.grid.name, round(r.score, 1), f.points, f.activities_total,
            *[f.activities.get(k, 0) for k in ActivityKind], f.covered, f.visited, _pct(f.coverage),
            f.needs_submitted, _rate(rates.response_rate), _rate(rates.resolution_rate),
            _rate(rates.satisfaction_rate), round(f.training_hours, 2), f.mentoring, f.unsatisfied,
            f.objections, "、".join(o.kind.label for o in r.outcomes),
        ])
    title = _("%(year)d年度党员评定表", year=sheet.year) if members else \
        _("%(year)d年度中心户评定表", year=sheet.year)
    period = _("%(start)s 至 %(end)s", start=f"{sheet.year}-01-01", end=f"{sheet.year}-12-31")
    data = ledger.build_workbook(title, sheet.node.name, period, headers, body)
    audit(actor.id, "export", "evaluation_sheet", sheet.node.id,
          detail=f"{sheet.subject.value} {sheet.year}; {len(body)} rows", ip=ip)
    return data


def export_sheet(actor: User, subject: Subject, node: OrgNode, year: int, ip: str) -> bytes:
    """Compute the sheet and export it (see :func:`export`)."""
    return export(actor, compute(subject, node, year), ip)


def children(node: OrgNode) -> list[OrgNode]:
    """The nodes right below ``node``, by name (for going down from one sheet to the next)."""
    return list(db.session.scalars(sa.select(OrgNode).where(OrgNode.parent_id == node.id)
                                   .order_by(OrgNode.name, OrgNode.id)))


def nodes_in_scope(admin: User) -> list[OrgNode]:
    """Every node the admin keeps, in tree order (for choosing a campaign's node)."""
    return list(db.session.scalars(sa.select(OrgNode).where(policy.scope_condition(admin))
                                   .order_by(OrgNode.path)))
