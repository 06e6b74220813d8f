"""Getting jobs to technicians: assign, reassign, release, decline, cancel, duplicates,
overdue escalation, auto-close, and the dispatcher's and technician's lists."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.domain.filing import Urgency
from store.errors import (
    AlreadyTaken,
    InvalidInput,
    NotFound,
    NotPermitted,
    ReasonRequired,
    TransitionNotAllowed,
)
from store.intake.report import follow
from store.lifecycle import Role, Status
from store.repair import dispatch, queries, requester, sla, work
from store.repair.queries import QueueFilter
from store.uow import Store
from tests.support.rows import (
    event_lines,
    events_of,
    followups_of,
    last_outbox_id,
    notices,
    offers_of,
    outbox_rows,
    snapshot,
    ticket_row,
)
from tests.support.scheduled import run_check
from tests.support.world import file_ticket, make_env, make_person, set_on_duty

S = Status


async def test_dispatcher_assigns_a_queued_ticket(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    t = (await file_ticket(st, w, photos=["p1"])).ticket
    mark = await last_outbox_id(st)

    view = await dispatch.assign(st.uow(), t.id, w.dana, w.tom)
    assert (view.status, view.assignee_id, view.assignee_name) == (S.ASSIGNED, w.tom, "Tom")
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("job.assigned", w.tom), ("ticket.assigned", w.requester)]
    job = rows[0].payload if rows[0].kind == "job.assigned" else rows[1].payload
    assert (job["number"], job["description"], job["photos"]) == (
        t.number,
        "The tap in the sink keeps dripping.",
        ["p1"],
    )
    assert event_lines(await events_of(st, t.id))[-1] == (
        "assign",
        S.DISPATCHING,
        S.ASSIGNED,
        w.dana,
    )
    assert (await events_of(st, t.id))[-1].note == "Tom"


async def test_assign_closes_pending_offers_and_stale_accepts_name_the_assignee(
    store: Store,
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket  # offered to Tom and Ann
    mark = await last_outbox_id(st)
    await dispatch.assign(st.uow(), t.id, w.dana, w.ann)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted(
        [("offer.taken", w.tom), ("job.assigned", w.ann), ("ticket.assigned", w.requester)]
    )
    taken = next(r for r in rows if r.kind == "offer.taken")
    assert taken.payload["taken_by"] == "Ann"
    assert await offers_of(st, t.id) == {w.tom: "taken", w.ann: "accepted"}

    before = await snapshot(st)
    with pytest.raises(AlreadyTaken) as err:
        await dispatch.accept(st.uow(), t.id, w.tom)
    assert (err.value.taken_by, err.value.params["taken_by"]) == ("Ann", "Ann")
    assert await snapshot(st) == before


async def test_reassign_moves_the_job_and_tells_the_old_technician(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), t.id, w.ann)
    mark = await last_outbox_id(st)

    view = await dispatch.assign(st.uow(), t.id, w.dana, w.tom)
    assert (view.status, view.assignee_id) == (S.ASSIGNED, w.tom)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted(
        [("job.unassigned", w.ann), ("job.assigned", w.tom), ("ticket.assigned", w.requester)]
    )
    assert next(r for r in rows if r.kind == "ticket.assigned").payload["technician"] == "Tom"
    assert event_lines(await events_of(st, t.id))[-1] == (
        "reassign",
        S.ASSIGNED,
        S.ASSIGNED,
        w.dana,
    )

    before = await snapshot(st)
    with pytest.raises(InvalidInput):  # the same technician again
        await dispatch.assign(st.uow(), t.id, w.dana, w.tom)
    with pytest.raises(InvalidInput):  # Bob does not cover Building A
        await dispatch.assign(st.uow(), t.id, w.dana, w.bob)
    with pytest.raises(InvalidInput):  # Dana is no technician
        await dispatch.assign(st.uow(), t.id, w.dana, w.dana)
    assert await snapshot(st) == before

    # Once work started, the table allows no reassignment.
    await work.start(st.uow(), t.id, w.tom)
    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):
        await dispatch.assign(st.uow(), t.id, w.dana, w.ann)
    assert await snapshot(st) == before


async def test_accept_needs_the_skill_for_the_category(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w, category="furniture")).ticket
    assert w.ann not in await offers_of(st, t.id)  # her skills: water, electrical
    before = await snapshot(st)
    with pytest.raises(NotFound):  # a forged Accept: no skill, no relation to the job
        await dispatch.accept(st.uow(), t.id, w.ann)
    assert await snapshot(st) == before
    view = await dispatch.accept(st.uow(), t.id, w.tom)  # no skills listed: every category
    assert view.assignee_id == w.tom


async def test_dispatcher_outside_scope_may_not_assign(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    south = (
        await make_person(st, Role.TECHNICIAN, name="Sid", campus_id=w.south, on_duty=True)
    ).id
    t = (await file_ticket(st, w, room=w.room_c1)).ticket  # South: Dana covers North only
    assert (await ticket_row(st, t.id)).status == S.DISPATCHING
    before = await snapshot(st)
    with pytest.raises(NotPermitted):
        await dispatch.assign(st.uow(), t.id, w.dana, south)
    assert await snapshot(st) == before
    view = await dispatch.assign(st.uow(), t.id, w.ada, south)  # an admin covers everything
    assert view.assignee_id == south


async def test_release_by_assignee_reoffers_to_others(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket  # offered to Tom and Ann
    await dispatch.accept(st.uow(), t.id, w.ann)

    before = await snapshot(st)
    with pytest.raises(ReasonRequired):
        await dispatch.release(st.uow(), t.id, w.ann, "  ")
    assert await snapshot(st) == before

    mark = await last_outbox_id(st)
    view = await dispatch.release(st.uow(), t.id, w.ann, "Needs a ladder")
    assert (view.status, view.assignee_id) == (S.DISPATCHING, None)
    rows = await outbox_rows(st, after=mark)
    # Ann released it herself: no job.unassigned for her, and no new offer either.
    assert notices(rows) == sorted([("ticket.released", w.requester), ("offer.new", w.tom)])
    assert next(r for r in rows if r.kind == "ticket.released").payload["reason"] == (
        "Needs a ladder"
    )
    events = await events_of(st, t.id)
    assert event_lines(events)[-2] == ("release", S.ASSIGNED, S.DISPATCHING, w.ann)
    assert events[-2].note == "Needs a ladder"
    assert (events[-1].action, events[-1].note) == ("offer", "Tom")

    # Tom's new offer works; Ann's old one is gone.
    assert (await dispatch.accept(st.uow(), t.id, w.tom)).assignee_id == w.tom


async def test_release_by_dispatcher_tells_the_technician(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), t.id, w.tom)
    before = await snapshot(st)
    with pytest.raises(ReasonRequired):
        await dispatch.release(st.uow(), t.id, w.dana, None)
    assert await snapshot(st) == before

    mark = await last_outbox_id(st)
    await dispatch.release(st.uow(), t.id, w.dana, "Tom is ill")
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted(
        [("job.unassigned", w.tom), ("ticket.released", w.requester), ("offer.new", w.ann)]
    )
    assert next(r for r in rows if r.kind == "job.unassigned").payload["reason"] == "Tom is ill"
    assert event_lines(await events_of(st, t.id))[-2] == (
        "release",
        S.ASSIGNED,
        S.DISPATCHING,
        w.dana,
    )


async def test_declines_move_to_the_next_batch_then_escalate(store: Store) -> None:
    env = await make_env(store, offer_batch=2)
    st, w = env.store, env.world
    cy = (await make_person(st, Role.TECHNICIAN, name="Cy", campus_id=w.north, on_duty=True)).id
    result = await file_ticket(st, w)
    t = result.ticket
    assert result.offered_to == [w.tom, w.ann]

    mark = await last_outbox_id(st)
    await dispatch.decline(st.uow(), t.id, w.tom)
    assert await outbox_rows(st, after=mark) == []  # Ann's offer is still open
    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):
        await dispatch.decline(st.uow(), t.id, w.tom)  # twice
    with pytest.raises(TransitionNotAllowed):
        await dispatch.decline(st.uow(), t.id, w.bob)  # never offered
    assert await snapshot(st) == before

    await dispatch.decline(st.uow(), t.id, w.ann)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("offer.new", cy)]

    mark = await last_outbox_id(st)
    await dispatch.decline(st.uow(), t.id, cy)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted(
        [
            ("queue.escalated", w.dana),
            ("queue.escalated", w.ada),
            ("ticket.queued", w.requester),
        ]
    )
    assert await offers_of(st, t.id) == {w.tom: "declined", w.ann: "declined", cy: "declined"}
    assert [e.action for e in await events_of(st, t.id)][-6:] == [
        "offer",
        "decline",
        "decline",
        "offer",
        "decline",
        "escalate",
    ]
    assert (await ticket_row(st, t.id)).status == S.DISPATCHING


async def test_cancel_by_requester_needs_no_reason_and_withdraws_offers(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket
    before = await snapshot(st)
    with pytest.raises(NotFound):  # no relation to the ticket: as if it did not exist
        await requester.cancel(st.uow(), t.id, w.stranger)
    with pytest.raises(NotPermitted):  # Tom may work on it, not cancel it
        await requester.cancel(st.uow(), t.id, w.tom, "not mine to cancel")
    assert await snapshot(st) == before

    mark = await last_outbox_id(st)
    view = await requester.cancel(st.uow(), t.id, w.requester)
    assert view.status is S.CANCELLED
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted(
        [("offer.withdrawn", w.tom), ("offer.withdrawn", w.ann), ("ticket.cancelled", w.requester)]
    )
    cancelled = next(r for r in rows if r.kind == "ticket.cancelled").payload
    assert (cancelled["by_requester"], cancelled["reason"]) == (True, None)
    assert event_lines(await events_of(st, t.id))[-1] == (
        "cancel",
        S.DISPATCHING,
        S.CANCELLED,
        w.requester,
    )
    assert await offers_of(st, t.id) == {w.tom: "withdrawn", w.ann: "withdrawn"}

    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed) as err:  # a stale offer button
        await dispatch.accept(st.uow(), t.id, w.tom)
    assert not isinstance(err.value, AlreadyTaken)
    assert err.value.status == S.CANCELLED
    assert await snapshot(st) == before


async def test_cancel_by_dispatcher_needs_a_reason_and_tells_the_assignee(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), t.id, w.ann)
    before = await snapshot(st)
    with pytest.raises(ReasonRequired):
        await requester.cancel(st.uow(), t.id, w.dana)
    with pytest.raises(ReasonRequired):
        await requester.cancel(st.uow(), t.id, w.dana, "   ")
    assert await snapshot(st) == before

    mark = await last_outbox_id(st)
    view = await requester.cancel(st.uow(), t.id, w.dana, "Reported twice by phone")
    assert view.status is S.CANCELLED
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("job.cancelled", w.ann), ("ticket.cancelled", w.requester)]
    for row in rows:
        assert row.payload["reason"] == "Reported twice by phone"
    assert next(r for r in rows if r.kind == "ticket.cancelled").payload["by_requester"] is False
    events = await events_of(st, t.id)
    assert event_lines(events)[-1] == ("cancel", S.ASSIGNED, S.CANCELLED, w.dana)
    assert events[-1].note == "Reported twice by phone"


async def test_mark_duplicate_moves_people_to_the_original(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    original = (await file_ticket(st, w)).ticket
    dup = (await file_ticket(st, w, requester=w.neighbour)).ticket
    await follow(st.uow(), dup.id, w.stranger)

    before = await snapshot(st)
    for number in ("2031-999999", dup.number):
        with pytest.raises(InvalidInput):
            await requester.mark_duplicate(st.uow(), dup.id, w.dana, number)
    with pytest.raises(NotPermitted):
        await requester.mark_duplicate(st.uow(), dup.id, w.tom, original.number)
    assert await snapshot(st) == before

    mark = await last_outbox_id(st)
    view = await requester.mark_duplicate(st.uow(), dup.id, w.dana, original.number)
    assert view.status is S.CANCELLED
    assert (await ticket_row(st, dup.id)).duplicate_of_id == original.id
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted(
        [
            ("offer.withdrawn", w.tom),
            ("offer.withdrawn", w.ann),
            ("ticket.duplicate", w.neighbour),
            ("ticket.duplicate", w.stranger),
        ]
    )
    assert {r.payload["original"] for r in rows if r.kind == "ticket.duplicate"} == {
        original.number
    }
    events = await events_of(st, dup.id)
    assert event_lines(events)[-1] == ("cancel", S.DISPATCHING, S.CANCELLED, w.dana)
    assert events[-1].note == f"duplicate of {original.number}"

    # The duplicate's people now hear about the original's progress...
    mark = await last_outbox_id(st)
    await dispatch.accept(st.uow(), original.id, w.tom)
    rows = await outbox_rows(st, after=mark, kind="ticket.assigned")
    assert sorted(r.recipient_id for r in rows) == sorted([w.requester, w.neighbour, w.stranger])
    # ...and see it among their tickets.
    page = await queries.my_tickets(st.uow(), w.neighbour)
    assert [v.number for v in page.items] == [dup.number, original.number]

    # A ticket cannot be folded into a closed one.
    await work.start(st.uow(), original.id, w.tom)
    await work.complete(st.uow(), original.id, w.tom)
    await requester.confirm_and_rate(st.uow(), original.id, w.requester, 4)
    third = (await file_ticket(st, w)).ticket
    with pytest.raises(InvalidInput):
        await requester.mark_duplicate(st.uow(), third.id, w.dana, original.number)


async def test_an_offer_nobody_accepts_in_time_is_escalated_once(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    waiting = (await file_ticket(st, w)).ticket  # water: accept within 30 minutes
    queued = (await file_ticket(st, w, room=w.room_c1)).ticket  # escalated at once
    taken = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), taken.id, w.ann)
    mark = await last_outbox_id(st)

    clock.advance(timedelta(minutes=30))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == []
    assert await outbox_rows(st, after=mark) == []

    clock.advance(timedelta(minutes=1))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == [waiting.number]
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted([("queue.escalated", w.dana), ("queue.escalated", w.ada)])
    assert {r.payload["reason"] for r in rows} == {"accept_overdue"}
    assert all(r.ticket_id == waiting.id for r in rows)
    assert (await ticket_row(st, waiting.id)).escalated_at == clock.now
    events = await events_of(st, waiting.id)
    assert (events[-1].action, events[-1].note, events[-1].actor_id) == (
        "escalate",
        "accept_overdue",
        None,
    )

    clock.advance(timedelta(hours=1))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == []  # once only
    assert len(await outbox_rows(st, after=mark)) == 2
    assert [e.action for e in await events_of(st, queued.id)].count("escalate") == 1


async def test_auto_close_leaves_the_rating_empty(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t = (await file_ticket(st, w)).ticket
    rated = (await file_ticket(st, w)).ticket
    for ticket_id in (t.id, rated.id):
        await dispatch.accept(st.uow(), ticket_id, w.ann)
        await work.start(st.uow(), ticket_id, w.ann)
        await work.complete(st.uow(), ticket_id, w.ann)
    await requester.confirm_and_rate(st.uow(), rated.id, w.requester, 4)
    completed_at = clock.now
    mark = await last_outbox_id(st)

    clock.advance(timedelta(days=7))
    assert await run_check(st, sla.auto_close_batch) == []
    clock.advance(timedelta(minutes=1))
    assert await run_check(st, sla.auto_close_batch) == [t.number]
    row = await ticket_row(st, t.id)
    assert (row.status, row.rating, row.closed_at) == (S.CLOSED, None, clock.now)
    assert row.completed_at == completed_at
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("ticket.closed", w.requester)]
    assert rows[0].payload["auto"] is True
    assert event_lines(await events_of(st, t.id))[-1] == (
        "auto_close",
        S.COMPLETED,
        S.CLOSED,
        None,
    )
    assert await followups_of(st, t.id) == []  # an unrated ticket is no low rating
    assert await run_check(st, sla.auto_close_batch) == []
    assert (await ticket_row(st, rated.id)).rating == 4


# --- the dispatcher's and the technician's lists -------------------------------------------


async def test_dispatcher_queue_filters_order_and_scope(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    q1 = (await file_ticket(st, w)).ticket  # water, due in 4 h
    clock.advance(timedelta(minutes=1))
    q2 = (
        await file_ticket(st, w, room=w.room_b1, category="furniture", urgency=Urgency.EMERGENCY)
    ).ticket
    clock.advance(timedelta(minutes=1))
    q3 = (await file_ticket(st, w)).ticket
    await dispatch.assign(st.uow(), q3.id, w.dana, w.ann)
    clock.advance(timedelta(minutes=1))
    q4 = (await file_ticket(st, w)).ticket
    await dispatch.assign(st.uow(), q4.id, w.dana, w.tom)
    await work.start(st.uow(), q4.id, w.tom)
    await work.defer(st.uow(), q4.id, w.tom, clock.now + timedelta(days=2), "parts")
    q5 = (await file_ticket(st, w, room=w.room_c1)).ticket  # South
    gone = (await file_ticket(st, w)).ticket
    await requester.cancel(st.uow(), gone.id, w.requester)

    async def queue(person: int, flt: QueueFilter, **kw: int) -> list[str]:
        page = await queries.dispatcher_queue(st.uow(), person, flt, **kw)
        return [v.number for v in page.items]

    # emergency first, then oldest first; Dana sees North only
    assert await queue(w.dana, QueueFilter.UNASSIGNED) == [q2.number, q1.number]
    assert await queue(w.dana, QueueFilter.ALL) == [q2.number, q1.number, q3.number, q4.number]
    assert await queue(w.dana, QueueFilter.DEFERRED) == [q4.number]
    assert await queue(w.dana, QueueFilter.OVERDUE) == []
    assert q5.number in await queue(w.ada, QueueFilter.ALL)
    assert gone.number not in await queue(w.ada, QueueFilter.ALL)

    page = await queries.dispatcher_queue(st.uow(), w.dana, QueueFilter.ALL, limit=3)
    assert (page.total, len(page.items), page.has_next, page.has_prev) == (4, 3, True, False)
    page = await queries.dispatcher_queue(st.uow(), w.dana, QueueFilter.ALL, offset=3, limit=3)
    assert ([v.number for v in page.items], page.has_next, page.has_prev) == (
        [q4.number],
        False,
        True,
    )
    assert page.total == 4
    # A page past the end (the queue shrank since the button was drawn) still knows how
    # many there are, so the screen can offer the way back.
    page = await queries.dispatcher_queue(st.uow(), w.dana, QueueFilter.ALL, offset=6, limit=3)
    assert (page.items, page.total, page.has_prev) == ([], 4, True)

    # past the 4 h water target and the 1 h emergency target (shorter than furniture's
    # 48 h); the deferred job's promise is not due yet
    clock.advance(timedelta(hours=4))
    assert await queue(w.dana, QueueFilter.OVERDUE) == [q2.number, q1.number, q3.number]
    clock.advance(timedelta(days=2))
    assert await queue(w.dana, QueueFilter.OVERDUE) == [
        q2.number,
        q1.number,
        q3.number,
        q4.number,
    ]

    with pytest.raises(NotPermitted):
        await queries.dispatcher_queue(st.uow(), w.tom, QueueFilter.ALL)


async def test_technician_jobs_are_grouped_by_state(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    ids = []
    for _ in range(5):
        t = (await file_ticket(st, w)).ticket
        await dispatch.accept(st.uow(), t.id, w.tom)
        ids.append(t.id)
        clock.advance(timedelta(minutes=1))
    deferred, in_progress, assigned, done, released = ids
    for ticket_id in (deferred, in_progress, done):
        await work.start(st.uow(), ticket_id, w.tom)
    await work.defer(st.uow(), deferred, w.tom, clock.now + timedelta(days=1), "parts")
    await work.complete(st.uow(), done, w.tom)
    await dispatch.release(st.uow(), released, w.tom, "wrong skills")
    other = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), other.id, w.ann)

    jobs = await queries.technician_jobs(st.uow(), w.tom)
    # lifecycle order on both engines: assigned, in progress, deferred
    assert [(j.id, j.status) for j in jobs] == [
        (assigned, S.ASSIGNED),
        (in_progress, S.IN_PROGRESS),
        (deferred, S.DEFERRED),
    ]
    loads = {
        x.person_id: x.open_jobs
        for x in await queries.on_duty_technicians(st.uow(), w.room_a1, "water")
    }
    assert loads == {w.tom: 3, w.ann: 1}


async def test_open_duplicates_lists_open_tickets_of_the_same_room_and_category(
    store: Store,
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    same = (await file_ticket(st, w)).ticket
    cancelled = (await file_ticket(st, w)).ticket
    await requester.cancel(st.uow(), cancelled.id, w.requester)
    await file_ticket(st, w, category="electrical")
    await file_ticket(st, w, room=w.room_a2)
    also = (await file_ticket(st, w, requester=w.neighbour)).ticket
    await dispatch.accept(st.uow(), also.id, w.ann)

    found = await queries.open_duplicates(st.uow(), w.room_a1, w.categories["water"])
    assert [v.number for v in found] == [also.number, same.number]
