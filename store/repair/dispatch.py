"""Getting a job to a technician: offers, accept, decline, assign, release, escalate."""

from __future__ import annotations

from collections.abc import Set
from typing import Literal

from sqlalchemy import update
from sqlmodel import col, select

from store import roles as store_roles
from store.db import rowcount
from store.domain.handover import WITHDRAWN
from store.domain.lookups import category_targets, get_person
from store.domain.notices import notify, notify_audience, withdraw_scheduled
from store.domain.offers import (
    checked_reason,
    close_offers,
    job_details,
    offer_to_on_duty_technicians,
)
from store.domain.scope import roles_covering
from store.domain.ticket_views import ticket_view
from store.domain.tickets import (
    TicketContext,
    hide_from_strangers,
    load,
    log_event,
    move,
)
from store.errors import (
    AlreadyTaken,
    InvalidInput,
    NotPermitted,
    OfferWithdrawn,
    OwnTicket,
    TransitionNotAllowed,
)
from store.lifecycle import Action, Capacity, Role, Status, allowed_actions
from store.models import Offer, Ticket
from store.repair.queries import ticket_detail
from store.uow import UnitOfWork
from store.views import TicketView


def may_dispatch(person_roles: Set[Role]) -> bool:
    """Whether some role of the person works the queue (somewhere: each ticket's building
    is checked when it is shown or acted on)."""
    return not store_roles.DISPATCHERS.isdisjoint(person_roles)


def check_dispatcher(person_roles: Set[Role]) -> None:
    """NotPermitted unless `may_dispatch`: asked before the queue or a ticket in it."""
    if not may_dispatch(person_roles):
        raise NotPermitted("dispatchers only")


async def ticket_in_scope(
    uow: UnitOfWork, ticket_id: int, dispatcher_id: int, *actions: Action
) -> TicketView:
    """The ticket, if it lies in the dispatcher's scope and one of `actions` (if any) is a
    dispatcher's move in its state now; else the refusal those moves would give. Asked
    before a question is parked, so none is asked that could never be answered."""
    view, caps = await ticket_detail(uow, ticket_id, dispatcher_id)
    if Capacity.DISPATCHER not in caps:
        raise NotPermitted("not in your scope")
    moves = allowed_actions(view.status, frozenset({Capacity.DISPATCHER}))
    if actions and not set(actions) & set(moves):
        raise TransitionNotAllowed(actions[0], view.status)
    return view


async def accept(uow: UnitOfWork, ticket_id: int, technician_id: int) -> TicketView:
    """A technician takes the job; of simultaneous presses exactly one wins."""
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        now = uow.now()
        if Capacity.TECHNICIAN not in ctx.capacities:
            await _refuse_withdrawn(uow, ticket_id, technician_id)
        if technician_id == ctx.ticket.requester_id and Capacity.TECHNICIAN in ctx.capacities:
            raise OwnTicket("a job you reported goes to a colleague", number=ctx.ticket.number)
        try:
            await move(uow, ctx, Action.ACCEPT, assignee_id=technician_id, accepted_at=now)
        except TransitionNotAllowed as exc:
            if ctx.ticket.assignee_id is not None and ctx.ticket.status != Status.DISPATCHING:
                taken_by = (await get_person(uow, ctx.ticket.assignee_id)).name
                raise AlreadyTaken(str(ctx.ticket.status), taken_by) from exc
            raise
        await close_offers(uow, ctx, technician_id)
        assert ctx.actor is not None
        await notify_audience(uow, ctx, "ticket.assigned", technician=ctx.actor.name)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def _refuse_withdrawn(uow: UnitOfWork, ticket_id: int, technician_id: int) -> None:
    """OfferWithdrawn when the presser's offer of this job was withdrawn because they no
    longer cover it: they saw the offer, so saying so reveals nothing new."""
    withdrawn = (
        await uow.session.execute(
            select(Offer.id).where(
                col(Offer.ticket_id) == ticket_id,
                col(Offer.technician_id) == technician_id,
                col(Offer.outcome) == WITHDRAWN,
            )
        )
    ).first()
    if withdrawn is not None:
        raise OfferWithdrawn("the offer was withdrawn", ticket_id=ticket_id)


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
        if rowcount(result) != 1:
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
        await close_offers(uow, ctx, technician_id)
        details = await job_details(uow, ctx, recipient=Capacity.ASSIGNEE)
        notify(uow, technician_id, "job.assigned", details, ticket_id=ticket_id)
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
