"""Walking a sweep room by room: the room card, the next free room, ticks, faults, rooms done."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from store.db import rowcount
from store.domain.filing import NewTicket, file_in, filed_as
from store.domain.notices import notify
from store.domain.sweeps import (
    CHECKED,
    CLAIMED,
    NOBODY_HOME,
    PENDING,
    load_campaign,
    require_sweeper,
)
from store.errors import InvalidInput, NotFound, TransitionNotAllowed
from store.models import Building, Person, Room, SweepCampaign, SweepRoom, Ticket
from store.text import normalise
from store.uow import UnitOfWork

# A room claimed by an inspector who then vanished is offered to others after this.
CLAIM_TIMEOUT = timedelta(hours=2)


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


async def next_room(uow: UnitOfWork, campaign_id: int, inspector_id: int) -> RoomCard | None:
    """The room this inspector is at (resume), else claim the next free one; None: done.

    The claim is a conditional UPDATE, so two inspectors never get the same room.
    """
    async with uow:
        campaign, building = await load_campaign(uow, campaign_id)
        if campaign.closed_at is not None:
            raise TransitionNotAllowed("sweep", "closed")
        await require_sweeper(uow, inspector_id, building)
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
    campaign, building = await load_campaign(uow, campaign_id)
    # Whoever claimed the card must still sweep this building now: a removed or moved
    # inspector's old buttons (and parked fault notes) file nothing.
    await require_sweeper(uow, inspector_id, building)
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
