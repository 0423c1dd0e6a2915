"""The demo district: a realistic Yixiu-like district (安庆市宜秀区) for demos, tests and benchmarks.

``generate(seed, scale)`` fills an empty database with the org tree, central households, members,
resident households, stations and one demo account per role (password ``dangyuan2024``), and
commits. The same seed gives the same district (names, phones, addresses, ids); timestamps are
relative to the real current time, so "the last two years" always end today.

The 1+10+15 rule is mostly met, with the gaps a real roster has: about 5% of central households
link fewer than 10 members, about 5% of members cover fewer than 15 resident households, about 1%
of resident households have no covering member, and a few members belong to no central household.

Rows are written with bulk Core inserts and ids assigned here, in dependency order, so that the
full district (about 40,000 rows) takes seconds.

Extending it: later features add their own history (check-ins, activities, needs…) in
``app/demo/<area>.py``: a function ``(ctx: DemoContext) -> dict[str, int]`` decorated with
``@demo_extension`` (from :mod:`app.demo.context`, which appends it to ``EXTENSIONS``), and
one import line here. See :mod:`app.demo.context`.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

import app.demo.mentoring  # noqa: F401 — registers its extensions
import app.demo.training  # noqa: F401 — registers its extension
from app.clock import local_day
from app.demo import activities, checkin, needs
from app.demo import points as demo_points
from app.demo.context import (
    EXTENSIONS,
    Bulk,
    DemoContext,
    insert_rows,
    max_id,
    reset_sequences,
)
from app.demo.evaluation import generate_evaluation
from app.demo.names import (
    ESTATE_SUFFIX,
    TOWNSHIPS,
    Address,
    NameMaker,
    PhonePool,
    PlaceNames,
    chinese_number,
    estate_addresses,
    village_addresses,
)
from app.extensions import db
from app.models import (
    BUILTIN_HOUSEHOLD_TYPES,
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    CentralHousehold,
    CheckinMode,
    Duty,
    HouseholdDuty,
    HouseholdStatus,
    HouseholdType,
    Member,
    MemberCategory,
    MemberStatus,
    ModelTitle,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    Role,
    RoleAssignment,
    Station,
    StationKind,
    User,
)
from app.services import counters
from app.services.passwords import hash_password

# Extensions (app/demo/<area>.py) register themselves when imported: add one line per area to
# the import block above, e.g. ``from app.demo import visitors`` (marked noqa F401).
# They run in import order (alphabetical once ruff sorts the block).
__all__ = ["EXTENSIONS", "DemoContext", "DemoError", "generate"]


def _area(generate_area):  # type: ignore[no-untyped-def]
    """Adapt an area's ``generate(conn, rng, now, scale)`` to an extension."""

    def extension(ctx: DemoContext) -> dict[str, int]:
        return generate_area(ctx.conn, ctx.rng, ctx.now, ctx.scale)

    extension.__name__ = f"{generate_area.__module__}.generate"
    return extension


# Two years of history for each area, in this order, after the district is written.
AREA_EXTENSIONS = [
    _area(checkin.generate),
    _area(activities.generate),
    _area(needs.generate),
]

# After every area and extension: the points ledger is built from the history they wrote.
FINAL_STEPS = [demo_points.generate]

# Once the counters and aggregates are counted from all of it: what reads them, as the pages do
# (last year's outcomes go to the members the evaluation sheet ranks best on the final figures).
AFTER_COUNTING = [generate_evaluation]

DISTRICT_NAME = "宜秀区"
DEMO_PASSWORD = "dangyuan2024"
# key → (phone, name). Every scale has all of them.
DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "district": ("13900000001", "汪建国"),  # org admin of the district
    "township": ("13900000002", "程丽华"),  # org admin of the first township
    "community": ("13900000003", "方晓燕"),  # org admin of the first community
    "station": ("13900000004", "储明辉"),  # admin of the first station
    "head": ("13900000005", "王德胜"),  # member heading the first central household
    "member": ("13900000006", "李秀英"),  # member linked to it, covering ≥ 15 households
    "resident": ("13900000007", "章桂兰"),  # registered resident
    "mentor": ("13900000008", "胡卫东"),  # the first community's secretary, mentoring 3–5 households
}

