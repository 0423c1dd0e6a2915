"""gunicorn settings for production (read from the working directory: `gunicorn wsgi:app`).

Two start-up checks keep the rate limits honest (issue 12): limits counted in ``memory://`` are
per worker, so several workers need Redis; and ``X-Forwarded-For`` may be trusted only when no
client can reach gunicorn except through the proxy, so with ``TRUSTED_PROXIES`` set it must listen
on the loopback or a Unix socket.
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Errors go to stderr, which systemd's journal keeps; nginx keeps the access log, so gunicorn
# writes one only when asked (GUNICORN_ACCESS_LOG=- for stdout).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG")
errorlog = "-"


class StartupRefused(SystemExit):
    """gunicorn stops with this message instead of serving with limits that do not hold."""


def _loopback(address: str) -> bool:
    if address.startswith("unix:"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def check(env: dict[str, str], workers: int, binds: list[str]) -> None:
    """Refuse a production start whose rate limits an attacker could get around."""
    if env.get("APP_ENV") != "production":
        return
    storage = env.get("RATELIMIT_STORAGE_URI", "memory://")
    if workers > 1 and storage.startswith("memory://"):
        raise StartupRefused(
            f"{workers} workers with RATELIMIT_STORAGE_URI={storage}: each worker would count apart. "
            "Set RATELIMIT_STORAGE_URI=redis://… (or run one worker).")
    if int(env.get("TRUSTED_PROXIES") or 0) > 0:
        exposed = [b for b in binds if not _loopback(b)]
        if exposed:
            raise StartupRefused(
                f"TRUSTED_PROXIES is set but gunicorn listens on {', '.join(exposed)}: a client that "
                "reaches it directly could forge X-Forwarded-For. Bind to 127.0.0.1 or a Unix socket.")


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    check(dict(os.environ), server.cfg.workers, list(server.cfg.bind))
