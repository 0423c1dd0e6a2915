"""The demo's points ledger (党员积分制), built last from everything the other generators wrote.

The ledger is never invented: every entry is what the award path gives the demo's own source
records — 主题党日 and training check-ins, online completions, verified activities, visits, needs
resolved in time, ratings, diary entries, breaches, upheld objections — replayed in the order
they happened under the built-in rules and caps (``recompute.insert_expected``: rules loaded once,
caps counted in memory, one executemany per 5,000 rows). So ``flask points recompute`` over the
demo finds nothing to report.
"""

from __future__ import annotations

from datetime import timedelta

from app.clock import local_day
from app.demo.context import DemoContext
from app.services.points import recompute

# The other generators write two years of history; a margin for the oldest of it.
DAYS = 800


def generate(ctx: DemoContext) -> dict[str, int]:
    """Award every source record of the demo; return how many entries the ledger holds."""
    today = local_day(ctx.now)
    return {"points_entries": recompute.insert_expected(ctx.conn, today - timedelta(days=DAYS), today)}