# Counts at scale 1; every one is multiplied by the scale.
BASE_COUNTS = {"townships": 5, "communities": 15, "grids": 45, "households": 205, "stations": 22}
# The realistic gaps in the 1+10+15 rule (each at least one, at every scale).
HOUSEHOLDS_BELOW_SHARE = 0.05
MEMBERS_BELOW_SHARE = 0.05
UNCOVERED_SHARE = 0.01
UNLINKED_SHARE = 0.01
# Linked members per household meeting the rule (10–13), and resident households per member (15–20).
LINKED_CHOICES, LINKED_WEIGHTS = (10, 11, 12, 13), (35, 30, 20, 15)
COVERED_CHOICES, COVERED_WEIGHTS = (15, 16, 17, 18, 19, 20), (40, 25, 15, 10, 6, 4)
MODEL_SHARE = 0.10
TYPED_SHARE = 0.30  # the article: 60+ of 200+ households have been cultivated into a type
TYPE_WEIGHTS = (40, 35, 25)
RESIDENT_PHONE_SHARE = 0.70
CARE_SHARE = 0.05
CARE_TAGS = ("独居老人", "低保户", "残疾人", "留守儿童")
CARE_WEIGHTS_TOWN, CARE_WEIGHTS_VILLAGE = (40, 25, 25, 10), (35, 25, 15, 25)
CARE_PAIRS = ("独居老人,低保户", "独居老人,残疾人", "残疾人,低保户", "留守儿童,低保户")
HEAD_CATEGORIES = {
    MemberCategory.VILLAGE_COMMITTEE: 20, MemberCategory.GRID_ORG: 25, MemberCategory.DEPUTY: 10,
    MemberCategory.EMPLOYED: 15, MemberCategory.FIVE_ELDERS: 25, MemberCategory.OTHER: 5,
}
MEMBER_CATEGORIES_TOWN = {
    MemberCategory.VILLAGE_COMMITTEE: 3, MemberCategory.GRID_ORG: 8, MemberCategory.DEPUTY: 3,
    MemberCategory.EMPLOYED: 40, MemberCategory.FIVE_ELDERS: 16, MemberCategory.OTHER: 30,
}
MEMBER_CATEGORIES_VILLAGE = {
    MemberCategory.VILLAGE_COMMITTEE: 6, MemberCategory.GRID_ORG: 6, MemberCategory.DEPUTY: 3,
    MemberCategory.EMPLOYED: 15, MemberCategory.FIVE_ELDERS: 25, MemberCategory.OTHER: 45,
}
OPENING_HOURS = (
    "周一至周五 08:30-17:30", "周一至周五 08:30-17:30", "周一至周六 09:00-17:00",
    "每天 08:00-12:00, 14:30-17:30", "每周二、四 14:30-17:00",
)
MAX_SCALE = 100  # about four million resident households


class DemoError(ValueError):
    """The demo district cannot be generated here (the message is for the operator, in Chinese)."""


def generate(seed: int, scale: float) -> dict[str, int]:
    """Generate the demo district into an empty database, commit, and return what was made."""
    if not 0 < scale <= MAX_SCALE:  # also refuses NaN
        raise DemoError(f"规模必须大于 0 且不超过 {MAX_SCALE}。")
    if db.session.scalar(sa.select(sa.func.count(OrgNode.id))):
        raise DemoError("数据库中已有组织架构数据，演示区只能生成到空数据库中。")
    conn = db.session.connection()
    taken = set(db.session.scalars(sa.select(User.phone).where(
        User.phone.in_([phone for phone, _ in DEMO_ACCOUNTS.values()]))))
    if taken:
        raise DemoError(f"演示账号的手机号已被占用：{'、'.join(sorted(taken))}")
    builder = _Builder(conn, random.Random(seed), scale, datetime.now(UTC))
    stats = builder.build()
    ctx = builder.context()
    for extension in [*AREA_EXTENSIONS, *EXTENSIONS, *FINAL_STEPS]:
        for key, value in extension(ctx).items():
            stats[key] = stats.get(key, 0) + value
    counters.recount_all(conn)  # the bulk inserts above bypassed the ORM that keeps them
    for step in AFTER_COUNTING:  # they write nothing the counters or the aggregates count
        for key, value in step(ctx).items():
            stats[key] = stats.get(key, 0) + value
    _reset_sequences(conn)
    # Fresh planner statistics: after a bulk load PostgreSQL would otherwise plan for empty tables
    # (measured at city scale: a household's visit history took 349 ms before, 0.5 ms after).
    conn.execute(sa.text("ANALYZE"))
    db.session.commit()
    return stats


