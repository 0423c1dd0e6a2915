"""Shared pieces of the models: enum columns with CHECK constraints, timestamps."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware. Every timestamp is stored in UTC and shown in Asia/Shanghai."""
    return datetime.now(UTC)


_LABELS: dict[type, dict] = {}


class LabeledEnum(enum.StrEnum):
    """A string enum whose members carry a translated label (``labels`` is set per class)."""

    @property
    def label(self) -> str:
        # The labels are lazy strings (translated when shown): built once per class, not per use.
        labels = _LABELS.get(self.__class__)
        if labels is None:
            labels = _LABELS[self.__class__] = self.__class__.labels()  # type: ignore[attr-defined]
        return str(labels[self])

    @classmethod
    def choices(cls) -> list[tuple[str, object]]:
        """(value, lazy label) pairs: lazy, so a form built at import time still renders each
        label in the visitor's language."""
        labels = cls.labels()  # type: ignore[attr-defined]
        return [(m.value, labels[m]) for m in cls]


def enum_column(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A VARCHAR column holding the enum's values, guarded by a named CHECK constraint."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware datetime stored as UTC; SQLite gives naive values back, so tag them."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
