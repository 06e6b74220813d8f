"""Pieces every service shares: loading, capacities, the guarded status move, notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from store.errors import NotFound, TransitionNotAllowed
from store.lifecycle import Action, Capacity, Role, Status, authorize
from store.models import (
    Building,
    Campus,
    Category,
    Counter,
    FollowUp,
    Outbox,
    Person,
    RoleGrant,
    Room,
    Ticket,
    TicketEvent,
    TicketFollower,
)
from store.text import normalise
from store.uow import UnitOfWork

DISPATCH_ROLES = frozenset({Role.DISPATCHER, Role.ADMIN})
FILER_ROLES = frozenset({Role.INSPECTOR, Role.DISPATCHER, Role.ADMIN})
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Place:
    """A room with its building and campus, as one value."""

    room: Room
    building: Building
    campus: Campus

    def label(self) -> dict[str, str]:
        """The fields notices and screens show."""
        return {
            "campus": self.campus.name,
            "building": self.building.name,
            "floor": self.room.floor,
            "room": self.room.name,
            "room_code": self.room.code,
        }


async def get_person(uow: UnitOfWork, person_id: int) -> Person:
    """The person, or NotFound."""
    person = await uow.session.get(Person, person_id)
    if person is None:
        raise NotFound("person", person_id=person_id)
    return person


async def get_ticket(uow: UnitOfWork, ticket_id: int) -> Ticket:
    """The ticket, or NotFound."""
    ticket = await uow.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("ticket", ticket_id=ticket_id)
    return ticket


async def get_place(uow: UnitOfWork, room_id: int) -> Place:
    """The room with its building and campus."""
    row = (
        await uow.session.execute(
            select(Room, Building, Campus)
            .join(Building, col(Building.id) == Room.building_id)
            .join(Campus, col(Campus.id) == Building.campus_id)
            .where(Room.id == room_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("room", room_id=room_id)
    return Place(row[0], row[1], row[2])


def category_targets(
    uow: UnitOfWork, category: Category, urgency: str = "normal"
) -> tuple[timedelta, timedelta]:
    """Accept and completion targets: the policy's (else the category row's own minutes),
    shortened to the urgency's targets for urgent and emergency tickets."""
    target = uow.policy.categories.get(category.key)
    if target is not None:
        accept, complete = target.accept, target.complete
    else:
        accept = timedelta(minutes=category.accept_minutes)
        complete = timedelta(minutes=category.complete_minutes)
    faster = uow.policy.urgency_targets.get(urgency)
    if faster is not None:
        accept, complete = min(accept, faster.accept), min(complete, faster.complete)
    return accept, complete


# Notices written ahead of time for a deferred job; withdrawn when the promise changes.
SCHEDULED_KINDS = ("job.promise_reminder", "job.promise_due")


async def withdraw_scheduled(uow: UnitOfWork, ticket_id: int) -> None:
    """Void not-yet-sent reminders of a ticket (new promise, completed, released...)."""
    await uow.session.execute(
        update(Outbox)
        .where(
            col(Outbox.ticket_id) == ticket_id,
            col(Outbox.kind).in_(SCHEDULED_KINDS),
            col(Outbox.sent_at).is_(None),
            col(Outbox.failed_at).is_(None),
        )
        .values(failed_at=uow.now(), last_error="withdrawn: the promise changed")
        .execution_options(synchronize_session=False)
    )


async def get_category(uow: UnitOfWork, category_id: int) -> Category:
    """The category, or NotFound."""
    category = await uow.session.get(Category, category_id)
    if category is None:
        raise NotFound("category", category_id=category_id)
    return category


def grant_covers(grant: RoleGrant, building: Building) -> bool:
    """Whether a grant's scope (all, a campus or a building) includes the building."""
    if grant.building_id is not None:
        return grant.building_id == building.id
    if grant.campus_id is not None:
        return grant.campus_id == building.campus_id
    return True


async def grants_of(uow: UnitOfWork, person_id: int) -> list[RoleGrant]:
    """Every role grant the person holds."""
    rows = await uow.session.execute(select(RoleGrant).where(RoleGrant.person_id == person_id))
    return list(rows.scalars())


async def roles_covering(uow: UnitOfWork, person_id: int, building: Building) -> set[Role]:
    """The roles the person holds with a scope that covers the building."""
    return {g.role for g in await grants_of(uow, person_id) if grant_covers(g, building)}


