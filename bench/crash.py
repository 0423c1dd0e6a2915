"""Crash trials (issue 12): kill -9 the server during a stream of writes; every write it
acknowledged must be there after the restart, and the database must be intact.

    .venv/bin/python -m bench.crash --trials 50        # the documented run (README: durability)
    .venv/bin/python -m bench.crash --trials 5 --seed 1

One SQLite database (WAL, synchronous=FULL — ``app/database.py``) served by gunicorn (2 sync
workers, ``bench/crash_serve.py``). Each trial starts gunicorn (after the first, that is the
restart after a crash), streams from four threads — two checking members in at stations by hand
(a station's manual check-in, as the district admin) and two submitting needs from residents'
contact cards — and kills the whole process group with SIGKILL once a random number (5–40) of
writes were acknowledged, a random moment later (so that requests are in flight). A write
is acknowledged when its 303 answer was read in full. Before the next start the database is
opened afresh: ``PRAGMA integrity_check`` must say ok, and every acknowledged check-in (member,
station, day) and need (its tracking token, from the answer's Location) must be there.
"""

from __future__ import annotations

import argparse
import http.client
import random
import secrets
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.instances import Client, Gunicorn

MEMBERS = 40
STATIONS = 40
CARDS = 60


@dataclass
class Figures:
    trials: int = 0
    checkins: int = 0
    needs: int = 0
    lost: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    unacknowledged: int = 0

    @property
    def acknowledged(self) -> int:
        return self.checkins + self.needs

    def line(self) -> str:
        return (f"{self.trials} trials, {self.acknowledged} acknowledged writes ({self.checkins} check-ins, "
                f"{self.needs} needs), {len(self.lost)} lost, integrity "
                f"{'ok' if not self.integrity else '; '.join(self.integrity)}; "
                f"{self.unacknowledged} requests cut off by the kill")


