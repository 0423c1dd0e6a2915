"""A gunicorn worker (wsgi.py) holds what serving needs, not what the ``flask`` commands need
(issue 14, item 5): no Alembic behind ``flask db``, no pypdf until a PDF arrives, no Pillow or
mutagen until a photo or a recording does — and it still
serves every page, while ``flask --app wsgi db …`` still finds its commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
LEFT_OUT = ("alembic", "flask_migrate", "mako", "pypdf", "openpyxl", "qrcode", "app.cli", "app.demo", "PIL",
            "mutagen")


def _python(code: str, tmp_path: Path, **env: str) -> dict:
    run_env = {k: v for k, v in os.environ.items() if k != "FLASK_RUN_FROM_CLI"}
    run_env.update(INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'w.sqlite'}", **env)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=run_env, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_worker_serves_pages_without_the_commands_libraries(tmp_path):
    seen = _python(
        "import json, sys, wsgi\n"
        "client = wsgi.app.test_client()\n"
        "statuses = [client.get(p).status_code for p in ('/login', '/offline', '/manifest.webmanifest')]\n"
        f"print(json.dumps({{'loaded': [m for m in {LEFT_OUT!r} if m in sys.modules],"
        " 'commands': sorted(wsgi.app.cli.commands), 'statuses': statuses}))",
        tmp_path)
    assert seen["loaded"] == []
    assert "db" not in seen["commands"]
    assert seen["statuses"] == [200, 200, 200]


def test_the_flask_command_still_has_its_commands(tmp_path):
    seen = _python("import json, wsgi\nprint(json.dumps(sorted(wsgi.app.cli.commands)))", tmp_path,
                   FLASK_RUN_FROM_CLI="true")
    assert {"db", "demo-district", "recount-counters", "monthly-ledger"} <= set(seen)