async def capacities_for(
    uow: UnitOfWork, person: Person, ticket: Ticket, place: Place, category: Category
) -> frozenset[Capacity]:
    """In which capacities `person` stands towards `ticket` right now."""
    caps: set[Capacity] = set()
    if ticket.requester_id == person.id:
        caps.add(Capacity.REQUESTER)
    if ticket.assignee_id is not None and ticket.assignee_id == person.id:
        caps.add(Capacity.ASSIGNEE)
    assert person.id is not None
    roles = await roles_covering(uow, person.id, place.building)
    if Role.TECHNICIAN in roles and (not person.skills or category.key in person.skills):
        caps.add(Capacity.TECHNICIAN)
    if roles & DISPATCH_ROLES:
        caps.add(Capacity.DISPATCHER)
    if roles & SUPERVISOR_ROLES:
        caps.add(Capacity.SUPERVISOR)
    if roles & FILER_ROLES:
        caps.add(Capacity.FILER)
    return frozenset(caps)


@dataclass(slots=True)
class TicketContext:
    """A loaded ticket with everything a permission check and a notice need."""

    ticket: Ticket
    place: Place
    category: Category
    actor: Person | None
    capacities: frozenset[Capacity]

    @property
    def id(self) -> int:
        """The ticket's id (always set once loaded)."""
        assert self.ticket.id is not None
        return self.ticket.id

    def summary(self) -> dict[str, Any]:
        """Fields every ticket notice carries."""
        return {
            "ticket_id": self.id,
            "number": self.ticket.number,
            "category": self.category.key,
            "urgency": self.ticket.urgency,
            **self.place.label(),
        }


async def load(uow: UnitOfWork, ticket_id: int, actor_id: int | None) -> TicketContext:
    """Load a ticket for an action by `actor_id` (None: the system)."""
    ticket = await get_ticket(uow, ticket_id)
    place = await get_place(uow, ticket.room_id)
    category = await get_category(uow, ticket.category_id)
    if actor_id is None:
        return TicketContext(ticket, place, category, None, frozenset({Capacity.SYSTEM}))
    actor = await get_person(uow, actor_id)
    caps = await capacities_for(uow, actor, ticket, place, category)
    return TicketContext(ticket, place, category, actor, caps)


def hide_from_strangers(ctx: TicketContext) -> None:
    """Someone with no relation at all to a ticket gets the same answer as for a missing
    one, so ticket ids cannot be probed with forged buttons."""
    if not ctx.capacities:
        raise NotFound("ticket", ticket_id=ctx.id)


