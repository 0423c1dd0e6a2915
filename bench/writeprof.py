"""Where the time of a write goes (issue 14): the need submission and the first check-in, in process.

    .venv/bin/python bench/writeprof.py --db /tmp/dy-prof/copy.sqlite             # both writes
    .venv/bin/python bench/writeprof.py --db … --only needs -n 300 --sampler       # pyinstrument's tree
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/wr_bench .venv/bin/python bench/writeprof.py

The database must hold the demo district (``bench/load.py --keep`` or ``bench/hotspots.py`` build
one); each run writes to it (new needs, today's check-ins), so give it a copy. As
``bench/hotspots.py`` does for the pages, each request goes straight to the WSGI app as gunicorn
sends it, with the rate limits and CSRF on: a resident's POST of the contact-card form on a card
of its own with a phone of its own (``/c/<token>``), and a member's first scan of a kiosk's code
at a station they have not checked in at today (``/k/<token>``). For each write it prints the
CPU milliseconds per request; the statements of one request, with those run holding the write
(from the first statement that writes, or SQLite's ``BEGIN IMMEDIATE``, to the end of the
commit) marked, and how long that span lasts; the Python function calls per request
(deterministic: what compares on a busy box); and a cProfile summary or, with ``--sampler``,
pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.loadgen import CSRF_RE  # noqa: E402

PASSWORD = "dangyuan2024"
HIGH = "1000000 per minute"
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|BEGIN IMMEDIATE)", re.I)


def normalise(statement: str) -> str:
    text = " ".join(statement.split())
    text = re.sub(r"SELECT .*? FROM", "SELECT … FROM", text, count=1)
    text = re.sub(r"\(\?(, \?)+\)", "(?…)", text)
    text = re.sub(r"\(%\(\w+\)s(, %\(\w+\)s)+\)", "(…)", text)
    return text[:140]


class Recorder:
    """Every statement of the engine with its wall time, and the span the write is held: from the
    first statement that writes to the end of the commit (SQLite's lock, PostgreSQL's row locks)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, float, bool]] = []  # text, seconds, inside the write span
        self.spans: list[float] = []
        self.commits: list[float] = []  # of each span, the COMMIT itself (SQLite: the WAL's fsync)
        self.works: list[float] = []  # of each span, the statements before the COMMIT
        self._started: dict[int, float] = {}
        self._write_from: float | None = None
        self._commit_from: float | None = None

    def before(self, conn, cursor, statement, *a) -> None:  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        self._started[id(cursor)] = now
        if self._write_from is None and WRITES.match(statement):
            self._write_from = now

    def after(self, conn, cursor, statement, *a) -> None:  # type: ignore[no-untyped-def]
        took = time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())
        self.statements.append((statement, took, self._write_from is not None))

    def commit(self, *a) -> None:  # type: ignore[no-untyped-def]
        self._commit_from = time.perf_counter()

    def end(self, *a) -> None:  # type: ignore[no-untyped-def]
        """After a COMMIT (a savepoint's release is not one: the span goes on)."""
        if self._commit_from is None:
            return
        now = time.perf_counter()
        if self._write_from is not None:
            self.spans.append(now - self._write_from)
            self.commits.append(now - self._commit_from)
            self.works.append(self._commit_from - self._write_from)
        self._write_from = self._commit_from = None

    def rolled_back(self, *a) -> None:  # type: ignore[no-untyped-def]
        self._write_from = self._commit_from = None

    def clear(self) -> None:
        self.statements.clear()
        self.spans.clear()
        self.commits.clear()
        self.works.clear()


def environ_for(method: str, path: str, cookie: str, form: dict[str, str] | None = None) -> dict:
    from importlib.metadata import version

    from werkzeug.test import EnvironBuilder

    body = urlencode(form).encode() if form is not None else b""
    headers = {"Cookie": cookie, "User-Agent": f"Werkzeug/{version('werkzeug')}"}
    builder = EnvironBuilder(path=path, method=method, base_url="http://127.0.0.1:8000/", headers=headers,
                             data=body, content_type="application/x-www-form-urlencoded" if form else None)
    environ = builder.get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    environ["dy.body"] = body
    return environ


def call(app, environ: dict) -> int:  # type: ignore[no-untyped-def]
    status: list[str] = []

    def start_response(s, headers, exc_info=None):  # type: ignore[no-untyped-def]
        status.append(s)

    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(environ["dy.body"])
    body = app(env, start_response)
    try:
        for _chunk in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    return int(status[0].split()[0])


