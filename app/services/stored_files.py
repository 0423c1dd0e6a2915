"""Files kept under ``UPLOAD_DIR`` beside the rows that name them (photos, voice messages):
written once per content, atomically, and deleted only when the transaction that dropped their
row commits — a rolled-back step loses no file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db

_DISCARDED = "stored_files_to_delete"


def write_once(path: Path, content: bytes) -> bool:
    """Write ``content`` at ``path`` unless a file is there already (the name is the content's
    hash, so it is the same file). A reader never sees half a file, and two uploads of the same
    content at once each write their own temporary file before the atomic rename. True when
    this call wrote it."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def delete_after_commit(paths: list[Path]) -> None:
    """Delete these stored files once the transaction commits (kept if it rolls back)."""
    db.session.info.setdefault(_DISCARDED, []).extend(paths)


def _delete_files(session: Session) -> None:
    for path in session.info.pop(_DISCARDED, []):
        path.unlink(missing_ok=True)


def _forget_files(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_DISCARDED, None)


if not sa.event.contains(Session, "after_commit", _delete_files):
    sa.event.listen(Session, "after_commit", _delete_files)
    sa.event.listen(Session, "after_soft_rollback", _forget_files)
