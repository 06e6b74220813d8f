"""Sweep campaigns: inspectors walk a building room by room against a checklist, file a
ticket for every fault, and reach residents who were not home. Several inspectors share a
campaign without visiting a room twice; an inspector can stop and resume at any time."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select

from store import roles
from store.db import rowcount
from store.domain.filing import NewTicket, file_in, filed_as
from store.domain.notices import notify
from store.domain.scope import grant_covers, grants_of, responsible_supervisors
from store.errors import (
    InvalidInput,
    NoTermDates,
    NotFound,
    NotPermitted,
    RepeatOneWay,
    TransitionNotAllowed,
)
from store.lifecycle import Role
from store.models import (
    Building,
    Person,
    Room,
    SweepCampaign,
    SweepRoom,
    Ticket,
)
from store.policy import Policy
from store.text import natural_key, normalise
from store.uow import UnitOfWork

PENDING, CLAIMED, CHECKED, NOBODY_HOME = "pending", "claimed", "checked", "nobody_home"
# A room claimed by an inspector who then vanished is offered to others after this.
CLAIM_TIMEOUT = timedelta(hours=2)


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
class RoomCard:
    """The room an inspector is at, the checklist and what was ticked so far."""

    campaign_id: int
    room_id: int
    room: str
    floor: str
    code: str
    items: tuple[str, ...]
    results: dict[str, str]
    residents: int


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


def may_walk_sweeps(person_roles: Set[Role]) -> bool:
    """Whether some role of the person walks sweeps (somewhere: the building is checked
    when a campaign is started or walked)."""
    return not roles.SWEEPERS.isdisjoint(person_roles)


def check_sweeper(person_roles: Set[Role]) -> None:
    """NotPermitted unless `may_walk_sweeps`: asked before anything about a sweep."""
    if not may_walk_sweeps(person_roles):
        raise NotPermitted("supervisors and inspectors only")


async def _require_sweeper(uow: UnitOfWork, person_id: int, building: Building) -> None:
    grants = await grants_of(uow, person_id)
    if not any(g.role in roles.SWEEPERS and grant_covers(g, building) for g in grants):
        raise NotPermitted("sweeps need a supervisor or inspector of this building")


async def _campaign(uow: UnitOfWork, campaign_id: int) -> tuple[SweepCampaign, Building]:
    campaign = await uow.session.get(SweepCampaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id=campaign_id)
    building = await uow.session.get(Building, campaign.building_id)
    assert building is not None
    return campaign, building


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
        await _require_sweeper(uow, actor_id, building)
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
        campaign, building = await _campaign(uow, campaign_id)
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
        await _require_sweeper(uow, person_id, building)


async def progress_for(uow: UnitOfWork, campaign_id: int, viewer_id: int) -> CampaignView:
    """`progress` for someone who may sweep the campaign's building, and nobody else."""
    async with uow:
        _campaign_row, building = await _campaign(uow, campaign_id)
        await _require_sweeper(uow, viewer_id, building)
    return await progress(uow, campaign_id)


async def check_fault(
    uow: UnitOfWork, campaign_id: int, room_id: int, inspector_id: int, item: str
) -> None:
    """Raise unless `file_fault` would take a fault of `item` in this room from this
    inspector now: checked before the note is asked for, so that a forged or stale press
    parks no question whose answer could only be refused."""
    async with uow:
        await _fault_room(uow, campaign_id, room_id, inspector_id, item)


async def _fault_room(
    uow: UnitOfWork, campaign_id: int, room_id: int, inspector_id: int, item: str
) -> tuple[SweepRoom, str]:
    """The inspector's room card, locked, where `item` may be reported faulty; and the
    category its ticket is filed under."""
    campaign, sweep_room = await _my_room(uow, campaign_id, room_id, inspector_id)
    category = uow.policy.checklists.get(campaign.checklist, {}).get(item)
    if category is None:
        raise InvalidInput("not on this checklist", item=item)
    if sweep_room.results.get(item, "ok") != "ok":
        raise TransitionNotAllowed("fault", "already filed")
    return sweep_room, category