def _reset_sequences(conn: sa.Connection) -> None:
    """Move every table's serial sequence past its MAX(id) (PostgreSQL; see ``reset_sequences``)."""
    reset_sequences(conn, [
        table.name for table in db.metadata.sorted_tables
        if (column := table.columns.get("id")) is not None
        and column.primary_key and isinstance(column.type, sa.Integer)
    ])


@dataclass
class _Community:
    id: int
    name: str
    township_id: int
    village: bool
    grid_ids: list[int] = field(default_factory=list)
    estates: set[str] = field(default_factory=set)  # 小区 or 村民组 names already used


@dataclass
class _Household:
    index: int
    grid_id: int
    head_id: int
    member_ids: list[int]  # head first
    below: bool
    id: int = 0
    address: str = ""


def _split(rng: random.Random, total: int, bins: int, weights: list[float] | None = None) -> list[int]:
    """``total`` items over ``bins`` bins (total ≥ bins): at least one each, roughly in proportion
    to ``weights`` with some jitter, as real rosters are uneven but not wildly so."""
    jittered = [w * rng.uniform(0.6, 1.4) for w in (weights or [1.0] * bins)]
    share = (total - bins) / sum(jittered)
    counts = [1 + int(w * share) for w in jittered]
    for i in rng.choices(range(bins), weights=jittered, k=total - sum(counts)):
        counts[i] += 1
    return counts