def seed(path: Path) -> dict:
    """The schema (migrations) and a small district: an admin, members, stations, cards."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services import entry_tokens
    from tests.factories import make_admin, make_member, make_resident, make_station, make_tree

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "INSTANCE_PATH": str(path.parent),
                      "SECRET_KEY": "seed", "ARGON2_MEMORY_KIB": 8, "ARGON2_TIME_COST": 1,
                      "ARGON2_PARALLELISM": 1})
    with app.app_context():
        upgrade()
        tree = make_tree()
        admin = make_admin(tree.district, phone="13700000000")
        members = [make_member(tree.grid, name=f"党员{i}").id for i in range(MEMBERS)]
        stations = [make_station(tree.community, name=f"驿站{i}").id for i in range(STATIONS)]
        covering = make_member(tree.grid, name="联系党员")
        cards = []
        for i in range(CARDS):
            household = make_resident(tree.grid, covering, head_name=f"住户{i}", room=str(1000 + i))
            cards.append(entry_tokens.current_token(household).token)
        db.session.commit()
        world = {"admin_phone": admin.phone, "members": members, "stations": stations, "cards": cards}
        db.engine.dispose()
    return world


def _checkins(port: int, pairs: list[tuple[int, int]], lock: threading.Lock, acked: list, stop: threading.Event,
              cookie: dict[str, str], figures: Figures) -> None:
    client = Client(port, timeout=5)
    client.cookies.update(cookie)
    while not stop.is_set():
        with lock:
            if not pairs:
                return
            member, station = pairs.pop()
        try:
            status, _headers, _body = client.post(f"/stations/{station}/manual", {"member_id": str(member)})
        except (OSError, http.client.HTTPException):  # killed mid-answer: no acknowledgement
            figures.unacknowledged += 1
            return
        if status == 303:
            acked.append((member, station))


def _needs(port: int, cards: list[str], acked: list, stop: threading.Event, figures: Figures, rng: random.Random) -> None:
    client = Client(port, timeout=5)
    while not stop.is_set():
        card = rng.choice(cards)
        data = {"category": rng.choice(["repair", "environment", "health", "other"]),
                "text": f"崩溃试验 {secrets.token_hex(4)}", "contact_phone": f"139{rng.randrange(10**8):08d}",
                "consent": "y", "confirm_duplicate": "1"}
        try:
            status, headers, _body = client.post(f"/c/{card}", data)
        except (OSError, http.client.HTTPException):  # killed mid-answer: no acknowledgement
            figures.unacknowledged += 1
            return
        location = headers.get("Location", "")
        if status == 303 and "/t/" in location:
            acked.append(location.rsplit("/t/", 1)[1].split("?")[0])


def verify(path: Path, checkins: list[tuple[int, int]], tokens: list[str], figures: Figures) -> None:
    """Open the database afresh (as a restarted server does) and look for every acknowledged write."""
    conn = sqlite3.connect(path)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            figures.integrity.append(result)
        have = set(conn.execute("SELECT member_id, station_id FROM checkins").fetchall())
        figures.lost += [f"check-in {pair}" for pair in checkins if pair not in have]
        stored = {row[0] for row in conn.execute("SELECT token FROM needs")}
        figures.lost += [f"need {token}" for token in tokens if token not in stored]
    finally:
        conn.close()


def run(trials: int, seed_value: int = 0, workdir: Path | None = None, log=print,  # type: ignore[no-untyped-def]
        acks_min: int = 5, acks_max: int = 40) -> Figures:
    rng = random.Random(seed_value)
    scratch = workdir or Path(tempfile.mkdtemp(prefix="dy-crash-"))
    db_path = scratch / "crash.sqlite"
    world = seed(db_path)
    env = {"DATABASE_URL": f"sqlite:///{db_path}", "INSTANCE_PATH": str(scratch),
           "SECRET_KEY": secrets.token_hex(16)}
    server = Gunicorn("bench.crash_serve:application", env, scratch / "gunicorn.log")
    pairs = [(m, s) for m in world["members"] for s in world["stations"]]
    rng.shuffle(pairs)
    lock = threading.Lock()
    figures = Figures()
    for trial in range(trials):
        server.start()
        admin = Client(server.port)
        status, _h, _b = admin.post("/login", {"phone": world["admin_phone"], "password": "correct-horse-9"})
        assert status == 303, f"login: {status}"
        stop = threading.Event()
        acked_checkins: list[tuple[int, int]] = []
        acked_needs: list[str] = []
        threads = [threading.Thread(target=_checkins, args=(server.port, pairs, lock, acked_checkins, stop,
                                                            dict(admin.cookies), figures)) for _ in range(2)]
        threads += [threading.Thread(target=_needs, args=(server.port, world["cards"], acked_needs, stop, figures,
                                                          random.Random(rng.random()))) for _ in range(2)]
        for t in threads:
            t.start()
        # Kill once a random number of writes were acknowledged (whatever the machine's speed),
        # a random moment later: requests are in flight in both streams.
        target, deadline = rng.randint(acks_min, acks_max), time.time() + 30
        while len(acked_checkins) + len(acked_needs) < target and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        server.kill9()
        stop.set()
        for t in threads:
            t.join(10)
        verify(db_path, acked_checkins, acked_needs, figures)
        figures.trials += 1
        figures.checkins += len(acked_checkins)
        figures.needs += len(acked_needs)
        log(f"trial {trial + 1}: {len(acked_checkins)} check-ins, {len(acked_needs)} needs acknowledged; "
            f"lost so far {len(figures.lost)}")
    # The last restart: the server comes back on the crashed database and answers.
    server.start()
    ok = Client(server.port).get("/healthz")[0] == 200
    server.stop()
    if not ok:
        figures.integrity.append("server did not come back")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    figures = run(args.trials, args.seed)
    print(figures.line())
    if figures.lost or figures.integrity:
        print("\n".join(figures.lost[:20]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
