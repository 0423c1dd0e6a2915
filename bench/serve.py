"""WSGI entry of the out-of-process benchmark: the real app, plus the bare app under /__bench.

    gunicorn bench.serve:application     # bench/load.py starts it; configured by the environment

The real app is configured as in production (DATABASE_URL, SECRET_KEY, INSTANCE_PATH from the
environment, as ``wsgi.py`` does) with two changes that a load test needs: the rate limits stay
on (their cost is part of each request) but far above what one client on loopback sends, and
the admin idle timeout is a day, because the load generator replays one fixed session cookie
whose last-activity stamp would otherwise expire in the middle of a long run.
"""

from __future__ import annotations

from datetime import timedelta

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from app import create_app
from bench.bare import app as bare

HIGH = "1000000 per minute"

real = create_app({
    "LOGIN_LIMIT_PER_IP": HIGH,
    "LOGIN_LIMIT_PER_ACCOUNT": HIGH,
    "NEEDS_LIMIT_PER_IP": HIGH,
    "NEEDS_LIMIT_PER_PHONE": HIGH,
    "TRACK_LIMIT_PER_IP": HIGH,
    "ADMIN_IDLE_TIMEOUT": timedelta(days=1),
}, commands=False)

application = DispatcherMiddleware(real, {"/__bench": bare})
