"""Sweep campaigns: starting, repeating (every N weeks or each term), closing, the report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select

from store import roles
from store.db import rowcount
from store.domain.notices import notify
from store.domain.scope import grant_covers, grants_of, responsible_supervisors
from store.domain.sweeps import (
    CHECKED,
    CLAIMED,
    NOBODY_HOME,
    PENDING,
    load_campaign,
    require_sweeper,
)
from store.errors import (
    InvalidInput,
    NoTermDates,
    NotFound,
    NotPermitted,
    RepeatOneWay,
    TransitionNotAllowed,
)
from store.models import Building, Room, SweepCampaign, SweepRoom, Ticket
from store.policy import Policy
from store.text import natural_key
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign with its progress."""

    id: int
    building_id: int
    building: str
    checklist: str
    floors: tuple[str, ...]
    total: int
    done: int
    nobody_home: int
    closed: bool
    faults_by_item: dict[str, int] = field(default_factory=dict)
    # When it starts again by itself (None: it does not repeat, or no date is left).
    next_start_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What the supervisor gets when a campaign closes."""

    campaign: CampaignView
    checked: int
    nobody_home: int
    not_reached: int
    faults_by_item: dict[str, int]
    faults_by_floor: dict[str, int]
    tickets: list[tuple[str, str]]  # (number, current status)


def check_repeat(
    policy: Policy,
    now: datetime,
    repeat_weeks: int | None,
    each_term: bool,
    *,
    scheduled: bool = False,
) -> None:
    """The repeat a campaign asks for is possible (asked before the checklist question, and
    again when it starts): 1-52 weeks, or each term with a term start ahead, not both."""
    if repeat_weeks is not None and not 1 <= repeat_weeks <= 52:
        raise InvalidInput("repeat every 1-52 weeks", repeat_weeks=repeat_weeks)
    if each_term and repeat_weeks is not None:
        raise RepeatOneWay("repeat every N weeks or each term, not both")
    if each_term and not scheduled and next_term_start(policy, now) is None:
        raise NoTermDates("no term start ahead; set service.term_starts")


def next_term_start(policy: Policy, after: datetime) -> datetime | None:
    """The first configured term start (midnight, campus time) later than `after`."""
    zone = ZoneInfo(policy.timezone)
    for day in sorted(policy.term_starts):
        start = datetime.combine(day, time(0), zone).astimezone(UTC)
        if start > after:
            return start
    return None


async def may_sweep(uow: UnitOfWork, person_id: int, building_id: int) -> None:
    """NotPermitted unless the person may start or walk a sweep of this building (asked
    before a campaign's questions, so nobody answers them only to be refused at the end)."""
    async with uow:
        building = await uow.session.get(Building, building_id)
        if building is None:
            raise NotFound("building", building_id=building_id)
        await require_sweeper(uow, person_id, building)


async def start_campaign(
    uow: UnitOfWork,
    *,
    actor_id: int,
    building_id: int,
    checklist: str,
    floors: Sequence[str] = (),
    repeat_weeks: int | None = None,
    each_term: bool = False,
    scheduled: bool = False,
) -> CampaignView:
    """Start a campaign over a building (or some floors) with one of the checklists.

    It may repeat every `repeat_weeks` weeks or, with `each_term`, on each configured
    term start. A person asking for "each term" with no term date ahead is told so; a
    `scheduled` repeat on the last known term still runs, and stops repeating."""
    if checklist not in uow.policy.checklists:
        raise InvalidInput("unknown checklist", checklist=checklist)
    check_repeat(uow.policy, uow.now(), repeat_weeks, each_term, scheduled=scheduled)
    async with uow:
        building = await uow.session.get(Building, building_id)
        if building is None:
            raise NotFound("building", building_id=building_id)
        await require_sweeper(uow, actor_id, building)
        rooms = list(
            (
                await uow.session.execute(select(Room).where(Room.building_id == building_id))
            ).scalars()
        )
        wanted = [f.strip() for f in floors if f.strip()]
        if wanted:
            unknown = sorted(set(wanted) - {r.floor for r in rooms})
            if unknown:
                raise InvalidInput("no such floor", floors=", ".join(unknown))
            rooms = [r for r in rooms if r.floor in wanted]
        if not rooms:
            raise InvalidInput("no rooms to sweep")
        rooms.sort(key=lambda r: (natural_key(r.floor), natural_key(r.name), r.code))
        now = uow.now()
        campaign = SweepCampaign(
            building_id=building_id,
            floors=wanted,
            checklist=checklist,
            started_by_id=actor_id,
            started_at=now,
            repeat_weeks=repeat_weeks,
            repeat_each_term=each_term,
            next_start_at=(
                now + timedelta(weeks=repeat_weeks)
                if repeat_weeks
                else next_term_start(uow.policy, now)
                if each_term
                else None
            ),
        )
        uow.session.add(campaign)
        await uow.flush()
        assert campaign.id is not None
        for position, room in enumerate(rooms):
            assert room.id is not None
            uow.session.add(SweepRoom(campaign_id=campaign.id, room_id=room.id, position=position))
        await uow.commit()
    return await progress(uow, campaign.id)


async def active_campaigns(uow: UnitOfWork, person_id: int) -> list[CampaignView]:
    """Open campaigns in buildings the person may sweep."""
    async with uow:
        rows = (
            await uow.session.execute(
                select(SweepCampaign.id, Building)
                .join(Building, col(Building.id) == SweepCampaign.building_id)
                .where(col(SweepCampaign.closed_at).is_(None))
                .order_by(col(SweepCampaign.started_at))
            )
        ).all()
        grants = [g for g in await grants_of(uow, person_id) if g.role in roles.SWEEPERS]
        ids = [cid for cid, b in rows if any(grant_covers(g, b) for g in grants)]
    return [await progress(uow, cid) for cid in ids]


async def progress(uow: UnitOfWork, campaign_id: int) -> CampaignView:
    """Rooms done against the total, and faults by checklist item."""
    async with uow:
        campaign, building = await load_campaign(uow, campaign_id)
        rooms = list(
            (
                await uow.session.execute(
                    select(SweepRoom).where(SweepRoom.campaign_id == campaign_id)
                )
            ).scalars()
        )
        # Built before the unit ends: its rollback expires every row read here.
        faults: Counter[str] = Counter(
            item for r in rooms for item, result in r.results.items() if result != "ok"
        )
        return CampaignView(
            id=campaign_id,
            building_id=building.id or 0,
            building=building.name,
            checklist=campaign.checklist,
            floors=tuple(campaign.floors),
            total=len(rooms),
            done=sum(r.state in (CHECKED, NOBODY_HOME) for r in rooms),
            nobody_home=sum(r.state == NOBODY_HOME for r in rooms),
            closed=campaign.closed_at is not None,
            faults_by_item=dict(faults.most_common()),
            next_start_at=campaign.next_start_at,
        )


async def progress_for(uow: UnitOfWork, campaign_id: int, viewer_id: int) -> CampaignView:
    """`progress` for someone who may sweep the campaign's building, and nobody else."""
    async with uow:
        _campaign_row, building = await load_campaign(uow, campaign_id)
        await require_sweeper(uow, viewer_id, building)
    return await progress(uow, campaign_id)


async def close_campaign(uow: UnitOfWork, campaign_id: int, actor_id: int) -> SweepReport:
    """Close the campaign and send its report to the building's supervisor."""
    async with uow:
        _campaign_row, building = await load_campaign(uow, campaign_id)
        await require_sweeper(uow, actor_id, building)
        result = await uow.session.execute(
            update(SweepCampaign)
            .where(col(SweepCampaign.id) == campaign_id, col(SweepCampaign.closed_at).is_(None))
            .values(closed_at=uow.now())
            .execution_options(synchronize_session=False)
        )
        if rowcount(result) != 1:
            raise TransitionNotAllowed("close", "closed")
        await uow.commit()
    summary = await sweep_report(uow, campaign_id)
    async with uow:
        _campaign_row, building = await load_campaign(uow, campaign_id)
        payload = {
            "campaign_id": campaign_id,
            "building": summary.campaign.building,
            "total": summary.campaign.total,
            "checked": summary.checked,
            "nobody_home": summary.nobody_home,
            "not_reached": summary.not_reached,
            "faults_by_item": summary.faults_by_item,
            "faults_by_floor": summary.faults_by_floor,
            "tickets": [list(t) for t in summary.tickets],
        }
        for supervisor_id in await responsible_supervisors(uow, building):
            notify(uow, supervisor_id, "sweep.report", payload)
        await uow.commit()
    return summary


async def sweep_report(uow: UnitOfWork, campaign_id: int) -> SweepReport:
    """Rooms checked / nobody home / not reached, faults by item and floor, tickets filed."""
    view = await progress(uow, campaign_id)
    async with uow:
        rows = (
            await uow.session.execute(
                select(SweepRoom, Room.floor)
                .join(Room, col(Room.id) == SweepRoom.room_id)
                .where(SweepRoom.campaign_id == campaign_id)
            )
        ).all()
        tickets = (
            await uow.session.execute(
                select(Ticket.number, Ticket.status)
                .where(Ticket.sweep_id == campaign_id)
                .order_by(col(Ticket.number))
            )
        ).all()
        # Read before the unit ends: its rollback expires the SweepRoom rows.
        states = [r.state for r, _ in rows]
        by_floor: Counter[str] = Counter()
        for sweep_room, floor in rows:
            by_floor[floor] += sum(result != "ok" for result in sweep_room.results.values())
    return SweepReport(
        campaign=view,
        checked=states.count(CHECKED),
        nobody_home=states.count(NOBODY_HOME),
        not_reached=sum(state in (PENDING, CLAIMED) for state in states),
        faults_by_item=view.faults_by_item,
        faults_by_floor={
            f: n for f, n in sorted(by_floor.items(), key=lambda x: natural_key(x[0])) if n
        },
        tickets=[(number, str(status)) for number, status in tickets],
    )


async def repeat_due_campaigns(uow: UnitOfWork) -> list[int]:
    """Scheduler: campaigns set to repeat whose next start has come start again (once)."""
    async with uow:
        now = uow.now()
        due = list(
            (
                await uow.session.execute(
                    select(SweepCampaign).where(
                        col(SweepCampaign.repeat_weeks).is_not(None)
                        | col(SweepCampaign.repeat_each_term),
                        col(SweepCampaign.next_start_at) <= now,
                    )
                )
            ).scalars()
        )
        claimed = []
        for campaign in due:
            result = await uow.session.execute(
                update(SweepCampaign)
                .where(
                    col(SweepCampaign.id) == campaign.id,
                    col(SweepCampaign.next_start_at) == campaign.next_start_at,
                )
                .values(next_start_at=None)
                .execution_options(synchronize_session=False)
            )
            if rowcount(result) == 1:
                claimed.append(campaign)
        await uow.commit()
    started = []
    for old in claimed:
        try:
            view = await start_campaign(
                uow,
                actor_id=old.started_by_id,
                building_id=old.building_id,
                checklist=old.checklist,
                floors=old.floors,
                repeat_weeks=old.repeat_weeks,
                each_term=old.repeat_each_term,
                scheduled=True,
            )
        except (InvalidInput, NotFound, NotPermitted):
            # It can't repeat any more (its starter lost the role, the checklist or the
            # floors are gone); the other due campaigns must still start.
            continue
        started.append(view.id)
    return started
