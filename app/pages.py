"""Lists a view shows a page at a time: one paginate helper for every list."""

from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from app.extensions import db

PER_PAGE = 20


def paginate(stmt: sa.Select, per_page: int = PER_PAGE) -> Pagination:
    """The page of ``stmt`` asked for by ``?page=`` (a page past the end is empty, never a 404;
    a visitor cannot ask for more rows than ``per_page``)."""
    return db.paginate(stmt, per_page=per_page, max_per_page=per_page, error_out=False)
