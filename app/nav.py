"""Navigation per role. Each area of the product adds its entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request, url_for
from flask_babel import lazy_gettext as _l

from app.models import Role, User
from app.policy import can_read_audit_log, is_mentor


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: frozenset[Role]
    kwargs: tuple[tuple[str, str], ...] = ()
    # A finer rule than the roles (e.g. the district admin only), asked of the user when given.
    allowed: Callable[[User], bool] | None = None

    @property
    def url_kwargs(self) -> dict[str, str]:
        return dict(self.kwargs)


MEMBER = frozenset({Role.MEMBER})
ADMIN = frozenset({Role.ORG_ADMIN})
STATION = frozenset({Role.STATION_ADMIN, Role.ORG_ADMIN})

# In this order on every screen; a phone's bottom bar holds the first few (BAR_MAX) and a 更多
# sheet the rest, so what members use daily comes first.
ITEMS: list[NavItem] = [
    NavItem("main.index", _l("首页"), frozenset(Role)),
    NavItem("needs.inbox", _l("我的诉求"), MEMBER),
    NavItem("needs.mine", _l("我的诉求"), frozenset({Role.RESIDENT})),
    NavItem("activities.mine", _l("服务记录"), MEMBER),
    NavItem("diary.index", _l("民情日记"), MEMBER),
    NavItem("visits.index", _l("我的联系户"), MEMBER),
    NavItem("checkin.mine", _l("我的签到"), MEMBER),
    NavItem("training.mine", _l("我的培训"), MEMBER),
    NavItem("points.mine", _l("我的积分"), MEMBER),
    NavItem("mentoring.mine", _l("我的帮带"), MEMBER, allowed=is_mentor),
    NavItem("nominations.self_nominate", _l("我要自荐"), MEMBER),
    NavItem("stations.index", _l("驿站"), STATION),
    NavItem("activities.verify_queue", _l("待核实"), frozenset({Role.STATION_ADMIN})),
    NavItem("needs.dispatch", _l("诉求调度"), ADMIN),
    NavItem("overview.index", _l("工作看板"), ADMIN),
    NavItem("needs.dashboard", _l("诉求看板"), ADMIN),
    NavItem("structure.index", _l("组织架构"), ADMIN),
    NavItem("households.index", _l("中心户"), ADMIN),
    NavItem("nominations.index", _l("建户审核"), ADMIN),
    NavItem("mentoring.admin", _l("帮带与设岗"), ADMIN),
    NavItem("activities.ledger_view", _l("服务台账"), ADMIN),
    NavItem("structure.import_roster", _l("名册导入"), ADMIN),
    NavItem("audit.index", _l("审计日志"), ADMIN, allowed=can_read_audit_log),
    NavItem("training.index", _l("培训"), STATION),
    NavItem("points.ranking", _l("积分"), ADMIN),
    NavItem("evaluation.index", _l("评先"), ADMIN),
]


# A phone's bottom bar has room for this many tabs (at 360 px, four Chinese characters each).
BAR_MAX = 5


def bar_size(n: int) -> int:
    """How many of ``n`` entries the phone's bar shows: all when they fit, else one fewer than it
    holds, the last tab being 更多 with the rest."""
    return n if n <= BAR_MAX else BAR_MAX - 1


def items_for(roles: set[Role], user: User | None = None) -> list[NavItem]:
    """The entries for a user holding ``roles``; an entry with a finer rule needs ``user`` to pass it."""
    return [
        item for item in ITEMS
        if item.roles & roles and (item.allowed is None or (user is not None and item.allowed(user)))
    ]


# --- per request: asked by the page header only (issue 14) ---------------------------------------

_entries: dict[tuple, tuple[tuple[str, str], ...]] = {}


def entries(items: list[NavItem], locale: str) -> tuple[tuple[str, str], ...]:
    """(URL, label) of each entry: built once per process for a set of entries, a language and a
    script root (the labels translated, the URLs built), not once per page."""
    key = (tuple(item.endpoint for item in items), locale, request.script_root)
    found = _entries.get(key)
    if found is None:
        found = _entries[key] = tuple((url_for(item.endpoint, **item.url_kwargs), str(item.label))
                                      for item in items)
    return found


def for_request(user: User | None) -> list[NavItem]:
    """The current user's entries. The page header calls this while it renders, so a fragment, a
    badge or a redirect never computes the nav (nor the finer rules' queries)."""
    if user is None or not user.is_authenticated:
        return []
    return items_for(user.role_set, user)
