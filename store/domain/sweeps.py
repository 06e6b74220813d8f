"""A sweep campaign in the caller's unit: its row and building, its rooms' states, who sweeps."""

from __future__ import annotations

from collections.abc import Set

from store import roles
from store.domain.scope import grant_covers, grants_of
from store.errors import NotFound, NotPermitted
from store.lifecycle import Role
from store.models import Building, SweepCampaign
from store.uow import UnitOfWork

PENDING, CLAIMED, CHECKED, NOBODY_HOME = "pending", "claimed", "checked", "nobody_home"


def may_walk_sweeps(person_roles: Set[Role]) -> bool:
    """Whether some role of the person walks sweeps (somewhere: the building is checked
    when a campaign is started or walked)."""
    return not roles.SWEEPERS.isdisjoint(person_roles)


def check_sweeper(person_roles: Set[Role]) -> None:
    """NotPermitted unless `may_walk_sweeps`: asked before anything about a sweep."""
    if not may_walk_sweeps(person_roles):
        raise NotPermitted("supervisors and inspectors only")


async def require_sweeper(uow: UnitOfWork, person_id: int, building: Building) -> None:
    """NotPermitted unless a grant of the person's, read now, lets them sweep the building."""
    grants = await grants_of(uow, person_id)
    if not any(g.role in roles.SWEEPERS and grant_covers(g, building) for g in grants):
        raise NotPermitted("sweeps need a supervisor or inspector of this building")


async def load_campaign(uow: UnitOfWork, campaign_id: int) -> tuple[SweepCampaign, Building]:
    """The campaign and the building it sweeps; NotFound if there is no such campaign."""
    campaign = await uow.session.get(SweepCampaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id=campaign_id)
    building = await uow.session.get(Building, campaign.building_id)
    assert building is not None
    return campaign, building
