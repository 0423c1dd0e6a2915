"""What the points pages show: a member's balance, months and rank in their grid; the entries with
the record behind each; the rankings by member, grid, community or township over a period; their
export. Every function runs a fixed number of queries whatever the number of rows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import aliased, joinedload, outerjoin, selectinload

from app.clock import local_day, month_bounds
from app.extensions import db
from app.models import (
    Activity,
    Checkin,
    DiaryEntry,
    Member,
    MemberStatus,
    Need,
    NeedBreach,
    NoticeObjection,
    OrgLevel,
    OrgNode,
    PointsEntry,
    RuleCode,
    Station,
    StationEvent,
    TrainingCompletion,
    TrainingSession,
    User,
)
from app.services import ledger, monthly
from app.services.points import sources as src
from app.services.privacy import audit

# --- periods --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    value: str  # m:2025-06 · q:2025-2 · y:2025 · c (custom)
    first: date
    last: date
    label: str


def _quarter(year: int, q: int) -> tuple[date, date]:
    return date(year, 3 * q - 2, 1), month_bounds(year, 3 * q)[1]


def period_of(value: str, first: date | None, last: date | None, today: date) -> Period:
    """The period a ranking form names; this month for anything it cannot read. A custom period
    needs both days, in order (else this month)."""
    kind, _sep, rest = (value or "").partition(":")
    try:
        if kind == "m":
            year, month = (int(p) for p in rest.split("-"))
            start, end = month_bounds(year, month)
            return Period(value, start, end, _("%(y)d年%(m)d月", y=year, m=month))
        if kind == "q":
            year, q = (int(p) for p in rest.split("-"))
            if 1 <= q <= 4:
                start, end = _quarter(year, q)
                return Period(value, start, end, _("%(y)d年第%(q)d季度", y=year, q=q))
        if kind == "y":
            year = int(rest)
            return Period(value, date(year, 1, 1), date(year, 12, 31), _("%(y)d年", y=year))
        if kind == "c" and first and last and first <= last:
            return Period("c", first, last, _("%(a)s 至 %(b)s", a=first.isoformat(), b=last.isoformat()))
    except ValueError:
        pass
    return period_of(f"m:{today.year}-{today.month:02d}", None, None, today)


def period_choices(today: date) -> list[tuple[str, str]]:
    """The periods a ranking offers: this and the last eleven months, this and the last three
    quarters, this and last year, and a custom one."""
    choices = []
    year, month = today.year, today.month
    for _i in range(12):
        choices.append((f"m:{year}-{month:02d}", _("%(y)d年%(m)d月", y=year, m=month)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    year, q = today.year, (today.month - 1) // 3 + 1
    for _i in range(4):
        choices.append((f"q:{year}-{q}", _("%(y)d年第%(q)d季度", y=year, q=q)))
        year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    choices += [(f"y:{today.year}", _("%(y)d年", y=today.year)),
                (f"y:{today.year - 1}", _("%(y)d年", y=today.year - 1)), ("c", _("自定义起止日期"))]
    return choices


# --- a member's own page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rank:
    position: int  # 1 + the members of the grid with more points (ties share a place)
    of: int  # the grid's active members


@dataclass
class Summary:
    balance: int
    year_total: int
    month_total: int
    months: list[tuple[int, int, int, int]]  # (year, month, entries, points), newest first
    rank_year: Rank
    rank_month: Rank


def grid_ranks(member: Member, periods: list[tuple[date, date]]) -> list[Rank]:
    """The member's place among the active members of their grid, by points in each period
    (one query)."""
    sums = [sa.func.coalesce(sa.func.sum(PointsEntry.points).filter(
        PointsEntry.occurred_on.between(a, b)), 0) for a, b in periods]
    rows = db.session.execute(
        sa.select(Member.id, *sums)
        .outerjoin(PointsEntry, PointsEntry.member_id == Member.id)
        .where(Member.grid_id == member.grid_id, Member.status == MemberStatus.ACTIVE)
        .group_by(Member.id)
    ).all()
    ranks = []
    for i in range(len(periods)):
        mine = next((r[i + 1] for r in rows if r[0] == member.id), 0)
        ranks.append(Rank(1 + sum(1 for r in rows if r[i + 1] > mine), len(rows)))
    return ranks


def summary(member: Member, today: date) -> Summary:
    """Balance, this year's and this month's points, points by month and the grid ranks (two
    queries)."""
    rows = db.session.execute(
        sa.select(PointsEntry.occurred_on, PointsEntry.points).where(PointsEntry.member_id == member.id)
    ).all()
    by_month: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for day, points in rows:
        cell = by_month[(day.year, day.month)]
        cell[0] += 1
        cell[1] += points
    months = [(y, m, n, p) for (y, m), (n, p) in sorted(by_month.items(), reverse=True)]
    year_first = date(today.year, 1, 1)
    month_first, month_last = month_bounds(today.year, today.month)
    rank_year, rank_month = grid_ranks(member, [(year_first, date(today.year, 12, 31)),
                                                (month_first, month_last)])
    return Summary(
        balance=sum(p for _d, p in rows),
        year_total=sum(p for d, p in rows if d.year == today.year),
        month_total=by_month.get((today.year, today.month), [0, 0])[1],
        months=months, rank_year=rank_year, rank_month=rank_month,
    )


def entries(member: Member, year: int | None = None, month: int | None = None) -> sa.Select[tuple[PointsEntry]]:
    """The member's entries (of one month when given), newest first."""
    stmt = (sa.select(PointsEntry).where(PointsEntry.member_id == member.id)
            .options(joinedload(PointsEntry.created_by)))
    if year is not None and month is not None:
        first, last = month_bounds(year, month)
        stmt = stmt.where(PointsEntry.occurred_on.between(first, last))
    return stmt.order_by(PointsEntry.occurred_on.desc(), PointsEntry.id.desc())


