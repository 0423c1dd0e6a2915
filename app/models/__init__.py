"""All models, importable from one place (Alembic and the app import this package)."""

from app.models.audit import AuditEntry
from app.models.base import LabeledEnum, UTCDateTime, utcnow
from app.models.checkin import Checkin, CheckinMethod, EventKind, PosterToken, StationEvent
from app.models.common import EntryKind, EntryToken, Notification, Photo
from app.models.org import OrgLevel, OrgNode
from app.models.people import (
    BUILTIN_HOUSEHOLD_TYPES,
    MENTOR_MAX,
    MENTOR_MIN,
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    CentralHousehold,
    Duty,
    HouseholdDuty,
    HouseholdStatus,
    HouseholdType,
    Member,
    MemberCategory,
    MemberStatus,
    ResidentHousehold,
)
from app.models.stations import CheckinMode, Station, StationKind
from app.models.users import Role, RoleAssignment, User

__all__ = [
    "AuditEntry",
    "BUILTIN_HOUSEHOLD_TYPES",
    "CentralHousehold",
    "Checkin",
    "CheckinMethod",
    "CheckinMode",
    "Duty",
    "EntryKind",
    "EntryToken",
    "EventKind",
    "HouseholdDuty",
    "HouseholdStatus",
    "HouseholdType",
    "LabeledEnum",
    "MENTOR_MAX",
    "MENTOR_MIN",
    "MIN_HOUSEHOLDS_PER_MEMBER",
    "MIN_MEMBERS_PER_HOUSEHOLD",
    "Member",
    "Notification",
    "Photo",
    "PosterToken",
    "MemberCategory",
    "MemberStatus",
    "OrgLevel",
    "OrgNode",
    "ResidentHousehold",
    "Role",
    "RoleAssignment",
    "Station",
    "StationEvent",
    "StationKind",
    "UTCDateTime",
    "User",
    "utcnow",
]
