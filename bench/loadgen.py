"""Load generation and measurement for ``bench/load.py``: an HTTP client with a cookie jar,
two load generators (wrk when installed, else Python threads) and /proc readings of workers.

Everything here talks to 127.0.0.1 only, and every loop is bounded by a duration.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- One client ---------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def wire_bytes(self) -> int:
        """Bytes on the wire: status line, headers and body as received."""
        head = len(f"HTTP/1.1 {self.status} XX\r\n") + sum(len(k) + len(v) + 4 for k, v in self.headers) + 2
        return head + len(self.body)


class Client:
    """A browser-like client on one persistent connection, with a cookie jar.

    gunicorn's sync workers close the connection after each response; http.client then opens a
    new one on the next request, as a browser would."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        sent = {"Host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        body = None
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # a dropped keep-alive connection: retry once on a fresh one
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
            data = response.read()
        elapsed = time.perf_counter() - started
        pairs = response.getheaders()
        for name, value in pairs:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                cookie_value = rest.split(";", 1)[0]
                if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = cookie_value
        return Reply(response.status, pairs, data, elapsed)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def csrf(self, path: str) -> str:
        """The CSRF token of the form at ``path`` (the GET also starts the session it belongs to)."""
        reply = self.get(path)
        match = CSRF_RE.search(reply.text)
        if match is None:
            raise RuntimeError(f"no csrf_token in {path} ({reply.status})")
        return match.group(1) or match.group(2)

    def login(self, phone: str, password: str) -> Reply:
        token = self.csrf("/login")
        return self.request("POST", "/login", form={"csrf_token": token, "phone": phone, "password": password})

    def close(self) -> None:
        self.conn.close()


def parse_cookie(header: str) -> dict[str, str]:
    """A Cookie header ("a=1; b=2") as a jar."""
    return dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part)


# --- Results ------------------------------------------------------------------------------------


@dataclass
class Run:
    """One timed run of one URL: what the generator saw."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: Counter = field(default_factory=Counter)  # exact codes (Python) or ">399" (wrk)
    socket_errors: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        """Responses that are not 2xx/3xx, and connections that failed."""
        bad = sum(n for code, n in self.statuses.items() if code == ">399" or int(code) >= 400)
        return bad + self.socket_errors


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


# --- Generators ---------------------------------------------------------------------------------


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


# wrk's summary as one JSON line: its text output is meant for people, this is for the script.
WRK_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nJSON {"requests": %d, "duration_us": %d, "status": %d, "socket": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_run(port: int, path: str, headers: dict[str, str], connections: int, seconds: float) -> Run:
    """Run wrk against one URL; its threads are capped at 2 (the machine's cores are for the server)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_LUA)
    try:
        cmd = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds:g}s",
               "--timeout", "10s", "-s", script.name]
        for name, value in headers.items():
            cmd += ["-H", f"{name}: {value}"]
        cmd.append(f"http://127.0.0.1:{port}{path}")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next(ln for ln in out.splitlines() if ln.startswith("JSON "))
    data = json.loads(line[5:])
    statuses: Counter = Counter()
    if data["status"]:
        statuses[">399"] = data["status"]
    return Run(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000, data["p99_us"] / 1000,
               statuses, data["socket"])


# Replaying prepared requests (the writes): each wrk thread takes every n-th item of the list, so no
# request is sent twice; statuses are counted exactly, and bodies that report a locked database.
WRK_REPLAY_LUA = """
local items = dofile(%(items)s)
local counter = 0
local threads = {}

setup = function(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

init = function(args)
  step = tonumber(args[1])
  i = tid + 1
  statuses = {}
  locked = 0
  exhausted = 0
end

request = function()
  local it = items[i]
  if it == nil then
    exhausted = exhausted + 1
    return wrk.format("GET", "/__bench/hello")
  end
  i = i + step
  return wrk.format(it[1], it[2], it[3], it[4])
end

response = function(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
  if body and string.find(body, "database is locked", 1, true) then locked = locked + 1 end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local parts, lk, ex = {}, 0, 0
  local merged = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do merged[k] = (merged[k] or 0) + v end
    lk = lk + t:get("locked")
    ex = ex + t:get("exhausted")
  end
  for k, v in pairs(merged) do table.insert(parts, string.format('"%%s": %%d', k, v)) end
  io.write(string.format(
    '\\nJSON {"requests": %%d, "duration_us": %%d, "socket": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"locked": %%d, "exhausted": %%d, "statuses": {%%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), lk, ex, table.concat(parts, ", ")))
end
"""