# --- where each entry came from --------------------------------------------------------------------


@dataclass
class Source:
    """An entry's source record as a line of text, and where it can be opened (an endpoint and
    its arguments; None when there is no page for it)."""

    text: str
    endpoint: str | None = None
    args: dict[str, object] = field(default_factory=dict)


def _ids(page: list[PointsEntry], source_type: str) -> list[int]:
    return [e.source_id for e in page if e.source_type == source_type]


def _fetch(stmt: sa.Select, ids: list[int]) -> dict[int, tuple]:
    """Rows keyed by their first column; no query for no ids."""
    if not ids:
        return {}
    return {row[0]: tuple(row[1:]) for row in db.session.execute(stmt.where(stmt.selected_columns[0].in_(ids)))}


def sources(page: list[PointsEntry], own: bool) -> dict[int, Source]:
    """Each entry's source (at most one query per kind of source on the page). ``own``: the
    member's own page, where a check-in opens their check-in history; an admin sees it as text."""
    checkins = _fetch(
        sa.select(Checkin.id, Checkin.day, Station.name, StationEvent.title)
        .join(Station, Station.id == Checkin.station_id)
        .outerjoin(StationEvent, StationEvent.id == Checkin.event_id),
        _ids(page, src.CHECKIN))
    activities = _fetch(sa.select(Activity.id, Activity.kind, Activity.started_at), _ids(page, src.ACTIVITY))
    needs = _fetch(sa.select(Need.id, Need.code, Need.category), _ids(page, src.NEED))
    breaches = _fetch(sa.select(NeedBreach.id, NeedBreach.need_id, NeedBreach.kind, Need.code)
                      .join(Need, Need.id == NeedBreach.need_id), _ids(page, src.NEED_BREACH))
    diary = _fetch(sa.select(DiaryEntry.id, DiaryEntry.entry_date), _ids(page, src.DIARY_ENTRY))
    objections = _fetch(sa.select(NoticeObjection.id, NoticeObjection.nomination_id), _ids(page, src.NOTICE_OBJECTION))
    completions = _fetch(sa.select(TrainingCompletion.id, TrainingSession.title)
                         .join(TrainingSession, TrainingSession.id == TrainingCompletion.session_id),
                         _ids(page, src.TRAINING_COMPLETION))
    corrected = _fetch(sa.select(PointsEntry.id, PointsEntry.code, PointsEntry.occurred_on),
                       _ids(page, src.CORRECTED_ENTRY))
    found: dict[int, Source] = {}
    for e in page:
        sid = e.source_id
        if e.source_type == src.CHECKIN and sid in checkins:
            day, station, title = checkins[sid]
            text = (_("%(day)s 在%(station)s签到（%(event)s）", day=day.isoformat(), station=station, event=title)
                    if title else _("%(day)s 在%(station)s签到", day=day.isoformat(), station=station))
            found[e.id] = Source(text, "checkin.mine" if own else None,
                                 {"month": f"{day.year}-{day.month:02d}"} if own else {})
        elif e.source_type == src.ACTIVITY and sid in activities:
            kind, started = activities[sid]
            found[e.id] = Source(_("服务记录：%(kind)s（%(day)s）", kind=kind.label,
                                   day=local_day(started).isoformat()),
                                 "activities.detail", {"activity_id": sid})
        elif e.source_type == src.NEED and sid in needs:
            code, category = needs[sid]
            found[e.id] = Source(_("诉求 %(code)s（%(cat)s）", code=code, cat=category.label),
                                 "needs.detail", {"need_id": sid})
        elif e.source_type == src.NEED_BREACH and sid in breaches:
            need_id, kind, code = breaches[sid]
            found[e.id] = Source(_("诉求 %(code)s：%(kind)s", code=code, kind=kind.label),
                                 "needs.detail", {"need_id": need_id})
        elif e.source_type == src.DIARY_ENTRY and sid in diary:
            found[e.id] = Source(_("%(day)s 的民情日记", day=diary[sid][0].isoformat()),
                                 "diary.detail", {"entry_id": sid})
        elif e.source_type == src.NOTICE_OBJECTION and sid in objections:
            found[e.id] = Source(_("中心户公示收到的异议经核实成立"), "nominations.detail",
                                 {"nom_id": objections[sid][0]})
        elif e.source_type == src.TRAINING_COMPLETION and sid in completions:
            found[e.id] = Source(_("线上学习：%(title)s", title=completions[sid][0]))
        elif e.source_type == src.CORRECTED_ENTRY:
            found[e.id] = Source(_correction_text(e, corrected.get(sid)))
        else:
            found[e.id] = Source(_("来源记录 %(type)s #%(id)d", type=e.source_type, id=sid))
    return found


