"""Getting a job to a technician: offers, accept, decline, assign, release, escalate."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import delete, update
from sqlmodel import col, select

from store.errors import (
    AlreadyTaken,
    InvalidInput,
    NotPermitted,
    OwnTicket,
    ReasonRequired,
    TransitionNotAllowed,
)
from store.lifecycle import Action, Capacity, Role, Status
from store.models import Offer, Ticket, TicketPhoto
from store.services._common import clean_text
from store.services.lookups import category_targets, get_person
from store.services.notices import (
    notify,
    notify_audience,
    notify_dispatchers,
    withdraw_scheduled,
)
from store.services.queries import technicians_for, ticket_view
from store.services.scope import roles_covering
from store.services.tickets import (
    TicketContext,
    claim_due_tickets,
    hide_from_strangers,
    load,
    log_event,
    move,
    write,
)
from store.uow import UnitOfWork
from store.views import TicketView


def checked_reason(uow: UnitOfWork, reason: str | None, *, required: bool) -> str | None:
    text = clean_text(reason)
    if required and not text:
        raise ReasonRequired("a reason is required")
    if text and len(text) > uow.policy.reason_max:
        raise InvalidInput("reason too long", limit=uow.policy.reason_max)
    return text


async def offer_to_on_duty_technicians(
    uow: UnitOfWork,
    ctx: TicketContext,
    *,
    exclude: frozenset[int] = frozenset(),
    fresh: bool = False,
    if_none: str = "no_technician",
    just_filed: list[str] | None = None,
) -> list[int]:
    """Offer a dispatching ticket to the least-loaded eligible technicians on duty.

    Returns who got an offer. With nobody eligible the dispatchers are told at once
    and the requester hears so honestly. `fresh` starts a new round (after a release or
    a reopen): the closed offers of earlier rounds no longer keep anyone out. `if_none`
    is the escalation reason when nobody is left (e.g. "all_declined"). `just_filed`: the
    ticket was filed in this unit with these photos, so it has no offers to look up.
    """
    if fresh:
        await uow.session.execute(
            delete(Offer).where(col(Offer.ticket_id) == ctx.id, col(Offer.outcome).is_not(None))
        )
    already: set[int] = set()
    if just_filed is None:
        already.update(
            (
                await uow.session.execute(
                    select(Offer.technician_id).where(Offer.ticket_id == ctx.id)
                )
            ).scalars()
        )
    candidates = [
        t
        for t in await technicians_for(uow, ctx.place.building.id or 0, ctx.category.key)
        if t.reachable
        and t.person_id not in already
        and t.person_id not in exclude
        and t.person_id != ctx.ticket.requester_id  # nobody is offered their own report
    ][: uow.policy.offer_batch]
    if candidates:
        now = uow.now()
        payload = {**await job_details(uow, ctx, just_filed), "rework": ctx.ticket.rework_count}
        for tech in candidates:
            uow.session.add(Offer(ticket_id=ctx.id, technician_id=tech.person_id, offered_at=now))
            notify(uow, tech.person_id, "offer.new", payload, ticket_id=ctx.id)
        log_event(uow, ctx, "offer", None, None, note=",".join(t.name for t in candidates))
    elif already - exclude and if_none == "no_technician":
        # Everyone eligible was already offered it and none took it: say so honestly.
        await escalate(uow, ctx, reason="all_declined")
    else:
        await escalate(uow, ctx, reason=if_none)
    return [t.person_id for t in candidates]


async def job_details(
    uow: UnitOfWork, ctx: TicketContext, photos: list[str] | None = None
) -> dict[str, object]:
    """What a technician needs to see in an offer: place, problem, photos (read unless
    given), contact."""
    if photos is None:
        photos = list(
            (
                await uow.session.execute(
                    select(TicketPhoto.file_id)
                    .where(TicketPhoto.ticket_id == ctx.id, TicketPhoto.kind == "report")
                    .order_by(col(TicketPhoto.position))
                )
            ).scalars()
        )
    return {
        **ctx.summary(),
        "description": ctx.ticket.description,
        "contact_phone": ctx.ticket.contact_phone,
        "photos": photos,
    }


async def escalate(uow: UnitOfWork, ctx: TicketContext, *, reason: str) -> None:
    """Hand an unaccepted ticket to the dispatchers' attention, once."""
    await write(uow, ctx, "escalate", escalated_at=uow.now())
    log_event(uow, ctx, "escalate", None, None, note=reason)
    await notify_dispatchers(uow, ctx, "queue.escalated", reason=reason)
    if reason in ("no_technician", "all_declined"):
        await notify_audience(uow, ctx, "ticket.queued", reason=reason)


