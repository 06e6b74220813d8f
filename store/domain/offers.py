"""Getting a job to a technician: offers, accept, decline, assign, release, escalate."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete
from sqlmodel import col, select

from store.domain.lookups import get_person
from store.domain.notices import notify, notify_audience, notify_dispatchers
from store.domain.phones import phone_visible
from store.domain.ticket_views import technicians_for
from store.domain.tickets import (
    TicketContext,
    load,
    log_event,
    write,
)
from store.errors import (
    InvalidInput,
    ReasonRequired,
)
from store.lifecycle import Capacity, Status
from store.models import Offer, Ticket, TicketPhoto
from store.text import normalise
from store.uow import UnitOfWork


def checked_reason(uow: UnitOfWork, reason: str | None, *, required: bool) -> str | None:
    text = normalise(reason)
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
        details = await job_details(uow, ctx, just_filed, recipient=Capacity.TECHNICIAN)
        payload = {**details, "rework": ctx.ticket.rework_count}
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
    uow: UnitOfWork,
    ctx: TicketContext,
    photos: list[str] | None = None,
    *,
    recipient: Capacity,
) -> dict[str, object]:
    """What a technician needs to see in an offer or an assignment: place, problem, photos
    (read unless given), and the requester's phone if the recipient, standing towards the
    ticket in `recipient`, may see it (store.domain.phones: an offer's technicians may not,
    the one it is assigned to may)."""
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
        "contact_phone": (
            ctx.ticket.contact_phone if phone_visible(ctx.ticket.status, {recipient}) else None
        ),
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


async def close_offers(uow: UnitOfWork, ctx: TicketContext, winner_id: int | None) -> None:
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


async def withdraw_offers_of(
    uow: UnitOfWork,
    technician_id: int,
    *,
    ticket_ids: Collection[int] | None = None,
    outcome: str = "unreachable",
    tell: str | None = None,
) -> list[int]:
    """A technician's open offers are void (an unreachable one's, or those of `ticket_ids`
    once they stopped covering them); a job left with no open offer is offered on (or
    escalated) at once instead of waiting for the SLA check. `tell`: the technician is
    told, with this reason, and the offer's message is updated. Returns the tickets handed
    on. No commit."""
    query = select(Offer).where(Offer.technician_id == technician_id, col(Offer.outcome).is_(None))
    if ticket_ids is not None:
        query = query.where(col(Offer.ticket_id).in_(list(ticket_ids)))
    offers = list((await uow.session.execute(query)).scalars())
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
        offer.outcome = outcome
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
        if tell is not None:
            payload = {**ctx.summary(), "why": tell}
            notify(uow, technician_id, "offer.withdrawn", payload, ticket_id=ctx.id)
        if still_open is None and ctx.ticket.status == Status.DISPATCHING:
            await offer_to_on_duty_technicians(uow, ctx, exclude=frozenset({technician_id}))
            handed_on.append(offer.ticket_id)
    return handed_on
