"""Booth intake against a real database (SQLite and PostgreSQL): staff file for a walk-up
person, whose notices go to the staff member until the person claims the ticket with its
single-use code; from then on the claimer hears about it and can rate it."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from store.directory.profiles import person_by_telegram_id
from store.errors import InvalidInput, InviteInvalid, NotFound, NotPermitted
from store.intake import booth
from store.lifecycle import Status
from store.models import ClaimCode, Person, Ticket, TicketEvent
from store.repair import dispatch, requester
from store.uow import Store
from tests.support.booth_world import BoothWorld, claim, make_booth_world, walkup
from tests.support.rows import last_outbox_id, outbox_rows, ticket_row
from tests.support.world import next_telegram_id, put_in_state


async def notices(w: BoothWorld, ticket_id: int, after: int = 0) -> list[tuple[str, int]]:
    """(kind, recipient) of the ticket's outbox rows with an id above `after`, in order."""
    return [
        (r.kind, r.recipient_id)
        for r in await outbox_rows(w.store, ticket_id=ticket_id, after=after)
    ]


async def to_completed(w: BoothWorld, ticket_id: int) -> None:
    """Assigned to Tom by Dora, started and completed."""
    await put_in_state(w.store, ticket_id, "completed", technician_id=w.tom, dispatcher_id=w.dora)


# --- filing --------------------------------------------------------------------------------


async def test_a_walkup_ticket_notifies_the_staff_until_claimed(store: Store) -> None:
    w = await make_booth_world(store)
    result = await walkup(w)
    assert len(result.code) == booth.CODE_LENGTH
    assert result.payload == "c_" + result.code
    t = await ticket_row(w.store, result.report.ticket.id)
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

    mark = await last_outbox_id(w.store)
    await dispatch.assign(store.uow(), t.id or 0, w.dora, w.tom)
    assert await notices(w, t.id or 0, mark) == [
        ("job.assigned", w.tom),
        ("ticket.assigned", w.bea),
    ]


async def test_only_staff_of_the_building_file_walkups_with_a_name(store: Store) -> None:
    w = await make_booth_world(store)
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
    assert (await ticket_row(w.store, result.report.ticket.id)).contact_phone is None


# --- claiming ------------------------------------------------------------------------------


async def test_claiming_links_the_ticket_and_moves_its_notices(store: Store) -> None:
    w = await make_booth_world(store)
    result = await walkup(w)
    tid = result.report.ticket.id
    walkup_id = (await ticket_row(w.store, tid)).requester_id
    telegram_id = next_telegram_id()

    number = await claim(w, result.code.lower(), telegram_id)  # typed in lower case: fine
    assert number == result.report.ticket.number
    claimer = await person_by_telegram_id(store.uow(), telegram_id)
    assert claimer is not None
    assert claimer.phone == "+86 138 0000 1111"  # taken over from the walk-up record
    t = await ticket_row(w.store, tid)
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
    mark = await last_outbox_id(w.store)
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
    w = await make_booth_world(store)
    result = await walkup(w)
    first = next_telegram_id()
    await claim(w, result.code, first)
    for someone in (next_telegram_id(), first):  # another user, or the claimer again
        with pytest.raises(InviteInvalid) as refused:
            await claim(w, result.code, someone, name="Mallory")
        assert refused.value.reason == "used"
    claimer = await person_by_telegram_id(store.uow(), first)
    assert claimer is not None
    assert (await ticket_row(w.store, result.report.ticket.id)).requester_id == claimer.id


async def test_two_users_opening_the_link_at_once_one_wins(store: Store) -> None:
    w = await make_booth_world(store)
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
    assert (await ticket_row(w.store, result.report.ticket.id)).requester_id == winner.id


async def test_tampered_or_unknown_codes_are_refused(store: Store) -> None:
    w = await make_booth_world(store)
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
    t = await ticket_row(w.store, result.report.ticket.id)
    async with store.uow() as uow:
        walkup_row = await uow.session.get(Person, t.requester_id)
        assert walkup_row is not None and walkup_row.telegram_id is None  # still unclaimed


async def test_a_code_claims_only_its_own_ticket(store: Store) -> None:
    w = await make_booth_world(store)
    one = await walkup(w, name="Wang Wei")
    two = await walkup(w, name="Li Na", phone=None)
    before_one = (await ticket_row(w.store, one.report.ticket.id)).requester_id
    telegram_id = next_telegram_id()
    assert await claim(w, two.code, telegram_id, name="Li Na") == two.report.ticket.number
    claimer = await person_by_telegram_id(store.uow(), telegram_id)
    assert claimer is not None
    assert (await ticket_row(w.store, two.report.ticket.id)).requester_id == claimer.id
    assert (await ticket_row(w.store, one.report.ticket.id)).requester_id == before_one
    # The other ticket's code still works, for someone else.
    other = next_telegram_id()
    assert await claim(w, one.code, other) == one.report.ticket.number


async def test_a_ticket_never_claimed_keeps_notifying_the_staff(store: Store) -> None:
    w = await make_booth_world(store)
    result = await walkup(w)
    tid = result.report.ticket.id
    mark = await last_outbox_id(w.store)
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
    assert (await ticket_row(w.store, tid)).status == Status.COMPLETED
