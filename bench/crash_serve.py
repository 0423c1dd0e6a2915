"""WSGI entry of the crash trials and the multi-instance test (issue 12): the real app, configured
by the environment as in production (DATABASE_URL, SECRET_KEY, INSTANCE_PATH,
RATELIMIT_STORAGE_URI), with what a scripted client needs: no CSRF token to fetch first (the
trials are about what a commit survives, not about forms), the cheapest password hash, and —
unless TRUST_LIMITS is set — no rate limits.
"""

from __future__ import annotations

import os
from datetime import timedelta

from app import create_app

limits = bool(os.environ.get("TRUST_LIMITS"))
application = create_app({
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": limits,
    "ARGON2_MEMORY_KIB": 8,
    "ARGON2_TIME_COST": 1,
    "ARGON2_PARALLELISM": 1,
    "ADMIN_IDLE_TIMEOUT": timedelta(days=1),
    **({"RATELIMIT_KEY_PREFIX": os.environ["TRUST_LIMIT_PREFIX"]} if os.environ.get("TRUST_LIMIT_PREFIX") else {}),
})
