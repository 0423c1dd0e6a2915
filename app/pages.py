"""Lists a view shows a page at a time: one paginate helper for every list."""

from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from app.extensions import db, read_core

PER_PAGE = 20


def paginate(stmt: sa.Select, per_page: int = PER_PAGE, total: int | None = None) -> Pagination:
    """The page of ``stmt`` asked for by ``?page=`` (a page past the end is empty, never a 404;
    a visitor cannot ask for more rows than ``per_page``). ``total``: the list's length when a
    maintained counter knows it already, so the rows are not counted again."""
    if total is None:
        return db.paginate(stmt, per_page=per_page, max_per_page=per_page, error_out=False)
    page = db.paginate(stmt, per_page=per_page, max_per_page=per_page, error_out=False, count=False)
    page.total = total
    return page


class _RowsPagination(Pagination):
    """A page of Core rows made into ``row`` objects (Flask-SQLAlchemy's own pagination loads ORM
    entities, or the first column of each row)."""

    def _query_items(self) -> list:
        args = self._query_args
        stmt = args["select"].limit(self.per_page).offset((self.page - 1) * self.per_page)
        return [args["row"](*r) for r in read_core(stmt, args["params"])]

    def _query_count(self) -> int:
        args = self._query_args
        counted = sa.select(sa.func.count()).select_from(args["select"].order_by(None).subquery())
        return read_core(counted, args["params"]).scalar() or 0


def paginate_rows(stmt: sa.Select, row: type, params: dict | None = None, per_page: int = PER_PAGE,
                  total: int | None = None) -> Pagination:
    """:func:`paginate` for a select of columns read as ``row(*columns)`` (a small dataclass: the
    hot lists, issue 14), its bound parameters in ``params``."""
    page = _RowsPagination(per_page=per_page, max_per_page=per_page, error_out=False, count=total is None,
                           select=stmt, row=row, params=params or {})
    if total is not None:
        page.total = total
    return page
