"""Choices for select and radio fields as WTForms 3.3 wants them (tuples are deprecated)."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice


def options(pairs: Iterable[tuple[object, object]]) -> list[SelectChoice]:
    """``[(value, label), ...]`` → SelectChoice list. Labels may be lazy strings: they are left
    lazy so that a choice list built at import time still renders in the visitor's language."""
    return [SelectChoice(value, label) for value, label in pairs]  # type: ignore[arg-type]