def _correction_text(entry: PointsEntry, corrected: tuple | None) -> str:
    what = ""
    if corrected is not None:
        code, day = corrected
        what = _("%(day)s 的“%(code)s”", day=day.isoformat(), code=code.label)
    if entry.created_by_id is None:
        if entry.points < 0:
            return _("来源记录已变更（如服务记录修改后待重新核实），系统撤销%(what)s", what=what)
        return _("来源记录重新符合条件，系统恢复%(what)s", what=what)
    return _("更正%(what)s：%(reason)s", what=what, reason=entry.note)


def open_awards(member: Member, page: list[PointsEntry]) -> set[int]:
    """The awards on the page an admin may still correct: what they count is not cancelled by
    the corrections after them (one query: the member's corrections)."""
    links = db.session.scalars(
        sa.select(PointsEntry).where(PointsEntry.member_id == member.id,
                                     PointsEntry.code == RuleCode.CORRECTION).order_by(PointsEntry.id)
    ).all()
    after = {link.source_id: link for link in links}
    result = set()
    for entry in page:
        if entry.code is RuleCode.CORRECTION:
            continue
        net, head = entry.points, entry.id
        while head in after:
            net += after[head].points
            head = after[head].id
        if net != 0:
            result.add(entry.id)
    return result


# --- rankings --------------------------------------------------------------------------------------

GROUPS = ("member", "grid", "community", "township")
GROUP_LEVEL = {"grid": OrgLevel.GRID, "community": OrgLevel.COMMUNITY, "township": OrgLevel.TOWNSHIP}


def group_labels() -> dict[str, str]:
    return {"member": _("党员"), "grid": _("网格"), "community": _("村/社区"), "township": _("乡镇/街道")}


def groups_for(node: OrgNode) -> list[str]:
    """What a ranking under ``node`` may rank: members, and the levels below the node."""
    return ["member", *(g for g in GROUPS[1:] if GROUP_LEVEL[g].depth > node.level.depth)]


def _member_totals(node: OrgNode, period: Period, ranked: bool = True) -> sa.Subquery:
    """The active members under ``node`` with their points in the period (and their rank); the
    points read from the maintained per-month and per-year aggregates."""
    from app.services.aggregates import points_totals

    sums = points_totals(period.first, period.last)
    total = sa.func.coalesce(sums.c.total, 0)
    columns = [Member.id.label("id"), Member.grid_id.label("grid_id"), total.label("total")]
    if ranked:
        columns.append(sa.func.rank().over(order_by=total.desc()).label("rank"))
    return (
        sa.select(*columns)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .outerjoin(sums, sums.c.member_id == Member.id)
        .where(OrgNode.under(node.path), Member.status == MemberStatus.ACTIVE)
        .subquery()
    )


