"""gunicorn instances for the trust tests (issue 12): started in a session of their own, so that
``kill9()`` takes the master and every worker down at once, as a power cut or the OOM killer would.

Also a small HTTP client (one keep-alive connection per thread, cookies kept by hand).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn serving ``target`` (module:callable) from this checkout on 127.0.0.1."""

    def __init__(self, target: str, env: dict[str, str], log: Path, workers: int = 2,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.target, self.env, self.log, self.workers = target, env, log, workers
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--log-level", "warning",
               "--preload", self.target]  # the app imported once, before the workers fork: all
        # of them answer from the first request on
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out,
                                         start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}:\n{self.log.read_text()[-3000:]}")
            try:
                if Client(self.port, timeout=5).get("/healthz")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.kill9()
        raise RuntimeError(f"gunicorn did not answer in {timeout} s; see {self.log}")

    def kill9(self) -> None:
        """SIGKILL to the master and its workers together (no shutdown, no flush, no atexit)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill9()
        self.proc = None


class Client:
    """One keep-alive HTTP/1.1 connection; the session cookies it is given are sent back."""

    def __init__(self, port: int, timeout: float = 10, address: str | None = None) -> None:
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {"X-Forwarded-For": address} if address else {}
        self.conn: http.client.HTTPConnection | None = None

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        all_headers = {**self.headers, **headers}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:  # gunicorn's sync workers close after each answer
            self.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie = rest.split(";", 1)[0]
                if cookie and "expires=Thu, 01 Jan 1970" not in value:
                    self.cookies[name] = cookie
                else:
                    self.cookies.pop(name, None)
        return response.status, dict(response.getheaders()), data

    def get(self, path: str):  # type: ignore[no-untyped-def]
        return self._request("GET", path, None, {})

    def post(self, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
        return self._request("POST", path, urlencode(data).encode(),
                             {"Content-Type": "application/x-www-form-urlencoded"})

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