def cookie_of(client) -> str:  # type: ignore[no-untyped-def]
    return "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())


def need_requests(app, fx, count: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """POSTs of the card form, each on its own card with its own phone, in one resident's session."""
    client = app.test_client()
    page = client.get(f"/c/{fx.write_cards[0]}").get_data(as_text=True)
    csrf = next(g for g in CSRF_RE.search(page).groups() if g)
    cookie = cookie_of(client)
    base = 17000000000 + random.randrange(0, 90_000_000)
    cards = fx.write_cards[1:count + 1]
    if len(cards) < count:
        raise SystemExit(f"only {len(cards)} cards: raise --cards")
    return [environ_for("POST", f"/c/{card}", cookie, {
        "csrf_token": csrf, "category": "repair", "text": "楼道灯坏了，晚上看不清台阶（压测）",
        "contact_name": "压测", "contact_phone": str(base + i), "consent": "y", "confirm_duplicate": ""})
        for i, card in enumerate(cards)]


def checkin_requests(app, fx, count: int) -> Callable[[], list[dict]]:  # type: ignore[no-untyped-def]
    """First scans: members logged in, each paired with stations they have not checked in at
    today; the kiosk tokens are minted when the batch is built (they live 60–90 s)."""
    from app.services import checkin_tokens

    per_member = max(1, len(fx.stations))
    wanted = min(len(fx.write_members), count // per_member + 2)
    cookies: dict[int, str] = {}
    for member_id, phone in fx.write_members[:wanted]:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = next(g for g in CSRF_RE.search(page).groups() if g)
        reply = client.post("/login", data={"csrf_token": token, "phone": phone, "password": PASSWORD})
        if reply.status_code == 303:
            cookies[member_id] = cookie_of(client)
    pairs = [(m, s) for s in fx.stations for m in cookies if (m, s) not in fx.checked_in_today]
    random.Random(7).shuffle(pairs)
    if len(pairs) < count:
        raise SystemExit(f"only {len(pairs)} first check-ins to make: raise --members")
    pairs = pairs[:count]

    def build() -> list[dict]:
        with app.app_context():
            tokens = {s: checkin_tokens.kiosk_token(s) for s in fx.stations}
        return [environ_for("GET", f"/k/{tokens[s]}", cookies[m]) for m, s in pairs]

    return build


def median_ms(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] * 1000 if values else 0.0


def report(name: str, path: str, one: list[tuple[str, float, bool]], rec: Recorder, cpu: float,
           calls: float | None) -> None:
    inside = sum(1 for _t, _s, w in one if w)
    print(f"\n## {name} `{path}` — {cpu:.2f} ms CPU per request, {len(one)} statements "
          f"({inside} holding the write), write held {median_ms(rec.spans):.2f} ms (medians, wall: its "
          f"statements {median_ms(rec.works):.2f} ms, the COMMIT {median_ms(rec.commits):.2f} ms)"
          + (f", {calls:,.0f} Python function calls per request" if calls else ""))
    print("\n| # | statement | ms | holding the write |\n|---|---|---|---|")
    for i, (text, secs, w) in enumerate(one, 1):
        print(f"| {i} | `{normalise(text)}` | {secs * 1000:.2f} | {'yes' if w else ''} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a SQLite file holding the demo district (a copy: it is written to); "
                        "else DATABASE_URL")
    parser.add_argument("-n", type=int, default=200, help="requests timed (as many again are profiled)")
    parser.add_argument("--only", default="needs,checkins", help="needs, checkins or both")
    parser.add_argument("--sampler", action="store_true", help="pyinstrument's call tree instead of cProfile")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--event", action="store_true", help="first check-ins during a 主题党日 running at every "
                        "station (the scan attaches it and awards its points: the ORM path)")
    parser.add_argument("--members", type=int, default=224)
    parser.add_argument("--cards", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11, help="which households' cards are used (give a "
                        "fresh copy of the database per run: a second need on one card is a duplicate)")
    args = parser.parse_args()
    if args.db:
        uri = f"sqlite:///{Path(args.db).resolve()}"
        instance = str(Path(args.db).resolve().parent)
    else:
        uri = os.environ["DATABASE_URL"]
        instance = "/tmp"
    config = {"SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": instance, "SECRET_KEY": "writeprof",
              "RATELIMIT_ENABLED": True, "WTF_CSRF_ENABLED": True, "LOGIN_LIMIT_PER_IP": HIGH,
              "LOGIN_LIMIT_PER_ACCOUNT": HIGH, "LOGIN_LIMIT_PER_CLIENT_ACCOUNT": HIGH,
              "NEEDS_LIMIT_PER_IP": HIGH, "NEEDS_LIMIT_PER_PHONE": HIGH, "TRACK_LIMIT_PER_IP": HIGH,
              "ADMIN_IDLE_TIMEOUT": timedelta(days=1)}
    app = create_app(config)
    from bench.load import fixtures

    warm = 20
    fx = fixtures(app, SimpleNamespace(members=args.members, cards=args.cards, seed=args.seed))
    wanted = [w.strip() for w in args.only.split(",")]
    rec = Recorder()
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", rec.before)
        sa.event.listen(db.engine, "after_cursor_execute", rec.after)
        sa.event.listen(db.engine, "commit", rec.commit)
    from sqlalchemy.orm import Session

    sa.event.listen(Session, "after_commit", rec.end)
    sa.event.listen(Session, "after_soft_rollback", rec.rolled_back)
    kinds: dict[str, tuple[str, int, Callable[[], list[dict]]]] = {}
    if "needs" in wanted:
        envs = need_requests(app, fx, warm + 2 * args.n + 1)
        kinds["needs"] = ("need submission", 303, lambda: envs)
    if "checkins" in wanted and args.event:
        from app.clock import utcnow
        from app.database import writing
        from app.models import StationEvent, StationEventKind

        with app.app_context(), writing():
            now = utcnow()
            db.session.execute(sa.insert(StationEvent), [
                {"station_id": s, "title": "主题党日（压测）", "kind": StationEventKind.THEME_DAY,
                 "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=3)} for s in fx.stations])
            db.session.commit()
    if "checkins" in wanted:
        kinds["checkins"] = ("first check-in" + (" during an event" if args.event else ""), 200, checkin_requests(app, fx, warm + 2 * args.n + 1))
    for key, (name, ok, source) in kinds.items():
        batch = source()
        path = batch[0]["PATH_INFO"].rsplit("/", 1)[0] + "/<token>"
        queue = iter(batch)
        for _ in range(warm):
            status = call(app, next(queue))
            assert status == ok, (key, status)
        rec.clear()
        assert call(app, next(queue)) == ok
        one = list(rec.statements)
        rec.clear()
        timed = [next(queue) for _ in range(args.n)]
        cpu0 = time.process_time()
        for env in timed:
            call(app, env)
        cpu = (time.process_time() - cpu0) * 1000 / args.n
        held = Recorder()
        held.spans, held.works, held.commits = list(rec.spans), list(rec.works), list(rec.commits)
        profiled = [next(queue) for _ in range(args.n)]
        if args.sampler:
            from pyinstrument import Profiler

            report(name, path, one, held, cpu, None)
            profiler = Profiler(interval=0.0001, async_mode="disabled")
            profiler.start()
            for env in profiled:
                call(app, env)
            profiler.stop()
            print("\n```")
            print(profiler.output_text(unicode=True, color=False, show_all=False, time="percent_of_total",
                                       processor_options={"filter_threshold": 0.01}))
            print("```")
            continue
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for env in profiled:
            status = call(app, env)
        profiler.disable()
        stats = pstats.Stats(profiler)
        report(name, path, one, held, cpu, stats.total_calls / args.n)  # type: ignore[attr-defined]
        total = stats.total_tt * 1000 / args.n  # type: ignore[attr-defined]
        raw = stats.stats  # type: ignore[attr-defined]
        by_file: dict[str, float] = defaultdict(float)
        for (file, _line, _func), (_cc, _nc, tt, _ct, _callers) in raw.items():
            short = re.sub(r".*/site-packages/", "", file).replace(str(ROOT) + "/", "")
            by_file[short.split("/")[0] if "/" in short else short] += tt
        print(f"\nprofiled CPU {total:.2f} ms per request (cProfile's overhead included); own time by package:\n")
        for pkg, tt in sorted(by_file.items(), key=lambda kv: -kv[1])[:10]:
            print(f"- {pkg}: {tt * 1000 / args.n:.2f} ms ({tt * 1000 / args.n / total:.0%})")
        print("\ntop functions by cumulative time (app code):\n")
        rows = sorted(((k, v) for k, v in raw.items() if "/app/" in k[0] and "site-packages" not in k[0]),
                      key=lambda kv: -kv[1][3])[: args.top]
        for (file, line, func), (_cc, nc, _tt, ct, _callers) in rows:
            short = file.replace(str(ROOT) + "/", "")
            print(f"- {ct * 1000 / args.n:.3f} ms cum, {nc / args.n:.1f} calls: {short}:{line} {func}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