async def withdraw_offers(uow: UnitOfWork, ctx: TicketContext) -> None:
    """Pending offers of a ticket that left the round (cancelled, closed as stale, revived
    afresh) become void; their messages are updated."""
    offers = (
        await uow.session.execute(
            select(Offer).where(Offer.ticket_id == ctx.id, col(Offer.outcome).is_(None))
        )
    ).scalars()
    for offer in offers:
        offer.outcome = "withdrawn"
        uow.session.add(offer)
        notify(uow, offer.technician_id, "offer.withdrawn", ctx.summary(), ticket_id=ctx.id)


async def _close_offers(uow: UnitOfWork, ctx: TicketContext, winner_id: int | None) -> None:
    """Mark pending offers as taken and ask the transport to update those messages."""
    pending = (
        await uow.session.execute(
            select(Offer).where(Offer.ticket_id == ctx.id, col(Offer.outcome).is_(None))
        )
    ).scalars()
    winner_name = (await get_person(uow, winner_id)).name if winner_id else None
    for offer in pending:
        if offer.technician_id == winner_id:
            offer.outcome = "accepted"
        else:
            offer.outcome = "taken"
            notify(
                uow,
                offer.technician_id,
                "offer.taken",
                {**ctx.summary(), "taken_by": winner_name},
                ticket_id=ctx.id,
            )
        uow.session.add(offer)


