"""Maintained aggregates: the per-day, per-month and per-year figures the dashboards, the home
pages, the evaluation sheet and the points rankings show, kept in the same transaction as the
history rows they count (``app/services/aggregates.py``), so a page sums a few thousand rows
instead of scanning millions of check-ins, activities and points entries.

Months are Asia/Shanghai months (the first day stands for the month), years are Asia/Shanghai
calendar years. A row exists only where something was counted (no zero rows).
``flask recount-counters`` recounts them from the source rows and reports any difference."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.activities import ActivityKind
from app.models.base import enum_column


class CheckinDay(db.Model):
    """Check-ins at a station on a day."""

    __tablename__ = "agg_checkin_days"
    __table_args__ = (sa.Index("ix_agg_checkin_days_day", "day"),)

    station_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    checkins: Mapped[int] = mapped_column(default=0, server_default="0")


class CheckinMemberMonth(db.Model):
    """A member's check-ins at a station in a month (by ``Checkin.day``): a row per member who
    checked in there then, so the members who checked in (签到党员数, the monthly ledger) are
    counted from these rows, not from the check-ins."""

    __tablename__ = "agg_checkin_member_months"

    station_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    checkins: Mapped[int] = mapped_column(default=0, server_default="0")


class ActivityMonth(db.Model):
    """Activities recorded in a grid (``Activity.grid_id``) that started in a month, per kind,
    whatever their verification (the activity ledger's and the 工作看板's condition)."""

    __tablename__ = "agg_activity_months"
    __table_args__ = (sa.Index("ix_agg_activity_months_month", "month"),)

    grid_id: Mapped[int] = mapped_column(
        sa.ForeignKey("org_nodes.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind, "kind"), primary_key=True)
    activities: Mapped[int] = mapped_column(default=0, server_default="0")


class PointsMonth(db.Model):
    """A member's points entries in a month (by ``occurred_on``): how many, and their net points."""

    __tablename__ = "agg_points_months"
    # A month's rows, best first: the month's leaders (an admin's home) are the first few rows of
    # the month that belong to the node, not a sort of every member's (24,000 at scale 10).
    __table_args__ = (sa.Index("ix_agg_points_months_month_points", "month", "points", "member_id"),)

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    entries: Mapped[int] = mapped_column(default=0, server_default="0")
    points: Mapped[int] = mapped_column(default=0, server_default="0")


class PointsYear(db.Model):
    """A member's points entries in a calendar year: how many, and their net points."""

    __tablename__ = "agg_points_years"
    __table_args__ = (sa.Index("ix_agg_points_years_year", "year"),)

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    entries: Mapped[int] = mapped_column(default=0, server_default="0")
    points: Mapped[int] = mapped_column(default=0, server_default="0")


class MemberActivityYear(db.Model):
    """A member's activities of a kind started in a year, those sent back (已退回) left out:
    ``activities`` those they recorded or took part in (each once), ``authored`` those they
    recorded (the evaluation's figures)."""

    __tablename__ = "agg_member_activity_years"
    # A page of the households sheet reads its ~700 members' figures by kind: an index-only
    # lookup each on PostgreSQL (not a scan of every member's, 46 ms at scale 10 before).
    __table_args__ = (sa.Index("ix_agg_member_activity_years_member_year", "member_id", "year",
                               postgresql_include=["kind", "activities", "authored"]),)

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind, "kind"), primary_key=True)
    activities: Mapped[int] = mapped_column(default=0, server_default="0")
    authored: Mapped[int] = mapped_column(default=0, server_default="0")


class HouseholdActivityYear(db.Model):
    """Activities recorded on a central household's behalf (``Activity.central_household_id``)
    of a kind started in a year, per author, those sent back left out: with the authors' own
    figures, a household's activities are counted without reading the activities."""

    __tablename__ = "agg_household_activity_years"

    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("central_households.id", ondelete="CASCADE"), primary_key=True)
    author_member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind, "kind"), primary_key=True)
    activities: Mapped[int] = mapped_column(default=0, server_default="0")


class MemberVisitYear(db.Model):
    """Of the resident households a member covers now, how many were visited in a year (a 走访
    activity naming the household, or a diary entry about it, whoever wrote it)."""

    __tablename__ = "agg_member_visit_years"

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    visited: Mapped[int] = mapped_column(default=0, server_default="0")


class MemberTrainingYear(db.Model):
    """A member's training in a year: offline sessions attended (by the session's start) and
    online sessions completed (by the completion), each once, cancelled ones left out."""

    __tablename__ = "agg_member_training_years"

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sessions: Mapped[int] = mapped_column(default=0, server_default="0")
    minutes: Mapped[int] = mapped_column(default=0, server_default="0")


class SessionParticipants(db.Model):
    """How many members took part in a training session: attended it (a check-in at its station
    event) or completed it online, each once (cancelled or not: readers filter the sessions)."""

    __tablename__ = "agg_session_participants"

    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    participants: Mapped[int] = mapped_column(default=0, server_default="0")


class MemberYear(db.Model):
    """A member's kept figures of a calendar year side by side — net points (``PointsYear``),
    activities recorded or taken part in and those recorded (``MemberActivityYear`` over the
    kinds), covered households visited (``MemberVisitYear``), training minutes
    (``MemberTrainingYear``), and the needs routed to them (``Need.member_id``) submitted in the
    year, hidden ones left out, with the counts of the three rates (``needs_*``: submitted,
    accepted in time, resolved, rated, satisfied or basically, unsatisfied): one row per member
    and year, what the evaluation sheet ranks every member of a node by with one join and no
    grouping. Recounted from those four after they are, and from the needs
    (``app/services/aggregates.py``); a row where any of them has one."""

    __tablename__ = "agg_member_years"

    member_id: Mapped[int] = mapped_column(
        sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    points: Mapped[int] = mapped_column(default=0, server_default="0")
    activities: Mapped[int] = mapped_column(default=0, server_default="0")
    authored: Mapped[int] = mapped_column(default=0, server_default="0")
    visited: Mapped[int] = mapped_column(default=0, server_default="0")
    minutes: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_submitted: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_in_time: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_resolved: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_rated: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_satisfied: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_unsatisfied: Mapped[int] = mapped_column(default=0, server_default="0")


class HouseholdYear(db.Model):
    """The needs routed to a central household (``Need.central_household_id``) submitted in a
    calendar year, hidden ones left out, with the counts of the three rates (as ``MemberYear``'s
    ``needs_*``): the households' evaluation sheet ranks every household of a node by them
    without grouping the year's needs. A row where any was counted."""

    __tablename__ = "agg_household_years"

    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("central_households.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    needs_submitted: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_in_time: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_resolved: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_rated: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_satisfied: Mapped[int] = mapped_column(default=0, server_default="0")
    needs_unsatisfied: Mapped[int] = mapped_column(default=0, server_default="0")
