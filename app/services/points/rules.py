"""The rules page's side of the ledger: which rule is in force at a node (and where it comes
from), setting a new version from a start date, returning to the inherited rule, the history.

A rule change applies from its start date and never rewrites past entries, so a version may not
start before today. A version that has not started yet is not in force and may be replaced.
:class:`RuleBook` holds every stored version once, for pages and commands that resolve many
rules at once (the same choice as :func:`ledger.rule_in_force`, without a query per event).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import ActivityKind, CapPeriod, OrgNode, PointsRule, RuleCode, User
from app.services.points.ledger import (
    DEFAULT_RULES,
    PointsError,
    Rule,
    as_rule,
    choose_version,
    node_ids_on_path,
    rule_keys,
)

POINTS_MIN, POINTS_MAX = -1000, 1000
CAP_MAX = 100_000


class RuleError(PointsError):
    """A rule version the rules refuse; ``str()`` is the message for the user."""


RuleKey = tuple[RuleCode, str]


def key_slug(key: RuleKey) -> str:
    """A rule key as it appears in a URL: ``diary_entry`` or ``activity_verified.teaching``."""
    code, kind = key
    return f"{code.value}.{kind}" if kind else code.value


def parse_key(slug: str) -> RuleKey | None:
    """The rule key of a URL slug, None for anything that is not one of the rules."""
    code, _, kind = slug.partition(".")
    try:
        key = (RuleCode(code), kind)
    except ValueError:
        return None
    return key if key in DEFAULT_RULES else None


def key_label(key: RuleKey) -> str:
    """The rule's name on the page: its code, and the activity kind for verified activities."""
    code, kind = key
    if kind:
        return f"{code.label}·{ActivityKind(kind).label}"
    return str(code.label)


@dataclass(frozen=True)
class InForce:
    """The rule in force at a node on a day, and where it comes from: ``node`` is the node whose
    version it is (None: the built-in default)."""

    key: RuleKey
    rule: Rule
    node: OrgNode | None
    own: bool  # set at the node itself

    @property
    def label(self) -> str:
        return key_label(self.key)


