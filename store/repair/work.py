"""The assigned technician's work: visit time, start, defer, resume, complete."""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import UTC, datetime

from sqlmodel import func, select

from store.domain.notices import notify, notify_audience, withdraw_scheduled
from store.domain.offers import checked_reason
from store.domain.ticket_views import ticket_view
from store.domain.tickets import hide_from_strangers, load, log_event, move, write
from store.errors import (
    InvalidInput,
    NotPermitted,
    PromisedDateInPast,
    TooManyPhotos,
    TransitionNotAllowed,
)
from store.lifecycle import VISIT_PROPOSE_STATUSES, Action, Capacity, Role, Status, authorize
from store.models import TicketPhoto
from store.repair.queries import ticket_detail
from store.uow import UnitOfWork
from store.views import TicketView


def epoch_minutes(when: datetime) -> int:
    """Minutes since the Unix epoch of a moment (a naive value is UTC, as stored)."""
    aware = when if when.utcoffset() is not None else when.replace(tzinfo=UTC)
    return int(aware.timestamp() // 60)


def _future(uow: UnitOfWork, when: datetime) -> datetime:
    """A UTC moment that must lie ahead (and not absurdly far)."""
    now = uow.now()
    if when <= now:
        raise PromisedDateInPast("date must be in the future", when=when)
    if when - now > uow.policy.max_defer:
        raise InvalidInput("date too far ahead", days=uow.policy.max_defer.days)
    return when


def may_take_jobs(person_roles: Set[Role]) -> bool:
    """Whether the person is a technician (somewhere: each job's building and category
    are checked when it is offered, taken or worked)."""
    return Role.TECHNICIAN in person_roles


def check_technician(person_roles: Set[Role]) -> None:
    """NotPermitted unless `may_take_jobs`: asked before the jobs list or a job's button."""
    if not may_take_jobs(person_roles):
        raise NotPermitted("technicians only")


def _check_own_job(caps: frozenset[Capacity], status: Status, action: Action | None) -> None:
    """NotPermitted unless acting as the job's technician; TransitionNotAllowed unless its
    state allows `action` (None: proposing a visit time)."""
    if Capacity.ASSIGNEE not in caps:
        raise NotPermitted("not your job")
    if action is not None:
        authorize(action, status, caps)
    elif status not in VISIT_PROPOSE_STATUSES:
        raise TransitionNotAllowed("propose_visit", status)


async def check_own_job(
    uow: UnitOfWork, ticket_id: int, technician_id: int, action: Action | None
) -> None:
    """Refused, as the action itself would be, unless the job is the technician's and its
    state allows `action` (None: proposing a visit time). Asked before a question is
    parked, so a forged or stale button is refused at once instead of after the answer."""
    view, caps = await ticket_detail(uow, ticket_id, technician_id)
    _check_own_job(caps, view.status, action)


async def held_job(uow: UnitOfWork, ticket_id: int, technician_id: int) -> TicketView:
    """The job the technician holds, as its card shows it; NotPermitted for anyone else's
    (NotFound for a ticket they may not see at all)."""
    view, _caps = await ticket_detail(uow, ticket_id, technician_id)
    if view.assignee_id != technician_id:
        raise NotPermitted("not your job")
    return view


def visit_to_answer(status: Status, visit_at: datetime | None, confirmed: bool) -> datetime | None:
    """The proposed visit time that waits for the requester's answer, if one does."""
    if confirmed or status not in VISIT_PROPOSE_STATUSES:
        return None
    return visit_at


async def propose_visit(
    uow: UnitOfWork, ticket_id: int, technician_id: int, visit_at: datetime
) -> TicketView:
    """The assignee proposes when to come; the requester confirms or asks for another."""
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        hide_from_strangers(ctx)
        _check_own_job(ctx.capacities, ctx.ticket.status, None)
        when = _future(uow, visit_at)
        await write(
            uow, ctx, "propose_visit", visit_at=when, visit_confirmed=False, updated_at=uow.now()
        )
        log_event(uow, ctx, "visit_proposed", None, None, note=visit_at.isoformat())
        await notify_audience(uow, ctx, "ticket.visit_proposed", visit_at=visit_at.isoformat())
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def answer_visit(
    uow: UnitOfWork,
    ticket_id: int,
    requester_id: int,
    *,
    accepted: bool,
    proposed_minutes: int | None = None,
) -> TicketView:
    """The requester accepts the proposed visit time, or asks for another one.

    `proposed_minutes` (epoch minutes) names the proposal being answered: once the
    technician has proposed another time, an answer to the older one is refused rather
    than taken for the newer one, which the requester may not have seen."""
    async with uow:
        ctx = await load(uow, ticket_id, requester_id)
        hide_from_strangers(ctx)
        if Capacity.REQUESTER not in ctx.capacities:
            raise NotPermitted("only the requester answers a visit proposal")
        t = ctx.ticket
        proposal = visit_to_answer(t.status, t.visit_at, t.visit_confirmed)
        if proposal is None:
            raise TransitionNotAllowed("answer_visit", t.status)
        if proposed_minutes is not None and epoch_minutes(proposal) != proposed_minutes:
            raise TransitionNotAllowed("answer_visit", t.status)
        payload = {**ctx.summary(), "visit_at": proposal.isoformat()}
        # Conditional on the version we read (so on the proposal we read): of two taps at
        # once only one answers it, and a new proposal meanwhile refuses both.
        changes = {"visit_confirmed": True} if accepted else {"visit_at": None}
        await write(uow, ctx, "answer_visit", updated_at=uow.now(), **changes)
        log_event(uow, ctx, "visit_accepted" if accepted else "visit_declined", None, None)
        if t.assignee_id is not None:
            kind = "job.visit_accepted" if accepted else "job.visit_declined"
            notify(uow, t.assignee_id, kind, payload, ticket_id=ticket_id)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def start(uow: UnitOfWork, ticket_id: int, technician_id: int) -> TicketView:
    """The assignee starts work."""
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        await move(uow, ctx, Action.START, started_at=uow.now())
        await notify_audience(uow, ctx, "ticket.in_progress")
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def defer(
    uow: UnitOfWork,
    ticket_id: int,
    technician_id: int,
    promised_at: datetime,
    reason: str | None,
) -> TicketView:
    """A hard repair: the assignee commits to a future date and says why.

    On a job that is already deferred this sets a new date (again with a reason the
    requester sees). Reminders to the technician are written now, due 24 h (policy)
    before and at the promised time; an earlier promise's reminders are withdrawn.
    """
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        hide_from_strangers(ctx)  # before validating input: reveal nothing
        note = checked_reason(uow, reason, required=True)
        when = _future(uow, promised_at)
        previous = ctx.ticket.promised_at
        action = Action.REDEFER if ctx.ticket.status == Status.DEFERRED else Action.DEFER
        await move(
            uow,
            ctx,
            action,
            note=note,
            promised_at=when,
            defer_reason=note,
            promise_missed_at=None,
        )
        await withdraw_scheduled(uow, ticket_id)
        details = {**ctx.summary(), "promised_at": when.isoformat(), "reason": note}
        reminder_at = when - uow.policy.defer_reminder
        if reminder_at > uow.now():
            notify(
                uow,
                technician_id,
                "job.promise_reminder",
                details,
                ticket_id=ticket_id,
                due_at=reminder_at,
            )
        notify(uow, technician_id, "job.promise_due", details, ticket_id=ticket_id, due_at=when)
        await notify_audience(
            uow,
            ctx,
            "ticket.deferred",
            promised_at=when.isoformat(),
            reason=note,
            previous=previous.isoformat() if previous and action == Action.REDEFER else None,
        )
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def resume(uow: UnitOfWork, ticket_id: int, technician_id: int) -> TicketView:
    """Back to work on a deferred job."""
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        await move(uow, ctx, Action.RESUME)
        await notify_audience(uow, ctx, "ticket.in_progress", resumed=True)
        await uow.commit()
        return await ticket_view(uow, ticket_id)


async def complete(
    uow: UnitOfWork, ticket_id: int, technician_id: int, result_photos: Sequence[str] = ()
) -> TicketView:
    """The job is done; the requester is asked to confirm and rate it."""
    async with uow:
        ctx = await load(uow, ticket_id, technician_id)
        if len(result_photos) > uow.policy.photos_max:
            raise TooManyPhotos("too many photos", limit=uow.policy.photos_max)
        await move(uow, ctx, Action.COMPLETE, completed_at=uow.now())
        await withdraw_scheduled(uow, ticket_id)
        start_at = (
            await uow.session.execute(
                select(func.count()).where(TicketPhoto.ticket_id == ticket_id)
            )
        ).scalar_one()
        for offset, file_id in enumerate(result_photos):
            uow.session.add(
                TicketPhoto(
                    ticket_id=ticket_id, position=start_at + offset, file_id=file_id, kind="result"
                )
            )
        await notify_audience(uow, ctx, "ticket.completed", photos=list(result_photos))
        await uow.commit()
        return await ticket_view(uow, ticket_id)
