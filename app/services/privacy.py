"""Personal-information helpers (PIPL / GB/T 35273): masking and the audit trail."""

from __future__ import annotations

from app.extensions import db
from app.models import AuditEntry
from app.phones import mask_phone

__all__ = ["audit", "mask_name", "mask_phone"]


def mask_name(name: str) -> str:
    """张*明 / 李*: keep the surname and, for long names, the last character."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def audit(
    user_id: int | None,
    action: str,
    object_type: str = "",
    object_id: int | None = None,
    detail: str = "",
    ip: str = "",
) -> AuditEntry:
    """Record who revealed, exported or changed what. The caller's transaction commits it."""
    entry = AuditEntry(
        user_id=user_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        ip=ip,
    )
    db.session.add(entry)
    return entry
