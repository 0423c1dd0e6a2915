"""Lists a view shows a page at a time: one paginate helper for every list."""

from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from app.extensions import db

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