async def next_room(uow: UnitOfWork, campaign_id: int, inspector_id: int) -> RoomCard | None:
    """The room this inspector is at (resume), else claim the next free one; None: done.

    The claim is a conditional UPDATE, so two inspectors never get the same room.
    """
    async with uow:
        campaign, building = await _campaign(uow, campaign_id)
        if campaign.closed_at is not None:
            raise TransitionNotAllowed("sweep", "closed")
        await _require_sweeper(uow, inspector_id, building)
        now = uow.now()
        mine = (
            (
                await uow.session.execute(
                    select(SweepRoom)
                    .where(
                        SweepRoom.campaign_id == campaign_id,
                        SweepRoom.state == CLAIMED,
                        SweepRoom.inspector_id == inspector_id,
                    )
                    .order_by(col(SweepRoom.position))
                )
            )
            .scalars()
            .first()
        )
        if mine is None:
            candidates = (
                await uow.session.execute(
                    select(SweepRoom.room_id)
                    .where(
                        SweepRoom.campaign_id == campaign_id,
                        (col(SweepRoom.state) == PENDING)
                        | (
                            (col(SweepRoom.state) == CLAIMED)
                            & (col(SweepRoom.claimed_at) < now - CLAIM_TIMEOUT)
                        ),
                    )
                    .order_by(col(SweepRoom.position))
                    .limit(5)
                )
            ).scalars()
            for room_id in list(candidates):
                claimed = await uow.session.execute(
                    update(SweepRoom)
                    .where(
                        col(SweepRoom.campaign_id) == campaign_id,
                        col(SweepRoom.room_id) == room_id,
                        # The same test as the candidates' query: a room finished since
                        # it was read (old claim, now checked) must not be taken again.
                        (col(SweepRoom.state) == PENDING)
                        | (
                            (col(SweepRoom.state) == CLAIMED)
                            & (col(SweepRoom.claimed_at) < now - CLAIM_TIMEOUT)
                        ),
                    )
                    .values(state=CLAIMED, inspector_id=inspector_id, claimed_at=now)
                    .execution_options(synchronize_session=False)
                )
                if rowcount(claimed) == 1:
                    mine = await uow.session.get(SweepRoom, (campaign_id, room_id))
                    break
        if mine is None:
            await uow.commit()
            return None
        card = await _card(uow, campaign, mine)
        await uow.commit()
        return card


async def _card(uow: UnitOfWork, campaign: SweepCampaign, sweep_room: SweepRoom) -> RoomCard:
    room = await uow.session.get(Room, sweep_room.room_id)
    assert room is not None and campaign.id is not None
    residents = len(await _residents(uow, sweep_room.room_id))
    return RoomCard(
        campaign_id=campaign.id,
        room_id=sweep_room.room_id,
        room=room.name,
        floor=room.floor,
        code=room.code,
        items=tuple(uow.policy.checklists.get(campaign.checklist, {})),
        results=dict(sweep_room.results),
        residents=residents,
    )


async def _residents(uow: UnitOfWork, room_id: int) -> list[int]:
    rows = await uow.session.execute(
        select(Person.id).where(Person.room_id == room_id, col(Person.telegram_id).is_not(None))
    )
    return [pid for pid in rows.scalars() if pid is not None]


async def _my_room(
    uow: UnitOfWork, campaign_id: int, room_id: int, inspector_id: int
) -> tuple[SweepCampaign, SweepRoom]:
    campaign, building = await _campaign(uow, campaign_id)
    # Whoever claimed the card must still sweep this building now: a removed or moved
    # inspector's old buttons (and parked fault notes) file nothing.
    await _require_sweeper(uow, inspector_id, building)
    # Locked (PostgreSQL; SQLite serialises writers anyway): two presses on one card
    # at once must not each write `results` over the other's item.
    sweep_room = await uow.session.get(SweepRoom, (campaign_id, room_id), with_for_update=True)
    if sweep_room is None or campaign.closed_at is not None:
        raise NotFound("sweep room", room_id=room_id)
    if sweep_room.state != CLAIMED or sweep_room.inspector_id != inspector_id:
        raise TransitionNotAllowed("sweep", sweep_room.state)
    return campaign, sweep_room


