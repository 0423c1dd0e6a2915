"""Benchmark: server time per page on a district-scale dataset (DESIGN.md §9).

    .venv/bin/python bench/run.py                 # scale 1 on SQLite, 30 requests per page
    .venv/bin/python bench/run.py --scale 0.2 -n 10
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/run.py --scale 10
    DATABASE_URL=… .venv/bin/python bench/run.py --keep --only /evaluation/,/training/sessions/

It builds the demo district in a scratch database (never the app's own), logs in as the demo
account of each role, requests every page in PAGES ``-n`` times in-process (the Flask test client:
server time without the network) and prints p50/p95, the SQL query count of one request, and the
gzip weight of the HTML. Targets: pages p95 ≤ 50 ms, dashboards ≤ 200 ms, member/resident pages
≤ 60 KB gzip including htmx, CSS and JS (first load).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.database import writing  # noqa: E402
from app.extensions import db  # noqa: E402

PASSWORD = "dangyuan2024"
ACCOUNTS = {
    "district": "13900000001",
    "township": "13900000002",
    "community": "13900000003",
    "station": "13900000004",
    "head": "13900000005",
    "member": "13900000006",
    "resident": "13900000007",
}


@dataclass
class Page:
    who: str  # a key of ACCOUNTS, or "" for anonymous
    url: str | Callable[[], str | None]
    dashboard: bool = False
    light: bool = False  # a member's or resident's page: the 60 KB weight target applies


def first_id(stmt: sa.Select) -> int | None:
    return db.session.scalar(stmt.limit(1))


def _member_id(phone: str) -> int | None:
    from app.models import Member, User

    return db.session.scalar(sa.select(Member.id).join(User).where(User.phone == phone))


def _station_id() -> int | None:
    from app.models import RoleAssignment, User

    return first_id(sa.select(RoleAssignment.station_id).join(User)
                    .where(User.phone == ACCOUNTS["station"], RoleAssignment.station_id.is_not(None)))


def _url(template: str, value: Callable[[], int | None]) -> Callable[[], str | None]:
    def build() -> str | None:
        found = value()
        return None if found is None else template.format(found)

    return build


def _need_of(phone: str) -> int | None:
    from app.models import Need

    return first_id(sa.select(Need.id).where(Need.member_id == _member_id(phone)).order_by(Need.id))


def _activity_of(phone: str) -> int | None:
    from app.models import Activity

    return first_id(sa.select(Activity.id).where(Activity.author_member_id == _member_id(phone))
                    .order_by(Activity.id.desc()))


def _household_of(phone: str) -> int | None:
    from app.models import Member

    return db.session.scalar(sa.select(Member.central_household_id).where(Member.id == _member_id(phone)))


def _any(model_name: str) -> Callable[[], int | None]:
    def pick() -> int | None:
        import app.models as m

        model = getattr(m, model_name)
        return first_id(sa.select(model.id).order_by(model.id))

    return pick


def _training_session(mode: str) -> int | None:
    """The latest ended session of ``mode`` (offline: the biggest attendance lists are townships')."""
    from app.models import OrgLevel, OrgNode, TrainingSession, utcnow

    return first_id(sa.select(TrainingSession.id).join(OrgNode, OrgNode.id == TrainingSession.org_node_id)
                    .where(TrainingSession.mode == mode, TrainingSession.ends_at < utcnow(),
                           OrgNode.level == OrgLevel.TOWNSHIP)
                    .order_by(TrainingSession.starts_at.desc()))


def _last_year() -> int:
    from app.clock import local_today

    return local_today().year - 1


def _district_node() -> int | None:
    from app.models import OrgLevel, OrgNode

    return first_id(sa.select(OrgNode.id).where(OrgNode.level == OrgLevel.DISTRICT).order_by(OrgNode.id))


def _community_node() -> int | None:
    from app.models import RoleAssignment, User

    return first_id(sa.select(RoleAssignment.org_node_id).join(User)
                    .where(User.phone == ACCOUNTS["community"], RoleAssignment.org_node_id.is_not(None)))


# Every main page of every area, as the demo account of the role that uses it.
PAGES: list[Page] = [
    Page("", "/", light=True),
    Page("", "/login", light=True),
    Page("", "/nominations/notice", light=True),
    Page("", "/track", light=True),
    Page("member", "/", light=True),
    Page("member", "/needs/", light=True),
    Page("member", _url("/needs/{}", lambda: _need_of(ACCOUNTS["member"])), light=True),
    Page("member", "/activities/", light=True),
    Page("member", "/activities/new", light=True),
    Page("member", _url("/activities/{}", lambda: _activity_of(ACCOUNTS["member"])), light=True),
    Page("member", "/diary/", light=True),
    Page("member", "/visits/", light=True),
    Page("member", "/me/checkins", light=True),
    Page("member", "/notifications/", light=True),
    Page("member", "/needs/cards"),
    Page("head", "/", light=True),
    Page("head", "/needs/", light=True),
    Page("head", _url("/activities/household/{}", lambda: _household_of(ACCOUNTS["head"]))),
    Page("head", _url("/visits/household/{}", lambda: _household_of(ACCOUNTS["head"]))),
    Page("district", "/visits/coverage"),
    Page("resident", "/needs/mine", light=True),
    Page("station", "/stations/"),
    Page("station", _url("/stations/{}/", _station_id)),
    Page("station", _url("/stations/{}/kiosk", _station_id)),
    Page("station", _url("/stations/{}/kiosk/live", _station_id)),
    Page("station", _url("/stations/{}/ledger", _station_id)),
    Page("station", _url("/stations/{}/events", _station_id)),
    Page("station", "/activities/verify"),
    Page("district", "/", dashboard=True),
    Page("community", "/", dashboard=True),
    Page("district", "/structure/"),
    Page("district", "/structure/members"),
    Page("district", "/structure/members?q=王"),
    Page("district", "/structure/households"),
    Page("district", "/structure/residents"),
    Page("district", "/structure/stations"),
    Page("district", _url("/structure/members/{}", lambda: _member_id(ACCOUNTS["member"]))),
    Page("district", "/households/"),
    Page("district", _url("/households/{}", lambda: _household_of(ACCOUNTS["head"]))),
    Page("community", "/households/gaps", dashboard=True),
    Page("district", "/households/mentors"),
    Page("district", "/nominations/"),
    Page("district", "/activities/ledger"),
    Page("district", "/needs/dispatch"),
    Page("district", "/needs/dashboard", dashboard=True),
    Page("community", "/needs/dashboard", dashboard=True),
    Page("district", "/overview/", dashboard=True),
    Page("community", "/overview/", dashboard=True),
    Page("district", "/overview/checkins"),
    Page("station", "/", light=True),
    Page("district", "/training/"),
    Page("station", "/training/"),
    Page("district", _url("/training/sessions/{}", lambda: _training_session("offline"))),
    Page("district", _url("/training/sessions/{}", lambda: _training_session("online"))),
    Page("member", "/training/me", light=True),
    Page("member", _url("/training/members/{}", lambda: _member_id(ACCOUNTS["member"])), light=True),
    Page("head", _url("/training/households/{}", lambda: _household_of(ACCOUNTS["head"]))),
    # Reports over the admin's whole scope (issue 11, item 4), held to the dashboards' target.
    Page("district", "/evaluation/"),
    Page("district", _url("/evaluation/{}/" + str(_last_year()) + "/members", _district_node), dashboard=True),
    Page("district", _url("/evaluation/{}/" + str(_last_year()) + "/households", _district_node), dashboard=True),
    Page("community", _url("/evaluation/{}/" + str(_last_year()) + "/members", _community_node), dashboard=True),
    Page("district", "/points/", dashboard=True),
    Page("district", "/points/?period=y:" + str(_last_year() + 1), dashboard=True),
    Page("district", "/points/?period=y:" + str(_last_year() + 1) + "&by=grid", dashboard=True),
    Page("member", "/points/me", light=True),
]


def static_weight(client) -> int:  # type: ignore[no-untyped-def]
    total = 0
    for path in ("/static/vendor/htmx-2.0.11.min.js", "/static/css/app.css", "/static/js/app.js"):
        with client.get(path) as r:
            total += len(gzip.compress(r.get_data()))
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("-n", type=int, default=30, help="requests per page")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--keep", action="store_true",
                        help="reuse the data already in DATABASE_URL instead of generating it again")
    parser.add_argument("--only", help="comma-separated parts of URLs: measure only the pages whose URL "
                        "contains one of them")
    args = parser.parse_args()
    only = [part.strip() for part in args.only.split(",")] if args.only else None

    scratch = Path(tempfile.mkdtemp(prefix="dy-bench-"))
    uri = os.environ.get("DATABASE_URL") or f"sqlite:///{scratch / 'bench.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": str(scratch),
                      "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False, "ADMIN_IDLE_TIMEOUT":
                      __import__("datetime").timedelta(days=1)})
    from flask_migrate import upgrade

    from app.demo import district

    with app.app_context():
        if args.keep:
            print("reusing the data in", uri)
        elif uri.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        if not args.keep:
            upgrade()
            started = time.perf_counter()
            with writing():
                stats = district.generate(seed=args.seed, scale=args.scale)
            print(f"demo district at scale {args.scale}: {time.perf_counter() - started:.1f} s "
                f"({', '.join(f'{k} {v}' for k, v in stats.items())})")

    queries = 0

    def count(*_a):  # type: ignore[no-untyped-def]
        nonlocal queries
        queries += 1

    rows = []
    clients: dict[str, object] = {}
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    # Requests run outside any app context, as under a real server: each gets its own (a shared
    # one would let Flask-Login's per-context user cache leak from one client to the next).
    weight_static = static_weight(app.test_client())
    for page in PAGES:
        client = clients.get(page.who)
        if client is None:
            client = app.test_client()
            if page.who:
                r = client.post("/login", data={"phone": ACCOUNTS[page.who], "password": PASSWORD})
                assert r.status_code == 303, f"login {page.who}: {r.status_code}"
            clients[page.who] = client
        with app.app_context():
            url = page.url() if callable(page.url) else page.url
        if url is None:
            rows.append((page.who or "anon", "(nothing to show)", "n/a", "", "", "", ""))
            continue
        if only is not None and not any(part in url for part in only):
            continue
        client.get(url)  # warm-up: template compilation is not what we measure
        times = []
        status = 0
        body = b""
        for _i in range(args.n):
            queries = 0
            t0 = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            status, body = r.status_code, r.get_data()
            one = queries
        p50 = statistics.median(times)
        p95 = sorted(times)[max(0, int(round(0.95 * len(times))) - 1)]
        target = 200 if page.dashboard else 50
        weight = len(gzip.compress(body)) + (weight_static if page.light else 0)
        ok = "ok" if p95 <= target and (not page.light or weight <= 60_000) else "OVER"
        rows.append((page.who or "anon", url, status, f"{p50:.1f}", f"{p95:.1f}", one,
                     f"{weight / 1000:.1f} kB", ok))
    print()
    print("| who | url | status | p50 ms | p95 ms | queries | gzip | target |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0 if all(r[-1] == "ok" for r in rows if len(r) == 8) else 1


if __name__ == "__main__":
    raise SystemExit(main())
