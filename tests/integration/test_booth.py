"""Booth intake against a real database (SQLite and PostgreSQL): staff file for a walk-up
person, whose notices go to the staff member until the person claims the ticket with its
single-use code; from then on the claimer hears about it and can rate it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from store.directory.profiles import person_by_telegram_id
from store.domain.filing import NewTicket
from store.errors import InvalidInput, InviteInvalid, NotFound, NotPermitted
from store.intake import booth
from store.lifecycle import Role, Status
from store.models import ClaimCode, Outbox, Person, RoleGrant, Ticket, TicketEvent
from store.repair import dispatch, requester, work
from store.uow import Store
from tests.factories import Clock, Places, make_categories, make_places, next_telegram_id

E1, E2 = "E1公寓", "E2公寓"


@dataclass(frozen=True)
class World:
    store: Store
    places: Places
    bea: int  # booth staff (inspector) of E1
    dora: int  # dispatcher of E1
    tom: int  # technician of E1, off duty: tickets wait in the queue
    eve: int  # inspector of E2 only
    pat: int  # a plain requester

    def new(self, code: str = "E1-101", **kw: Any) -> NewTicket:
        kw.setdefault("category_key", "water")
        kw.setdefault("description", "The shower drain is blocked.")
        return NewTicket(requester_id=self.bea, room_id=self.places.room(code).room_id, **kw)


async def make_world(store: Store) -> World:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    store.clock = clock
    places = await make_places(store)
    await make_categories(store)
    e1, e2 = places.building(E1).id, places.building(E2).id
    ids: dict[str, int] = {}
    async with store.uow() as uow:
        for name, role, building in (
            ("Bea", Role.INSPECTOR, e1),
            ("Dora", Role.DISPATCHER, e1),
            ("Tom", Role.TECHNICIAN, e1),
            ("Eve", Role.INSPECTOR, e2),
            ("Pat", None, None),
        ):
            row = Person(
                name=name, telegram_id=next_telegram_id(), language="en", created_at=clock()
            )
            uow.session.add(row)
            await uow.flush()
            assert row.id is not None
            ids[name] = row.id
            if role is not None:
                uow.session.add(RoleGrant(person_id=row.id, role=role, building_id=building))
        await uow.commit()
    return World(store, places, *(ids[n] for n in ("Bea", "Dora", "Tom", "Eve", "Pat")))


async def walkup(
    w: World, name: str = "Wang Wei", phone: str | None = "+86 138 0000 1111"
) -> booth.BoothResult:
    return await booth.file_walkup(
        w.store.uow(), staff_id=w.bea, name=name, phone=phone, new=w.new()
    )


async def claim(w: World, code: str, telegram_id: int, name: str = "Wang Wei") -> str:
    return await booth.claim(
        w.store.uow(), code, telegram_id=telegram_id, name=name, language="en"
    )


async def ticket(w: World, ticket_id: int) -> Ticket:
    async with w.store.uow() as uow:
        row = await uow.session.get(Ticket, ticket_id)
        assert row is not None
        uow.session.expunge(row)
        return row


async def notices(w: World, ticket_id: int, after: int = 0) -> list[tuple[str, int]]:
    """(kind, recipient) of the ticket's outbox rows with an id above `after`."""
    async with w.store.uow() as uow:
        rows = await uow.session.execute(
            select(Outbox.kind, Outbox.recipient_id)
            .where(Outbox.ticket_id == ticket_id, col(Outbox.id) > after)
            .order_by(col(Outbox.id))
        )
        return [(kind, rid) for kind, rid in rows.all()]


async def last_outbox_id(w: World) -> int:
    async with w.store.uow() as uow:
        ids = (await uow.session.execute(select(Outbox.id))).scalars().all()
        return max((i for i in ids if i is not None), default=0)


async def to_completed(w: World, ticket_id: int) -> None:
    await dispatch.assign(w.store.uow(), ticket_id, w.dora, w.tom)
    await work.start(w.store.uow(), ticket_id, w.tom)
    await work.complete(w.store.uow(), ticket_id, w.tom)


# --- filing --------------------------------------------------------------------------------


