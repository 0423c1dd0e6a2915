"""Home stamps: a random number per member that changes with every write to what their home page
shows (``app/services/stamps.py``), and one (``member_id`` 0) shared by every home, changed by
writes to what many members see (stations, events, training sessions, visit policies, the tree).

A home's data is kept per process under the two stamps it was read with; when either changed, it
is read again. Random values, not counters: a database copied, restored or emptied (the tests do
it for every test) never meets a kept home under the same numbers."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

SHARED = 0  # the member_id of the stamp every home reads


class HomeStamp(db.Model):
    __tablename__ = "home_stamps"

    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    stamp: Mapped[int] = mapped_column(sa.BigInteger)
