"""Lists a view shows a page at a time: one paginate helper for every list."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination, SelectPagination

from app.extensions import db, read_core

PER_PAGE = 20


class _RowPagination(SelectPagination):
    """A page of a select of columns (read on the session's connection, with ``params`` for its
    bound parameters), made into the list's items by ``rows`` (issue 14): small dataclasses with
    what the table shows, not ORM objects."""

    def _query_items(self) -> list[Any]:
        params = {**self._query_args["params"], "page_limit": self.per_page, "page_offset": self._query_offset}
        return self._query_args["rows"](read_core(_paged(self._query_args["select"]), params).all())

    def _query_count(self) -> int:
        select = self._query_args["select"].order_by(None).subquery()
        return int(read_core(sa.select(sa.func.count()).select_from(select), self._query_args["params"]).scalar())


@functools.lru_cache(maxsize=256)
def _paged(stmt: sa.Select) -> sa.Select:
    """``stmt`` with its limit and offset as bound parameters: a statement built once (a module
    constant, or cached) keeps one paged form, and a page runs it without building it again."""
    return stmt.limit(sa.bindparam("page_limit")).offset(sa.bindparam("page_offset"))


def paginate(stmt: sa.Select, per_page: int = PER_PAGE, total: int | None = None,
             rows: Callable[[list[sa.Row]], list[Any]] | None = None, params: dict[str, Any] | None = None) -> Pagination:
    """The page of ``stmt`` asked for by ``?page=`` (a page past the end is empty, never a 404;
    a visitor cannot ask for more rows than ``per_page``). ``total``: the list's length when it
    is known or counted more cheaply than by the list's own select, so the rows are not counted
    again. ``rows``: ``stmt`` selects columns (the page's keys, in order; ``params`` the values of
    its bound parameters), and ``rows`` makes the page's items from them (e.g. with one query for
    the page's details)."""
    kind = SelectPagination if rows is None else _RowPagination
    page = kind(select=stmt, session=db.session(), rows=rows, params=params or {}, per_page=per_page,
                max_per_page=per_page, error_out=False, count=total is None)
    if total is not None:
        page.total = total
    return page


def paginate_rows(stmt: sa.Select, row: type, params: dict | None = None, per_page: int = PER_PAGE,
                  total: int | None = None) -> Pagination:
    """:func:`paginate` for a select of columns read as ``row(*columns)`` (a small dataclass: the
    hot lists, issue 14), its bound parameters in ``params``."""
    return paginate(stmt, per_page, total, rows=lambda found: [row(*r) for r in found], params=params)