class _Builder:
    def __init__(self, conn: sa.Connection, rng: random.Random, scale: float, now: datetime) -> None:
        self.conn, self.rng, self.scale, self.now = conn, rng, scale, now
        self.names = NameMaker(rng)
        self.places = PlaceNames(rng, set())
        used_phones = {phone for phone, _ in DEMO_ACCOUNTS.values()}
        # One pool for users and residents: every generated number is distinct.
        self.phones = PhonePool(rng, used_phones)
        self.next_ids = {t: max_id(conn, t) + 1 for t in (
            "org_nodes", "users", "members", "central_households", "resident_households",
            "stations", "role_assignments", "household_types", "model_titles")}
        # What the context hands on to extensions.
        self.parent_of: dict[int, int] = {}
        self.member_user_ids: dict[int, int] = {}
        self.grid_of_member: dict[int, int] = {}
        self.residents_of_member: dict[int, list[int]] = {}
        self.resident_ids: list[int] = []
        self.node_admins: dict[int, int] = {}
        self.station_admins: dict[int, int] = {}
        self.station_node: dict[int, int] = {}
        self.demo_user_ids: dict[str, int] = {}

    def ids(self, table: str, n: int = 1) -> range:
        start = self.next_ids[table]
        self.next_ids[table] = start + n
        return range(start, start + n)

    def count(self, key: str, minimum: int = 1) -> int:
        return max(minimum, round(BASE_COUNTS[key] * self.scale))

    def past(self, min_days: int, max_days: int) -> datetime:
        """A moment between ``max_days`` and ``min_days`` ago, in office hours (Asia/Shanghai)."""
        day = self.now.date() - timedelta(days=self.rng.randint(min_days, max_days))
        minutes = self.rng.randint(0, 8 * 60)  # 08:30–16:30 in Shanghai is 00:30–08:30 UTC
        return datetime.combine(day, time(0, 30), tzinfo=UTC) + timedelta(minutes=minutes)

    # ---------------------------------------------------------------- the whole district

    def build(self) -> dict[str, int]:
        self.password_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
        self.users = Bulk(self.conn, User.__table__)
        self.type_ids = self._household_types()
        self._tree()
        self._admin_users()
        self._plan_households()
        self._members()
        self.users.flush()
        self._insert(Member.__table__, self.member_rows)
        self._addresses_and_residents()
        self._households()
        self._stations()
        self._role_assignments()
        self.users.flush()
        return {
            "townships": len(self.townships),
            "communities": len(self.communities),
            "grids": len(self.grid_ids),
            "households": len(self.households),
            "households_below_10": sum(h.below for h in self.households),
            "members": len(self.member_rows),
            "members_below_15": sum(
                1 for m in self.member_rows
                if len(self.residents_of_member[m["id"]]) < MIN_HOUSEHOLDS_PER_MEMBER),
            "members_without_household": len(self.unlinked),
            "residents": len(self.resident_ids),
            "residents_uncovered": self.uncovered,
            "stations": len(self.station_rows),
            "users": self.users.count,
        }

    def context(self) -> DemoContext:
        return DemoContext(
            rng=self.rng, scale=self.scale, now=self.now, conn=self.conn,
            district_id=self.district_id,
            township_ids=[t[0] for t in self.townships],
            community_ids=[c.id for c in self.communities],
            grid_ids=list(self.grid_ids),
            station_ids=[s["id"] for s in self.station_rows],
            member_ids=[m["id"] for m in self.member_rows],
            household_ids=[h.id for h in self.households],
            resident_ids=self.resident_ids,
            member_user_ids=self.member_user_ids,
            grid_of_member=self.grid_of_member,
            members_of_household={h.id: list(h.member_ids) for h in self.households},
            residents_of_member=self.residents_of_member,
            admin_user_ids={k: self.demo_user_ids[k] for k in ("district", "township", "community", "station")},
            demo_user_ids=dict(self.demo_user_ids),
            parent_of=self.parent_of,
            head_of_household={h.id: h.head_id for h in self.households},
            household_of_member={m: h.id for h in self.households for m in h.member_ids},
            node_admin_user_ids=self.node_admins,
            station_admin_user_ids=self.station_admins,
            station_node=self.station_node,
            _next=dict(self.next_ids),
        )

    def _insert(self, table: sa.Table, rows: list[dict]) -> None:
        insert_rows(self.conn, table, rows)

    def _user(self, name: str, phone: str | None = None, password_hash: str | None = None,
              created_at: datetime | None = None) -> int:
        user_id = self.ids("users")[0]
        self.users.add({
            "id": user_id, "phone": phone or self.phones.take(), "name": name,
            "password_hash": password_hash,
            # Never from the seeded rng: session tokens are secrets.
            "session_token": secrets.token_urlsafe(32),
            "active": True, "locale": None,
            "created_at": created_at or self.past(400, 1000),
            "password_changed_at": None, "last_login_at": None,
        })
        return user_id

    def _demo_user(self, key: str, created_at: datetime | None = None) -> int:
        phone, name = DEMO_ACCOUNTS[key]
        user_id = self._user(name, phone, self.password_hash, created_at)
        self.demo_user_ids[key] = user_id
        return user_id

    # ---------------------------------------------------------------- types and tree

    def _household_types(self) -> list[int]:
        existing = dict(self.conn.execute(sa.select(HouseholdType.name, HouseholdType.id)).all())
        missing = [name for name in BUILTIN_HOUSEHOLD_TYPES if name not in existing]
        rows = [{"id": i, "name": name, "builtin": True}
                for i, name in zip(self.ids("household_types", len(missing)), missing, strict=True)]
        self._insert(HouseholdType.__table__, rows)
        existing.update({r["name"]: r["id"] for r in rows})
        return [existing[name] for name in BUILTIN_HOUSEHOLD_TYPES]

    def _tree(self) -> None:
        rng = self.rng
        n_townships = self.count("townships")
        n_communities = max(n_townships, self.count("communities"))
        n_grids = max(2, n_communities, self.count("grids"))
        nodes: list[dict] = []

        def node(name: str, level: OrgLevel, parent: dict | None) -> dict:
            node_id = self.ids("org_nodes")[0]
            row = {"id": node_id, "name": name, "level": level,
                   "parent_id": parent["id"] if parent else None,
                   "path": f"{parent['path'] if parent else ''}{node_id}/"}
            nodes.append(row)
            if parent:
                self.parent_of[node_id] = parent["id"]
            return row

        district = node(DISTRICT_NAME, OrgLevel.DISTRICT, None)
        self.district_id = district["id"]
        self.townships: list[tuple[int, str]] = []
        township_rows = []
        for i in range(n_townships):
            if i < len(TOWNSHIPS):
                name = TOWNSHIPS[i]
                self.places.taken.add(name[:2])
            else:
                name = self.places.place() + rng.choice(("镇", "镇", "乡", "街道"))
            township_rows.append(node(name, OrgLevel.TOWNSHIP, district))
            self.townships.append((township_rows[-1]["id"], name))

        self.communities: list[_Community] = []
        community_rows = []
        for t_index, size in enumerate(_split(rng, n_communities, n_townships)):
            township = township_rows[t_index]
            for c_index in range(size):
                # Sub-districts are urban; a town's seat is a community, its other places villages.
                if township["name"].endswith("街道"):
                    village = False
                elif township["name"].endswith("镇"):
                    village = c_index > 0 and rng.random() < 0.8
                else:
                    village = True
                name = self.places.place() + ("村" if village else "社区")
                row = node(name, OrgLevel.COMMUNITY, township)
                community_rows.append(row)
                self.communities.append(_Community(row["id"], name, township["id"], village))

        # Urban communities have more grids than villages.
        weights = [1.0 if c.village else 1.6 for c in self.communities]
        self.grid_ids: list[int] = []
        self.community_of_grid: dict[int, _Community] = {}
        for community, row, size in zip(self.communities, community_rows,
                                        _split(rng, n_grids, n_communities, weights), strict=True):
            for g in range(size):
                grid = node(f"第{chinese_number(g + 1)}网格", OrgLevel.GRID, row)
                community.grid_ids.append(grid["id"])
                self.grid_ids.append(grid["id"])
                self.community_of_grid[grid["id"]] = community
        self._insert(OrgNode.__table__, nodes)

    def _admin_users(self) -> None:
        """One admin per township and community; the first of each is a demo account."""
        self.node_admins[self.district_id] = self._demo_user("district")
        for i, (township_id, _) in enumerate(self.townships):
            self.node_admins[township_id] = (
                self._demo_user("township") if i == 0 else self._user(self.names.person()))
        for i, community in enumerate(self.communities):
            self.node_admins[community.id] = (
                self._demo_user("community") if i == 0 else self._user(self.names.person()))

    # ---------------------------------------------------------------- people

    def _plan_households(self) -> None:
        rng = self.rng
        n_households = max(len(self.grid_ids), self.count("households"))
        per_grid = _split(rng, n_households, len(self.grid_ids))
        n_below = max(1, round(HOUSEHOLDS_BELOW_SHARE * n_households))
        # The first household is the demo accounts' one: it meets the rule.
        below = set(rng.sample(range(1, n_households), min(n_below, n_households - 1)))
        member_ids = iter(range(self.next_ids["members"], 10**12))
        self.households: list[_Household] = []
        for grid_id, size in zip(self.grid_ids, per_grid, strict=True):
            for _ in range(size):
                index = len(self.households)
                linked = (rng.randint(5, MIN_MEMBERS_PER_HOUSEHOLD - 1) if index in below
                          else rng.choices(LINKED_CHOICES, LINKED_WEIGHTS)[0])
                ids = [next(member_ids) for _ in range(linked + 1)]
                self.households.append(_Household(index, grid_id, ids[0], ids, index in below))
        n_linked = sum(len(h.member_ids) for h in self.households)
        # A few members belong to no central household yet; they live in random grids.
        self.unlinked = [(next(member_ids), rng.choice(self.grid_ids))
                         for _ in range(max(1, round(UNLINKED_SHARE * n_linked)))]
        self.next_ids["members"] = self.unlinked[-1][0] + 1

    def _members(self) -> None:
        rng = self.rng
        first = self.households[0]
        demo_head, demo_member = first.member_ids[0], first.member_ids[1]
        all_members = [(m, h.grid_id, m == h.head_id) for h in self.households for m in h.member_ids]
        all_members += [(m, grid_id, False) for m, grid_id in self.unlinked]
        self._pick_secretaries()
        demo_mentor = self.secretary_of[self.communities[0].id]
        candidates = [m for m, _, _ in all_members if m not in (demo_head, demo_member)]
        n_below = max(1, round(MEMBERS_BELOW_SHARE * len(all_members)))
        below = set(rng.sample(candidates, n_below))
        self.covered_count: dict[int, int] = {}
        self.member_rows: list[dict] = []
        for member_id, grid_id, is_head in all_members:
            village = self.community_of_grid[grid_id].village
            pool = HEAD_CATEGORIES if is_head else (
                MEMBER_CATEGORIES_VILLAGE if village else MEMBER_CATEGORIES_TOWN)
            category = rng.choices(list(pool), list(pool.values()))[0]
            created_at = self.past(400, 1000)
            if member_id == demo_head:
                user_id = self._demo_user("head", created_at)
            elif member_id == demo_member:
                user_id = self._demo_user("member", created_at)
            elif member_id == demo_mentor:
                user_id = self._demo_user("mentor", created_at)
            else:
                user_id = self._user(self.names.person(), created_at=created_at)
            self.member_rows.append({
                "id": member_id, "user_id": user_id, "grid_id": grid_id, "category": category,
                "status": MemberStatus.ACTIVE, "central_household_id": None,
                "is_secretary": False, "created_at": created_at,
            })
            self.member_user_ids[member_id] = user_id
            self.grid_of_member[member_id] = grid_id
            self.covered_count[member_id] = (
                rng.randint(6, MIN_HOUSEHOLDS_PER_MEMBER - 1) if member_id in below
                else rng.choices(COVERED_CHOICES, COVERED_WEIGHTS)[0])
        self._secretaries()

    def _pick_secretaries(self) -> None:
        """About one Party-organisation secretary per community, mentoring 3–5 of its households
        (a few mentor 2 or 6: the rule is shown and flagged, not enforced). The first community's
        is a demo account."""
        rng = self.rng
        demo_member = self.households[0].member_ids[1]
        self.secretary_of: dict[int, int] = {}
        self.mentor_of: dict[int, int] = {}
        for community in self.communities:
            grids = set(community.grid_ids)
            households = [h for h in self.households if h.grid_id in grids]
            pool = [m for h in households for m in h.member_ids[1:] if m != demo_member]
            if not pool:
                continue
            secretary = rng.choice(pool)
            self.secretary_of[community.id] = secretary
            mentored = [h for h in households if secretary not in h.member_ids]
            n = rng.choice((3, 4, 5)) if rng.random() > 0.12 or not self.mentor_of else rng.choice((2, 6))
            for household in rng.sample(mentored, min(n, len(mentored))):
                self.mentor_of[household.index] = secretary

    def _secretaries(self) -> None:
        """Mark the secretaries picked by :meth:`_pick_secretaries` (village two committees)."""
        rows = {row["id"]: row for row in self.member_rows}
        for secretary in self.secretary_of.values():
            rows[secretary]["is_secretary"] = True
            rows[secretary]["category"] = MemberCategory.VILLAGE_COMMITTEE

    def _address_stream(self, grid_id: int) -> Iterator[Address]:
        community = self.community_of_grid[grid_id]
        if community.village:
            return village_addresses(self.rng, community.name, self.names, community.estates)
        while True:
            estate = self.places.place() + self.rng.choice(ESTATE_SUFFIX)
            if estate not in community.estates:
                community.estates.add(estate)
                self.estate_of_grid[grid_id] = estate
                return estate_addresses(self.rng, estate)

    def _addresses_and_residents(self) -> None:
        """Walk each grid door after door: a central household's home, then the residents each
        of its members covers, as neighbouring runs; uncovered residents fall in between."""
        rng = self.rng
        residents = Bulk(self.conn, ResidentHousehold.__table__)
        n_covered = sum(self.covered_count.values())
        self.uncovered = max(1, round(UNCOVERED_SHARE * n_covered))
        uncovered_in = [0] * len(self.grid_ids)
        for i in rng.choices(range(len(self.grid_ids)), k=self.uncovered):
            uncovered_in[i] += 1
        households_in: dict[int, list[_Household]] = {g: [] for g in self.grid_ids}
        for household in self.households:
            households_in[household.grid_id].append(household)
        unlinked_in: dict[int, list[int]] = {g: [] for g in self.grid_ids}
        for member_id, grid_id in self.unlinked:
            unlinked_in[grid_id].append(member_id)
        self.estate_of_grid: dict[int, str] = {}
        next_resident = self.next_ids["resident_households"]
        for grid_index, grid_id in enumerate(self.grid_ids):
            village = self.community_of_grid[grid_id].village
            care_weights = CARE_WEIGHTS_VILLAGE if village else CARE_WEIGHTS_TOWN
            # Slots: a household (its head's home) or a resident covered by a member (or nobody).
            slots: list[_Household | int | None] = []
            for household in households_in[grid_id]:
                slots.append(household)
                for member_id in household.member_ids:
                    slots.extend([member_id] * self.covered_count[member_id])
            for member_id in unlinked_in[grid_id]:
                slots.extend([member_id] * self.covered_count[member_id])
            for _ in range(uncovered_in[grid_index]):
                slots.insert(rng.randrange(len(slots) + 1), None)
            stream = self._address_stream(grid_id)
            for slot in slots:
                address, building, unit, room = next(stream)
                if isinstance(slot, _Household):
                    slot.address = address
                    continue
                tags = ""
                if rng.random() < CARE_SHARE:
                    tags = rng.choices(CARE_TAGS, care_weights)[0]
                    if rng.random() < 0.15:
                        tags = rng.choice(CARE_PAIRS)
                phone = self.phones.take() if rng.random() < RESIDENT_PHONE_SHARE else None
                resident_id = next_resident
                next_resident += 1
                residents.add({
                    "id": resident_id, "grid_id": grid_id, "address": address,
                    "building": building, "unit": unit, "room": room,
                    "head_name": self.names.person(), "phone": phone,
                    "covering_member_id": slot, "care_tags": tags,
                    "created_at": self.past(300, 900),
                })
                self.resident_ids.append(resident_id)
                if slot is not None:
                    self.residents_of_member.setdefault(slot, []).append(resident_id)
        residents.flush()
        self.next_ids["resident_households"] = next_resident
        for member_id in self.member_user_ids:
            self.residents_of_member.setdefault(member_id, [])

    def _households(self) -> None:
        rng = self.rng
        ids = self.ids("central_households", len(self.households))
        township_of = {c.id: c.township_id for c in self.communities}
        eligible = [h.index for h in self.households if not h.below]
        models = set(rng.sample(eligible, round(MODEL_SHARE * len(self.households))))
        rows, duty_rows, title_rows = [], [], []
        for household, household_id in zip(self.households, ids, strict=True):
            household.id = household_id
            established = self.now.date() - timedelta(days=rng.randint(60, 1000))
            status = (HouseholdStatus.ADJUSTING if household.below and rng.random() < 0.5
                      else HouseholdStatus.ESTABLISHED)
            is_model = household.index in models
            community_id = self.parent_of[household.grid_id]
            if is_model:  # a 示范中心户 title for the (Shanghai) year its township granted it
                days_since = (self.now.date() - established).days
                granted_at = self.past(1, max(1, days_since - 30))
                title_rows.append({
                    "household_id": household_id, "year": local_day(granted_at).year,
                    "granted_by_id": self.node_admins[township_of[community_id]], "granted_at": granted_at,
                    "revoke_reason": "",
                })
            type_id = None
            if is_model or rng.random() < TYPED_SHARE:
                type_id = rng.choices(self.type_ids, TYPE_WEIGHTS)[0]
            rows.append({
                "id": household_id, "number": f"YX-{household.index + 1:04d}",
                "head_member_id": household.head_id, "address": household.address,
                "grid_id": household.grid_id, "status": status, "type_id": type_id,
                "mentor_id": self.mentor_of.get(household.index),
                "established_on": established,
                "created_at": datetime.combine(established, time(2, 0), tzinfo=UTC),
            })
            for duty in rng.sample(list(Duty), rng.randint(2, 4)):
                duty_rows.append({"household_id": household_id, "duty": duty})
        self._insert(CentralHousehold.__table__, rows)
        self._insert(HouseholdDuty.__table__, duty_rows)
        self._insert(ModelTitle.__table__, [
            {"id": i, **row} for i, row in zip(self.ids("model_titles", len(title_rows)), title_rows, strict=True)])
        # Members were inserted first (households point at their heads); each household's members
        # have consecutive ids, so one ranged UPDATE per household links them.
        members = Member.__table__
        self.conn.execute(
            sa.update(members)
            .where(members.c.id.between(sa.bindparam("lo"), sa.bindparam("hi")))
            .values(central_household_id=sa.bindparam("hid")),
            [{"lo": h.member_ids[0], "hi": h.member_ids[-1], "hid": h.id} for h in self.households],
        )

    # ---------------------------------------------------------------- stations and roles

    def _stations(self) -> None:
        """One station per community (the first community's first), then one per township, then
        more in random communities, up to the scaled count."""
        rng = self.rng
        n_stations = self.count("stations")
        places: list[tuple[int, str, str]] = []  # (node id, node name, kind of place)
        for community in self.communities:
            places.append((community.id, community.name, "village" if community.village else "town"))
        places += [(t_id, name, "township") for t_id, name in self.townships]
        while len(places) < n_stations:
            community = rng.choice(self.communities)
            places.append((community.id, community.name, "village" if community.village else "town"))
        kinds_by_place = {
            "town": (StationKind.PARTY_MASS, StationKind.BRANCH, StationKind.DELIBERATION),
            "village": (StationKind.PARTY_MASS, StationKind.CIVILISATION, StationKind.DELIBERATION),
            "township": (StationKind.PARTY_MASS, StationKind.CIVILISATION),
        }
        grids_of = {c.id: c.grid_ids for c in self.communities}
        used: dict[int, set[StationKind]] = {}
        self.station_rows: list[dict] = []
        for node_id, node_name, place in places[:n_stations]:
            free = [k for k in kinds_by_place[place] if k not in used.setdefault(node_id, set())]
            if not free:
                continue
            kind = free[0] if not self.station_rows else rng.choice(free)
            used[node_id].add(kind)
            station_id = self.ids("stations")[0]
            name, address = self._station_name(kind, node_name, place, grids_of.get(node_id, []))
            first = not self.station_rows
            self.station_rows.append({
                "id": station_id, "name": name, "kind": kind, "org_node_id": node_id,
                "address": address,
                "checkin_mode": CheckinMode.KIOSK if first or rng.random() < 0.85 else CheckinMode.POSTER,
                "opening_hours": rng.choice(OPENING_HOURS), "active": True,
                "created_at": self.past(200, 800),
            })
            self.station_node[station_id] = node_id
            self.station_admins[station_id] = (
                self._demo_user("station") if first else self._user(self.names.person()))
        self._insert(Station.__table__, self.station_rows)

    def _station_name(self, kind: StationKind, node_name: str, place: str,
                      grid_ids: list[int]) -> tuple[str, str]:
        rng = self.rng
        if place == "township":
            suffix = "新时代文明实践所" if kind is StationKind.CIVILISATION else "党群驿站"
            return node_name + suffix, f"{node_name}便民服务中心{rng.choice('一二三')}楼"
        estates = [self.estate_of_grid[g] for g in grid_ids if g in self.estate_of_grid]
        if place == "village":
            address = f"{node_name}{rng.choice(('村部', '党群服务中心', '文化广场旁'))}"
        elif estates and rng.random() < 0.6:
            address = f"{rng.choice(estates)}{rng.randint(1, 12)}栋一楼架空层"
        else:
            address = f"{node_name}党群服务中心一楼"
        if kind is StationKind.BRANCH and estates:
            return f"{rng.choice(estates)}支部驿站", address
        labels = {
            StationKind.PARTY_MASS: "党群驿站", StationKind.BRANCH: "支部驿站",
            StationKind.DELIBERATION: "村民议事点" if place == "village" else "居民议事点",
            StationKind.CIVILISATION: "新时代文明实践站",
        }
        return node_name + labels[kind], address

    def _role_assignments(self) -> None:
        rows = []
        ids = iter(self.ids("role_assignments", len(self.node_admins) + len(self.station_admins) + 1))

        def row(user_id: int, role: Role, node_id: int | None = None, station_id: int | None = None,
                ) -> dict:
            return {"id": next(ids), "user_id": user_id, "role": role, "org_node_id": node_id,
                    "station_id": station_id, "created_at": self.past(300, 800)}

        rows += [row(user_id, Role.ORG_ADMIN, node_id=node) for node, user_id in self.node_admins.items()]
        rows += [row(user_id, Role.STATION_ADMIN, station_id=s) for s, user_id in self.station_admins.items()]
        rows.append(row(self._demo_user("resident", self.past(10, 200)), Role.RESIDENT))
        self.users.flush()
        self._insert(RoleAssignment.__table__, rows)