def _unit_totals(node: OrgNode, group: str, period: Period, ranked: bool = True) -> sa.Subquery:
    """The grids, communities or townships under ``node`` with their members, points, points per
    member and rank (by points per member: a large unit does not win by its size). The members'
    figures are summed per grid first, then each unit takes its grids by the parent links down to
    them (a community its grids, a township its communities' grids: equality joins over a few
    hundred rows, not a path prefix compared for every pair of nodes)."""
    members = _member_totals(node, period, ranked=False)
    per_grid = (sa.select(members.c.grid_id, sa.func.count(members.c.id).label("members"),
                          sa.func.sum(members.c.total).label("total"))
                .group_by(members.c.grid_id).subquery("per_grid"))
    unit = aliased(OrgNode)
    below, joined = unit, unit
    for _hop in range(OrgLevel.GRID.depth - GROUP_LEVEL[group].depth):
        child = aliased(OrgNode)
        joined = outerjoin(joined, child, child.parent_id == below.id)
        below = child
    joined = outerjoin(joined, per_grid, per_grid.c.grid_id == below.id)
    # Sums of counts and sums are NUMERIC on PostgreSQL (a Decimal, which a ledger cell would show
    # as text): cast back to integers.
    count = sa.cast(sa.func.coalesce(sa.func.sum(per_grid.c.members), 0), sa.Integer)
    total = sa.cast(sa.func.coalesce(sa.func.sum(per_grid.c.total), 0), sa.Integer)
    stats = (
        sa.select(unit.id.label("id"), count.label("members"), total.label("total"))
        .select_from(joined)
        .where(unit.level == GROUP_LEVEL[group], unit.path.startswith(node.path, autoescape=True))
        .group_by(unit.id).subquery()
    )
    average = sa.func.coalesce(sa.cast(stats.c.total, sa.Float) / sa.func.nullif(stats.c.members, 0), 0.0)
    if not ranked:
        return sa.select(stats, average.label("average")).subquery()
    return sa.select(stats, average.label("average"),
                     sa.func.rank().over(order_by=average.desc()).label("rank")).subquery()


@dataclass(frozen=True)
class RankRow:
    rank: int
    total: int
    members: int = 1
    average: float = 0.0


def ranking(node: OrgNode, group: str, period: Period) -> sa.Select:
    """The ranking as a select of members or org nodes, best first (the view paginates it).
    Ordered by the figure the rank is taken from (the same order as by rank), so the database
    takes the page's rows without ranking everyone first; :func:`ranking_rows` gives the ranks."""
    if group == "member":
        t = _member_totals(node, period, ranked=False)
        # The page's names and grids are read for its rows alone (not joined to every member).
        return (sa.select(Member).join(t, t.c.id == Member.id).order_by(t.c.total.desc(), Member.id)
                .options(selectinload(Member.user), selectinload(Member.grid)))
    t = _unit_totals(node, group, period, ranked=False)
    return sa.select(OrgNode).join(t, t.c.id == OrgNode.id).order_by(t.c.average.desc(), OrgNode.path)


def leaders(node: OrgNode, period: Period, n: int) -> list[tuple[Member, int]]:
    """The top ``n`` of the members' ranking (:func:`ranking`) who have points in the period, with
    their points (one query): read from the members with points — for a whole month or year the
    maintained rows of that period, best first (``ix_agg_points_*_points``) — not by ranking
    every member under the node."""
    from app.services.aggregates import points_totals

    sums = points_totals(period.first, period.last)
    return [(m, int(total)) for m, total in db.session.execute(
        sa.select(Member, sums.c.total).join(sums, sums.c.member_id == Member.id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(node.path), Member.status == MemberStatus.ACTIVE, sums.c.total > 0)
        .order_by(sums.c.total.desc(), Member.id).limit(n)
        .options(joinedload(Member.user), joinedload(Member.grid)))]


def ranking_rows(node: OrgNode, group: str, period: Period, ids: list[int]) -> dict[int, RankRow]:
    """Rank and points of the page's members or nodes (one query)."""
    if not ids:
        return {}
    if group == "member":
        t = _member_totals(node, period)
        rows = db.session.execute(sa.select(t.c.id, t.c.rank, t.c.total).where(t.c.id.in_(ids)))
        return {i: RankRow(rank, total) for i, rank, total in rows}
    t = _unit_totals(node, group, period)
    rows = db.session.execute(sa.select(t.c.id, t.c.rank, t.c.total, t.c.members, t.c.average)
                              .where(t.c.id.in_(ids)))
    return {i: RankRow(rank, total, members, float(avg)) for i, rank, total, members, avg in rows}


