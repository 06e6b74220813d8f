"""Handing someone's work on when they stop holding a role somewhere (issue 24).

Their grant was removed or narrowed, in the caller's unit, before this runs: whatever they
no longer cover is read from the grants left. A technician's open jobs there (assigned,
in progress, deferred) go back to dispatch and are offered afresh to who is on duty, the
requester side told that the repair is being reassigned; their open offers there are
withdrawn. A supervisor's open follow-ups there go to whoever supervises the building now
(or the admins). Every ticket change is a lifecycle move (authorised, compare-and-set, an
event naming who removed the grant). No commit: the staff change's unit holds it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select as sa_select
from sqlmodel import col, select

from store import roles
from store.domain.lookups import category_targets
from store.domain.notices import notify, notify_audience, withdraw_scheduled
from store.domain.offers import (
    offer_to_on_duty_technicians,
    withdraw_offers,
    withdraw_offers_of,
)
from store.domain.scope import responsible_supervisors, roles_covering
from store.domain.tickets import load, log_event, move
from store.lifecycle import Action, Role, Status
from store.models import Building, FollowUp, Offer, Person, Room, Ticket
from store.uow import UnitOfWork

# What a technician holds: the statuses a job is theirs in.
HELD = (Status.ASSIGNED, Status.IN_PROGRESS, Status.DEFERRED)
WITHDRAWN = "withdrawn"


@dataclass(slots=True)
class HandedOn:
    """What a staff change handed on: ticket numbers back in dispatch, offers withdrawn,
    follow-up numbers passed to another supervisor."""

    jobs: list[str] = field(default_factory=list)
    offers: int = 0
    followups: list[str] = field(default_factory=list)

    def note(self) -> str | None:
        """One line for the audit record, or None when nothing was handed on."""
        parts = []
        if self.jobs:
            parts.append("jobs back to dispatch: " + ", ".join(self.jobs))
        if self.offers:
            parts.append(f"offers withdrawn: {self.offers}")
        if self.followups:
            parts.append("follow-ups handed over: " + ", ".join(self.followups))
        return "; ".join(parts) or None


async def hand_on(uow: UnitOfWork, person: Person, actor: Person | None, note: str) -> HandedOn:
    """Hand on whatever `person` no longer covers, as `actor` (None: the command line)."""
    assert person.id is not None
    await uow.flush()  # the grants as they are now
    done = HandedOn()
    done.jobs = await _hand_back_jobs(uow, person.id, actor, note)
    done.offers = await _withdraw_offers(uow, person.id)
    done.followups = await _hand_over_followups(uow, person, actor)
    return done


async def _covers(uow: UnitOfWork, person_id: int, building: Building, wanted: set[Role]) -> bool:
    return bool(await roles_covering(uow, person_id, building) & wanted)


async def _hand_back_jobs(
    uow: UnitOfWork, person_id: int, actor: Person | None, note: str
) -> list[str]:
    ids = list(
        (
            await uow.session.execute(
                select(Ticket.id)
                .where(col(Ticket.assignee_id) == person_id, col(Ticket.status).in_(HELD))
                .order_by(col(Ticket.id))
            )
        ).scalars()
    )
    numbers = []
    for ticket_id in ids:
        assert ticket_id is not None
        # Locked first (as accept and decline do), then read as of the lock: a Complete
        # pressed meanwhile is either seen here or refused by the compare-and-set after.
        await uow.session.execute(
            select(Ticket.id).where(col(Ticket.id) == ticket_id).with_for_update()
        )
        ctx = await load(uow, ticket_id, None)
        await uow.session.refresh(ctx.ticket)
        ctx.version = ctx.ticket.version
        ticket = ctx.ticket
        if ticket.assignee_id != person_id or ticket.status not in HELD:
            continue
        if await _covers(uow, person_id, ctx.place.building, {Role.TECHNICIAN}):
            continue  # still a technician there: the job stays theirs
        ctx.actor = actor  # the event names who removed the grant
        now = uow.now()
        accept_in, _complete_in = category_targets(uow, ctx.category, ticket.urgency)
        # Back in the pool as after a release: a fresh accept target; the completion
        # target stays, because the requester's wait goes on. A promise and a visit time
        # made by the former holder do not bind the next one.
        await move(
            uow,
            ctx,
            Action.HAND_BACK,
            note=note,
            assignee_id=None,
            accepted_at=None,
            started_at=None,
            promised_at=None,
            defer_reason=None,
            promise_missed_at=None,
            visit_at=None,
            visit_confirmed=False,
            dispatched_at=now,
            accept_due_at=now + accept_in,
            escalated_at=None,
        )
        await withdraw_scheduled(uow, ticket_id)
        await withdraw_offers(uow, ctx)
        await notify_audience(uow, ctx, "ticket.reassigning")
        await offer_to_on_duty_technicians(uow, ctx, exclude=frozenset({person_id}), fresh=True)
        numbers.append(ticket.number)
    return numbers


async def _withdraw_offers(uow: UnitOfWork, person_id: int) -> int:
    rows = (
        await uow.session.execute(
            sa_select(col(Offer.ticket_id), Building)
            .join(Ticket, col(Ticket.id) == Offer.ticket_id)
            .join(Room, col(Room.id) == Ticket.room_id)
            .join(Building, col(Building.id) == Room.building_id)
            .where(col(Offer.technician_id) == person_id, col(Offer.outcome).is_(None))
        )
    ).all()
    outside = [
        ticket_id
        for ticket_id, building in rows
        if not await _covers(uow, person_id, building, {Role.TECHNICIAN})
    ]
    if not outside:
        return 0
    before = await _open_offers(uow, person_id, outside)
    await withdraw_offers_of(uow, person_id, ticket_ids=outside, outcome=WITHDRAWN, tell="staff")
    return before - await _open_offers(uow, person_id, outside)


async def _open_offers(uow: UnitOfWork, person_id: int, ticket_ids: list[int]) -> int:
    rows = await uow.session.execute(
        select(Offer.id).where(
            col(Offer.technician_id) == person_id,
            col(Offer.ticket_id).in_(ticket_ids),
            col(Offer.outcome).is_(None),
        )
    )
    return len(rows.all())


async def _hand_over_followups(uow: UnitOfWork, person: Person, actor: Person | None) -> list[str]:
    rows = (
        await uow.session.execute(
            sa_select(FollowUp, Building)
            .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
            .join(Room, col(Room.id) == Ticket.room_id)
            .join(Building, col(Building.id) == Room.building_id)
            .where(col(FollowUp.supervisor_id) == person.id, col(FollowUp.resolved_at).is_(None))
            .order_by(col(FollowUp.id))
        )
    ).all()
    numbers = []
    assert person.id is not None
    for followup, building in rows:
        if await _covers(uow, person.id, building, set(roles.SUPERVISORS)):
            continue
        successors = await responsible_supervisors(uow, building)
        followup.supervisor_id = successors[0] if successors else None
        uow.session.add(followup)
        ctx = await load(uow, followup.ticket_id, None)
        ctx.actor = actor
        payload = {
            **ctx.summary(),
            "followup": followup.number,
            "kind": followup.kind,
            "text": followup.text,
            "rating": ctx.ticket.rating,
            "technician_id": ctx.ticket.assignee_id,
            "handed_over_from": person.name,
        }
        for supervisor_id in successors:
            notify(uow, supervisor_id, "followup.new", payload, ticket_id=ctx.id)
        log_event(uow, ctx, "followup_handover", None, None, note=followup.number)
        numbers.append(followup.number)
    return numbers
