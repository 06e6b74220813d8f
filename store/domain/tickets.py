"""The ticket aggregate: a ticket loaded for one decision, and every write to its row,
from the filing that creates it (`open_ticket`) on.

Every write is a compare-and-set on the version the decision was read at
(`UPDATE ticket ... WHERE id = :id AND version = :read`, with `version = :read + 1`), as
in the aggregates chapter of "Architecture Patterns with Python". Who may act, who holds
the job and what state it is in are all read at that version, so whatever the decision
was based on is re-checked by the UPDATE itself: of two decisions on one read exactly one
is applied, on PostgreSQL (the loser's UPDATE waits for the winner's row lock, then finds
a newer version) and on SQLite (writers are serialised) alike. The loser gets
TicketChanged and its transaction, with its events and notices, is rolled back: nobody is
told about something that did not happen.

The scheduler's claims (`claim_due`) are compare-and-sets as well, on the condition that
made a ticket due, and so is the roll-up's mark (`mark_summarized`): of two runs at once
exactly one handles each ticket.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, false, true, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from store import roles as store_roles
from store.db import rowcount, table_of
from store.domain.lookups import Place, category_targets, get_category, get_person, get_place
from store.domain.numbering import next_number
from store.domain.scope import roles_covering
from store.errors import NotFound, TicketChanged
from store.lifecycle import Action, Capacity, Role, Status, authorize
from store.models import Building, Campus, Category, Person, Room, Ticket, TicketEvent
from store.uow import UnitOfWork


async def get_ticket(uow: UnitOfWork, ticket_id: int) -> Ticket:
    """The ticket, or NotFound."""
    ticket = await uow.session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("ticket", ticket_id=ticket_id)
    return ticket


async def capacities_for(
    uow: UnitOfWork, person: Person, ticket: Ticket, place: Place, category: Category
) -> frozenset[Capacity]:
    """In which capacities `person` stands towards `ticket` right now (roles and scope
    are read now, never taken from whoever the ticket was routed to)."""
    caps: set[Capacity] = set()
    if ticket.requester_id == person.id:
        caps.add(Capacity.REQUESTER)
    assert person.id is not None
    roles = await roles_covering(uow, person.id, place.building)
    # Holding the job is not enough on its own: a technician whose role was removed, or
    # who moved to another campus, no longer works it (a dispatcher reassigns it).
    if ticket.assignee_id == person.id and Role.TECHNICIAN in roles:
        caps.add(Capacity.ASSIGNEE)
    if Role.TECHNICIAN in roles and (not person.skills or category.key in person.skills):
        caps.add(Capacity.TECHNICIAN)
    if roles & store_roles.DISPATCHERS:
        caps.add(Capacity.DISPATCHER)
    if roles & store_roles.SUPERVISORS:
        caps.add(Capacity.SUPERVISOR)
    if may_file_for_others(roles):
        caps.add(Capacity.FILER)
    return frozenset(caps)


def may_file_for_others(roles: Set[Role]) -> bool:
    """Whether these roles file tickets for someone else (the FILER capacity): at the
    booth for a walk-up person, or for a resident. Scope is the caller's to apply."""
    return not store_roles.FILERS.isdisjoint(roles)


@dataclass(slots=True)
class TicketContext:
    """A loaded ticket with everything a permission check and a notice need, and the
    version every decision on it was read at."""

    ticket: Ticket
    place: Place
    category: Category
    actor: Person | None
    capacities: frozenset[Capacity]
    version: int = field(default=-1)
    # Who hears about its progress, when the caller knows it exactly (a ticket filed in
    # this unit); else notices.ticket_audience reads it.
    audience: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.version < 0:
            self.version = self.ticket.version

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


_TICKET = table_of(Ticket)
# The ticket columns a figure reads (with the building, through the room): once a ticket
# is in the day summaries (store.reporting.summaries) none of them may change.
FIGURE_FIELDS = frozenset(
    {
        "status",
        "category_id",
        "room_id",
        "created_at",
        "dispatched_at",
        "accepted_at",
        "completed_at",
        "due_at",
        "rework_count",
        "rating",
        "requester_id",
        "assignee_id",
    }
)


