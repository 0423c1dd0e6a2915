"""The dated 示范中心户 title a campaign's award gives a household.

Unlike an admin's grant on the household page (``services.model_titles.grant_model_title``, which
refuses a year already titled), closing a campaign leaves a household already titled for the year
with the title it has: the award confirms it rather than failing the whole close.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    CentralHousehold,
    HouseholdEvent,
    HouseholdEventKind,
    ModelCampaign,
    ModelTitle,
    User,
    utcnow,
)


def grant_model_title(household: CentralHousehold, year: int, actor: User | None,
                      campaign: ModelCampaign | None = None) -> ModelTitle:
    """The household's 示范 title for ``year`` (with the campaign that awarded it), written once:
    a household already titled for the year keeps the title it has. The grant is a line of the
    household's history."""
    title = db.session.scalar(sa.select(ModelTitle).where(
        ModelTitle.household_id == household.id, ModelTitle.year == year))
    if title is not None:
        return title
    title = ModelTitle(household_id=household.id, year=year, campaign_id=campaign.id if campaign else None,
                       granted_by_id=actor.id if actor else None, granted_at=utcnow())
    db.session.add(title)
    detail = _("%(year)d年度（%(title)s）", year=year, title=campaign.title) if campaign else \
        _("%(year)d年度", year=year)
    db.session.add(HouseholdEvent(household_id=household.id, kind=HouseholdEventKind.MODEL_GRANTED,
                                  actor_id=actor.id if actor else None, detail=detail[:255]))
    return title