async def test_a_walkup_ticket_notifies_the_staff_until_claimed(store: Store) -> None:
    w = await make_world(store)
    result = await walkup(w)
    assert len(result.code) == booth.CODE_LENGTH
    assert result.payload == "c_" + result.code
    t = await ticket(w, result.report.ticket.id)
    assert (t.filed_by_id, t.contact_phone, t.status) == (
        w.bea,
        "+86 138 0000 1111",
        Status.DISPATCHING,
    )
    async with store.uow() as uow:
        person = await uow.session.get(Person, t.requester_id)
        assert person is not None
        assert (person.name, person.phone, person.telegram_id) == (
            "Wang Wei",
            "+86 138 0000 1111",
            None,
        )
        code_row = (
            await uow.session.execute(select(ClaimCode).where(ClaimCode.ticket_id == t.id))
        ).scalar_one()
        assert code_row.code_hash != result.code and result.code not in code_row.code_hash
        assert code_row.used_at is None
    # Nobody is on duty: the ticket waits in the queue, and the booth staff hears so.
    filed = await notices(w, t.id or 0)
    assert ("ticket.received", w.bea) in filed and ("ticket.queued", w.bea) in filed
    assert all(rid != t.requester_id for _, rid in filed)

    mark = await last_outbox_id(w)
    await dispatch.assign(store.uow(), t.id or 0, w.dora, w.tom)
    assert await notices(w, t.id or 0, mark) == [
        ("job.assigned", w.tom),
        ("ticket.assigned", w.bea),
    ]


async def test_only_staff_of_the_building_file_walkups_with_a_name(store: Store) -> None:
    w = await make_world(store)
    for outsider in (w.pat, w.tom, w.eve):  # requester, technician, inspector of E2
        with pytest.raises(NotPermitted):
            await booth.file_walkup(
                store.uow(), staff_id=outsider, name="Wang Wei", phone=None, new=w.new()
            )
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InvalidInput):
            await walkup(w, name=bad)
    async with store.uow() as uow:  # nothing half-made by the refusals
        assert (await uow.session.execute(select(Ticket.id))).all() == []
        walkups = await uow.session.execute(select(Person.id).where(Person.name == "Wang Wei"))
        assert walkups.all() == []
    # A report the ticket rules refuse (description too long, category retired) leaves
    # no walk-up person behind either: person, ticket and claim code are one transaction.
    for refused in (w.new(description="x" * 5000), w.new(category_key="no_such")):
        with pytest.raises((InvalidInput, NotFound)):
            await booth.file_walkup(
                store.uow(), staff_id=w.bea, name="Zhao Lei", phone=None, new=refused
            )
    async with store.uow() as uow:
        assert (
            await uow.session.execute(select(Person.id).where(Person.name == "Zhao Lei"))
        ).all() == []
        assert (await uow.session.execute(select(ClaimCode.ticket_id))).all() == []
    # The dispatcher (booth staff too) files one without a phone.
    result = await booth.file_walkup(
        store.uow(), staff_id=w.dora, name="Li Na", phone="  ", new=w.new()
    )
    assert (await ticket(w, result.report.ticket.id)).contact_phone is None


# --- claiming ------------------------------------------------------------------------------


async def test_claiming_links_the_ticket_and_moves_its_notices(store: Store) -> None:
    w = await make_world(store)
    result = await walkup(w)
    tid = result.report.ticket.id
    walkup_id = (await ticket(w, tid)).requester_id
    telegram_id = next_telegram_id()

    number = await claim(w, result.code.lower(), telegram_id)  # typed in lower case: fine
    assert number == result.report.ticket.number
    claimer = await person_by_telegram_id(store.uow(), telegram_id)
    assert claimer is not None
    assert claimer.phone == "+86 138 0000 1111"  # taken over from the walk-up record
    t = await ticket(w, tid)
    assert t.requester_id == claimer.id != walkup_id
    assert t.filed_by_id == w.bea
    async with store.uow() as uow:
        code_row = (
            await uow.session.execute(select(ClaimCode).where(ClaimCode.ticket_id == tid))
        ).scalar_one()
        assert (code_row.used_at, code_row.used_by_id) == (store.clock(), claimer.id)
        actions = await uow.session.execute(
            select(TicketEvent.action, TicketEvent.actor_id).where(TicketEvent.ticket_id == tid)
        )
        assert ("claim", claimer.id) in actions.all()

    # From now on the claimer hears about it, the staff member no longer does.
    mark = await last_outbox_id(w)
    await to_completed(w, tid)
    heard = await notices(w, tid, mark)
    requester_side = [(k, r) for k, r in heard if k.startswith("ticket.")]
    assert requester_side == [
        ("ticket.assigned", claimer.id),
        ("ticket.in_progress", claimer.id),
        ("ticket.completed", claimer.id),
    ]
    assert all(r != w.bea for _, r in heard)
    # ... and can rate it; the staff member who filed it cannot.
    with pytest.raises(NotPermitted):
        await requester.confirm_and_rate(store.uow(), tid, w.bea, 5)
    rated = await requester.confirm_and_rate(store.uow(), tid, claimer.id, 5)
    assert rated.ticket.status == Status.CLOSED


