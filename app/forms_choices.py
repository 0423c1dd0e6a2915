"""Choices for select and radio fields as WTForms 3.3 wants them (tuples are deprecated)."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice


def opts(pairs: Iterable[tuple[object, object]]) -> list[SelectChoice]:
    """``[(value, label), ...]`` → SelectChoice list; labels may be lazy strings."""
    return [SelectChoice(value=v, label=str(label)) for v, label in pairs]  # type: ignore[arg-type]
