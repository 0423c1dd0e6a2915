"""Where the time of a hot page goes (issue 14): SQL by statement and the Python profile, in process.

    .venv/bin/python bench/hotspots.py --db /tmp/dy-prof/bench.sqlite        # builds it when empty
    .venv/bin/python bench/hotspots.py --db … --only home,kiosk -n 300 --top 25

For each page (member home, kiosk repeat scan, card form, tracking page, login) it requests the
page ``-n`` times through the Flask test client, as the demo member or anonymously, and prints:
the CPU milliseconds per request; every SQL statement one request runs, with its count and time;
and a cProfile summary grouped by the part of the request the time is spent in (the user loader,
the view's service, the template, CSRF, Babel, the session…), plus the top functions by own time.
The timed requests call the WSGI application directly, as gunicorn does (an environ built once
per page, the session cookie in it; WhiteNoise, Flask and every hook included, the test client's
cookie jar and request building not), so the figures are close to a worker's CPU per request in
``bench/load.py`` minus gunicorn's own HTTP parsing; what matters is where the milliseconds go,
before and after a change.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402

PASSWORD = "dangyuan2024"
MEMBER = "13900000006"
DISTRICT = "13900000001"

# Parts of a request, by the file or function a profiled frame belongs to (first match wins: the
# most specific first). Cumulative time of the outermost frame of each part is what is reported.
PARTS = [
    ("the view (its services and queries, rendering included)", ("flask/app.py", "dispatch_request"),),
    ("user loader (session → principal)", ("app/web.py", "load_user"), ("app/principal.py", "load")),
    ("badge count", ("app/notifications/views.py", "unread_count"),),
    ("nav + template globals", ("app/web.py", "_globals"),),
    ("CSRF token", ("flask_wtf/csrf.py", "generate_csrf"), ("flask_wtf/csrf.py", "protect")),
    ("template rendering", ("flask/templating.py", "render_template"),),
    ("session cookie (open/save)", ("flask/sessions.py", "open_session"), ("flask/sessions.py", "save_session")),
    ("compression", ("flask_compress/flask_compress.py", "after_request"),),
    ("rate limiter", ("flask_limiter/extension.py", "_check_request_limit"),),
]


def build(db_path: Path) -> None:
    from flask_migrate import upgrade

    from app.database import writing
    from app.demo import district

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "INSTANCE_PATH": str(db_path.parent),
                      "SECRET_KEY": "profile"})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        with writing():
            district.generate(seed=2024, scale=1.0)
        print(f"demo district built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        db.engine.dispose()


def normalise(statement: str) -> str:
    text = " ".join(statement.split())
    text = re.sub(r"SELECT .*? FROM", "SELECT … FROM", text, count=1)
    return text[:150]


def sample(name: str, url: str, call, args, cpu: float, statements: int, sql_ms: float) -> None:  # type: ignore[no-untyped-def]
    """The call tree of ``args.n`` requests as pyinstrument samples it (every 0.1 ms of CPU)."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0001, async_mode="disabled")
    profiler.start()
    for _ in range(args.n):
        call()
    profiler.stop()
    print(f"\n## {name} `{url}` — {cpu:.2f} ms CPU per request, {statements} statements, "
          f"{sql_ms:.2f} ms (wall) in the driver; pyinstrument, {args.n} requests\n")
    print("```")
    print(profiler.output_text(unicode=True, color=False, show_all=False, time="percent_of_total",
                               flat=False, short_mode=False, processor_options={"filter_threshold": 0.01}))
    print("```")
    if args.flat:
        print("\nown time by function:\n```")
        text = profiler.output_text(unicode=True, color=False, show_all=True, time="percent_of_total",
                                    flat=True, short_mode=False)
        print("\n".join(text.splitlines()[:args.top + 8]))
        print("```")


