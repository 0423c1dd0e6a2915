"""Navigation per role. Each area of the product adds its entry here."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from app.models import Role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: frozenset[Role]
    kwargs: tuple[tuple[str, str], ...] = ()

    @property
    def url_kwargs(self) -> dict[str, str]:
        return dict(self.kwargs)


MEMBER = frozenset({Role.MEMBER})
ADMIN = frozenset({Role.ORG_ADMIN})
STATION = frozenset({Role.STATION_ADMIN, Role.ORG_ADMIN})

ITEMS: list[NavItem] = [
    NavItem("main.index", _l("首页"), frozenset(Role)),
    NavItem("checkin.mine", _l("我的签到"), MEMBER),
    NavItem("stations.index", _l("驿站"), STATION),
    NavItem("main.coming", _l("服务记录"), MEMBER, (("area", "activities"),)),
    NavItem("main.coming", _l("群众诉求"), MEMBER | ADMIN, (("area", "needs"),)),
    NavItem("structure.index", _l("组织架构"), ADMIN),
    NavItem("main.coming", _l("建户审核"), ADMIN, (("area", "nominations"),)),
]


def items_for(roles: set[Role]) -> list[NavItem]:
    return [item for item in ITEMS if item.roles & roles]
