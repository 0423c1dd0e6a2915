"""Lists a view shows a page at a time: one paginate helper for every list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from app.extensions import db

PER_PAGE = 20


class _RowPagination(SelectPagination):
    """A page of a select of columns (read on the session's connection), made into the list's
    items by ``rows`` (issue 14): small dataclasses with what the table shows, not ORM objects."""

    def _query_items(self) -> list[Any]:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return self._query_args["rows"](self._query_args["session"].connection().execute(select).all())


def paginate(stmt: sa.Select, per_page: int = PER_PAGE, total: int | None = None,
             rows: Callable[[list[sa.Row]], list[Any]] | None = None) -> Pagination:
    """The page of ``stmt`` asked for by ``?page=`` (a page past the end is empty, never a 404;
    a visitor cannot ask for more rows than ``per_page``). ``total``: the list's length when it
    is known or counted more cheaply than by the list's own select, so the rows are not counted
    again. ``rows``: ``stmt`` selects columns (the page's keys, in order), and ``rows`` makes
    the page's items from them (e.g. with one query for the page's details)."""
    kind = SelectPagination if rows is None else _RowPagination
    page = kind(select=stmt, session=db.session(), rows=rows, per_page=per_page, max_per_page=per_page,
                error_out=False, count=total is None)
    if total is not None:
        page.total = total
    return page