async def write(uow: UnitOfWork, ctx: TicketContext, what: str, **values: Any) -> None:
    """Write `values` to the ticket's row if it is still at the version `ctx` was read at,
    bumping the version; else raise TicketChanged saying what it is now. `what` names the
    action for the refusal. The only way a decision changes a ticket row (`open_ticket`
    is the only way one comes to exist; the scheduler's marks go through `claim_due`, the
    roll-up's through `mark_summarized`)."""
    if ctx.ticket.summarized and not FIGURE_FIELDS.isdisjoint(values):
        # Nothing leaves a final status, so this is a programming error: the day
        # summaries already count this ticket as it was (store.reporting.summaries).
        raise RuntimeError(f"{what}: ticket {ctx.id} is summarized; its figures cannot change")
    read = ctx.version
    # Through the table, not the entity: the ORM's UPDATE path (evaluating the WHERE
    # against the session, annotating columns) cost more than the statement itself, and
    # the loaded object is kept in step below.
    result = await uow.session.execute(
        update(_TICKET)
        .where(_TICKET.c.id == ctx.id, _TICKET.c.version == read)
        .values(version=read + 1, **values)
    )
    if rowcount(result) != 1:
        await uow.session.refresh(ctx.ticket)
        holder = ctx.ticket.assignee_id
        name = (await get_person(uow, holder)).name if holder is not None else None
        raise TicketChanged(what, str(ctx.ticket.status), name)
    ctx.version = read + 1
    # Keep the loaded object in step without marking it dirty (a flush would write the
    # row again, outside the compare-and-set).
    for key, value in {**values, "version": read + 1}.items():
        set_committed_value(ctx.ticket, key, value)


async def move(
    uow: UnitOfWork,
    ctx: TicketContext,
    action: Action,
    *,
    note: str | None = None,
    **changes: Any,
) -> Status:
    """Authorise and apply a status change (with its other changes) as one
    compare-and-set, and log its event. Returns the new status."""
    current = ctx.ticket.status
    hide_from_strangers(ctx)
    target = authorize(action, current, ctx.capacities)
    await write(uow, ctx, action, status=target, updated_at=uow.now(), **changes)
    log_event(uow, ctx, action, current, target, note)
    return target


async def _filing_capacities(
    uow: UnitOfWork, filer_id: int, building: Building, *, for_someone_else: bool
) -> frozenset[Capacity]:
    """REQUESTER for someone filing for themself, FILER for someone else while a filing
    role of the filer's covers the building, else none."""
    if not for_someone_else:
        return frozenset({Capacity.REQUESTER})
    if may_file_for_others(await roles_covering(uow, filer_id, building)):
        return frozenset({Capacity.FILER})
    return frozenset()


async def check_may_file(
    uow: UnitOfWork, filer_id: int, building: Building, *, for_someone_else: bool
) -> None:
    """NotPermitted (as `authorize` refuses a filing) unless `filer_id` may file a ticket
    in the building, for themself or for someone else; asked before anything is written
    for the filing (a booth's walk-up person)."""
    caps = await _filing_capacities(uow, filer_id, building, for_someone_else=for_someone_else)
    authorize(Action.FILE, None, caps)


async def open_ticket(
    uow: UnitOfWork,
    place: Place,
    category: Category,
    urgency: str,
    *,
    requester_id: int,
    filer_id: int,
    audience: Sequence[int],
    **values: Any,
) -> TicketContext:
    """Authorise the filer, give the ticket the year's next number and its targets, insert
    its row in the status the table files into, and log the filing. The only way a ticket
    row comes to exist; `values` are its other columns (description, contact phone...),
    `audience` who hears about its progress."""
    caps = await _filing_capacities(
        uow, filer_id, place.building, for_someone_else=filer_id != requester_id
    )
    target = authorize(Action.FILE, None, caps)
    filer = await get_person(uow, filer_id)
    # Numbered only once the filing is allowed: the counter's row lock is held to commit.
    year = uow.local_year()
    number = f"{year}-{await next_number(uow, f'ticket-{year}'):06d}"
    now = uow.now()
    accept_in, complete_in = category_targets(uow, category, urgency)
    ticket = Ticket(
        number=number,
        status=target,
        requester_id=requester_id,
        filed_by_id=filer_id,
        room_id=place.room.id or 0,
        category_id=category.id or 0,
        urgency=urgency,
        accept_due_at=now + accept_in,
        due_at=now + complete_in,
        created_at=now,
        updated_at=now,
        **values,
    )
    uow.session.add(ticket)
    await uow.flush()
    ctx = TicketContext(ticket, place, category, filer, caps, audience=tuple(audience))
    log_event(uow, ctx, Action.FILE, None, target)
    return ctx


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