def _lua_string(text: str) -> str:
    if not text.isascii():
        raise ValueError("prepared requests are ASCII (URL-encoded bodies)")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


@dataclass
class Replay:
    """What a replay of prepared requests saw: the run, the exact statuses, bodies reporting a
    locked database, requests made after the prepared ones ran out (to hello: not counted in the
    run), and wrk's own CPU seconds."""

    run: Run
    locked: int
    exhausted: int
    cpu_s: float


def wrk_replay(port: int, items: list[tuple[str, str, dict[str, str], str | None]], connections: int,
               seconds: float) -> Replay:
    """Send prepared requests (method, path, headers, body), each once, with wrk (2 threads)."""
    import resource

    threads = min(2, connections)
    with tempfile.TemporaryDirectory(prefix="dy-wrk-") as folder:
        data = Path(folder) / "items.lua"
        lines = ["return {"]
        for method, path, headers, body in items:
            head = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
            lines.append(f"{{{_lua_string(method)}, {_lua_string(path)}, {{{head}}}, "
                         f"{_lua_string(body) if body is not None else 'nil'}}},")
        lines.append("}")
        data.write_text("\n".join(lines))
        script = Path(folder) / "replay.lua"
        script.write_text(WRK_REPLAY_LUA % {"items": _lua_string(str(data))})
        cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}/", "--", str(threads)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120, check=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(ln for ln in out.splitlines() if ln.startswith("JSON "))
    data_ = json.loads(line[5:])
    statuses: Counter = Counter({k: v for k, v in data_["statuses"].items()})
    hello = data_["exhausted"]
    if hello:
        statuses["200"] -= hello  # the hello requests after the prepared ones ran out
        statuses = +statuses
    run = Run(data_["requests"] - hello, data_["duration_us"] / 1e6, data_["p50_us"] / 1000,
              data_["p99_us"] / 1000, statuses, data_["socket"])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Replay(run, data_["locked"], hello, cpu)


def python_run(port: int, path: str, headers: dict[str, str], connections: int, seconds: float) -> Run:
    """The fallback generator: ``connections`` threads, each on its own persistent connection.

    A Cookie header becomes each client's starting jar, so a refreshed cookie replaces it as in
    a browser."""
    plain = {k: v for k, v in headers.items() if k.lower() != "cookie"}
    jar = parse_cookie(headers.get("Cookie", ""))

    def setup(_i: int, client: Client) -> None:
        client.cookies.update(jar)

    def job(client: Client) -> Reply:
        return client.get(path, headers=plain)

    return threaded(port, connections, seconds, lambda _i: job, setup=setup)


def threaded(port: int, connections: int, seconds: float,
             job_for: Callable[[int], Callable[[Client], Reply] | None],
             setup: Callable[[int, Client], None] | None) -> Run:
    """Run ``connections`` threads for ``seconds``; thread ``i`` calls ``job_for(i)`` before each
    request to get the next job (None: this thread has no more work) and runs it on its client.

    Latency and status are recorded for every job; ``setup`` (a login, a CSRF fetch) is not timed."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    statuses: list[Counter] = [Counter() for _ in range(connections)]
    socket_errors = [0] * connections
    barrier = threading.Barrier(connections + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        client = Client(port)
        try:
            if setup is not None:
                setup(i, client)
        finally:
            barrier.wait()
        while time.perf_counter() < deadline[0]:
            job = job_for(i)
            if job is None:
                break
            try:
                reply = job(client)
            except OSError:
                socket_errors[i] += 1
                continue
            latencies[i].append(reply.seconds * 1000)
            statuses[i][str(reply.status)] += 1
        client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + 3600  # set for real once every thread is ready
    barrier.wait()
    started = time.perf_counter()
    deadline[0] = started + seconds
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - started
    flat = [x for per in latencies for x in per]
    total: Counter = Counter()
    for c in statuses:
        total.update(c)
    return Run(len(flat), elapsed, percentile(flat, 50), percentile(flat, 99), total, sum(socket_errors))


# --- Workers ------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The worker processes of a gunicorn master."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


def runqueue_seconds(pids: list[int]) -> float:
    """Time the processes' threads spent runnable but waiting for a CPU (``/proc/…/schedstat``):
    what other work on the box takes from them."""
    total = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(stat.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
