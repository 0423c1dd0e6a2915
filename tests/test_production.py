"""The production start-up checks in gunicorn.conf.py (issue 12, item 5)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("gunicorn_conf", Path(__file__).parent.parent / "gunicorn.conf.py")
conf = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(conf)  # type: ignore[union-attr]

PROD = {"APP_ENV": "production"}


def test_several_workers_counting_limits_in_memory_are_refused():
    with pytest.raises(conf.StartupRefused, match="RATELIMIT_STORAGE_URI"):
        conf.check(PROD, 4, ["127.0.0.1:8000"])


def test_several_workers_sharing_redis_start():
    conf.check({**PROD, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}, 4, ["127.0.0.1:8000"])


def test_one_worker_may_count_in_memory():
    conf.check(PROD, 1, ["127.0.0.1:8000"])


def test_a_trusted_proxy_setting_requires_a_loopback_bind():
    env = {**PROD, "RATELIMIT_STORAGE_URI": "redis://r", "TRUSTED_PROXIES": "1"}
    with pytest.raises(conf.StartupRefused, match="X-Forwarded-For"):
        conf.check(env, 4, ["0.0.0.0:8000"])
    conf.check(env, 4, ["127.0.0.1:8000", "unix:/run/dy.sock", "[::1]:8000"])


def test_development_is_not_checked():
    conf.check({}, 4, ["0.0.0.0:8000"])