async def accept(uow: UnitOfWork, ticket_id: int, technician_id: int) -> TicketView:
    """A technician takes the job; of simultaneous presses exactly one wins."""
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        now = uow.now()
        if technician_id == ctx.ticket.requester_id and Capacity.TECHNICIAN in ctx.capacities:
            raise OwnTicket("a job you reported goes to a colleague", number=ctx.ticket.number)
        try:
            await move(uow, ctx, Action.ACCEPT, assignee_id=technician_id, accepted_at=now)
        except TransitionNotAllowed as exc:
            if ctx.ticket.assignee_id is not None and ctx.ticket.status != Status.DISPATCHING:
                taken_by = (await get_person(uow, ctx.ticket.assignee_id)).name
                raise AlreadyTaken(str(ctx.ticket.status), taken_by) from exc
            raise
        await _close_offers(uow, ctx, technician_id)
        assert ctx.actor is not None
        await notify_audience(uow, ctx, "ticket.assigned", technician=ctx.actor.name)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def decline(uow: UnitOfWork, ticket_id: int, technician_id: int) -> None:
    """A technician turns an offer down; when all offers are declined, offer on or escalate."""
    async with uow:
        # Lock the ticket first: of the last two declines at once, the later one must see
        # the earlier one, or neither would hand the job on (PostgreSQL; SQLite serialises).
        await uow.session.execute(
            select(Ticket.id).where(col(Ticket.id) == ticket_id).with_for_update()
        )
        ctx = await load(uow, ticket_id, technician_id)
        result = await uow.session.execute(
            update(Offer)
            .where(
                col(Offer.ticket_id) == ticket_id,
                col(Offer.technician_id) == technician_id,
                col(Offer.outcome).is_(None),
            )
            .values(outcome="declined")
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise TransitionNotAllowed("decline", str(ctx.ticket.status))
        log_event(uow, ctx, "decline", None, None)
        pending = (
            await uow.session.execute(
                select(Offer.id).where(Offer.ticket_id == ticket_id, col(Offer.outcome).is_(None))
            )
        ).first()
        if pending is None and ctx.ticket.status == Status.DISPATCHING:
            await offer_to_on_duty_technicians(uow, ctx)
        await uow.commit()


async def withdraw_offers_of(uow: UnitOfWork, technician_id: int) -> list[int]:
    """An unreachable technician's open offers are void; a job left with no open offer is
    offered on (or escalated) at once instead of waiting for the SLA check. No commit."""
    offers = list(
        (
            await uow.session.execute(
                select(Offer).where(
                    Offer.technician_id == technician_id, col(Offer.outcome).is_(None)
                )
            )
        ).scalars()
    )
    handed_on = []
    for offer in offers:
        # Lock the ticket first, as `decline` and `accept` (its UPDATE) do: handing it on
        # must not race an accept, and the same lock order rules out a deadlock.
        await uow.session.execute(
            select(Ticket.id).where(col(Ticket.id) == offer.ticket_id).with_for_update()
        )
        await uow.session.refresh(offer)
        if offer.outcome is not None:  # accepted or taken while we waited for the lock
            continue
        offer.outcome = "unreachable"
        uow.session.add(offer)
        await uow.flush()
        still_open = (
            await uow.session.execute(
                select(Offer.id).where(
                    Offer.ticket_id == offer.ticket_id, col(Offer.outcome).is_(None)
                )
            )
        ).first()
        ctx = await load(uow, offer.ticket_id, None)
        await uow.session.refresh(ctx.ticket)  # as of the lock, not of an earlier read
        ctx.version = ctx.ticket.version
        if still_open is None and ctx.ticket.status == Status.DISPATCHING:
            await offer_to_on_duty_technicians(uow, ctx)
            handed_on.append(offer.ticket_id)
    return handed_on


async def _check_assignee(uow: UnitOfWork, ctx: TicketContext, technician_id: int) -> str:
    """The technician must cover the building and the category; returns their name."""
    tech = await get_person(uow, technician_id)
    roles = await roles_covering(uow, technician_id, ctx.place.building)
    if Role.TECHNICIAN not in roles or (tech.skills and ctx.category.key not in tech.skills):
        raise InvalidInput("technician does not cover this job", technician=tech.name)
    return tech.name


async def assign(
    uow: UnitOfWork,
    ticket_id: int,
    dispatcher_id: int,
    technician_id: int,
    *,
    replacing: int | Literal["any"] | None = "any",
) -> TicketView:
    """A dispatcher gives a queued job to a technician (or moves it to another one).

    `replacing` is who the dispatcher saw holding the job (None: nobody). If it changed
    hands since (a technician accepted it, another dispatcher moved it), the press is
    refused: an assign that lost the race must not turn into a reassign and take the job
    from whoever won it. "any" skips the check (callers that showed no picker). The
    holder, the status and the dispatcher's scope are read at one version, and the move
    is a compare-and-set on it, so a change that lands between this read and the write
    (a Start, a release, another reassign) refuses this one instead of being overwritten."""
    async with uow:
        ctx = await load(uow, ticket_id, dispatcher_id)
        if Capacity.DISPATCHER not in ctx.capacities:
            raise NotPermitted("assign needs a dispatcher")
        holder = ctx.ticket.assignee_id
        if replacing != "any" and holder != replacing:
            if holder is not None:
                raise AlreadyTaken(str(ctx.ticket.status), (await get_person(uow, holder)).name)
            raise TransitionNotAllowed(Action.ASSIGN, ctx.ticket.status)
        name = await _check_assignee(uow, ctx, technician_id)
        previous = ctx.ticket.assignee_id
        if ctx.ticket.status == Status.ASSIGNED:
            if previous == technician_id:
                raise InvalidInput("already assigned to this technician", technician=name)
            action = Action.REASSIGN
        else:
            action = Action.ASSIGN
        # A visit time agreed with the previous technician does not bind the new one.
        await move(
            uow,
            ctx,
            action,
            note=name,
            assignee_id=technician_id,
            accepted_at=uow.now(),
            visit_at=None,
            visit_confirmed=False,
        )
        await _close_offers(uow, ctx, technician_id)
        notify(
            uow, technician_id, "job.assigned", await job_details(uow, ctx), ticket_id=ticket_id
        )
        if previous is not None:
            notify(uow, previous, "job.unassigned", ctx.summary(), ticket_id=ticket_id)
        await notify_audience(uow, ctx, "ticket.assigned", technician=name)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def release(
    uow: UnitOfWork, ticket_id: int, actor_id: int, reason: str | None
) -> TicketView:
    """The assignee (or a dispatcher) hands the job back to dispatch, with a reason."""
    async with uow:
        ctx = await load(uow, ticket_id, actor_id)
        hide_from_strangers(ctx)  # before validating input: reveal nothing
        note = checked_reason(uow, reason, required=True)
        previous = ctx.ticket.assignee_id
        accept_in, _complete_in = category_targets(uow, ctx.category, ctx.ticket.urgency)
        # Back in the pool: a fresh accept target and escalation, as for a new ticket; the
        # completion target stays, because the requester's wait goes on.
        await move(
            uow,
            ctx,
            Action.RELEASE,
            note=note,
            assignee_id=None,
            accepted_at=None,
            visit_at=None,
            visit_confirmed=False,
            dispatched_at=uow.now(),
            accept_due_at=uow.now() + accept_in,
            escalated_at=None,
        )
        if previous is not None and previous != actor_id:
            notify(
                uow,
                previous,
                "job.unassigned",
                {**ctx.summary(), "reason": note},
                ticket_id=ticket_id,
            )
        await withdraw_scheduled(uow, ticket_id)
        await notify_audience(uow, ctx, "ticket.released", reason=note)
        exclude = frozenset({previous}) if previous is not None else frozenset()
        await offer_to_on_duty_technicians(uow, ctx, exclude=exclude, fresh=True)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def escalate_overdue_offers(uow: UnitOfWork) -> list[str]:
    """System job: dispatching tickets past their accept target go to the dispatchers,
    each once even when two instances run this at the same moment."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status) == Status.DISPATCHING,
            col(Ticket.accept_due_at) < now,
            col(Ticket.escalated_at).is_(None),
        ]
        numbers = []
        for ticket_id in await claim_due_tickets(uow, due, escalated_at=now):
            ctx = await load(uow, ticket_id, None)
            await escalate(uow, ctx, reason="accept_overdue")
            numbers.append(ctx.ticket.number)
        await uow.commit()
        return numbers