async def test_a_claim_code_works_once(store: Store) -> None:
    w = await make_world(store)
    result = await walkup(w)
    first = next_telegram_id()
    await claim(w, result.code, first)
    for someone in (next_telegram_id(), first):  # another user, or the claimer again
        with pytest.raises(InviteInvalid) as refused:
            await claim(w, result.code, someone, name="Mallory")
        assert refused.value.reason == "used"
    claimer = await person_by_telegram_id(store.uow(), first)
    assert claimer is not None
    assert (await ticket(w, result.report.ticket.id)).requester_id == claimer.id


async def test_two_users_opening_the_link_at_once_one_wins(store: Store) -> None:
    w = await make_world(store)
    result = await walkup(w)
    a, b = next_telegram_id(), next_telegram_id()
    outcomes = await asyncio.gather(
        claim(w, result.code, a), claim(w, result.code, b), return_exceptions=True
    )
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, InviteInvalid)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0].reason == "used"
    winner_tg = a if isinstance(outcomes[0], str) else b
    winner = await person_by_telegram_id(store.uow(), winner_tg)
    assert winner is not None
    assert (await ticket(w, result.report.ticket.id)).requester_id == winner.id


async def test_tampered_or_unknown_codes_are_refused(store: Store) -> None:
    w = await make_world(store)
    result = await walkup(w)
    cases = {
        "": "tampered",
        "ABC": "tampered",
        result.code + "A": "tampered",
        "O" + result.code[1:]: "tampered",  # O and 0 are not in the alphabet
        "0" + result.code[1:]: "tampered",
        "ABCDEFGHJK" if result.code != "ABCDEFGHJK" else "ABCDEFGHJM": "unknown",
        result.code[::-1] if result.code[::-1] != result.code else "ZZZZZZZZZZ": "unknown",
    }
    for code, reason in cases.items():
        with pytest.raises(InviteInvalid) as refused:
            await claim(w, code, next_telegram_id())
        assert refused.value.reason == reason, code
    t = await ticket(w, result.report.ticket.id)
    async with store.uow() as uow:
        walkup_row = await uow.session.get(Person, t.requester_id)
        assert walkup_row is not None and walkup_row.telegram_id is None  # still unclaimed


async def test_a_code_claims_only_its_own_ticket(store: Store) -> None:
    w = await make_world(store)
    one = await walkup(w, name="Wang Wei")
    two = await walkup(w, name="Li Na", phone=None)
    before_one = (await ticket(w, one.report.ticket.id)).requester_id
    telegram_id = next_telegram_id()
    assert await claim(w, two.code, telegram_id, name="Li Na") == two.report.ticket.number
    claimer = await person_by_telegram_id(store.uow(), telegram_id)
    assert claimer is not None
    assert (await ticket(w, two.report.ticket.id)).requester_id == claimer.id
    assert (await ticket(w, one.report.ticket.id)).requester_id == before_one
    # The other ticket's code still works, for someone else.
    other = next_telegram_id()
    assert await claim(w, one.code, other) == one.report.ticket.number


async def test_a_ticket_never_claimed_keeps_notifying_the_staff(store: Store) -> None:
    w = await make_world(store)
    result = await walkup(w)
    tid = result.report.ticket.id
    mark = await last_outbox_id(w)
    await to_completed(w, tid)
    requester_side = [(k, r) for k, r in await notices(w, tid, mark) if k.startswith("ticket.")]
    assert requester_side == [
        ("ticket.assigned", w.bea),
        ("ticket.in_progress", w.bea),
        ("ticket.completed", w.bea),
    ]
    # Rating stays with the requester, who is not on Telegram: the staff cannot rate it.
    with pytest.raises(NotPermitted):
        await requester.confirm_and_rate(store.uow(), tid, w.bea, 4)
    assert (await ticket(w, tid)).status == Status.COMPLETED