# --- the scheduler's claims and the roll-up's mark --------------------------------------


@dataclass(slots=True)
class Batch:
    """What one committed batch of a scheduled job did, and where the next one starts."""

    numbers: list[str] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    last_id: int | None = None  # None: nothing (more) was due


async def due_ids(
    uow: UnitOfWork, due: list[ColumnElement[bool]], after: int, limit: int
) -> list[int]:
    """Ids of the tickets matching `due` above `after`, in id order, at most `limit`."""
    query = (
        select(Ticket.id).where(*due, col(Ticket.id) > after).order_by(col(Ticket.id)).limit(limit)
    )
    return [i for i in (await uow.session.execute(query)).scalars() if i is not None]


async def claim_due(
    uow: UnitOfWork, due: list[ColumnElement[bool]], after: int, limit: int, **mark: Any
) -> tuple[Batch, list[int]]:
    """The next due tickets after `after`, marked with `mark` in one statement: the batch
    to fill, and the ids this run claimed."""
    ids = await due_ids(uow, due, after, limit)
    batch = Batch(last_id=ids[-1] if ids else None)
    if not ids:
        return batch, []
    # A compare-and-set on the due condition itself: only those still due when the UPDATE
    # runs are claimed, so of two runs at once (a leader takeover, a slow tick) exactly
    # one gets each ticket. PostgreSQL re-checks the condition after the other's commit;
    # SQLite serialises writers. The mark is a write like any other: it bumps the version.
    result = await uow.session.execute(
        update(Ticket)
        .where(col(Ticket.id).in_(ids), *due)
        .values(version=col(Ticket.version) + 1, **mark)
        .returning(col(Ticket.id))
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(i for i in result.scalars().all() if i is not None)
    return batch, claimed


async def unclaim(uow: UnitOfWork, ids: list[int], **unmark: Any) -> None:
    """Hand claimed tickets back (`unmark` clears the mark): due again at the next run."""
    if ids:
        await uow.session.execute(
            update(Ticket)
            .where(col(Ticket.id).in_(ids))
            .values(version=col(Ticket.version) + 1, **unmark)
            .execution_options(synchronize_session=False)
        )


async def load_many(uow: UnitOfWork, ids: list[int]) -> dict[int, TicketContext]:
    """The tickets `ids` loaded for the system's actions in one query, as `load` would."""
    if not ids:
        return {}
    rows = await uow.session.execute(
        # SQLAlchemy's select: sqlmodel's typed overloads stop at four entities.
        sa_select(Ticket, Room, Building, Campus, Category)
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .join(Campus, col(Campus.id) == Building.campus_id)
        .join(Category, col(Category.id) == Ticket.category_id)
        .where(col(Ticket.id).in_(ids))
        # Fresh from the row: a claim may just have changed it (and its version) behind
        # the ORM.
        .execution_options(populate_existing=True)
    )
    system = frozenset({Capacity.SYSTEM})
    return {
        ticket.id: TicketContext(ticket, Place(room, building, campus), category, None, system)
        for ticket, room, building, campus, category in rows.all()
        if ticket.id is not None
    }


def not_summarized() -> ColumnElement[bool]:
    """Tickets not in the day summaries yet; written exactly as the partial indexes'
    condition (models._NOT_SUMMARIZED), so the planner can use them."""
    return col(Ticket.summarized) == false()


async def mark_summarized(uow: UnitOfWork, ids: list[int]) -> list[int]:
    """Mark the tickets `ids` summarized; returns those this call marked."""
    # A conditional UPDATE: of two roll-ups at once each ticket goes to one. No version
    # bump: summarizing changes nothing a decision reads (`write` guards FIGURE_FIELDS).
    result = await uow.session.execute(
        update(Ticket)
        .where(col(Ticket.id).in_(ids), not_summarized())
        .values(summarized=True)
        .returning(col(Ticket.id))
        .execution_options(synchronize_session=False)
    )
    return [i for i in result.scalars() if i is not None]


async def forget_summarized(uow: UnitOfWork) -> None:
    """Mark every ticket not summarized: the day summaries are being rebuilt from none."""
    await uow.session.execute(
        update(Ticket)
        .where(col(Ticket.summarized) == true())
        .values(summarized=False)
        .execution_options(synchronize_session=False)
    )
