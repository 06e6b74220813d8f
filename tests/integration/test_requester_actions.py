"""The requester's side: reopen ("not fixed"), urge, follow, my tickets, the timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.errors import (
    CooldownActive,
    NotFound,
    NotPermitted,
    ReopenWindowClosed,
    TransitionNotAllowed,
)
from store.intake.report import follow
from store.lifecycle import Capacity, Status
from store.repair import dispatch, queries, requester, sla, work
from store.uow import Store
from tests.support.rows import (
    event_lines,
    events_of,
    last_outbox_id,
    notices,
    offers_of,
    outbox_rows,
    snapshot,
    ticket_row,
)
from tests.support.scheduled import run_check
from tests.support.world import Env, file_ticket, make_env, set_on_duty

S = Status


async def _completed(env: Env, technician: int) -> int:
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, technician)
    await work.start(st.uow(), t, technician)
    await work.complete(st.uow(), t, technician)
    return t


async def test_reopen_within_the_window_is_rework_and_offered_again(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t = (await file_ticket(st, w)).ticket.id
    clock.advance(timedelta(minutes=31))
    assert len(await run_check(st, sla.escalate_overdue_offers_batch)) == 1  # the first round
    await dispatch.accept(st.uow(), t, w.ann)
    await work.start(st.uow(), t, w.ann)
    await work.complete(st.uow(), t, w.ann)
    clock.advance(timedelta(days=3))
    mark = await last_outbox_id(st)

    view = await requester.reopen(st.uow(), t, w.requester, "  Still leaking ")
    assert (view.status, view.rework_count, view.assignee_id) == (S.DISPATCHING, 1, None)
    row = await ticket_row(st, t)
    assert row.completed_at is None
    # fresh targets from the moment of reopening (water: accept 30 min, fix 4 h)
    assert row.accept_due_at == clock.now + timedelta(minutes=30)
    assert row.due_at == clock.now + timedelta(hours=4)
    rows = await outbox_rows(st, after=mark)
    # Both technicians of the first round are offered the job again.
    assert notices(rows) == sorted(
        [
            ("job.reopened", w.ann),
            ("ticket.reopened", w.requester),
            ("offer.new", w.tom),
            ("offer.new", w.ann),
        ]
    )
    assert next(r for r in rows if r.kind == "job.reopened").payload["reason"] == "Still leaking"
    assert {r.payload["rework"] for r in rows if r.kind == "offer.new"} == {1}
    assert await offers_of(st, t) == {w.tom: None, w.ann: None}
    events = await events_of(st, t)
    assert event_lines(events)[-2] == ("reopen", S.COMPLETED, S.DISPATCHING, w.requester)
    assert events[-2].note == "Still leaking"
    # the reopened ticket is watched afresh: unaccepted past its new target, it escalates
    clock.advance(timedelta(minutes=29))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == []
    clock.advance(timedelta(minutes=2))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == [view.number]

    # Second round: Tom takes it; a second "not fixed" counts again.
    await dispatch.accept(st.uow(), t, w.tom)
    await work.start(st.uow(), t, w.tom)
    await work.complete(st.uow(), t, w.tom)
    clock.advance(timedelta(days=7))  # exactly at the end of the window still counts
    view = await requester.reopen(st.uow(), t, w.requester)
    assert (view.status, view.rework_count) == (S.DISPATCHING, 2)


async def test_reopen_after_the_window_is_refused(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t = await _completed(env, w.ann)
    clock.advance(timedelta(days=7, seconds=1))
    before = await snapshot(st)
    with pytest.raises(ReopenWindowClosed) as err:
        await requester.reopen(st.uow(), t, w.requester, "still broken")
    assert err.value.params["days"] == 7
    with pytest.raises(NotFound):
        await requester.reopen(st.uow(), t, w.stranger)
    assert await snapshot(st) == before


async def test_reopen_is_only_for_completed_tickets(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    rated = await _completed(env, w.ann)
    await requester.confirm_and_rate(st.uow(), rated, w.requester, 4)
    open_ = (await file_ticket(st, w)).ticket.id
    before = await snapshot(st)
    for ticket_id in (rated, open_):
        with pytest.raises(TransitionNotAllowed):
            await requester.reopen(st.uow(), ticket_id, w.requester)
    with pytest.raises(NotPermitted):  # the technician cannot reopen for the requester
        await requester.reopen(st.uow(), rated, w.ann)
    assert await snapshot(st) == before


async def test_urge_has_a_cool_down_and_reaches_whoever_holds_the_ticket(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    await set_on_duty(st, [w.tom, w.ann], False)
    t = (await file_ticket(st, w)).ticket.id
    start = clock.now
    mark = await last_outbox_id(st)

    # nobody holds it: the dispatchers hear
    assert await requester.urge(st.uow(), t, w.requester) == start + timedelta(hours=2)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted([("queue.urged", w.dana), ("queue.urged", w.ada)])
    assert {r.payload["urge_count"] for r in rows} == {1}
    row = await ticket_row(st, t)
    assert (row.urge_count, row.last_urged_at) == (1, start)

    # inside the cool-down: refused, with the moment it opens again
    clock.advance(timedelta(hours=1, minutes=59))
    before = await snapshot(st)
    with pytest.raises(CooldownActive) as err:
        await requester.urge(st.uow(), t, w.requester)
    assert err.value.until == start + timedelta(hours=2)
    assert err.value.params["until"] == start + timedelta(hours=2)
    assert await snapshot(st) == before
    assert (await ticket_row(st, t)).urge_count == 1

    # once it is assigned, the technician hears, not the dispatchers
    await dispatch.assign(st.uow(), t, w.dana, w.tom)
    clock.advance(timedelta(minutes=1))
    mark = await last_outbox_id(st)
    assert await requester.urge(st.uow(), t, w.requester) == clock.now + timedelta(hours=2)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("job.urged", w.tom)]
    assert rows[0].payload["urge_count"] == 2
    assert [e.action for e in await events_of(st, t)].count("urge") == 2

    # only the requester urges, and only open tickets
    clock.advance(timedelta(hours=3))
    before = await snapshot(st)
    with pytest.raises(NotFound):
        await requester.urge(st.uow(), t, w.stranger)
    for staff in (w.tom, w.dana):
        with pytest.raises(NotPermitted):
            await requester.urge(st.uow(), t, staff)
    assert await snapshot(st) == before
    await requester.cancel(st.uow(), t, w.requester)
    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):
        await requester.urge(st.uow(), t, w.requester)
    assert await snapshot(st) == before


async def test_my_tickets_pages_newest_first_including_followed_and_proxy(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    numbers: list[str] = []
    for _ in range(4):
        numbers.append((await file_ticket(st, w)).ticket.number)
        clock.advance(timedelta(minutes=1))
    numbers.append((await file_ticket(st, w, filed_by=w.ivy)).ticket.number)  # on my behalf
    clock.advance(timedelta(minutes=1))
    theirs = (await file_ticket(st, w, requester=w.neighbour, room=w.room_a2)).ticket
    await follow(st.uow(), theirs.id, w.requester)
    numbers.append(theirs.number)
    clock.advance(timedelta(minutes=1))
    await file_ticket(st, w, requester=w.stranger)  # not mine
    newest_first = numbers[::-1]

    page = await queries.my_tickets(st.uow(), w.requester, limit=4)
    assert [v.number for v in page.items] == newest_first[:4]
    assert (page.total, page.capped, page.has_older, page.has_newer) == (6, False, True, False)
    older = await queries.my_tickets(st.uow(), w.requester, before=page.items[-1].id, limit=4)
    assert [v.number for v in older.items] == newest_first[4:]
    assert (older.has_older, older.has_newer) == (False, True)
    back = await queries.my_tickets(st.uow(), w.requester, after=older.items[0].id, limit=4)
    assert [v.number for v in back.items] == newest_first[:4]
    assert (back.has_older, back.has_newer) == (True, False)
    # past the oldest (an old or forged cursor): the oldest page, never an empty one
    oldest = await queries.my_tickets(st.uow(), w.requester, before=1, limit=4)
    assert [v.number for v in oldest.items] == newest_first[2:]
    # the inspector sees what she filed; the neighbour only their own
    assert [v.number for v in (await queries.my_tickets(st.uow(), w.ivy)).items] == [numbers[4]]
    assert [v.number for v in (await queries.my_tickets(st.uow(), w.neighbour)).items] == [
        theirs.number
    ]


async def test_follow_is_idempotent_and_only_for_live_tickets(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await follow(st.uow(), t, w.neighbour)
    await follow(st.uow(), t, w.neighbour)
    await follow(st.uow(), t, w.requester)  # one's own ticket: nothing to do
    assert [(e.action, e.actor_id) for e in await events_of(st, t)][-1:] == [
        ("follow", w.neighbour)
    ]
    assert [e.action for e in await events_of(st, t)].count("follow") == 1
    mark = await last_outbox_id(st)
    await dispatch.accept(st.uow(), t, w.tom)
    rows = await outbox_rows(st, after=mark, kind="ticket.assigned")
    assert sorted(r.recipient_id for r in rows) == sorted([w.requester, w.neighbour])

    await requester.cancel(st.uow(), t, w.dana, "duplicate phone call")
    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):
        await follow(st.uow(), t, w.stranger)
    assert await snapshot(st) == before


async def test_timeline_and_detail_only_for_people_related_to_the_ticket(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, w.ann)
    await follow(st.uow(), t, w.neighbour)

    for viewer in (w.requester, w.neighbour, w.ann, w.tom, w.dana, w.ada, w.sam):
        timeline = await queries.timeline(st.uow(), t, viewer)
        assert [e.action for e in timeline][:4] == ["file", "dispatch", "offer", "accept"]
    # Bob's scope is Building B; Ivy only files in A; Stan has nothing to do with it.
    for outsider in (w.stranger, w.bob, w.ivy):
        with pytest.raises(NotFound):
            await queries.timeline(st.uow(), t, outsider)
        with pytest.raises(NotFound):
            await queries.ticket_detail(st.uow(), t, outsider)
    with pytest.raises(NotFound):
        await queries.timeline(st.uow(), t + 1000, w.requester)

    view, caps = await queries.ticket_detail(st.uow(), t, w.ann)
    assert view.assignee_name == "Ann"
    assert Capacity.ASSIGNEE in caps
    _, caps = await queries.ticket_detail(st.uow(), t, w.requester)
    assert caps == frozenset({Capacity.REQUESTER})


async def test_my_tickets_counts_up_to_twenty_and_pages_the_rest_by_keyset(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    filed = []
    for _ in range(23):
        filed.append((await file_ticket(st, w)).ticket.number)
        clock.advance(timedelta(minutes=1))
    newest_first = filed[::-1]
    page = await queries.my_tickets(st.uow(), w.requester, limit=5)
    assert (page.total, page.capped) == (20, True)  # shown as "20+"
    seen: list[str] = []
    while True:
        seen += [v.number for v in page.items]
        if not page.has_older:
            break
        page = await queries.my_tickets(st.uow(), w.requester, before=page.items[-1].id)
    assert seen == newest_first  # every ticket once, newest first, over five pages
