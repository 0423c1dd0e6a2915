"""Every table comes from a migration, and the models match the migrations."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_database_enforces_unique_phone(app):
    import pytest

    from tests.factories import make_user

    make_user(phone="13912345678")
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        make_user(phone="13912345678")
    db.session.rollback()


def test_database_refuses_a_malformed_phone(app):
    import pytest

    from app.models import User

    db.session.add(User(phone="12345", name="x"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_database_refuses_an_unknown_enum_value(app):
    import pytest

    from tests.factories import make_tree

    tree = make_tree()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("UPDATE org_nodes SET level = 'planet' WHERE id = :id"), {"id": tree.grid.id})
    db.session.rollback()


def test_foreign_keys_are_enforced(app):
    import pytest

    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.text("INSERT INTO members (user_id, grid_id, category, status, is_secretary, created_at) "
                    "VALUES (999, 999, 'other', 'active', false, CURRENT_TIMESTAMP)")
        )
        db.session.flush()
    db.session.rollback()


def test_sqlite_runs_in_wal_with_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def _columns(table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_the_model_flag_becomes_dated_titles_and_comes_back_on_downgrade(app):
    """0008 copies each flagged household into model_titles (the year it was granted, in Shanghai)
    and drops the flag's columns without touching the rows that point at the households; the
    downgrade puts the flag back from the latest live title."""
    import pytest
    from flask_migrate import downgrade, upgrade

    from app.models import CentralHousehold, Duty, HouseholdDuty
    from tests.factories import make_admin, make_household, make_member, make_tree

    tree = make_tree()
    admin = make_admin(tree.community)
    flagged = make_household(tree.grid, number="M-1")
    plain = make_household(tree.grid, number="M-2")
    linked = make_member(tree.grid, name="联系党员", household=flagged)
    flagged.duties = [HouseholdDuty(duty=Duty.POLICY), HouseholdDuty(duty=Duty.MEDIATION)]
    db.session.commit()
    ids = (flagged.id, plain.id, linked.id, admin.id)
    db.session.remove()

    downgrade(revision="0007_client_keys")
    assert {"is_model", "model_granted_at", "model_granted_by_id"} <= _columns("central_households")
    with db.engine.begin() as conn:
        # Granted at 01:00 on 1 January 2026 in Shanghai: still 2025 in UTC.
        conn.execute(sa.text("UPDATE central_households SET is_model = true,"
                             " model_granted_at = '2025-12-31 17:00:00+00:00', model_granted_by_id = :admin"
                             " WHERE id = :id"), {"admin": ids[3], "id": ids[0]})
    try:
        upgrade()
        assert not {"is_model", "model_granted_at", "model_granted_by_id"} & _columns("central_households")
        with db.engine.connect() as conn:
            titles = conn.execute(sa.text(
                "SELECT household_id, year, granted_by_id, revoked_at FROM model_titles")).all()
            assert [tuple(t) for t in titles] == [(ids[0], 2026, ids[3], None)]
            # Nothing that pointed at the rebuilt table was lost or left dangling.
            assert conn.execute(sa.text("SELECT count(*) FROM household_duties WHERE household_id = :id"),
                                {"id": ids[0]}).scalar() == 2
            assert conn.execute(sa.text("SELECT central_household_id FROM members WHERE id = :id"),
                                {"id": ids[2]}).scalar() == ids[0]
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # The rebuilt table keeps its other constraints (the status is still checked).
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE central_households SET status = 'planet' WHERE id = :id"),
                         {"id": ids[1]})

        # A later title, and an earlier one revoked: the downgrade flags from the latest live one.
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO model_titles (household_id, year, granted_by_id, granted_at, revoke_reason)"
                " VALUES (:id, 2024, :admin, '2024-06-01 02:00:00+00:00', '')"), {"id": ids[1], "admin": ids[3]})
            conn.execute(sa.text(
                "INSERT INTO model_titles (household_id, year, granted_by_id, granted_at, revoked_at,"
                " revoked_by_id, revoke_reason) VALUES (:id, 2025, :admin, '2025-06-01 02:00:00+00:00',"
                " '2025-09-01 02:00:00+00:00', :admin, '群众反映强烈')"), {"id": ids[1], "admin": ids[3]})
        downgrade(revision="0007_client_keys")
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, is_model, model_granted_by_id FROM central_households"
                                        " ORDER BY id")).all()
            assert [(r[0], bool(r[1]), r[2]) for r in rows] == [(ids[0], True, ids[3]), (ids[1], True, ids[3])]
            granted = conn.execute(sa.text("SELECT model_granted_at FROM central_households WHERE id = :id"),
                                   {"id": ids[1]}).scalar()
            assert str(granted).startswith("2024-06-01")
    finally:
        upgrade()
    assert db.session.get(CentralHousehold, ids[0]).model_years == [2026]
