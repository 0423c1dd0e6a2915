"""Choices for select and radio fields as WTForms 3.3 wants them (tuples are deprecated)."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange
from wtforms.widgets import Select


def options(pairs: Iterable[tuple[object, object]]) -> list[SelectChoice]:
    """``[(value, label), ...]`` → SelectChoice list. Labels may be lazy strings: they are left
    lazy so that a choice list built at import time still renders in the visitor's language."""
    return [SelectChoice(value, label) for value, label in pairs]  # type: ignore[arg-type]


class LongSelect(Select):
    """A select of many plain options (a township session's hundreds of attendees): each option
    written in one step, the same HTML as WTForms' (``<option [selected ]value="…">label</option>``)
    without its attribute machinery per option; an option with attributes of its own is left to it."""

    @classmethod
    def render_option(cls, choice: SelectChoice, **kwargs: object) -> Markup:
        if kwargs or choice.render_kw or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        value = escape(choice.value).replace(Markup('"'), Markup("&quot;"))
        selected = "selected " if choice.selected else ""
        return Markup(f'<option {selected}value="{value}">{escape(choice.label or choice.value)}</option>')


# --- ids chosen in a form ---------------------------------------------------------------------

# The largest id the database holds (PostgreSQL's integer); ``app.web.IdConverter`` uses it for
# ids in a URL.
MAX_ID = 2**31 - 1


def db_id(value: object) -> int:
    """``coerce`` for a field holding an id: a number the database can hold, else ValueError —
    WTForms shows it next to the field, where a huge number would otherwise reach the database."""
    number = int(value)  # type: ignore[call-overload]
    if not 0 <= number <= MAX_ID:
        raise ValueError(str(_l("编号无效，请重新选择。")))
    return number


def db_id_or_none(value: object) -> int | None:
    """``coerce`` for an optional id: empty (or not a number) is None, a huge number ValueError."""
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return db_id(number)


def choice_id(value: object) -> int | None:
    """``coerce`` for a select of ids checked against its choices afterwards: empty, not a
    number or beyond the database's integer is None (then "please choose"), never ValueError."""
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def bounded_id(message: object) -> NumberRange:
    """Validator for an IntegerField holding an id: beyond the database's integer, ``message``."""
    return NumberRange(min=0, max=MAX_ID, message=message)  # type: ignore[arg-type]


def _id_refused(exc: ValueError) -> ValueError:
    return ValueError(str(_l("编号无效，请重新选择。")))


class IdSelectField(SelectField):
    """A select holding an id (``coerce=db_id``): a value that is not one says so in Chinese."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise _id_refused(exc) from exc


class IdMultipleField(SelectMultipleField):
    """Several ids (checkboxes, a picker): a value that is not one says so in Chinese."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            self.data = []
            raise _id_refused(exc) from exc
