"""Where a page's server time goes, SQL statement by statement (issue 11, item 4).

    .venv/bin/python bench/sqlprof.py --db /tmp/dy-prof/bench.sqlite            # every page below
    DATABASE_URL=postgresql+psycopg://…/bench10 .venv/bin/python bench/sqlprof.py --only sheet,ranking-y
    DATABASE_URL=… .venv/bin/python bench/sqlprof.py --only dispatch --explain 2   # and their plans

For each page it requests the page ``-n`` times in process (the Flask test client) as the demo
account of its role, and prints the wall and CPU milliseconds per request, the time spent in the
database driver, and the statements of one request with their times, slowest first. The database
must hold the demo district already (``bench/run.py`` or ``bench/hotspots.py`` build one).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.run import ACCOUNTS, PASSWORD, _training_session  # noqa: E402


def _district_id() -> int:
    from app.models import OrgLevel, OrgNode

    return db.session.scalar(sa.select(OrgNode.id).where(OrgNode.level == OrgLevel.DISTRICT).limit(1))


def pages(year: int) -> dict[str, tuple[str, str]]:
    """name → (who, url) of the figure-heavy pages."""
    district = _district_id()
    return {
        "home-district": ("district", "/"),
        "home-community": ("community", "/"),
        "home-member": ("member", "/"),
        "home-head": ("head", "/"),
        "home-station": ("station", "/"),
        "overview": ("district", "/overview/"),
        "overview-community": ("community", "/overview/"),
        "sheet": ("district", f"/evaluation/{district}/{year - 1}/members"),
        "sheet-households": ("district", f"/evaluation/{district}/{year - 1}/households"),
        "sheet-this-year": ("district", f"/evaluation/{district}/{year}/members"),
        "ranking-m": ("district", "/points/"),
        "ranking-y": ("district", f"/points/?period=y:{year}"),
        "ranking-y-grid": ("district", f"/points/?period=y:{year}&by=grid"),
        "ranking-y-township": ("district", f"/points/?period=y:{year}&by=township"),
        "points-me": ("member", "/points/me"),
        "evaluation": ("district", "/evaluation/"),
        "structure": ("district", "/structure/"),
        "residents": ("district", "/structure/residents"),
        "ledger": ("district", "/activities/ledger"),
        "needs-dashboard": ("district", "/needs/dashboard"),
        "coverage": ("district", "/visits/coverage"),
        "members": ("district", "/structure/members"),
        "members-q": ("district", "/structure/members?q=王"),
        "gaps": ("community", "/households/gaps"),
        "household": ("district", "/households/1"),
        "station-ledger": ("station", "/stations/1/ledger"),
        "households": ("district", "/structure/households"),
        "dispatch": ("district", "/needs/dispatch"),
        "training-offline": ("district", f"/training/sessions/{_training_session('offline')}"),
        "training-online": ("district", f"/training/sessions/{_training_session('online')}"),
    }


def normalise(statement: str) -> str:
    text = " ".join(statement.split())
    return re.sub(r"SELECT .*? FROM", "SELECT … FROM", text, count=1)[:160]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a SQLite file (else DATABASE_URL)")
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--only", help="comma-separated page names")
    parser.add_argument("--top", type=int, default=8, help="statements shown per page")
    parser.add_argument("--explain", type=int, default=0, metavar="N",
                        help="PostgreSQL: EXPLAIN ANALYZE the N slowest statements of each page, as run")
    args = parser.parse_args()
    uri = f"sqlite:///{Path(args.db).resolve()}" if args.db else os.environ["DATABASE_URL"]
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "profile", "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "ADMIN_IDLE_TIMEOUT": timedelta(days=1)})
    from app.clock import local_today

    with app.app_context():
        table = pages(local_today().year)
    wanted = [w.strip() for w in args.only.split(",")] if args.only else list(table)

    statements: list[tuple[str, float]] = []
    started: dict[int, float] = {}
    executed: dict[str, tuple[str, object]] = {}  # normalised statement → (statement, parameters)

    def before(conn, cursor, statement, *a):  # type: ignore[no-untyped-def]
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, *a):  # type: ignore[no-untyped-def]
        statements.append((statement, time.perf_counter() - started.pop(id(cursor), time.perf_counter())))
        executed[normalise(statement)] = (statement, parameters)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", before)
        sa.event.listen(db.engine, "after_cursor_execute", after)

    clients: dict[str, object] = {}
    print("| page | url | wall ms | CPU ms | SQL ms | statements |\n|---|---|---|---|---|---|")
    details = []
    for name in wanted:
        who, url = table[name]
        client = clients.get(who)
        if client is None:
            client = app.test_client()
            r = client.post("/login", data={"phone": ACCOUNTS[who], "password": PASSWORD})
            assert r.status_code == 303, (who, r.status_code)
            clients[who] = client
        r = client.get(url)
        assert r.status_code == 200, (name, url, r.status_code)
        statements.clear()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        per_request: list[list[tuple[str, float]]] = []
        for _ in range(args.n):
            client.get(url)
            per_request.append(list(statements))
            statements.clear()
        wall = (time.perf_counter() - wall0) * 1000 / args.n
        cpu = (time.process_time() - cpu0) * 1000 / args.n
        sql = sum(s for req in per_request for _t, s in req) * 1000 / args.n
        print(f"| {name} | `{url}` | {wall:.1f} | {cpu:.1f} | {sql:.1f} | {len(per_request[0])} |", flush=True)
        by_stmt: dict[str, list[float]] = defaultdict(list)
        for req in per_request:
            for text, secs in req:
                by_stmt[normalise(text)].append(secs * 1000 / args.n)
        ranked = sorted(by_stmt.items(), key=lambda kv: -sum(kv[1]))[:args.top]
        plans = [explain(app, *executed[text]) for text, _t in ranked[:args.explain]]
        details.append((name, ranked, plans))
    for name, ranked, plans in details:
        print(f"\n### {name}\n\n| ms per request | statement |\n|---|---|")
        for text, times in ranked:
            print(f"| {sum(times):.1f} | `{text}` |")
        for plan in plans:
            print(f"\n```\n{plan}\n```")
    return 0


def explain(app, statement: str, parameters: object) -> str:  # type: ignore[no-untyped-def]
    """The statement and its plan as PostgreSQL runs it (EXPLAIN ANALYZE, with its parameters)."""
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            raw.rollback()
            raw.close()
    return f"{statement}\n{parameters}\n\n{plan}"


if __name__ == "__main__":
    raise SystemExit(main())
