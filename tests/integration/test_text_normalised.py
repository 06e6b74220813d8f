"""Typed text enters the store in one normal form on SQLite and PostgreSQL alike: NUL and
other control characters (but newline and tab) removed, NFC. PostgreSQL refuses NUL
outright, so before this each field below raised there while SQLite stored it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from store.directory import places
from store.domain.people import upsert_person
from store.models import FollowUp, Person, Ticket, TicketEvent
from store.repair import dispatch, requester, work
from store.text import normalise
from store.uow import Store
from tests.support.rows import ticket_row
from tests.support.world import file_ticket, make_env

NUL = "\x00"
# "é" typed as e + combining acute (NFD) must be stored as the one character (NFC).
TYPED = f"Tap{NUL} drips\x1b[31m\x7f in Cafe\u0301\tline\nnext\x00"
STORED = "Tap drips[31m in Café\tline\nnext"


def test_normalise_keeps_newline_and_tab_and_composes() -> None:
    assert normalise(TYPED) == STORED
    assert normalise(f"  {NUL}\x01 ") is None
    assert normalise("x" * 5000) == "x" * 4096
    assert normalise("\ud800lone surrogate") == "lone surrogate"


async def test_every_typed_field_with_nul_is_stored_clean(store: Store) -> None:
    env = await make_env(store)
    w, st = env.world, env.store
    # Description, then a requester's cancel reason.
    filed = await file_ticket(st, w, description=TYPED)
    first = filed.ticket.id
    assert (await ticket_row(st, first)).description == STORED
    await requester.cancel(st.uow(), first, w.requester, reason=TYPED)
    # A dispatcher assigns, the technician defers with a reason, then completes.
    second = (await file_ticket(st, w)).ticket.id
    await dispatch.assign(st.uow(), second, w.dana, w.ann)
    await work.start(st.uow(), second, w.ann)
    await work.defer(st.uow(), second, w.ann, env.clock() + timedelta(days=3), TYPED)
    assert (await ticket_row(st, second)).defer_reason == STORED
    await work.resume(st.uow(), second, w.ann)
    await work.complete(st.uow(), second, w.ann)
    # The requester rates with a comment and complains.
    await requester.confirm_and_rate(st.uow(), second, w.requester, 1, TYPED)
    await requester.complain(st.uow(), second, w.requester, TYPED)
    assert (await ticket_row(st, second)).rating_comment == STORED
    async with st.uow() as uow:
        notes = (
            await uow.session.execute(
                select(TicketEvent.note).where(col(TicketEvent.ticket_id).in_([first, second]))
            )
        ).scalars()
        assert not any(NUL in (n or "") for n in notes)
        texts = (await uow.session.execute(select(FollowUp.text))).scalars().all()
        assert STORED in texts and not any(NUL in (t or "") for t in texts)
    # A person's name as Telegram gives it.
    async with st.uow() as uow:
        person = await upsert_person(uow, 987654321, f"Mal{NUL}lory\u0007", "en")
        await uow.commit()
    async with st.uow() as uow:
        row = (
            await uow.session.execute(select(Person).where(Person.telegram_id == 987654321))
        ).scalar_one()
        assert row.name == "Mallory" and person.id == row.id
        assert (await uow.session.get(Ticket, first)) is not None


async def test_typed_room_codes_and_names_with_nul_are_looked_up_not_crashed(
    store: Store,
) -> None:
    env = await make_env(store)
    st = env.store
    found = await places.room_by_code(st.uow(), f"A-1{NUL}01")
    assert found is not None and found.code == "A-101"
    assert await places.room_by_code(st.uow(), f"{NUL}{NUL}") is None
    building = await places.building_by_name(st.uow(), f"Building{NUL} A")
    assert building.name == "Building A"
