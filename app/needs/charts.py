"""The needs dashboard's charts: the month-by-month counts and rates, each month linking to the
dashboard for that month (where the table breaks it down and exports it)."""

from __future__ import annotations

from calendar import monthrange
from datetime import date

from flask_babel import gettext as _

from app.charts import Chart, Series, bar_chart, line_chart
from app.services.needs import RateRow
from app.web import kept_url_for


def _month_href(first: date, group: str) -> str:
    last = first.replace(day=monthrange(first.year, first.month)[1])
    return kept_url_for("needs.dashboard", by=group, **{"from": first.isoformat(), "to": last.isoformat()})


def monthly_charts(months: list[tuple[date, RateRow]], group: str) -> tuple[Chart, Chart]:
    """Needs submitted and resolved per month (bars), and the three rates per month (lines)."""
    labels = [f"{d:%Y-%m}" for d, _r in months]
    axis = [_("%(m)d月", m=d.month) for d, _r in months]
    hrefs = [_month_href(d, group) for d, _r in months]
    counts = bar_chart(
        _("每月诉求：提交与办结"), labels,
        [Series(_("提交"), [r.submitted for _d, r in months], hrefs),
         Series(_("已办结"), [r.resolved for _d, r in months], hrefs)],
        axis=axis, header=_("月份"),
    )
    rates = line_chart(
        _("每月三率"), labels,
        [Series(_("响应率"), [r.response_rate for _d, r in months], hrefs),
         Series(_("办结率"), [r.resolution_rate for _d, r in months], hrefs),
         Series(_("满意率"), [r.satisfaction_rate for _d, r in months], hrefs)],
        unit="%", top=100, axis=axis, header=_("月份"),
    )
    return counts, rates
