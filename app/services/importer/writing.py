"""Writing a clean plan with bulk inserts; the caller commits the transaction (or rolls back), so a
roster is written all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from app.clock import local_day
from app.extensions import db
from app.models import (
    CentralHousehold,
    HouseholdDuty,
    HouseholdStatus,
    HouseholdType,
    Member,
    ModelTitle,
    ResidentHousehold,
    User,
)
from app.services import counters, stamps
from app.services.importer.plan import Plan, _chunks


def commit(plan: Plan, user: User) -> dict[str, int]:
    """Write a clean plan with bulk inserts; the caller commits the transaction (or rolls back)."""
    if not plan.ok:
        raise ValueError("a plan with errors cannot be written")
    member_ids = _insert_members(plan.members)
    if plan.households:
        _insert_households(plan.households, member_ids, user)
    for chunk in _chunks(plan.residents, 2000):
        db.session.execute(sa.insert(ResidentHousehold), list(chunk))
    # Bulk inserts bypass the ORM's flush, where the counters are kept: recount the grids written.
    grids = {r["grid_id"] for rows in (plan.members, plan.households, plan.residents) for r in rows}
    counters.recount_grids(db.session.connection(), grids)
    stamps.bump_shared(db.session.connection())  # and every kept home reads again
    return plan.counts


def _insert_members(rows: list[dict]) -> dict[str, int]:
    """Users (no password: they cannot log in until an admin sets one) and their member records."""
    ids: dict[str, int] = {}
    for chunk in _chunks(rows, 2000):
        user_ids = db.session.scalars(
            sa.insert(User).returning(User.id, sort_by_parameter_order=True),
            [{"phone": r["phone"], "name": r["name"], "password_hash": None} for r in chunk],
        ).all()
        db.session.execute(sa.insert(Member), [
            {"user_id": uid, "grid_id": r["grid_id"], "category": r["category"],
             "central_household_id": r["central_household_id"]}
            for uid, r in zip(user_ids, chunk, strict=True)
        ])
        ids.update(zip([r["phone"] for r in chunk], user_ids, strict=True))
    if not ids:
        return {}
    by_user = dict(db.session.execute(
        sa.select(Member.user_id, Member.id).where(Member.user_id.in_(list(ids.values())))
    ).all())
    return {phone: by_user[uid] for phone, uid in ids.items()}


def _insert_households(rows: list[dict], new_members: dict[str, int], user: User) -> None:
    now = datetime.now(UTC)
    types = dict(db.session.execute(sa.select(HouseholdType.name, HouseholdType.id)).all())
    for r in rows:
        if r["type_name"] and r["type_id"] is None:
            if r["type_name"] not in types:
                new_type = HouseholdType(name=r["type_name"], builtin=True)
                db.session.add(new_type)
                db.session.flush()
                types[new_type.name] = new_type.id
            r["type_id"] = types[r["type_name"]]
        head_id = r["head_member_id"] or new_members[r["head_phone"]]
        household = CentralHousehold(
            number=r["number"], head_member_id=head_id, address=r["address"], grid_id=r["grid_id"],
            status=HouseholdStatus.ESTABLISHED, type_id=r["type_id"],
        )
        household.duties = [HouseholdDuty(duty=d) for d in r["duties"]]
        db.session.add(household)
        db.session.flush()
        if r["is_model"]:  # 示范中心户 on the roster: the title for this year, granted by the importer
            db.session.add(ModelTitle(household_id=household.id, year=local_day(now).year,
                                      granted_by_id=user.id, granted_at=now))
        # The head belongs to the household they lead.
        db.session.execute(
            sa.update(Member).where(Member.id == head_id).values(central_household_id=household.id)
        )

