"""The 示范中心户 title, a dated record: a household holds it for a year (one title per year), an
admin grants it — by hand on the household's page, or a model-household campaign's result — and
revokes it with a reason. Nothing is deleted: a revoked title stays readable with who, when, why.

A household "is a model household" for a year when it holds a title for that year not revoked;
its badge shows the latest such year."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from app import policy
from app.clock import local_today
from app.extensions import db
from app.models import (
    CentralHousehold,
    HouseholdEvent,
    HouseholdEventKind,
    HouseholdStatus,
    ModelCampaign,
    ModelTitle,
    User,
    utcnow,
)
from app.services.errors import NotAllowed, Refused

FIRST_YEAR = 2000
MAX_REASON = 255


class TitleError(Refused):
    """A title step was refused; ``str()`` is the message for the user."""


def _require_manager(actor: User, household: CentralHousehold) -> None:
    if not policy.can_manage_household(actor, household):
        raise NotAllowed(_l("您没有管理这个中心户的权限。"))


def _event(household: CentralHousehold, kind: HouseholdEventKind, actor: User, detail: str) -> None:
    db.session.add(HouseholdEvent(household_id=household.id, kind=kind, actor_id=actor.id,
                                  detail=detail[:255]))


def grant_model_title(household: CentralHousehold, year: int, actor: User,
                      campaign: ModelCampaign | None = None) -> ModelTitle:
    """Make ``household`` a 示范中心户 for ``year`` (a campaign's result names its campaign).
    One title per household and year: a second grant, even of a revoked year, is refused."""
    _require_manager(actor, household)
    if household.status is HouseholdStatus.REVOKED:
        raise TitleError(_l("已撤销的中心户不能评为示范中心户。"))
    this_year = local_today().year
    if not FIRST_YEAR <= year <= this_year:
        raise TitleError(_l("年度须在 %(first)d 至 %(last)d 之间。", first=FIRST_YEAR, last=this_year))
    if campaign is not None and (campaign.year != year
                                 or not household.grid.path.startswith(campaign.org_node.path)):
        raise TitleError(_l("这次创建活动不是该户所在组织 %(year)d 年度的活动。", year=year))
    existing = db.session.scalar(sa.select(ModelTitle).where(
        ModelTitle.household_id == household.id, ModelTitle.year == year))
    if existing is not None:
        raise _already(existing)
    title = ModelTitle(household_id=household.id, year=year, granted_by_id=actor.id, granted_at=utcnow(),
                       campaign_id=campaign.id if campaign else None)
    try:
        with db.session.begin_nested():  # two admins granting the same year at once: one wins
            db.session.add(title)
    except sa.exc.IntegrityError:
        raise TitleError(_l("该户已是 %(year)d 年度示范中心户。", year=year)) from None
    _event(household, HouseholdEventKind.MODEL_GRANTED, actor, str(_l("%(year)d 年度", year=year)))
    return title


def _already(title: ModelTitle) -> TitleError:
    if title.revoked_at is not None:
        return TitleError(_l("该户 %(year)d 年度的示范称号已撤销，同一年度不能再次授予。", year=title.year))
    return TitleError(_l("该户已是 %(year)d 年度示范中心户。", year=title.year))


def revoke_model_title(title: ModelTitle, actor: User, reason: str) -> ModelTitle:
    """Revoke a title with a reason; the title stays, with who revoked it, when and why."""
    household = title.household
    _require_manager(actor, household)
    if title.revoked_at is not None:
        raise TitleError(_l("这个示范称号已经撤销。"))
    reason = (reason or "").strip()
    if not reason:
        raise TitleError(_l("请填写撤销理由。"))
    if len(reason) > MAX_REASON:
        raise TitleError(_l("撤销理由不超过 %(n)d 字。", n=MAX_REASON))
    title.revoked_at, title.revoked_by_id, title.revoke_reason = utcnow(), actor.id, reason
    _event(household, HouseholdEventKind.MODEL_REMOVED, actor,
           str(_l("%(year)d 年度：%(reason)s", year=title.year, reason=reason)))
    return title


# --- what the pages and other areas read --------------------------------------------------------


def live_title_condition(year: int | None = None) -> sa.ColumnElement[bool]:
    """SQL: the central household holds a title not revoked (for ``year`` when given)."""
    titles = sa.select(ModelTitle.household_id).where(ModelTitle.revoked_at.is_(None))
    if year is not None:
        titles = titles.where(ModelTitle.year == year)
    return CentralHousehold.id.in_(titles)


def is_model_household(household: CentralHousehold, year: int) -> bool:
    """Whether the household is a 示范中心户 for ``year``."""
    return bool(db.session.scalar(sa.select(sa.exists().where(
        ModelTitle.household_id == household.id, ModelTitle.year == year, ModelTitle.revoked_at.is_(None)))))


@dataclass
class TitleRow:
    """A title as the household's page lists it: who granted it, who revoked it, its campaign."""

    title: ModelTitle
    granted_by: str
    revoked_by: str
    campaign: str


def titles_of(household: CentralHousehold) -> list[TitleRow]:
    """Every title of the household, newest year first (one query)."""
    granter, revoker = aliased(User), aliased(User)
    rows = db.session.execute(
        sa.select(ModelTitle, granter.name, revoker.name, ModelCampaign.title)
        .outerjoin(granter, granter.id == ModelTitle.granted_by_id)
        .outerjoin(revoker, revoker.id == ModelTitle.revoked_by_id)
        .outerjoin(ModelCampaign, ModelCampaign.id == ModelTitle.campaign_id)
        .where(ModelTitle.household_id == household.id)
        .order_by(ModelTitle.year.desc())
    ).all()
    return [TitleRow(t, g or "", r or "", c or "") for t, g, r, c in rows]


def title_for(household: CentralHousehold, title_id: int) -> ModelTitle | None:
    """One of the household's titles (an id alone proves nothing)."""
    return db.session.scalar(sa.select(ModelTitle).where(
        ModelTitle.id == title_id, ModelTitle.household_id == household.id))
