"""Who may file a ticket, as the ticket aggregate decides it (store.domain.tickets): anyone
for themself; for someone else, a person whose filing role covers the building. A refused
filing writes nothing, not even a ticket number."""

from __future__ import annotations

import pytest
from sqlmodel import select

from store.domain.lookups import get_place
from store.domain.tickets import check_may_file
from store.errors import NotPermitted
from store.intake import booth
from store.lifecycle import Capacity, Status, allowed_actions
from store.models import Counter, Person
from store.repair import queries
from store.uow import Store
from tests.support.rows import event_lines, events_of, outbox_rows, snapshot, ticket_row
from tests.support.world import file_ticket, make_env, report_with_key


async def _counters(store: Store) -> list[tuple[str, int]]:
    async with store.uow() as uow:
        rows = await uow.session.execute(select(Counter.name, Counter.last))
        return sorted((name, last) for name, last in rows.all())


async def test_filing_for_someone_else_without_a_filing_role_writes_nothing(
    store: Store,
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    before, numbers = await snapshot(st), await _counters(st)
    for outsider in (w.stranger, w.tom):  # no role at all; a technician of the building
        with pytest.raises(NotPermitted):
            await file_ticket(st, w, filed_by=outsider)
    assert await snapshot(st) == before
    assert await _counters(st) == numbers
    # No number was used up by the refusals: the year's first ticket is still number 1.
    first = await file_ticket(st, w)
    assert first.ticket.number.endswith("-000001")


async def test_a_filer_outside_the_building_is_refused(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    before = await snapshot(st)
    for filer, room in (
        (w.ivy, w.room_b1),  # inspector of Building A only
        (w.dana, w.room_c1),  # dispatcher of North; Building C is in South
        (w.sam, w.room_c1),  # supervisor of North
    ):
        with pytest.raises(NotPermitted):
            await file_ticket(st, w, filed_by=filer, room=room)
    assert await snapshot(st) == before

    for filer, room in ((w.ivy, w.room_a1), (w.dana, w.room_b1), (w.ada, w.room_c1)):
        t = (await file_ticket(st, w, filed_by=filer, room=room)).ticket
        assert (t.requester_id, t.filed_by_id, t.status) == (
            w.requester,
            filer,
            Status.DISPATCHING,
        )
        assert event_lines(await events_of(st, t.id))[0] == ("file", None, Status.RECEIVED, filer)


async def test_anyone_files_for_themself(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    for person in (w.requester, w.stranger, w.tom):
        t = (await file_ticket(st, w, requester=person, filed_by=person)).ticket
        assert (t.requester_id, t.filed_by_id) == (person, person)
        assert event_lines(await events_of(st, t.id))[0] == ("file", None, Status.RECEIVED, person)


async def test_a_supervisor_files_for_someone_else_as_at_the_booth(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w, filed_by=w.sam)).ticket
    assert (t.requester_id, t.filed_by_id) == (w.requester, w.sam)
    rows = await outbox_rows(st, ticket_id=t.id, kind="ticket.received")
    assert [r.recipient_id for r in rows] == [w.requester]

    walkup = await booth.file_walkup(
        st.uow(), staff_id=w.sam, name="Wang Wei", phone=None, new=report_with_key(w, None)
    )
    row = await ticket_row(st, walkup.report.ticket.id)
    assert row.filed_by_id == w.sam and row.requester_id != w.sam

    # Being a filer shows the supervisor nothing new: wherever it reaches, he stands in
    # his supervisor capacity already, and the filer capacity adds no move in any status.
    _view, caps = await queries.ticket_detail(st.uow(), t.id, w.sam)
    assert {Capacity.SUPERVISOR, Capacity.FILER} <= caps
    for status in Status:
        assert allowed_actions(status, caps) == allowed_actions(status, caps - {Capacity.FILER})


async def test_the_filing_check_is_asked_before_anything_is_made(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    async with st.uow() as uow:
        building = (await get_place(uow, w.room_a1)).building
        await check_may_file(uow, w.ivy, building, for_someone_else=True)
        await check_may_file(uow, w.tom, building, for_someone_else=False)
        with pytest.raises(NotPermitted):
            await check_may_file(uow, w.tom, building, for_someone_else=True)
    before = await snapshot(st)
    with pytest.raises(NotPermitted):  # no walk-up person is made for a refused filing
        await booth.file_walkup(
            st.uow(), staff_id=w.tom, name="Zhao Lei", phone=None, new=report_with_key(w, None)
        )
    assert await snapshot(st) == before
    async with st.uow() as uow:
        made = await uow.session.execute(select(Person.id).where(Person.name == "Zhao Lei"))
        assert made.all() == []
