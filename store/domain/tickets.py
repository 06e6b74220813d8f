"""The ticket aggregate: a ticket loaded for one decision, and every write to its row.

Every write is a compare-and-set on the version the decision was read at
(`UPDATE ticket ... WHERE id = :id AND version = :read`, with `version = :read + 1`), as
in the aggregates chapter of "Architecture Patterns with Python". Who may act, who holds
the job and what state it is in are all read at that version, so whatever the decision
was based on is re-checked by the UPDATE itself: of two decisions on one read exactly one
is applied, on PostgreSQL (the loser's UPDATE waits for the winner's row lock, then finds
a newer version) and on SQLite (writers are serialised) alike. The loser gets
TicketChanged and its transaction, with its events and notices, is rolled back: nobody is
told about something that did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from store.domain.lookups import Place, get_category, get_person, get_place
from store.domain.scope import DISPATCH_ROLES, FILER_ROLES, SUPERVISOR_ROLES, roles_covering
from store.errors import NotFound, TicketChanged
from store.lifecycle import Action, Capacity, Role, Status, authorize
from store.models import Category, Person, Ticket, TicketEvent
from store.uow import UnitOfWork

# The ticket columns a figure reads (store.reporting.tally.Facts, with the building through
# the room): once a ticket is in the day summaries none of them may change (write refuses).
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
    if roles & DISPATCH_ROLES:
        caps.add(Capacity.DISPATCHER)
    if roles & SUPERVISOR_ROLES:
        caps.add(Capacity.SUPERVISOR)
    if roles & FILER_ROLES:
        caps.add(Capacity.FILER)
    return frozenset(caps)


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


_TICKET: Table = Ticket.__table__  # type: ignore[attr-defined]


async def write(uow: UnitOfWork, ctx: TicketContext, what: str, **values: Any) -> None:
    """Write `values` to the ticket's row if it is still at the version `ctx` was read at,
    bumping the version; else raise TicketChanged saying what it is now. `what` names the
    action for the refusal. The only way any service changes a ticket row."""
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
    if result.rowcount != 1:  # type: ignore[attr-defined]
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


async def claim_due_tickets(
    uow: UnitOfWork, due: list[ColumnElement[bool]], **mark: Any
) -> list[int]:
    """Ids of the tickets matching `due`, each marked by compare-and-set: of two runs at once
    (a leader takeover, a slow tick) exactly one gets each ticket, since PostgreSQL
    re-checks the condition after the other's commit and SQLite serialises writers. In id
    order, so two runs lock rows in the same order. The mark is a write like any other:
    it bumps the version."""
    query = select(Ticket.id).where(*due).order_by(col(Ticket.id))
    claimed = []
    for ticket_id in list((await uow.session.execute(query)).scalars()):
        result = await uow.session.execute(
            update(Ticket)
            .where(col(Ticket.id) == ticket_id, *due)
            .values(version=col(Ticket.version) + 1, **mark)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(ticket_id)
    return claimed