def wsgi_caller(app, client, url: str):  # type: ignore[no-untyped-def]
    """A function that sends GET ``url`` with ``client``'s cookies straight to the WSGI app (the
    whole middleware stack, as gunicorn calls it) and returns the status code."""
    import io
    from importlib.metadata import version

    from werkzeug.test import EnvironBuilder

    cookies = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    # The test client's user agent, which logged in: the same session identifier (Flask-Login).
    builder = EnvironBuilder(path=url, base_url="http://127.0.0.1:8000/",
                             headers={"Cookie": cookies, "User-Agent": f"Werkzeug/{version('werkzeug')}"})
    environ = builder.get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    status: list[str] = []

    def start_response(s, headers, exc_info=None):  # type: ignore[no-untyped-def]
        status.append(s)

    def call() -> int:
        status.clear()
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO()
        body = app(env, start_response)
        try:
            for _chunk in body:
                pass
        finally:
            if hasattr(body, "close"):
                body.close()
        return int(status[0].split()[0])

    return call


def main() -> int:
    from datetime import timedelta

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "dy-prof" / "bench.sqlite"))
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--only", help="comma-separated page names: home,kiosk,card,tracking,login (the default), "
                        "inbox,dashboard,members")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--flat", action="store_true", help="with --sampler: also the top functions by own time")
    parser.add_argument("--sampler", action="store_true",
                        help="profile with pyinstrument (a sampling profiler: no per-call overhead "
                        "skewing the shares) instead of cProfile; print its call tree")
    args = parser.parse_args()
    db_path = Path(args.db).resolve()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if not db_path.exists():
        build(db_path)

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "INSTANCE_PATH": str(db_path.parent),
                      "SECRET_KEY": "profile", "RATELIMIT_ENABLED": True, "WTF_CSRF_ENABLED": True,
                      "LOGIN_LIMIT_PER_IP": "1000000 per minute", "TRACK_LIMIT_PER_IP": "1000000 per minute",
                      "ADMIN_IDLE_TIMEOUT": timedelta(days=1)})
    from app.models import EntryKind, EntryToken, Need, Station
    from app.services import checkin_tokens
    from bench.loadgen import CSRF_RE

    with app.app_context():
        card = db.session.scalar(sa.select(EntryToken.token).where(EntryToken.kind == EntryKind.CARD,
                                                                   EntryToken.revoked_at.is_(None)).limit(1))
        if card is None:  # the demo prints no card until asked: issue one, as bench/load.py does
            from app.database import writing
            from app.models import ResidentHousehold
            from app.services import entry_tokens

            with writing():
                household = db.session.scalar(sa.select(ResidentHousehold).order_by(ResidentHousehold.id).limit(1))
                card = entry_tokens.current_token(household).token
                db.session.commit()
        tracking = db.session.scalar(sa.select(Need.token).where(Need.hidden_at.is_(None), Need.token.is_not(None))
                                     .order_by(Need.id).limit(1))
        station = db.session.scalar(sa.select(Station.id).where(Station.active).order_by(Station.id).limit(1))

    member = app.test_client()
    page = member.get("/login").get_data(as_text=True)
    token = next(g for g in CSRF_RE.search(page).groups() if g)
    reply = member.post("/login", data={"csrf_token": token, "phone": MEMBER, "password": PASSWORD})
    assert reply.status_code == 303, reply.status_code
    anon = app.test_client()
    district = app.test_client()
    page = district.get("/login").get_data(as_text=True)
    token = next(g for g in CSRF_RE.search(page).groups() if g)
    reply = district.post("/login", data={"csrf_token": token, "phone": DISTRICT, "password": PASSWORD})
    assert reply.status_code == 303, reply.status_code

    def kiosk() -> str:
        with app.app_context():
            return f"/k/{checkin_tokens.kiosk_token(station)}"

    kiosk_url = kiosk()
    member.get(kiosk_url)  # the first scan: every timed one is a repeat
    pages = {
        "home": (member, "/"),
        "kiosk": (member, kiosk_url),
        "card": (anon, f"/c/{card}"),
        "tracking": (anon, f"/t/{tracking}"),
        "login": (anon, "/login"),
        "inbox": (member, "/needs/"),
        "badge": (member, "/notifications/badge"),
        "dashboard": (district, "/needs/dashboard"),
        "members": (district, "/structure/members"),
    }
    wanted = [w.strip() for w in args.only.split(",")] if args.only else ["home", "kiosk", "card", "tracking", "login"]

    statements: list[tuple[str, float]] = []
    started_at: dict[int, float] = {}

    def before(conn, cursor, statement, *a):  # type: ignore[no-untyped-def]
        started_at[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, *a):  # type: ignore[no-untyped-def]
        statements.append((statement, time.perf_counter() - started_at.pop(id(cursor), time.perf_counter())))

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", before)
        sa.event.listen(db.engine, "after_cursor_execute", after)

    for name in wanted:
        client, url = pages[name]
        for _ in range(20):
            assert client.get(url).status_code == 200, (name, url)
        call = wsgi_caller(app, client, url)
        for _ in range(20):
            assert call() == 200, (name, url)
        statements.clear()
        call()
        one = list(statements)
        statements.clear()
        cpu0 = time.process_time()
        for _ in range(args.n):
            call()
        cpu = (time.process_time() - cpu0) * 1000 / args.n
        sql_ms = sum(s for _t, s in statements) * 1000 / args.n
        if args.sampler:
            sample(name, url, call, args, cpu, len(one), sql_ms)
            continue
        # Profiled separately, on CPU time (the box is shared: wall time would count others' work).
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.n):
            call()
        profiler.disable()
        print(f"\n## {name} `{url.split('/')[1] and '/' + url.split('/')[1] or '/'}…` — "
              f"{cpu:.2f} ms CPU per request, {len(one)} statements, "
              f"{sql_ms:.2f} ms (wall) in the driver")
        by_stmt: dict[str, list[float]] = defaultdict(list)
        for text, secs in one:
            by_stmt[normalise(text)].append(secs * 1000)
        print("\n| statement | times | ms |\n|---|---|---|")
        for text, times in by_stmt.items():
            print(f"| `{text}` | {len(times)} | {sum(times):.2f} |")
        stats = pstats.Stats(profiler)
        total = stats.total_tt * 1000 / args.n  # type: ignore[attr-defined]
        calls = stats.total_calls / args.n  # type: ignore[attr-defined]
        print(f"\nprofiled CPU {total:.2f} ms per request (cProfile's overhead included: shares are what compare); "
              f"{calls:,.0f} Python function calls per request (the same on a busy box: what compares "
              f"before and after a change when CPU times swing with others' load)\n")
        print("| part | ms per request | share |\n|---|---|---|")
        raw = stats.stats  # type: ignore[attr-defined]
        for label, *keys in PARTS:
            cum = 0.0
            for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in raw.items():
                if any(file.endswith(f) and func == fn for f, fn in keys):
                    cum += ct
            ms = cum * 1000 / args.n
            if ms:
                print(f"| {label} | {ms:.2f} | {ms / total:.0%} |")
        sql_total = 0.0
        for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in raw.items():
            if func == "_execute_context" and file.endswith("sqlalchemy/engine/base.py"):
                sql_total += ct
        print(f"| all SQL execution (SQLAlchemy Core + driver, inside the parts above) | "
              f"{sql_total * 1000 / args.n:.2f} | {sql_total * 1000 / args.n / total:.0%} |")
        print("\ntop functions by own time:\n")
        rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[: args.top]
        for (file, line, func), (_cc, nc, tt, ct, _callers) in rows:
            short = re.sub(r".*/site-packages/", "", file).replace(str(ROOT) + "/", "")
            print(f"- {tt * 1000 / args.n:.3f} ms own, {ct * 1000 / args.n:.3f} cum, "
                  f"{nc / args.n:.0f} calls: {short}:{line} {func}")
        if name == "kiosk":
            kiosk_url = kiosk()
            pages["kiosk"] = (member, kiosk_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
