"""kill -9 during a stream of writes (issue 12): every acknowledged check-in and need survives the
restart and SQLite's integrity check passes — five trials here; ``python -m bench.crash --trials
50`` for the documented run (README, "Durability")."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DATABASE_URL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(TEST_DATABASE_URL.startswith("postgresql"),
                       reason="the crash trials are about SQLite (run in the SQLite pass)"),
]


def test_acknowledged_writes_survive_kill_9(tmp_path):
    from bench.crash import run

    figures = run(5, seed_value=12, workdir=tmp_path, log=lambda line: None, acks_min=3, acks_max=15)
    assert figures.trials == 5 and figures.acknowledged >= 15, figures.line()
    assert figures.checkins > 0 and figures.needs > 0, figures.line()
    assert figures.unacknowledged > 0, "the kill never landed with a request in flight"
    assert figures.lost == [] and figures.integrity == [], figures.line()