async def move(
    uow: UnitOfWork,
    ctx: TicketContext,
    action: Action,
    *,
    note: str | None = None,
    **changes: Any,
) -> Status:
    """Authorise and apply a status change with compare-and-set, and log its event.

    The UPDATE is conditional on the status we read, so of two concurrent moves on one
    ticket exactly one wins on SQLite and PostgreSQL alike; the loser gets
    TransitionNotAllowed with the status that beat it.
    """
    current = ctx.ticket.status
    hide_from_strangers(ctx)
    target = authorize(action, current, ctx.capacities)
    now = uow.now()
    values = {"status": target, "updated_at": now, **changes}
    result = await uow.session.execute(
        update(Ticket)
        .where(col(Ticket.id) == ctx.id, col(Ticket.status) == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await uow.session.refresh(ctx.ticket)
        raise TransitionNotAllowed(action, ctx.ticket.status)
    for key, value in values.items():
        setattr(ctx.ticket, key, value)
    log_event(uow, ctx, action, current, target, note)
    return target


def log_event(
    uow: UnitOfWork,
    ctx: TicketContext,
    action: Action | str,
    from_status: Status | None,
    to_status: Status | None,
    note: str | None = None,
) -> None:
    """Append one history row (also for non-status events such as urges)."""
    uow.session.add(
        TicketEvent(
            ticket_id=ctx.id,
            at=uow.now(),
            actor_id=ctx.actor.id if ctx.actor else None,
            action=str(action),
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    )


def notify(
    uow: UnitOfWork,
    recipient_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    ticket_id: int | None = None,
    due_at: datetime | None = None,
) -> None:
    """Queue one notice in the outbox, inside the caller's transaction."""
    now = uow.now()
    uow.session.add(
        Outbox(
            recipient_id=recipient_id,
            ticket_id=ticket_id,
            kind=kind,
            payload=payload,
            created_at=now,
            due_at=due_at or now,
        )
    )


async def ticket_audience(uow: UnitOfWork, ticket: Ticket) -> list[int]:
    """Who hears about a ticket's progress: its requester, its followers, and the filer
    while the requester cannot be reached on Telegram (a booth ticket not yet claimed)."""
    requester = await uow.session.get(Person, ticket.requester_id)
    reachable = requester is not None and requester.telegram_id is not None
    ids = [ticket.requester_id if reachable else ticket.filed_by_id]
    rows = await uow.session.execute(
        select(TicketFollower.person_id).where(TicketFollower.ticket_id == ticket.id)
    )
    ids.extend(pid for pid in rows.scalars() if pid not in ids)
    return ids


async def notify_audience(uow: UnitOfWork, ctx: TicketContext, kind: str, **extra: Any) -> None:
    """Tell the requester side about a ticket event. `is_requester` lets the transport
    offer requester-only buttons (rating, "not fixed") to the requester alone."""
    payload = {**ctx.summary(), **extra}
    for person_id in await ticket_audience(uow, ctx.ticket):
        mine = person_id == ctx.ticket.requester_id
        notify(uow, person_id, kind, {**payload, "is_requester": mine}, ticket_id=ctx.id)


async def next_number(uow: UnitOfWork, series: str) -> int:
    """Bump and return the counter of `series`; the UPDATE's row lock makes it unique."""
    bind = uow.session.get_bind()
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    await uow.session.execute(insert(Counter).values(name=series, last=0).on_conflict_do_nothing())
    result = await uow.session.execute(
        update(Counter)
        .where(col(Counter.name) == series)
        .values(last=col(Counter.last) + 1)
        .returning(col(Counter.last))
    )
    return int(result.scalar_one())


def clean_text(value: str | None) -> str | None:
    """Normalised free text (store/text.py); empty becomes None."""
    return normalise(value)


async def staff_covering(uow: UnitOfWork, building: Building, roles: frozenset[Role]) -> list[int]:
    """Ids of people holding one of `roles` with a scope covering the building."""
    rows = await uow.session.execute(select(RoleGrant).where(col(RoleGrant.role).in_(roles)))
    ids: list[int] = []
    for grant in rows.scalars():
        if grant_covers(grant, building) and grant.person_id not in ids:
            ids.append(grant.person_id)
    return ids


async def responsible_supervisors(uow: UnitOfWork, building: Building) -> list[int]:
    """The building's named supervisor, else supervisors covering it, else admins."""
    if building.supervisor_id is not None:
        return [building.supervisor_id]
    supervisors = await staff_covering(uow, building, frozenset({Role.SUPERVISOR}))
    return supervisors or await staff_covering(uow, building, frozenset({Role.ADMIN}))


async def notify_dispatchers(
    uow: UnitOfWork, ctx: TicketContext, kind: str, **extra: Any
) -> list[int]:
    """Tell every dispatcher (or admin) covering the ticket's building."""
    ids = await staff_covering(uow, ctx.place.building, DISPATCH_ROLES)
    payload = {**ctx.summary(), **extra}
    for person_id in ids:
        notify(uow, person_id, kind, payload, ticket_id=ctx.id)
    return ids


async def open_followup(uow: UnitOfWork, ctx: TicketContext, kind: str, text: str | None) -> str:
    """Open a supervisor follow-up on the ticket and tell the responsible supervisors."""
    now = uow.now()
    year = uow.local_year()
    number = f"F{year}-{await next_number(uow, f'followup-{year}'):05d}"
    supervisors = await responsible_supervisors(uow, ctx.place.building)
    followup = FollowUp(
        number=number,
        ticket_id=ctx.id,
        kind=kind,
        text=text,
        raised_by_id=ctx.actor.id if ctx.actor else None,
        supervisor_id=supervisors[0] if supervisors else None,
        opened_at=now,
    )
    uow.session.add(followup)
    payload = {
        **ctx.summary(),
        "followup": number,
        "kind": kind,
        "text": text,
        "rating": ctx.ticket.rating,
        "technician_id": ctx.ticket.assignee_id,
    }
    for supervisor_id in supervisors:
        notify(uow, supervisor_id, "followup.new", payload, ticket_id=ctx.id)
    log_event(uow, ctx, f"followup_{kind}", None, None, note=number)
    return number


async def claim_due_tickets(
    uow: UnitOfWork, due: list[ColumnElement[bool]], **mark: Any
) -> list[int]:
    """Ids of the tickets matching `due`, each marked by compare-and-set: of two runs at once
    (a leader takeover, a slow tick) exactly one gets each ticket, since PostgreSQL
    re-checks the condition after the other's commit and SQLite serialises writers. In id
    order, so two runs lock rows in the same order."""
    query = select(Ticket.id).where(*due).order_by(col(Ticket.id))
    claimed = []
    for ticket_id in list((await uow.session.execute(query)).scalars()):
        result = await uow.session.execute(
            update(Ticket)
            .where(col(Ticket.id) == ticket_id, *due)
            .values(**mark)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(ticket_id)
    return claimed