def export_ranking(user: User, node: OrgNode, group: str, period: Period, ip: str,
                   band: Band | None = None) -> bytes:
    """The whole ranking (of the band's members when given) as a ledger workbook (.xlsx), the
    filters written above the headers; the export is audited."""
    band = band if group == "member" else None
    items = list(db.session.scalars(in_band(ranking(node, group, period), node, period, band)).unique())
    values = ranking_rows(node, group, period, [i.id for i in items])
    label = group_labels()[group]
    if group == "member":
        headers = [_("名次"), _("姓名"), _("网格"), _("积分")]
        body = [[values[m.id].rank, m.name, m.grid.name, values[m.id].total] for m in items]
    else:
        headers = [_("名次"), label, _("党员人数"), _("积分合计"), _("人均积分")]
        body = [[values[n.id].rank, n.name, values[n.id].members, values[n.id].total,
                 round(values[n.id].average, 1)] for n in items]
    title = _("党员积分排名（按%(by)s）", by=label)
    filters = _("排名对象：%(by)s", by=label) + (_("；积分：%(band)s", band=band.label) if band else "")
    data = ledger.build_workbook(title, node.name, period.label, headers, body, filters)
    audit(user.id, "export", "points_ranking", node.id, detail=f"by={group} {period.value} "
          f"{period.first.isoformat()}..{period.last.isoformat()}"
          f"{f' points {band.low}..{band.high}' if band else ''}; {len(body)} rows", ip=ip)
    return data


@dataclass(frozen=True)
class NodeChoice:
    """A node as the ranking's and the rules' node selector lists it: its id, name and how many
    levels it sits below the first node listed."""

    id: int
    name: str
    indent: int


def node_choices(paths: list[str]) -> list[NodeChoice]:
    """The nodes an admin holding ``paths`` may rank within, in tree order, as plain rows for a
    selector (a district lists some 650 nodes: no ORM object each)."""
    if not paths:
        return []
    rows = db.session.execute(
        sa.select(OrgNode.id, OrgNode.name, OrgNode.level)
        .where(sa.or_(*(OrgNode.under(p) for p in paths))).order_by(OrgNode.path)).all()
    depth = {level: i for i, level in enumerate(OrgLevel)}
    top = depth[rows[0].level] if rows else 0
    return [NodeChoice(i, name, depth[level] - top) for i, name, level in rows]


# --- points bands: the distribution chart and the ranking's filter ----------------------------------


BAND_LIMIT = 10**9  # a typed bound beyond any total (and within an SQL integer)


@dataclass(frozen=True)
class Band:
    """Points from ``low`` to ``high`` (both counted; None: no bound)."""

    low: int | None
    high: int | None

    @classmethod
    def of(cls, low: int | None, high: int | None) -> Band | None:
        """The band a filter asks for (in order); None when it asks for none."""
        if low is None and high is None:
            return None
        low, high = (None if v is None else max(-BAND_LIMIT, min(BAND_LIMIT, v)) for v in (low, high))
        if low is not None and high is not None and low > high:
            low, high = high, low
        return cls(low, high)

    @property
    def label(self) -> str:
        if self.low is None:
            return _("%(n)d 分及以下", n=self.high)
        if self.high is None:
            return _("%(n)d 分及以上", n=self.low)
        if self.low == self.high:
            return _("%(n)d 分", n=self.low)
        return _("%(a)d–%(b)d 分", a=self.low, b=self.high)

    def conditions(self, column: sa.ColumnElement[int]) -> list[sa.ColumnElement[bool]]:
        return [c for c in (None if self.low is None else column >= self.low,
                            None if self.high is None else column <= self.high) if c is not None]

    def holds(self, points: int) -> bool:
        return (self.low is None or points >= self.low) and (self.high is None or points <= self.high)


# Equal widths, so that bar heights compare; the width is the smallest of these that keeps the
# bands above zero to at most MAX_BANDS (with the "0 and below" bar: eight bars, which stay
# readable at 360 px).
BAND_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)
MAX_BANDS = 7


