"""The requester's actions on their own ticket: cancel, confirm and rate, reopen, urge,
complain. Dispatchers share `cancel` and `mark_duplicate`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from store.domain.followups import open_followup
from store.domain.lookups import category_targets
from store.domain.notices import (
    notify,
    notify_audience,
    notify_dispatchers,
    ticket_audience,
    withdraw_scheduled,
)
from store.domain.offers import checked_reason, offer_to_on_duty_technicians, withdraw_offers
from store.domain.ticket_views import ticket_view
from store.domain.tickets import TicketContext, hide_from_strangers, load, log_event, move, write
from store.errors import (
    CooldownActive,
    InvalidInput,
    NotPermitted,
    RatingOutOfRange,
    ReopenWindowClosed,
    TicketChanged,
    TransitionNotAllowed,
)
from store.lifecycle import (
    COMPLAIN_STATUSES,
    OPEN_STATUSES,
    URGE_STATUSES,
    Action,
    Capacity,
    Status,
    allowed_actions,
    needs_reason,
)
from store.models import FollowUp, Ticket, TicketFollower
from store.text import normalise
from store.uow import UnitOfWork
from store.views import TicketView


async def cancel(
    uow: UnitOfWork, ticket_id: int, actor_id: int, reason: str | None = None
) -> TicketView:
    """Cancel before work starts: the requester their own, a dispatcher with a reason."""
    async with uow:
        ctx = await load(uow, ticket_id, actor_id)
        hide_from_strangers(ctx)  # before validating input: reveal nothing
        note = checked_reason(uow, reason, required=needs_reason(Action.CANCEL, ctx.capacities))
        assignee = ctx.ticket.assignee_id
        await move(uow, ctx, Action.CANCEL, note=note)
        await withdraw_scheduled(uow, ticket_id)
        await withdraw_offers(uow, ctx)
        by_requester = Capacity.REQUESTER in ctx.capacities
        await notify_audience(uow, ctx, "ticket.cancelled", reason=note, by_requester=by_requester)
        if assignee is not None:
            notify(
                uow,
                assignee,
                "job.cancelled",
                {**ctx.summary(), "reason": note},
                ticket_id=ticket_id,
            )
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def mark_duplicate(
    uow: UnitOfWork, ticket_id: int, dispatcher_id: int, original_number: str
) -> TicketView:
    """A dispatcher folds a ticket into an earlier one; its people follow the original."""
    async with uow:
        ctx = await load(uow, ticket_id, dispatcher_id)
        if Capacity.DISPATCHER not in ctx.capacities:
            raise NotPermitted("marking duplicates needs a dispatcher")
        original = (
            await uow.session.execute(select(Ticket).where(Ticket.number == original_number))
        ).scalar_one_or_none()
        if original is None or original.id == ticket_id or original.status not in OPEN_STATUSES:
            raise InvalidInput("no open ticket with that number", number=original_number)
        assert original.id is not None
        # The original must be in the dispatcher's scope too, or numbers elsewhere could be
        # probed and tickets merged across buildings nobody here answers for.
        if Capacity.DISPATCHER not in (await load(uow, original.id, dispatcher_id)).capacities:
            raise InvalidInput("no open ticket with that number", number=original_number)
        people = await ticket_audience(uow, ctx.ticket)
        assignee = ctx.ticket.assignee_id
        await move(
            uow,
            ctx,
            Action.CANCEL,
            note=f"duplicate of {original.number}",
            duplicate_of_id=original.id,
        )
        await withdraw_offers(uow, ctx)
        assert original.id is not None
        for person_id in people:
            if (
                person_id != original.requester_id
                and await uow.session.get(TicketFollower, (original.id, person_id)) is None
            ):
                uow.session.add(
                    TicketFollower(ticket_id=original.id, person_id=person_id, since=uow.now())
                )
        await notify_audience(uow, ctx, "ticket.duplicate", original=original.number)
        if assignee is not None:
            reason = f"duplicate of {original.number}"
            notify(
                uow,
                assignee,
                "job.cancelled",
                {**ctx.summary(), "reason": reason},
                ticket_id=ticket_id,
            )
        await withdraw_scheduled(uow, ticket_id)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


def _own(ctx: TicketContext, what: str) -> None:
    hide_from_strangers(ctx)
    check_requester(ctx.capacities, what)


def check_requester(caps: frozenset[Capacity], what: str) -> None:
    """NotPermitted unless acting as the ticket's requester, as every requester action
    asks: before a question about the ticket is asked too."""
    if Capacity.REQUESTER not in caps:
        raise NotPermitted(f"only the requester can {what}")


def check_requester_move(action: Action, status: Status, caps: frozenset[Capacity]) -> None:
    """TransitionNotAllowed ("no longer possible") unless the requester's side of the
    table allows `action` in `status` for someone with `caps`; asked before the
    confirmation question, whose answer would otherwise only be refused."""
    if action not in allowed_actions(status, caps & {Capacity.REQUESTER}):
        raise TransitionNotAllowed(action, status)


def check_complaint(status: Status) -> None:
    """TransitionNotAllowed unless a complaint may be raised about a ticket in `status`."""
    if status not in COMPLAIN_STATUSES:
        raise TransitionNotAllowed("complain", status)


@dataclass(frozen=True, slots=True)
class RatingResult:
    """A closed ticket, and the follow-up a low rating opened (if any)."""

    ticket: TicketView
    followup_number: str | None


async def confirm_and_rate(
    uow: UnitOfWork, ticket_id: int, requester_id: int, rating: int, comment: str | None = None
) -> RatingResult:
    """The requester confirms the fix with 1–5 stars; 2 or less opens a follow-up."""
    if not 1 <= rating <= 5:
        raise RatingOutOfRange("rating must be 1..5", rating=rating)
    async with uow:
        ctx = await load(uow, ticket_id, requester_id)
        _own(ctx, "rate")
        text = normalise(comment)
        if text and len(text) > uow.policy.comment_max:
            raise InvalidInput("comment too long", limit=uow.policy.comment_max)
        await move(
            uow,
            ctx,
            Action.CONFIRM,
            note=f"{rating}★",
            rating=rating,
            rating_comment=text,
            closed_at=uow.now(),
        )
        if ctx.ticket.assignee_id is not None:
            notify(
                uow,
                ctx.ticket.assignee_id,
                "job.rated",
                {**ctx.summary(), "rating": rating, "comment": text},
                ticket_id=ticket_id,
            )
        followup = None
        if rating <= uow.policy.low_rating_threshold:
            followup = await open_followup(uow, ctx, "low_rating", text)
        await uow.commit()
        return RatingResult(await ticket_view(uow, ticket_id), followup)


async def comment_rating(
    uow: UnitOfWork, ticket_id: int, requester_id: int, comment: str
) -> TicketView:
    """Add the optional comment after the stars were given."""
    async with uow:
        ctx = await load(uow, ticket_id, requester_id)
        _own(ctx, "comment")
        text = normalise(comment)
        if not text or len(text) > uow.policy.comment_max:
            raise InvalidInput("comment empty or too long", limit=uow.policy.comment_max)
        if ctx.ticket.status != Status.CLOSED or ctx.ticket.rating is None:
            raise TransitionNotAllowed("comment", ctx.ticket.status)
        await write(uow, ctx, "comment", rating_comment=text)
        log_event(uow, ctx, "comment", None, None, note=text)
        followup = (
            await uow.session.execute(
                select(FollowUp).where(
                    FollowUp.ticket_id == ticket_id, FollowUp.kind == "low_rating"
                )
            )
        ).scalar_one_or_none()
        if followup is not None and not followup.text:
            followup.text = text
            uow.session.add(followup)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def reopen(
    uow: UnitOfWork, ticket_id: int, requester_id: int, reason: str | None = None
) -> TicketView:
    """Not fixed: back to dispatch within the window, counted as rework."""
    async with uow:
        ctx = await load(uow, ticket_id, requester_id)
        _own(ctx, "reopen")
        t = ctx.ticket
        now = uow.now()
        if t.completed_at is not None and now - t.completed_at > uow.policy.reopen_window:
            raise ReopenWindowClosed("reopen window closed", days=uow.policy.reopen_window.days)
        previous = t.assignee_id
        accept_in, complete_in = category_targets(uow, ctx.category, t.urgency)
        # A reopened ticket starts a fresh round: timings and promises of the failed one
        # would otherwise leak into accept times, SLA checks and exports.
        await move(
            uow,
            ctx,
            Action.REOPEN,
            note=normalise(reason),
            rework_count=t.rework_count + 1,
            assignee_id=None,
            completed_at=None,
            accepted_at=None,
            started_at=None,
            dispatched_at=now,
            promised_at=None,
            defer_reason=None,
            promise_missed_at=None,
            overdue_at=None,
            visit_at=None,
            visit_confirmed=False,
            escalated_at=None,
            accept_due_at=now + accept_in,
            due_at=now + complete_in,
        )
        if previous is not None:
            notify(
                uow,
                previous,
                "job.reopened",
                {**ctx.summary(), "reason": normalise(reason)},
                ticket_id=ticket_id,
            )
        await notify_audience(uow, ctx, "ticket.reopened")
        await offer_to_on_duty_technicians(uow, ctx, fresh=True)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def urge(uow: UnitOfWork, ticket_id: int, requester_id: int) -> datetime:
    """Nudge whoever holds the ticket; returns when the next urge is allowed."""
    async with uow:
        ctx = await load(uow, ticket_id, requester_id)
        _own(ctx, "urge")
        t = ctx.ticket
        if t.status not in URGE_STATUSES:
            raise TransitionNotAllowed("urge", t.status)
        now = uow.now()
        cooldown = uow.policy.urge_cooldown
        if t.last_urged_at is not None and now < t.last_urged_at + cooldown:
            raise CooldownActive(t.last_urged_at + cooldown)
        # Compare-and-set on the version: of a double tap only one urge gets through, the
        # other waits for the first (row lock) and then meets the cool-down.
        count = t.urge_count + 1
        try:
            await write(uow, ctx, "urge", urge_count=count, last_urged_at=now)
        except TicketChanged:
            if t.last_urged_at is not None and now < t.last_urged_at + cooldown:
                raise CooldownActive(t.last_urged_at + cooldown) from None
            raise
        log_event(uow, ctx, "urge", None, None)
        payload = {**ctx.summary(), "urge_count": count}
        if t.assignee_id is not None:
            notify(uow, t.assignee_id, "job.urged", payload, ticket_id=ticket_id)
        else:
            await notify_dispatchers(uow, ctx, "queue.urged", urge_count=count)
        await uow.commit()
        return now + cooldown


async def complain(uow: UnitOfWork, ticket_id: int, requester_id: int, text: str) -> str:
    """Raise a complaint with the building's supervisor; returns the follow-up number."""
    async with uow:
        ctx = await load(uow, ticket_id, requester_id)
        _own(ctx, "complain")
        body = normalise(text)
        if not body or len(body) > uow.policy.comment_max:
            raise InvalidInput("complaint empty or too long", limit=uow.policy.comment_max)
        check_complaint(ctx.ticket.status)
        # A double tap, or a resend after a timeout, must not open a second follow-up for the
        # same words: the open complaint that already says this is the answer.
        same = await uow.session.execute(
            select(FollowUp.number).where(
                FollowUp.ticket_id == ticket_id,
                FollowUp.kind == "complaint",
                FollowUp.raised_by_id == requester_id,
                col(FollowUp.resolved_at).is_(None),
                FollowUp.text == body,
            )
        )
        if (existing := same.scalars().first()) is not None:
            return existing
        number = await open_followup(uow, ctx, "complaint", body)
        await uow.commit()
        return number
