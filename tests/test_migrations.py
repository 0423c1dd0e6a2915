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
