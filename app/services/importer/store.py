"""Between preview and confirm: the records as read wait in instance/imports/<token>.json, to be
checked again at confirm time."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path


# Stored between preview and confirm: the records as read, re-validated at confirm time.
def records_to_json(records: list[dict]) -> list[dict]:
    return [{k: (v if isinstance(v, int | str) else str(v)) for k, v in r.items()} for r in records]


STORE_MAX_AGE_SECONDS = 3600


def store_records(directory: str, user_id: int, kind: str, records: list[dict]) -> str:
    """Keep the parsed records for the confirm step; returns the random token naming them.

    Old files (any user's) past their age are swept here, so the folder does not grow.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.json"):
        if now - old.stat().st_mtime > STORE_MAX_AGE_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    payload = {"user_id": user_id, "kind": kind, "created": now, "records": records_to_json(records)}
    path = folder / f"{token}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    return token


def load_records(directory: str, token: str, user_id: int, kind: str) -> list[dict] | None:
    """The records stored under ``token`` for this user and kind, if not expired; else None."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        return None
    path = Path(directory) / f"{token}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        payload.get("user_id") != user_id
        or payload.get("kind") != kind
        or time.time() - float(payload.get("created", 0)) > STORE_MAX_AGE_SECONDS
    ):
        return None
    return list(payload["records"])


def discard_records(directory: str, token: str) -> None:
    if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        (Path(directory) / f"{token}.json").unlink(missing_ok=True)
