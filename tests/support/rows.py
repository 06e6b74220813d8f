"""Rows read back after an action, so tests assert what a user or operator would see
(the ticket, its events, the notices queued, offers, follow-ups), not what a function
returned. Every row comes back detached, fully loaded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from store.delivery import outbox
from store.delivery.outbox import Notice
from store.lifecycle import Status
from store.models import FollowUp, Offer, Outbox, Person, Ticket, TicketEvent
from store.uow import Store


async def ticket_row(store: Store, ticket_id: int) -> Ticket:
    """The ticket row."""
    async with store.uow() as uow:
        ticket = await uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        uow.session.expunge_all()  # leaving the unit rolls back, which would expire it
        return ticket


async def ticket_by_number(store: Store, number: str) -> Ticket:
    """The ticket row with this number."""
    async with store.uow() as uow:
        found = await uow.session.execute(select(Ticket).where(Ticket.number == number))
        ticket = found.scalar_one()
        uow.session.expunge_all()
        return ticket


async def person_row(store: Store, person_id: int) -> Person:
    """The person row."""
    async with store.uow() as uow:
        person = await uow.session.get(Person, person_id)
        assert person is not None
        uow.session.expunge_all()
        return person


async def events_of(store: Store, ticket_id: int) -> list[TicketEvent]:
    """The ticket's event log in insertion order."""
    async with store.uow() as uow:
        rows = await uow.session.execute(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.id))
        )
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


def event_lines(
    events: Sequence[TicketEvent],
) -> list[tuple[str, Status | None, Status | None, int | None]]:
    """(action, from, to, actor) per event, for comparing whole logs at once."""
    return [
        (
            e.action,
            Status(e.from_status) if e.from_status else None,
            Status(e.to_status) if e.to_status else None,
            e.actor_id,
        )
        for e in events
    ]


async def event_actions(store: Store, ticket_id: int) -> list[tuple[str, str | None]]:
    """(action, note) of the ticket's events, oldest first."""
    return [(e.action, e.note) for e in await events_of(store, ticket_id)]


async def outbox_rows(
    store: Store,
    *,
    after: int = 0,
    ticket_id: int | None = None,
    kind: str | None = None,
    kinds: Iterable[str] | None = None,
    recipient: int | None = None,
) -> list[Outbox]:
    """Outbox rows with id > `after`, optionally filtered, in insertion order."""
    async with store.uow() as uow:
        stmt = select(Outbox).where(col(Outbox.id) > after)
        if ticket_id is not None:
            stmt = stmt.where(Outbox.ticket_id == ticket_id)
        if kind is not None:
            stmt = stmt.where(Outbox.kind == kind)
        if kinds is not None:
            stmt = stmt.where(col(Outbox.kind).in_(list(kinds)))
        if recipient is not None:
            stmt = stmt.where(Outbox.recipient_id == recipient)
        rows = await uow.session.execute(stmt.order_by(col(Outbox.id)))
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def outbox_kinds(store: Store, recipient_id: int) -> list[str]:
    """Kinds of the notices written for one person, oldest first."""
    return [r.kind for r in await outbox_rows(store, recipient=recipient_id)]


async def last_outbox_id(store: Store) -> int:
    """The newest outbox row's id (0: none yet): pass it as `after` to see what follows."""
    async with store.uow() as uow:
        value = (await uow.session.execute(select(func.max(Outbox.id)))).scalar_one()
        return int(value or 0)


def notices(rows: Sequence[Outbox]) -> list[tuple[str, int]]:
    """(kind, recipient) per row, sorted: what got queued for whom."""
    return sorted((r.kind, r.recipient_id) for r in rows)


async def offers_of(store: Store, ticket_id: int) -> dict[int, str | None]:
    """technician id → outcome of their offer on the ticket (None while pending)."""
    async with store.uow() as uow:
        rows = await uow.session.execute(select(Offer).where(Offer.ticket_id == ticket_id))
        return {o.technician_id: o.outcome for o in rows.scalars()}


async def followups_of(store: Store, ticket_id: int) -> list[FollowUp]:
    """The ticket's follow-ups, oldest first."""
    async with store.uow() as uow:
        rows = await uow.session.execute(
            select(FollowUp).where(FollowUp.ticket_id == ticket_id).order_by(col(FollowUp.id))
        )
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def followup_id(store: Store, number: str) -> int:
    """The id of the follow-up with this number."""
    async with store.uow() as uow:
        found = await uow.session.execute(select(FollowUp.id).where(FollowUp.number == number))
        value: int | None = found.scalar_one()
    assert value is not None
    return value


@dataclass(frozen=True)
class Snapshot:
    """Everything a refused action must leave as it was."""

    tickets: list[tuple[int, str, int | None, datetime]]
    events: int
    outbox: int
    offers: list[tuple[int, int, str | None]]
    followups: int


async def snapshot(store: Store) -> Snapshot:
    """The observable state of every ticket, plus row counts of what actions append."""
    async with store.uow() as uow:
        s = uow.session
        tickets = [
            (t.id or 0, str(t.status), t.assignee_id, t.updated_at)
            for t in (await s.execute(select(Ticket).order_by(col(Ticket.id)))).scalars()
        ]
        offers = [
            (o.ticket_id, o.technician_id, o.outcome)
            for o in (await s.execute(select(Offer).order_by(col(Offer.id)))).scalars()
        ]
        return Snapshot(
            tickets=tickets,
            events=(await s.execute(select(func.count()).select_from(TicketEvent))).scalar_one(),
            outbox=(await s.execute(select(func.count()).select_from(Outbox))).scalar_one(),
            offers=offers,
            followups=(await s.execute(select(func.count()).select_from(FollowUp))).scalar_one(),
        )


async def send_due(store: Store) -> list[Notice]:
    """Every notice the outbox sender would send now, in its order (each chat's next one per
    round), marked sent as the sender marks them."""
    sent: list[Notice] = []
    while batch := await outbox.next_per_chat(store.uow(), limit=100):
        for notice in batch:
            await outbox.mark_sent(store.uow(), notice.id, None)
        sent.extend(batch)
    return sent
