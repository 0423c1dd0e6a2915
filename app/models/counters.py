"""Maintained counters: the 1+10+15 figures the org tree, dashboards and home pages show, kept
up to date in the same transaction as the rows they count (``app/services/counters.py``), so a
page reads a few hundred grid rows instead of counting 400,000 households.

``flask counters recount`` recounts them from the source rows and reports any difference."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class MemberCoverage(db.Model):
    """How many resident households a member covers (a row only for members who cover any)."""

    __tablename__ = "member_coverage"

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    covered: Mapped[int] = mapped_column(default=0, server_default="0")


class HouseholdLinks(db.Model):
    """How many active members are linked to a central household, its head not counted (a row
    only for households with any)."""

    __tablename__ = "household_links"

    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("central_households.id", ondelete="CASCADE"), primary_key=True
    )
    linked: Mapped[int] = mapped_column(default=0, server_default="0")


class GridStanding(db.Model):
    """A grid's 1+10+15 standing; a node's is the sum over the grids below it."""

    __tablename__ = "grid_standings"

    grid_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_nodes.id", ondelete="CASCADE"), primary_key=True
    )
    households: Mapped[int] = mapped_column(default=0, server_default="0")
    households_below: Mapped[int] = mapped_column(default=0, server_default="0")
    members: Mapped[int] = mapped_column(default=0, server_default="0")
    members_below: Mapped[int] = mapped_column(default=0, server_default="0")
    residents: Mapped[int] = mapped_column(default=0, server_default="0")
    residents_uncovered: Mapped[int] = mapped_column(default=0, server_default="0")

    FIGURES = ("households", "households_below", "members", "members_below", "residents",
               "residents_uncovered")