class RuleBook:
    """Every stored rule version, loaded once (one query), resolved in Python."""

    def __init__(self) -> None:
        rows = db.session.execute(
            sa.select(PointsRule.id, PointsRule.org_node_id, PointsRule.code, PointsRule.activity_kind,
                      PointsRule.points, PointsRule.cap_period, PointsRule.cap_points,
                      PointsRule.starts_on, PointsRule.inherits)
        ).all()
        self.by_key: dict[RuleKey, dict[int, list]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            self.by_key[(row.code, row.activity_kind)][row.org_node_id].append(row)
        self._versions: dict[tuple[str, RuleCode, str], list[tuple[int, object]]] = {}
        self._fixed: dict[tuple[str, RuleCode, str], Rule | None] = {}

    def cap_periods(self, code: RuleCode) -> tuple[CapPeriod, ...]:
        """Every cap period any version (or default) of ``code`` uses: the windows to count."""
        periods = {r.cap_period for (c, _), r in DEFAULT_RULES.items() if c is code}
        for (c, _), at_nodes in self.by_key.items():
            if c is code:
                periods |= {row.cap_period for rows in at_nodes.values() for row in rows}
        return tuple(p for p in CapPeriod if p in periods)

    def versions_on(self, path: str, code: RuleCode, kind: str) -> list[tuple[int, object]]:
        """The versions of one rule at the nodes of ``path``, with the depth of their node."""
        cache_key = (path, code, kind)
        found = self._versions.get(cache_key)
        if found is None:
            at_nodes = self.by_key.get((code, kind), {})
            found = [(depth, row) for depth, node_id in enumerate(node_ids_on_path(path))
                     for row in at_nodes.get(node_id, ())]
            self._versions[cache_key] = found
        return found

    def rule(self, path: str, code: RuleCode, kind: str, day: date) -> Rule | None:
        """As :func:`ledger.rule_in_force`: the rule for a member whose grid has ``path``."""
        cache_key = (path, code, kind)
        if cache_key in self._fixed:  # no node on the path ever set this rule: the default
            return self._fixed[cache_key]
        versions = self.versions_on(path, code, kind)
        if not versions:
            self._fixed[cache_key] = DEFAULT_RULES.get((code, kind))
            return self._fixed[cache_key]
        row = choose_version(versions, day)
        return as_rule(row) if row is not None else DEFAULT_RULES.get((code, kind))  # type: ignore[arg-type]

    def origin(self, path: str, code: RuleCode, kind: str, day: date) -> tuple[Rule, int | None]:
        """The rule in force and the id of the node whose version it is (None: the default)."""
        row = choose_version(self.versions_on(path, code, kind), day)
        if row is None:
            return DEFAULT_RULES[(code, kind)], None
        return as_rule(row), row.org_node_id  # type: ignore[attr-defined]


def in_force_at(node: OrgNode, day: date) -> list[InForce]:
    """Every rule as it stands at ``node`` on ``day`` (what its members below inherit unless a
    lower node overrides it), in the page's order. Two queries."""
    book = RuleBook()
    origins = {key: book.origin(node.path, key[0], key[1], day) for key in rule_keys()}
    ids = {node_id for _, node_id in origins.values() if node_id is not None}
    nodes = {n.id: n for n in db.session.scalars(sa.select(OrgNode).where(OrgNode.id.in_(ids)))} if ids else {}
    return [InForce(key, rule, nodes.get(node_id) if node_id else None, node_id == node.id)
            for key, (rule, node_id) in origins.items()]


def pending_at(node: OrgNode, today: date) -> dict[RuleKey, list[PointsRule]]:
    """The node's versions that start after today, by rule (one query)."""
    found: dict[RuleKey, list[PointsRule]] = defaultdict(list)
    for row in db.session.scalars(
        sa.select(PointsRule).where(PointsRule.org_node_id == node.id, PointsRule.starts_on > today)
        .order_by(PointsRule.starts_on)
    ):
        found[(row.code, row.activity_kind)].append(row)
    return found


def history(node: OrgNode, key: RuleKey) -> list[PointsRule]:
    """The node's versions of one rule, newest start first."""
    return list(db.session.scalars(
        sa.select(PointsRule).where(PointsRule.org_node_id == node.id, PointsRule.code == key[0],
                                    PointsRule.activity_kind == key[1])
        .order_by(PointsRule.starts_on.desc(), PointsRule.id.desc())
    ))


def _check_start(starts_on: date, today: date) -> None:
    if starts_on < today:
        raise RuleError(_l("开始日期不能早于今天：规则调整从开始日期起生效，不改写已记的积分。"))


def check_values(points: int | None, cap_period: CapPeriod | None, cap_points: int | None) -> None:
    """The checks of a version's values (the form makes the same ones next to each field)."""
    if points is None or not POINTS_MIN <= points <= POINTS_MAX:
        raise RuleError(_l("分值应在 -1000 到 1000 之间。"))
    if (cap_period is None) != (cap_points is None):
        raise RuleError(_l("封顶周期和封顶分值要同时填写，或同时留空。"))
    if cap_points is not None and not 0 < cap_points <= CAP_MAX:
        raise RuleError(_l("封顶分值应为 1 到 100000 之间的整数。"))


def _save(node: OrgNode, key: RuleKey, starts_on: date, by: User, today: date,
          **values: object) -> PointsRule:
    """Write a version. One that has not started yet, at the same date, is replaced (it never
    applied to anything); one already in force (today's) is not."""
    code, kind = key
    row = db.session.scalar(
        sa.select(PointsRule).where(PointsRule.org_node_id == node.id, PointsRule.code == code,
                                    PointsRule.activity_kind == kind, PointsRule.starts_on == starts_on)
    )
    if row is None:
        row = PointsRule(org_node_id=node.id, code=code, activity_kind=kind, starts_on=starts_on)
        db.session.add(row)
    elif row.starts_on <= today:
        raise RuleError(_l("这条规则今天已有从今天起的版本；请从明天起设置新版本。"))
    for name, value in values.items():
        setattr(row, name, value)
    row.created_by_id = by.id
    db.session.flush()
    return row


def set_version(node: OrgNode, key: RuleKey, points: int | None, cap_period: CapPeriod | None,
                cap_points: int | None, starts_on: date, by: User, today: date) -> PointsRule:
    """A new version of ``key`` at ``node`` from ``starts_on`` (today or later)."""
    if parse_key(key_slug(key)) is None:
        raise RuleError(_l("没有这条积分规则。"))
    _check_start(starts_on, today)
    check_values(points, cap_period, cap_points)
    return _save(node, key, starts_on, by, today, points=points, cap_period=cap_period,
                 cap_points=cap_points, inherits=False)


def inherit_from(node: OrgNode, key: RuleKey, starts_on: date, by: User, today: date) -> PointsRule:
    """From ``starts_on`` the node follows the rule of the nodes above it again (at the
    district: the built-in default)."""
    if parse_key(key_slug(key)) is None:
        raise RuleError(_l("没有这条积分规则。"))
    _check_start(starts_on, today)
    return _save(node, key, starts_on, by, today, points=0, cap_period=None, cap_points=None,
                 inherits=True)


def settable_nodes(paths: list[str]) -> sa.Select[tuple[OrgNode]]:
    """The nodes an admin holding ``paths`` may set rules for: theirs and those below."""
    if not paths:
        return sa.select(OrgNode).where(sa.false())
    return (sa.select(OrgNode).where(sa.or_(*(OrgNode.under(p) for p in paths)))
            .order_by(OrgNode.path))
