"""A fixture-free builder for the ticket tests, and helpers to read what services wrote.

`build_world(store)` fills an empty database with:

* campus "North" with "Building A" (rooms A-101, A-102) and "Building B" (room B-201),
  and campus "South" with "Building C" (room C-301), which no technician covers;
* the categories synced from the store's Policy;
* requesters: `requester`, `neighbour`, `stranger` (no roles);
* technicians on duty: `tom` (all of North, every category), `ann` (Building A only,
  water and electrical), `bob` (Building B only, every category); `olga` (all of North,
  every category) is off duty;
* `dana` a dispatcher for North, `sam` a supervisor for North, `ada` an admin everywhere,
  `ivy` an inspector for Building A.

Everything else here reads rows back (events, outbox) or moves a fake clock, so tests
assert what a user or operator would see, not what a function returned.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, text, update
from sqlmodel import col, select

from store.delivery import outbox
from store.delivery.outbox import Notice
from store.directory.categories import sync_categories
from store.domain.filing import NewTicket, Urgency
from store.intake.report import report
from store.lifecycle import Role, Status
from store.models import (
    Building,
    Campus,
    Category,
    FollowUp,
    Offer,
    Outbox,
    Person,
    RoleGrant,
    Room,
    Ticket,
    TicketEvent,
)
from store.uow import Store, UnitOfWork
from store.views import ReportResult

_telegram_ids = itertools.count(7_000_001)

# A fixed, far-future "now" so dates, numbers and windows are deterministic.
T0 = datetime(2031, 3, 4, 9, 0, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """A settable aware-UTC clock for `Store(engine, policy, clock=...)`."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def clocked(store: Store, clock: FakeClock, **policy_changes: Any) -> Store:
    """A Store on the same database with a fake clock and (optionally) a tweaked Policy."""
    return Store(store.engine, replace(store.policy, **policy_changes), clock=clock)


@dataclass(frozen=True)
class World:
    """Ids of everything `build_world` made."""

    north: int
    south: int
    building_a: int
    building_b: int
    building_c: int
    room_a1: int
    room_a2: int
    room_b1: int
    room_c1: int
    categories: dict[str, int]
    requester: int
    neighbour: int
    stranger: int
    tom: int
    ann: int
    bob: int
    olga: int
    dana: int
    sam: int
    ada: int
    ivy: int
    names: dict[int, str] = field(default_factory=dict)

    @property
    def technicians(self) -> tuple[int, ...]:
        return (self.tom, self.ann, self.bob, self.olga)


Grant = tuple[Role, int | None, int | None]  # role, campus_id, building_id


async def _insert_person(
    uow: UnitOfWork,
    name: str,
    grants: Sequence[Grant],
    *,
    on_duty: bool,
    skills: Sequence[str],
    phone: str | None,
) -> int:
    person = Person(
        telegram_id=next(_telegram_ids),
        name=name,
        language="en",
        phone=phone,
        on_duty=on_duty,
        skills=list(skills),
        created_at=uow.now(),
    )
    uow.session.add(person)
    await uow.flush()
    assert person.id is not None
    for role, campus_id, building_id in grants:
        uow.session.add(
            RoleGrant(person_id=person.id, role=role, campus_id=campus_id, building_id=building_id)
        )
    return person.id


async def add_person(
    store: Store,
    name: str,
    grants: Sequence[Grant] = (),
    *,
    on_duty: bool = False,
    skills: Sequence[str] = (),
    phone: str | None = None,
) -> int:
    """A person with a fresh Telegram id and the given role grants; returns the id."""
    async with store.uow() as uow:
        pid = await _insert_person(uow, name, grants, on_duty=on_duty, skills=skills, phone=phone)
        await uow.commit()
        return pid


async def build_world(store: Store) -> World:
    """Places, categories and people for ticket tests (see the module docstring)."""
    await sync_categories(store.uow(), store.policy)
    async with store.uow() as uow:
        north, south = Campus(name="North"), Campus(name="South")
        uow.session.add_all([north, south])
        await uow.flush()
        assert north.id is not None and south.id is not None
        a = Building(campus_id=north.id, name="Building A")
        b = Building(campus_id=north.id, name="Building B")
        c = Building(campus_id=south.id, name="Building C")
        uow.session.add_all([a, b, c])
        await uow.flush()
        assert a.id is not None and b.id is not None and c.id is not None
        rooms = [
            Room(building_id=a.id, floor="1", name="101", code="A-101"),
            Room(building_id=a.id, floor="1", name="102", code="A-102"),
            Room(building_id=b.id, floor="2", name="201", code="B-201"),
            Room(building_id=c.id, floor="3", name="301", code="C-301"),
        ]
        uow.session.add_all(rooms)
        await uow.flush()
        categories = {
            cat.key: cat.id or 0 for cat in (await uow.session.execute(select(Category))).scalars()
        }
        ids = (north.id, south.id, a.id, b.id, c.id)
        room_ids = [r.id or 0 for r in rooms]
        n, ba, bb = north.id, a.id, b.id
        specs: list[tuple[str, str, list[Grant], bool, list[str]]] = [
            ("requester", "Rita", [], False, []),
            ("neighbour", "Ned", [], False, []),
            ("stranger", "Stan", [], False, []),
            ("tom", "Tom", [(Role.TECHNICIAN, n, None)], True, []),
            ("ann", "Ann", [(Role.TECHNICIAN, None, ba)], True, ["water", "electrical"]),
            ("bob", "Bob", [(Role.TECHNICIAN, None, bb)], True, []),
            ("olga", "Olga", [(Role.TECHNICIAN, n, None)], False, []),
            ("dana", "Dana", [(Role.DISPATCHER, n, None)], False, []),
            ("sam", "Sam", [(Role.SUPERVISOR, n, None)], False, []),
            ("ada", "Ada", [(Role.ADMIN, None, None)], False, []),
            ("ivy", "Ivy", [(Role.INSPECTOR, None, ba)], False, []),
        ]
        people: dict[str, int] = {}
        names: dict[int, str] = {}
        for key, name, grants, on_duty, skills in specs:
            phone = "+1 555 0100" if key == "requester" else None
            pid = await _insert_person(
                uow, name, grants, on_duty=on_duty, skills=skills, phone=phone
            )
            people[key] = pid
            names[pid] = name
        await uow.commit()
    return World(
        north=ids[0],
        south=ids[1],
        building_a=ids[2],
        building_b=ids[3],
        building_c=ids[4],
        room_a1=room_ids[0],
        room_a2=room_ids[1],
        room_b1=room_ids[2],
        room_c1=room_ids[3],
        categories=categories,
        names=names,
        **people,
    )