async def mark_ok(
    uow: UnitOfWork, campaign_id: int, room_id: int, inspector_id: int, item: str
) -> RoomCard:
    """Tick an item as fine."""
    async with uow:
        campaign, sweep_room = await _my_room(uow, campaign_id, room_id, inspector_id)
        if item not in uow.policy.checklists.get(campaign.checklist, {}):
            raise InvalidInput("not on this checklist", item=item)
        if sweep_room.results.get(item, "ok") != "ok":
            raise TransitionNotAllowed("tick", "fault filed")
        sweep_room.results = {**sweep_room.results, item: "ok"}
        uow.session.add(sweep_room)
        card = await _card(uow, campaign, sweep_room)
        await uow.commit()
        return card


async def file_fault(
    uow: UnitOfWork,
    campaign_id: int,
    room_id: int,
    inspector_id: int,
    item: str,
    note: str,
    photos: Sequence[str] = (),
) -> str:
    """A faulty item: file a ticket for the room in the item's category, found in the sweep;
    the room's residents follow it. Returns the ticket number."""
    # One transaction files the ticket with its sweep mark and its followers (so the
    # residents get every notice from "received" on) and records it on the room's card
    # (so a crash in between cannot leave a ticket the card does not know, filed twice).
    async with uow:
        # The same fault sent again (a retry after a crash, or after the "filed" answer
        # failed) is the ticket already filed, not a refusal: the card shows it filed.
        key = _fault_key(campaign_id, room_id, item)
        if (earlier := await filed_as(uow, key)) is not None:
            ticket = await uow.session.get(Ticket, earlier)
            if ticket is not None and ticket.filed_by_id == inspector_id:
                return ticket.number
        sweep_room, category = await _fault_room(uow, campaign_id, room_id, inspector_id, item)
        text = normalise(note)
        if not text:
            raise InvalidInput("describe the fault")
        residents = [r for r in await _residents(uow, room_id) if r != inspector_id]
        filed = await file_in(
            uow,
            NewTicket(
                requester_id=inspector_id,
                filed_by_id=inspector_id,
                room_id=room_id,
                category_key=category,
                description=text,
                photos=list(photos),
                sweep_id=campaign_id,
                followers=residents,
                submission_key=key,
            ),
        )
        number = filed.number
        sweep_room.results = {**sweep_room.results, item: number}
        uow.session.add(sweep_room)
        await uow.commit()
    return number


def _fault_key(campaign_id: int, room_id: int, item: str) -> str:
    """One fault per checklist item per room per campaign: the filing's submission key."""
    key = f"sweep:{campaign_id}:{room_id}:{item}"
    return key if len(key) <= 64 else "sweep:" + hashlib.sha256(key.encode()).hexdigest()[:58]


async def finish_room(
    uow: UnitOfWork, campaign_id: int, room_id: int, inspector_id: int, *, nobody_home: bool
) -> int:
    """The room is done (checked, or nobody was home). Residents of a room nobody answered
    are asked whether anything needs repair. Returns how many residents were asked."""
    async with uow:
        _campaign_row, sweep_room = await _my_room(uow, campaign_id, room_id, inspector_id)
        sweep_room.state = NOBODY_HOME if nobody_home else CHECKED
        sweep_room.done_at = uow.now()
        uow.session.add(sweep_room)
        asked = 0
        if nobody_home:
            room = await uow.session.get(Room, room_id)
            assert room is not None
            building = await uow.session.get(Building, room.building_id)
            payload = {
                "room_id": room_id,
                "room": room.name,
                "room_code": room.code,
                "building": building.name if building else "",
                "campaign_id": campaign_id,
            }
            for resident in await _residents(uow, room_id):
                notify(uow, resident, "sweep.nobody_home", payload)
                asked += 1
        await uow.commit()
        return asked


async def close_campaign(uow: UnitOfWork, campaign_id: int, actor_id: int) -> SweepReport:
    """Close the campaign and send its report to the building's supervisor."""
    async with uow:
        _campaign_row, building = await _campaign(uow, campaign_id)
        await _require_sweeper(uow, actor_id, building)
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
        _campaign_row, building = await _campaign(uow, campaign_id)
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
