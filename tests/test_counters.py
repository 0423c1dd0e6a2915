"""Maintained counters: after any sequence of changes — through the services, the ORM or the
importer — every counter equals a recount from the source rows, and the pages read them.
The recount command reports a difference and repairs it."""

from __future__ import annotations

import random

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    CentralHousehold,
    GridStanding,
    HouseholdStatus,
    Member,
    MemberCoverage,
    MemberStatus,
    ResidentHousehold,
)
from app.services import counters, households
from app.services.structure import node_standings, scope_summary
from tests.factories import make_household, make_member, make_personas, make_resident
from tests.helpers import write_concurrently


def _differences() -> list:
    return counters.check(db.session.connection())


def _independent_standing(grid_ids: list[int]) -> tuple[int, ...]:
    """The node's six figures counted here, by hand, from the rows (not by the code under test)."""
    hh = [h for h in db.session.scalars(sa.select(CentralHousehold)) if h.grid_id in grid_ids
          and h.status is not HouseholdStatus.REVOKED]
    members = [m for m in db.session.scalars(sa.select(Member)) if m.grid_id in grid_ids
               and m.status is MemberStatus.ACTIVE]
    residents = [r for r in db.session.scalars(sa.select(ResidentHousehold)) if r.grid_id in grid_ids]
    all_members = list(db.session.scalars(sa.select(Member)))
    all_residents = list(db.session.scalars(sa.select(ResidentHousehold)))

    def linked(h: CentralHousehold) -> int:
        return sum(1 for m in all_members if m.central_household_id == h.id
                   and m.status is MemberStatus.ACTIVE and m.id != h.head_member_id)

    def covered(m: Member) -> int:
        return sum(1 for r in all_residents if r.covering_member_id == m.id)

    return (len(hh), sum(1 for h in hh if linked(h) < 10), len(members),
            sum(1 for m in members if covered(m) < 15), len(residents),
            sum(1 for r in residents if r.covering_member_id is None))


def test_random_operations_keep_every_counter_equal_to_a_recount(app):
    p = make_personas()
    rng = random.Random(7)
    grids = [p.tree.grid, p.tree.grid_b, p.tree.grid2]
    members = [p.member, p.other_member] + [make_member(rng.choice(grids), name=f"党员{i}")
                                            for i in range(6)]
    hhs = [p.member.central_household, make_household(p.tree.grid_b)]
    residents = [make_resident(rng.choice(grids), rng.choice(members + [None]), head_name=f"户{i}")
                 for i in range(12)]
    db.session.commit()
    assert _differences() == []
    admin = p.district_admin
    for step in range(120):
        op = rng.randrange(9)
        if op == 0:
            residents.append(make_resident(rng.choice(grids), rng.choice(members + [None]),
                                           head_name=f"新户{step}"))
        elif op == 1:
            r = rng.choice(residents)
            m = rng.choice(members + [None])
            r.covering_member_id = m.id if m is not None else None
        elif op == 2:
            r = rng.choice(residents)
            r.grid_id = rng.choice(grids).id
        elif op == 3:
            m = rng.choice(members)
            m.status = rng.choice(list(MemberStatus))
        elif op == 4:
            m = rng.choice(members)
            m.grid_id = rng.choice(grids).id
        elif op == 5:
            hh = rng.choice(hhs)
            candidates = [m for m in members if m.central_household_id is None and m.is_active
                          and m.id != hh.head_member_id]
            if candidates and hh.status is not HouseholdStatus.REVOKED:
                households.link_members(admin, hh, rng.sample(candidates, min(2, len(candidates))))
        elif op == 6:
            hh = rng.choice(hhs)
            linked = [m for m in members if m.central_household_id == hh.id and m.id != hh.head_member_id]
            if linked and hh.status is not HouseholdStatus.REVOKED:
                households.unlink_member(admin, hh, rng.choice(linked))
        elif op == 7:
            hh = rng.choice(hhs)
            hh.status = rng.choice(list(HouseholdStatus))
        else:
            victim = rng.choice(residents)
            residents.remove(victim)
            db.session.delete(victim)
        if rng.random() < 0.3:
            db.session.rollback() if rng.random() < 0.2 else db.session.commit()
            members = [db.session.merge(m) for m in members]
        db.session.flush()
        assert _differences() == [], f"after step {step} (operation {op})"
    db.session.commit()
    # The pages' figures are the counters summed, and equal a count made by hand.
    got = node_standings([p.tree.community])[p.tree.community.id]
    mine = _independent_standing([p.tree.grid.id, p.tree.grid_b.id])
    assert (got.households, got.households_below, got.members, got.members_below, got.residents,
            got.residents_uncovered) == mine
    summary = scope_summary(p.district_admin)
    assert summary.residents == len(list(db.session.scalars(sa.select(ResidentHousehold))))


def test_the_recount_command_reports_a_difference_and_repairs_it(app):
    p = make_personas()
    make_resident(p.tree.grid, p.member)
    db.session.commit()
    db.session.execute(sa.update(MemberCoverage).values(covered=99))
    db.session.execute(sa.update(GridStanding).where(GridStanding.grid_id == p.tree.grid.id)
                       .values(residents=0))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["recount-counters"])
    assert result.exit_code == 1
    assert "member_coverage" in result.output and "residents" in result.output
    result = runner.invoke(args=["recount-counters", "--repair"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["recount-counters"]).exit_code == 0
    assert _differences() == []


def test_the_tree_reads_the_counters_in_one_query_whatever_the_size(app):
    p = make_personas()
    nodes = [p.tree.district, p.tree.township, p.tree.community, p.tree.grid]
    from tests.helpers import count_queries

    with count_queries() as few:
        node_standings(nodes)
    for i in range(20):
        make_resident(p.tree.grid, None, head_name=f"户{i}")
    with count_queries() as many:
        standing = node_standings(nodes)
    def counted(statements: list[str]) -> int:
        return sum(1 for s in statements if "grid_standings" in s)

    assert counted(few) == counted(many) == 1
    assert standing[p.tree.district.id].residents_uncovered == 20


def test_concurrent_writers_in_one_grid_leave_the_counters_right(app):
    p = make_personas()
    db.session.commit()
    grid_id, member_id = p.tree.grid.id, p.member.id

    def add_household(n: int, i: int) -> None:
        db.session.add(ResidentHousehold(grid_id=grid_id, address=f"路{n}-{i}", head_name="户主",
                                         covering_member_id=member_id))

    write_concurrently(app, add_household)
    assert _differences() == []
    assert db.session.get(MemberCoverage, member_id).covered == 20