# --- acting -------------------------------------------------------------------------------


def new_ticket(w: World, key: str | None, *, category: str = "water") -> NewTicket:
    """The requester's water report in room A1, filed from the draft with `key`."""
    return NewTicket(
        requester_id=w.requester,
        room_id=w.room_a1,
        category_key=category,
        description="The tap drips.",
        submission_key=key,
    )


async def file_ticket(
    store: Store,
    world: World,
    *,
    requester: int | None = None,
    room: int | None = None,
    category: str = "water",
    description: str = "The tap in the sink keeps dripping.",
    urgency: Urgency = Urgency.NORMAL,
    photos: Sequence[str] = (),
    filed_by: int | None = None,
) -> ReportResult:
    """File a ticket through the real `report` service."""
    return await report(
        store.uow(),
        NewTicket(
            requester_id=requester if requester is not None else world.requester,
            room_id=room if room is not None else world.room_a1,
            category_key=category,
            description=description,
            urgency=urgency,
            photos=photos,
            filed_by_id=filed_by,
        ),
    )


async def set_on_duty(store: Store, person_ids: Sequence[int], on: bool) -> None:
    """Put people on or off duty directly (the duty service is tested elsewhere)."""
    async with store.uow() as uow:
        await uow.session.execute(
            update(Person).where(col(Person.id).in_(list(person_ids))).values(on_duty=on)
        )
        await uow.commit()


async def set_building_supervisor(store: Store, building_id: int, person_id: int | None) -> None:
    async with store.uow() as uow:
        await uow.session.execute(
            update(Building).where(col(Building.id) == building_id).values(supervisor_id=person_id)
        )
        await uow.commit()


# --- reading back -------------------------------------------------------------------------


async def ticket_row(store: Store, ticket_id: int) -> Ticket:
    async with store.uow() as uow:
        ticket = await uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        uow.session.expunge_all()  # leaving the unit rolls back, which would expire it
        return ticket


async def person_row(store: Store, person_id: int) -> Person:
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


async def outbox_rows(
    store: Store,
    *,
    after: int = 0,
    ticket_id: int | None = None,
    kind: str | None = None,
    recipient: int | None = None,
) -> list[Outbox]:
    """Outbox rows with id > `after`, optionally filtered, in insertion order."""
    async with store.uow() as uow:
        stmt = select(Outbox).where(col(Outbox.id) > after)
        if ticket_id is not None:
            stmt = stmt.where(Outbox.ticket_id == ticket_id)
        if kind is not None:
            stmt = stmt.where(Outbox.kind == kind)
        if recipient is not None:
            stmt = stmt.where(Outbox.recipient_id == recipient)
        rows = await uow.session.execute(stmt.order_by(col(Outbox.id)))
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def send_due(store: Store) -> list[Notice]:
    """Every notice the outbox sender would send now, in its order (each chat's next one per
    round), marked sent as the sender marks them."""
    sent: list[Notice] = []
    while batch := await outbox.next_per_chat(store.uow(), limit=100):
        for notice in batch:
            await outbox.mark_sent(store.uow(), notice.id, None)
        sent.extend(batch)
    return sent


async def last_outbox_id(store: Store) -> int:
    async with store.uow() as uow:
        value = (await uow.session.execute(select(func.max(Outbox.id)))).scalar_one()
        return int(value or 0)


def notices(rows: Sequence[Outbox]) -> list[tuple[str, int]]:
    """(kind, recipient) per row, sorted: what got queued for whom."""
    return sorted((r.kind, r.recipient_id) for r in rows)


async def offers_of(store: Store, ticket_id: int) -> dict[int, str | None]:
    """technician id → outcome of their offer on the ticket."""
    async with store.uow() as uow:
        rows = await uow.session.execute(select(Offer).where(Offer.ticket_id == ticket_id))
        return {o.technician_id: o.outcome for o in rows.scalars()}


async def followups_of(store: Store, ticket_id: int) -> list[FollowUp]:
    async with store.uow() as uow:
        rows = await uow.session.execute(
            select(FollowUp).where(FollowUp.ticket_id == ticket_id).order_by(col(FollowUp.id))
        )
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


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


@dataclass
class Env:
    """A clocked store over the test database, the world in it, and the clock."""

    store: Store
    world: World
    clock: FakeClock


async def make_env(store: Store, **policy_changes: Any) -> Env:
    """Build the world on a store whose clock starts at T0 (Policy tweaks optional)."""
    clock = FakeClock()
    st = clocked(store, clock, **policy_changes)
    return Env(st, await build_world(st), clock)


async def warm_pool(store: Store, n: int) -> None:
    """Open `n` pooled connections at once, so a later `gather` of n units really races
    instead of the first one finishing while the others are still connecting."""

    async def hold() -> None:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(0.05)

    await asyncio.gather(*(hold() for _ in range(n)))
