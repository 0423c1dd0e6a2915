"""The timeline, the handlers and who hears of a need: owner notifications (texts to the
resident are queued with ``notify.queue_sms`` where the step happens)."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import (
    EventKind,
    Member,
    Need,
    NeedEvent,
    NeedHandler,
    OrgNode,
    OwnerLevel,
    Photo,
    User,
    VoiceClip,
)
from app.services import notify
from app.services.needs.common import SYSTEM
from app.services.org import nearest_admin_ids


def add_event(need: Need, kind: EventKind, at: datetime, *, actor: User | None = None, label: str = "",
              text: str = "", internal: bool = False, photo: Photo | None = None,
              voice_clip: VoiceClip | None = None,
              to_level: OwnerLevel | None = None, to_label: str = "") -> NeedEvent:
    """One timeline line; a photo or a voice clip is attached by relationship (no flush needed
    for a new one)."""
    event = NeedEvent(need_id=need.id, kind=kind, at=at, actor_id=actor.id if actor else None,
                      actor_label=(label or (actor.name if actor else SYSTEM))[:64], text=text[:500],
                      internal=internal, photo=photo, voice_clip=voice_clip, to_level=to_level,
                      to_label=to_label[:64])
    db.session.add(event)
    return event


def add_handler(need: Need, member: Member, *, new_need: bool = False) -> None:
    """Record that ``member`` holds or held the need (once). ``new_need``: the need was made in this
    transaction, so it has no handler yet — no lookup (and no flush of the timeline before it)."""
    if new_need or db.session.get(NeedHandler, (need.id, member.id)) is None:
        db.session.add(NeedHandler(need_id=need.id, member_id=member.id))


def owner_user_ids(need: Need) -> list[int]:
    if need.owner_level.is_member_level:
        member = need.owner_member or db.session.get(Member, need.owner_member_id)
        return [member.user_id] if member else []
    node = need.owner_node or db.session.get(OrgNode, need.owner_node_id)
    return nearest_admin_ids(node) if node else []


def notify_owner(need: Need, title: str, body: str) -> None:
    for uid in owner_user_ids(need):
        notify.notify(uid, title, body, url=f"/needs/{need.id}", kind="need")
