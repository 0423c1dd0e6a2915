"""flask commands."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import OrgLevel, OrgNode, Role, User


def test_create_admin_creates_district_and_admin(runner, client):
    result = runner.invoke(
        args=["create-admin", "--phone", "13900001111", "--name", "区委组织部", "--district", "宜秀区",
              "--password", "a-long-password"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.phone == "13900001111"))
    assert user.has_role(Role.ORG_ADMIN)
    district = db.session.scalar(sa.select(OrgNode).where(OrgNode.level == OrgLevel.DISTRICT))
    assert district.name == "宜秀区"
    assert client.post("/login", data={"phone": "13900001111", "password": "a-long-password"}).status_code == 303


def test_create_admin_refuses_a_bad_phone_and_a_short_password(runner):
    bad_phone = runner.invoke(args=["create-admin", "--phone", "123", "--name", "x", "--district", "d",
                                    "--password", "a-long-password"])
    assert bad_phone.exit_code != 0 and "不是有效的手机号" in bad_phone.output
    short = runner.invoke(args=["create-admin", "--phone", "13900001111", "--name", "x", "--district", "d",
                                "--password", "short"])
    assert short.exit_code != 0 and "密码至少" in short.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_create_admin_needs_a_district_name_on_an_empty_database(runner):
    result = runner.invoke(args=["create-admin", "--phone", "13900001111", "--name", "x",
                                 "--password", "a-long-password"])
    assert result.exit_code != 0
    assert "--district" in result.output


def test_backup_copies_the_database(runner, tmp_path):
    if db.engine.dialect.name != "sqlite":
        return
    target = tmp_path / "backup.sqlite"
    result = runner.invoke(args=["backup", "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 0
