"""A theme Party day morning (主题党日), out of process (issue 14): every kind of load at once.

    .venv/bin/python bench/scenario.py --db /tmp/dy-load-xxxx/bench.sqlite        # reuse a district
    .venv/bin/python bench/scenario.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench

gunicorn (2 sync workers) serves the demo district as ``bench/load.py`` sets it up; for
``--seconds`` these run together, each connection doing one kind of work in a loop:

- check-ins: members scanning the kiosk QR of a few stations — each scan a member's first there
  today, then (a phone scanning twice) a repeat;
- residents: need submissions on contact cards (a distinct phone each);
- members answering: a member opens their inbox, then takes a need on (接单) or posts a progress
  note on one they hold;
- admins: the district admin on the needs dashboard, the 工作看板 and the home page.

It reports, per kind, the requests, errors (an unexpected status, a failed connection, or
"database is locked" in the log), p50/p95/p99 latency and throughput, and writes the table to
``bench/SCENARIO.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.extensions import db  # noqa: E402
from bench import load, loadgen  # noqa: E402
from bench.loadgen import Client, Reply  # noqa: E402


@dataclass
class Kind:
    label: str
    ok: tuple[int, ...]
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    socket_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, reply: Reply | None) -> None:
        with self.lock:
            if reply is None:
                self.socket_errors += 1
                return
            self.latencies.append(reply.seconds * 1000)
            self.statuses[reply.status] += 1

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code not in self.ok) + self.socket_errors


def answering_members(app, count: int) -> list[tuple[str, list[int], list[int]]]:  # type: ignore[no-untyped-def]
    """Members holding open needs, with the demo password: (phone, submitted ids, in-hand ids)."""
    from app.models import Member, Need, NeedStatus, User

    with app.app_context():
        demo = db.session.scalar(sa.select(User.password_hash).where(User.phone == load.PERSONAS["member"]))
        rows = db.session.execute(
            sa.select(User.phone, User.id, Need.id, Need.status)
            .join(Member, Member.user_id == User.id).join(Need, Need.owner_member_id == Member.id)
            .where(Need.hidden_at.is_(None), User.active,
                   Need.status.in_((NeedStatus.SUBMITTED, NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)))
            .order_by(User.id, Need.id)).all()
        by_member: dict[str, tuple[int, list[int], list[int]]] = {}
        for phone, user_id, need_id, status in rows:
            entry = by_member.setdefault(phone, (user_id, [], []))
            (entry[1] if status is NeedStatus.SUBMITTED else entry[2]).append(need_id)
        chosen = [p for p in by_member if by_member[p][2] or by_member[p][1]][:count]
        db.session.execute(sa.update(User).where(User.id.in_([by_member[p][0] for p in chosen]))
                           .values(password_hash=demo))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return [(p, by_member[p][1], by_member[p][2]) for p in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="SQLite file holding the demo district (built when missing)")
    parser.add_argument("--database", help="PostgreSQL URL instead (never …/test)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--checkins", type=int, default=8, help="connections scanning kiosks")
    parser.add_argument("--residents", type=int, default=3)
    parser.add_argument("--answering", type=int, default=3)
    parser.add_argument("--admins", type=int, default=2)
    parser.add_argument("--stations", type=int, default=4, help="kiosks the members queue at")
    parser.add_argument("--out", help="Markdown file ('-': none; default bench/SCENARIO.md)")
    args = parser.parse_args()
    # What load.prepare and load.fixtures read.
    args.scale, args.seed, args.fresh = 1.0, 2024, False
    args.members = args.checkins * 30
    args.cards = 3000

    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="dy-scenario-"))
    secret = secrets.token_hex(32)
    app, uri = load.prepare(args, scratch, secret)
    fx = load.fixtures(app, args)
    answering = answering_members(app, args.answering * 4)
    mode = "PostgreSQL" if uri.startswith("postgresql") else "SQLite"
    log = scratch / "gunicorn.log"
    server = load.Server("bench.serve:application", args.workers,
                         {"DATABASE_URL": uri, "SECRET_KEY": secret, "INSTANCE_PATH": str(scratch)}, log)
    kiosk = load.KioskTokens(app)
    kinds = {
        "checkin": Kind("check-in scans `/k/<token>` (first, then a repeat)", (200,)),
        "resident": Kind("need submissions `/c/<token>` (POST)", (303,)),
        "inbox": Kind("member inbox `/needs/`", (200,)),
        "answer": Kind("member answers: 接单 or a progress note (POST)", (303,)),
        "admin": Kind("admin dashboards: `/needs/dashboard`, `/overview/`, `/`", (200,)),
    }
    try:
        print(f"logging in {len(fx.write_members)} members, {len(answering)} answering, the admin", flush=True)
        scanners, _rate = load.login_many(server.port, [p for _m, p in fx.write_members], 8)
        answerers, _rate = load.login_many(server.port, [p for p, _s, _h in answering], 4)
        admin = Client(server.port)
        assert admin.login(load.PERSONAS["district"], load.PASSWORD).status == 303
        admin_cookie = admin.cookie_header()
        admin.close()
        stations = fx.stations[: args.stations]
        by_phone = {p: m for m, p in fx.write_members}
        scan_queue: list[list[tuple[Client, int]]] = [[] for _ in range(args.checkins)]
        for n, phone in enumerate(sorted(scanners)):
            for s in stations:
                if (by_phone[phone], s) not in fx.checked_in_today:
                    scan_queue[n % args.checkins].append((scanners[phone], s))
        for q in scan_queue:
            random.Random(len(q)).shuffle(q)
        cards = list(fx.write_cards)
        base = 16000000000 + random.randrange(0, 90_000_000)
        phones = iter(range(base, base + 10_000_000))
        shared = threading.Lock()
        deadline = [0.0]
        barrier = threading.Barrier(args.checkins + args.residents + args.answering + args.admins + 1)

        def run(kind: Kind, step: Callable[[], Reply | None], prepare: Callable[[], None] | None = None) -> None:
            if prepare:
                prepare()
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                try:
                    reply = step()
                except OSError:
                    kind.record(None)
                    continue
                if reply is None:
                    time.sleep(0.05)
                    continue
                kind.record(reply)
                if b"database is locked" in reply.body:
                    kind.socket_errors += 1

        def checkin_worker(i: int) -> Callable[[], Reply | None]:
            repeat: list[tuple[Client, int]] = []

            def step() -> Reply | None:
                # A first scan, then that phone scanning again (the member was unsure it worked).
                if repeat:
                    client, station = repeat.pop()
                elif scan_queue[i]:
                    client, station = scan_queue[i].pop()
                    repeat.append((client, station))
                else:
                    return None
                return client.get(kiosk.path(station))

            return step

        def resident_worker(i: int) -> tuple[Callable[[], Reply | None], Callable[[], None]]:
            client = Client(server.port)
            token = [""]

            def prepare() -> None:
                token[0] = client.csrf(f"/c/{cards[i]}")

            def step() -> Reply | None:
                with shared:
                    if not cards:
                        return None
                    card, phone = cards.pop(), str(next(phones))
                return client.request("POST", f"/c/{card}", form={
                    "csrf_token": token[0], "category": "repair", "text": "楼道灯坏了，晚上看不清台阶（主题党日压测）",
                    "contact_name": "压测", "contact_phone": phone, "consent": "y", "confirm_duplicate": "1"})

            return step, prepare

        def answer_worker(i: int) -> tuple[Callable[[], Reply | None], Callable[[], None]]:
            mine = [(answerers[p], s, h) for n, (p, s, h) in enumerate(answering) if n % args.answering == i
                    and p in answerers]
            tokens: dict[int, str] = {}
            turn = [0]

            def prepare() -> None:
                for client, _s, _h in mine:
                    tokens[id(client)] = client.csrf("/needs/")

            def step() -> Reply | None:
                if not mine:
                    return None
                client, submitted, held = mine[turn[0] % len(mine)]
                turn[0] += 1
                kinds["inbox"].record(client.get("/needs/"))
                if submitted:
                    need = submitted.pop()
                    held.append(need)
                    return client.request("POST", f"/needs/{need}/accept", form={"csrf_token": tokens[id(client)]})
                if held:
                    return client.request("POST", f"/needs/{random.choice(held)}/progress", form={
                        "csrf_token": tokens[id(client)], "p-text": "已联系物业，明天上午来修（压测）"})
                return None

            return step, prepare

        def admin_worker(_i: int) -> Callable[[], Reply | None]:
            client = Client(server.port)
            client.cookies.update(loadgen.parse_cookie(admin_cookie))
            pages = ["/needs/dashboard", "/overview/", "/"]
            turn = [0]

            def step() -> Reply:
                turn[0] += 1
                return client.get(pages[turn[0] % len(pages)])

            return step

        threads = []
        for i in range(args.checkins):
            threads.append(threading.Thread(target=run, args=(kinds["checkin"], checkin_worker(i)), daemon=True))
        for i in range(args.residents):
            step, prep = resident_worker(i)
            threads.append(threading.Thread(target=run, args=(kinds["resident"], step, prep), daemon=True))
        for i in range(args.answering):
            step, prep = answer_worker(i)
            threads.append(threading.Thread(target=run, args=(kinds["answer"], step, prep), daemon=True))
        for i in range(args.admins):
            threads.append(threading.Thread(target=run, args=(kinds["admin"], admin_worker(i)), daemon=True))
        locked0, tb0 = server.log_count("database is locked"), server.log_count("Traceback")
        deadline[0] = time.perf_counter() + 3600
        for t in threads:
            t.start()
        barrier.wait()
        started = time.perf_counter()
        deadline[0] = started + args.seconds
        for t in threads:
            t.join(args.seconds + 120)
        elapsed = time.perf_counter() - started
        locked = server.log_count("database is locked") - locked0
        tracebacks = server.log_count("Traceback") - tb0
        rss = [loadgen.rss_mb(pid) for pid in server.workers()]
    finally:
        server.stop()
    lines = [
        "# A theme Party day morning (`bench/scenario.py`)",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {mode}, demo district at scale 1; gunicorn "
        f"{args.workers} sync workers on {os.cpu_count()} CPUs shared with the generator; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
        f"- {args.seconds:g} s, all at once: {args.checkins} connections scanning {len(stations)} kiosks, "
        f"{args.residents} submitting needs, {args.answering} members answering, {args.admins} admins",
        f"- command: `.venv/bin/python bench/scenario.py {' '.join(sys.argv[1:])}`",
        "",
        "| kind | requests | errors | error rate | per s | p50 ms | p95 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in kinds.values():
        n = len(kind.latencies) + kind.socket_errors
        codes = ", ".join(f"{k}×{v}" for k, v in sorted(kind.statuses.items()))
        lines.append(
            f"| {kind.label} | {n} | {kind.errors} | {kind.errors / n if n else 0:.1%} | {n / elapsed:.1f} "
            f"| {loadgen.percentile(kind.latencies, 50):.0f} | {loadgen.percentile(kind.latencies, 95):.0f} "
            f"| {loadgen.percentile(kind.latencies, 99):.0f} | {codes} |")
    lines += [
        "",
        f"\"database is locked\" in the server log: {locked}; tracebacks: {tracebacks}. "
        f"RSS per worker after: {', '.join(f'{x:.0f} MB' for x in rss)}.",
    ]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    out = Path(args.out) if args.out else ROOT / "bench" / ("SCENARIO.md" if mode == "SQLite" else "SCENARIO-postgresql.md")
    if args.out != "-":
        out.write_text(text)
        print(f"written to {out}")
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
