"""The 工作看板's charts: numbers from ``services.overview``, each bar linking to its list."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta

from flask import url_for
from flask_babel import gettext as _

from app.charts import Chart, Series, bar_chart
from app.models import ActivityKind, OrgNode
from app.services.overview import CommunityCoverage
from app.services.points.lists import Band, Period
from app.web import id_url


def _month_last(first: date) -> date:
    return first.replace(day=monthrange(first.year, first.month)[1])


def checkins_chart(weeks: list[tuple[date, int]]) -> Chart:
    """Check-ins per week; each bar opens that week's check-in list."""
    hrefs = [url_for("overview.checkins", **{"from": m.isoformat(), "to": (m + timedelta(days=6)).isoformat()})
             for m, _n in weeks]
    return bar_chart(_("每周驿站签到"), [f"{m:%Y-%m-%d}" for m, _n in weeks],
                     [Series(_("签到人次"), [n for _m, n in weeks], hrefs)],
                     axis=[f"{m.month}/{m.day}" for m, _n in weeks], header=_("周（起始日）"))


def activities_chart(months: list[tuple[date, int]]) -> Chart:
    """Services per month; each bar opens the activity ledger for that month."""
    hrefs = [url_for("activities.ledger_view", date_from=f.isoformat(), date_to=_month_last(f).isoformat())
             for f, _n in months]
    return bar_chart(_("每月服务记录"), [f"{f:%Y-%m}" for f, _n in months],
                     [Series(_("服务次数"), [n for _f, n in months], hrefs)],
                     axis=[_("%(m)d月", m=f.month) for f, _n in months], header=_("月份"))


def kinds_chart(kinds: list[tuple[ActivityKind, int]], first: date, last: date) -> Chart:
    """This month's services by kind; each bar opens the ledger for that kind and month."""
    hrefs = [url_for("activities.ledger_view", kind=k.value, date_from=first.isoformat(),
                     date_to=last.isoformat()) for k, _n in kinds]
    return bar_chart(_("本月服务类型"), [k.label for k, _n in kinds],
                     [Series(_("服务次数"), [n for _k, n in kinds], hrefs)],
                     axis=[k.label[:2] for k, _n in kinds], header=_("服务类型"))


def coverage_chart(rows: list[CommunityCoverage]) -> Chart:
    """Share of resident households covered, per community; each bar opens the uncovered list."""
    residents = id_url("structure.residents", "node", below=1)  # one URL pattern for every community
    hrefs = [residents(r.node.id) for r in rows]
    return bar_chart(_("各村/社区群众户联系覆盖率"), [r.node.name for r in rows],
                     [Series(_("覆盖率"), [r.covered_pct for r in rows], hrefs)], unit="%", top=100,
                     axis=[r.node.name[:3] for r in rows], header=_("村/社区"))


def training_chart(months: list[tuple[date, int, int]]) -> Chart:
    """Training sessions and participations per month; each sessions bar opens that month's
    sessions (those not cancelled), each participations bar that month's participation list."""
    periods = [{"date_from": f.isoformat(), "date_to": _month_last(f).isoformat()} for f, _s, _n in months]
    return bar_chart(_("每月培训场次与参训人次"), [f"{f:%Y-%m}" for f, _s, _n in months],
                     [Series(_("培训场次"), [s for _f, s, _n in months],
                             [url_for("training.index", state="active", **p) for p in periods]),
                      Series(_("参训人次"), [n for _f, _s, n in months],
                             [url_for("training.participations", **p) for p in periods])],
                     axis=[_("%(m)d月", m=f.month) for f, _s, _n in months], header=_("月份"))


def _band_axis(band: Band) -> str:
    return f"≤{band.high}" if band.low is None else str(band.low)


def points_chart(node: OrgNode, period: Period, bands: list[tuple[Band, int]]) -> Chart:
    """Active members under ``node`` per band of the period's points; each bar opens the members'
    ranking filtered to that band (so its count is the bar's number)."""
    hrefs = [url_for("points.ranking", node=node.id, by="member", period=period.value,
                     **{k: v for k, v in (("min", b.low), ("max", b.high)) if v is not None})
             for b, _n in bands]
    return bar_chart(_("%(node)s党员%(period)s积分分布", node=node.name, period=period.label),
                     [b.label for b, _n in bands], [Series(_("党员人数"), [n for _b, n in bands], hrefs)],
                     axis=[_band_axis(b) for b, _n in bands], header=_("积分段"))