def bands_for(top: int) -> list[Band]:
    """Bands for points up to ``top``: 0 and below (no points, or more lost than earned), then
    1–(w−1), w–(2w−1), … up to the band holding ``top``."""
    bands = [Band(None, 0)]
    if top <= 0:
        return bands
    def count(w: int) -> int:  # bands of width w from the one holding 1 to the one holding top
        return top // w + (0 if w == 1 else 1)

    step = next((w for w in BAND_STEPS if count(w) <= MAX_BANDS), BAND_STEPS[-1])
    first = 1 if step == 1 else 0
    for i in range(first, first + min(count(step), MAX_BANDS)):
        bands.append(Band(max(1, i * step), (i + 1) * step - 1))
    if count(step) > MAX_BANDS:  # beyond every width: the last band is open above
        bands[-1] = Band(bands[-1].low, None)
    return bands


def in_band(stmt: sa.Select, node: OrgNode, period: Period, band: Band | None) -> sa.Select:
    """A members' ranking (:func:`ranking`) kept to the members whose period's points fall in
    ``band`` (their rank stays their rank among all); the same totals as :func:`distribution`."""
    if band is None:
        return stmt
    t = _member_totals(node, period, ranked=False)
    return stmt.where(Member.id.in_(sa.select(t.c.id).where(*band.conditions(t.c.total))))


def distribution(node: OrgNode, period: Period) -> list[tuple[Band, int]]:
    """How many active members under ``node`` have their period's points in each band (one
    query: members counted per distinct total)."""
    t = _member_totals(node, period, ranked=False)
    per_total = db.session.execute(sa.select(t.c.total, sa.func.count()).group_by(t.c.total)).all()
    bands = bands_for(max((int(total) for total, _n in per_total), default=0))
    return [(b, sum(n for total, n in per_total if b.holds(int(total)))) for b in bands]


# --- the monthly ledger's sheet ----------------------------------------------------------------------


@monthly.sheet
def points_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """The month's points per grid: active members, points and points per member."""
    grid, parent = aliased(OrgNode), aliased(OrgNode)
    members = _member_totals(node, Period("", first, last, ""), ranked=False)
    rows = db.session.execute(
        sa.select(parent.name, grid.name, sa.func.count(members.c.id),
                  sa.cast(sa.func.coalesce(sa.func.sum(members.c.total), 0), sa.Integer))
        .select_from(grid).join(parent, parent.id == grid.parent_id)
        .outerjoin(members, members.c.grid_id == grid.id)
        .where(grid.level == OrgLevel.GRID, grid.path.startswith(node.path, autoescape=True))
        .group_by(grid.id, parent.name, grid.name, grid.path).order_by(grid.path)
    ).all()

    def per_member(points: int, count: int) -> float:
        return round(points / count, 1) if count else 0.0

    body = [[community, name, n, points, per_member(points, n)] for community, name, n, points in rows]
    n_all, points_all = sum(r[2] for r in body), sum(r[3] for r in body)
    body.append([_("合计"), "", n_all, points_all, per_member(points_all, n_all)])
    return ledger.Sheet(_("党员积分"), node.name, _("%(a)s 至 %(b)s", a=first.isoformat(), b=last.isoformat()),
                        [_("村/社区"), _("网格"), _("在册党员"), _("积分合计"), _("人均积分")], body)


# --- counts a home page can show ---------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    entries: int
    points: int
    members: int  # members who earned or lost anything


def totals(paths: list[str], first: date, last: date) -> Totals:
    """The entries, net points and members concerned under the org ``paths`` over the days
    ``first`` to ``last`` (one query)."""
    if not paths:
        return Totals(0, 0, 0)
    entries_, points, members = db.session.execute(
        sa.select(sa.func.count(PointsEntry.id), sa.func.coalesce(sa.func.sum(PointsEntry.points), 0),
                  sa.func.count(sa.distinct(PointsEntry.member_id)))
        .join(Member, Member.id == PointsEntry.member_id).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(PointsEntry.occurred_on.between(first, last), sa.or_(*(OrgNode.under(p) for p in paths)))
    ).one()
    return Totals(entries_, points, members)


# --- corrections ------------------------------------------------------------------------------------

CORRECTION_REASON_MAX = 255


def correct(entry: PointsEntry, actor: User, reason: str, ip: str) -> PointsEntry:
    """An admin's 更正 of one entry, audited."""
    correction = src.correct(entry, actor, reason)
    db.session.flush()
    audit(actor.id, "points.correct", "points_entry", entry.id,
          detail=f"member={entry.member_id} {correction.points:+d}: {correction.note[:200]}", ip=ip)
    return correction
