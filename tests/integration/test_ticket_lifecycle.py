"""A ticket's whole life against a real database: statuses, events, notices, refusals."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from store.domain.filing import Urgency
from store.errors import (
    DescriptionTooLong,
    DomainError,
    InvalidInput,
    NotFound,
    NotPermitted,
    PromisedDateInPast,
    RatingOutOfRange,
    ReasonRequired,
    TooManyPhotos,
    TransitionNotAllowed,
)
from store.lifecycle import Role, Status
from store.models import Person
from store.repair import dispatch, queries, requester, work
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
from tests.support.world import Env, file_ticket, make_env, make_person, set_on_duty

S = Status
NUMBER = re.compile(r"^\d{4}-\d{6}$")


async def test_happy_path_from_report_to_closed(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock

    # report → received → dispatching, offered to the least-loaded eligible technicians
    result = await file_ticket(st, w, photos=["photo-1", "photo-2"], urgency=Urgency.URGENT)
    t = result.ticket
    assert NUMBER.match(t.number) and t.number.startswith("2031-")
    assert t.status is S.DISPATCHING
    assert (t.building, t.room_code, t.category, t.urgency) == (
        "Building A",
        "A-101",
        "water",
        "urgent",
    )
    assert t.photos == ("photo-1", "photo-2")
    # A requester's own report carries only the number they gave (the bot offers the saved
    # one back; Skip means none), not the phone on file.
    assert t.contact_phone is None
    # Bob's scope is Building B, Olga is off duty: only Tom and Ann cover A-101 water.
    assert result.offered_to == [w.tom, w.ann]
    assert result.escalated is False
    rows = await outbox_rows(st, ticket_id=t.id)
    assert notices(rows) == sorted(
        [
            ("ticket.received", w.requester),
            ("offer.new", w.tom),
            ("offer.new", w.ann),
            ("ticket.dispatching", w.requester),
        ]
    )
    offer = next(r for r in rows if r.kind == "offer.new")
    assert offer.payload["number"] == t.number
    assert offer.payload["description"] == "The tap in the sink keeps dripping."
    assert offer.payload["room_code"] == "A-101"
    assert next(r for r in rows if r.kind == "ticket.dispatching").payload["offered"] == 2
    assert all(r.due_at == clock.now and r.sent_at is None for r in rows)

    # accept: Ann wins, Tom's offer message turns into "taken by Ann"
    mark = await last_outbox_id(st)
    clock.advance(timedelta(minutes=5))
    view = await dispatch.accept(st.uow(), t.id, w.ann)
    assert (view.status, view.assignee_id, view.assignee_name) == (S.ASSIGNED, w.ann, "Ann")
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("offer.taken", w.tom), ("ticket.assigned", w.requester)]
    by_kind = {r.kind: r.payload for r in rows}
    assert by_kind["offer.taken"]["taken_by"] == "Ann"
    assert by_kind["ticket.assigned"]["technician"] == "Ann"
    assert await offers_of(st, t.id) == {w.tom: "taken", w.ann: "accepted"}

    # visit time proposed and accepted
    mark = await last_outbox_id(st)
    visit = clock.now + timedelta(hours=3)
    view = await work.propose_visit(st.uow(), t.id, w.ann, visit)
    assert (view.visit_at, view.visit_confirmed) == (visit, False)
    view = await work.answer_visit(st.uow(), t.id, w.requester, accepted=True)
    assert view.visit_confirmed is True
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [
        ("job.visit_accepted", w.ann),
        ("ticket.visit_proposed", w.requester),
    ]
    assert rows[0].payload["visit_at"] == visit.isoformat()

    # start, defer with a promise, resume
    mark = await last_outbox_id(st)
    clock.advance(timedelta(hours=3))
    assert (await work.start(st.uow(), t.id, w.ann)).status is S.IN_PROGRESS
    promised = clock.now + timedelta(days=4)
    view = await work.defer(st.uow(), t.id, w.ann, promised, "  Valve on order  ")
    assert (view.status, view.promised_at, view.defer_reason) == (
        S.DEFERRED,
        promised,
        "Valve on order",
    )
    clock.advance(timedelta(days=3))
    assert (await work.resume(st.uow(), t.id, w.ann)).status is S.IN_PROGRESS
    rows = await outbox_rows(st, after=mark)
    assert [(r.kind, r.recipient_id) for r in rows] == [
        ("ticket.in_progress", w.requester),
        ("job.promise_reminder", w.ann),
        ("job.promise_due", w.ann),
        ("ticket.deferred", w.requester),
        ("ticket.in_progress", w.requester),
    ]
    _started, reminder, due, deferred, resumed = rows
    # the technician is reminded ahead of the promise and at it, written ahead of time
    assert reminder.due_at == promised - st.policy.defer_reminder
    assert due.due_at == promised
    assert deferred.payload["promised_at"] == promised.isoformat()
    assert deferred.payload["reason"] == "Valve on order"
    assert resumed.payload["resumed"] is True

    # complete with a photo of the result, then the requester confirms and rates
    mark = await last_outbox_id(st)
    view = await work.complete(st.uow(), t.id, w.ann, ["result-1"])
    # the promise is kept: its pending reminders are withdrawn, never sent
    for scheduled in await outbox_rows(st, ticket_id=t.id, recipient=w.ann):
        if scheduled.kind.startswith("job.promise_"):
            assert (scheduled.failed_at, scheduled.sent_at) == (clock.now, None)
    assert view.status is S.COMPLETED and view.completed_at == clock.now
    assert (view.photos, view.result_photos) == (("photo-1", "photo-2"), ("result-1",))
    rated = await requester.confirm_and_rate(st.uow(), t.id, w.requester, 5, "Quick, thanks")
    assert rated.followup_number is None
    assert (rated.ticket.status, rated.ticket.rating, rated.ticket.rating_comment) == (
        S.CLOSED,
        5,
        "Quick, thanks",
    )
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("job.rated", w.ann), ("ticket.completed", w.requester)]
    by_kind = {r.kind: r.payload for r in rows}
    assert by_kind["ticket.completed"]["photos"] == ["result-1"]
    assert (by_kind["job.rated"]["rating"], by_kind["job.rated"]["comment"]) == (
        5,
        "Quick, thanks",
    )
    closed = await ticket_row(st, t.id)
    assert closed.closed_at == clock.now and closed.started_at is not None

    # one event per change, with who did it and from/to
    events = await events_of(st, t.id)
    assert event_lines(events) == [
        ("file", None, S.RECEIVED, w.requester),
        ("dispatch", S.RECEIVED, S.DISPATCHING, None),
        ("offer", None, None, None),
        ("accept", S.DISPATCHING, S.ASSIGNED, w.ann),
        ("visit_proposed", None, None, w.ann),
        ("visit_accepted", None, None, w.requester),
        ("start", S.ASSIGNED, S.IN_PROGRESS, w.ann),
        ("defer", S.IN_PROGRESS, S.DEFERRED, w.ann),
        ("resume", S.DEFERRED, S.IN_PROGRESS, w.ann),
        ("complete", S.IN_PROGRESS, S.COMPLETED, w.ann),
        ("confirm", S.COMPLETED, S.CLOSED, w.requester),
    ]
    assert events[2].note == "Tom,Ann"
    assert events[7].note == "Valve on order"
    assert events[-1].note == "5★"

    # the requester's timeline shows the same history with names
    timeline = await queries.timeline(st.uow(), t.id, w.requester)
    assert [(e.action, e.actor_name) for e in timeline][:4] == [
        ("file", "Rita"),
        ("dispatch", None),
        ("offer", None),
        ("accept", "Ann"),
    ]
    assert len(timeline) == len(events)


async def test_complete_straight_from_deferred(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), t.id, w.tom)
    await work.start(st.uow(), t.id, w.tom)
    await work.defer(st.uow(), t.id, w.tom, clock.now + timedelta(days=1), "parts")
    view = await work.complete(st.uow(), t.id, w.tom)
    assert view.status is S.COMPLETED and view.result_photos == ()
    assert event_lines(await events_of(st, t.id))[-1] == (
        "complete",
        S.DEFERRED,
        S.COMPLETED,
        w.tom,
    )


async def test_ticket_numbers_are_unique_sequential_and_per_year(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    numbers = [(await file_ticket(st, w)).ticket.number for _ in range(3)]
    assert numbers == ["2031-000001", "2031-000002", "2031-000003"]
    clock.now = clock.now.replace(year=2032, month=1, day=1)
    assert (await file_ticket(st, w)).ticket.number == "2032-000001"
    assert (await file_ticket(st, w)).ticket.number == "2032-000002"


async def test_no_technician_on_duty_escalates_to_dispatchers(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    result = await file_ticket(st, w)
    t = result.ticket
    assert (result.escalated, result.offered_to, t.status) == (True, [], S.DISPATCHING)
    rows = await outbox_rows(st, ticket_id=t.id)
    # Dana dispatches for North, Ada is an admin everywhere; nobody got an offer.
    assert notices(rows) == sorted(
        [
            ("ticket.received", w.requester),
            ("queue.escalated", w.dana),
            ("queue.escalated", w.ada),
            ("ticket.queued", w.requester),
        ]
    )
    assert {r.payload.get("reason") for r in rows if r.kind == "queue.escalated"} == {
        "no_technician"
    }
    assert (await ticket_row(st, t.id)).escalated_at == env.clock.now
    assert [e.action for e in await events_of(st, t.id)] == ["file", "dispatch", "escalate"]


async def test_ticket_outside_any_technician_scope_escalates(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    result = await file_ticket(st, w, room=w.room_c1)  # South: no technician, no Dana
    assert result.escalated is True
    rows = await outbox_rows(st, ticket_id=result.ticket.id, kind="queue.escalated")
    assert [r.recipient_id for r in rows] == [w.ada]


async def test_offers_respect_batch_size_load_skills_and_reachability(store: Store) -> None:
    env = await make_env(store, offer_batch=2)
    st, w = env.store, env.world
    cy = (await make_person(st, Role.TECHNICIAN, name="Cy", campus_id=w.north, on_duty=True)).id
    eve = (
        await make_person(
            st, Role.TECHNICIAN, name="Eve", campus_id=w.north, on_duty=True, skills=["hvac"]
        )
    ).id
    fay = (await make_person(st, Role.TECHNICIAN, name="Fay", campus_id=w.north, on_duty=True)).id
    async with st.uow() as uow:
        person = await uow.session.get(Person, fay)
        assert person is not None
        person.unreachable_since = env.clock.now
        await uow.commit()
    # Tom holds one job, so he is no longer among the least loaded.
    first = (await file_ticket(st, w, room=w.room_b1, category="furniture")).ticket
    await dispatch.accept(st.uow(), first.id, w.tom)

    result = await file_ticket(st, w)
    assert result.offered_to == [w.ann, cy]
    rows = await outbox_rows(st, ticket_id=result.ticket.id, kind="offer.new")
    assert sorted(r.recipient_id for r in rows) == sorted([w.ann, cy])

    loads = await queries.on_duty_technicians(st.uow(), w.room_a1, "water")
    # Eve lacks the skill, Bob the scope, Olga is off duty; unreachable Fay comes last.
    assert [(x.person_id, x.open_jobs, x.reachable) for x in loads] == [
        (w.ann, 0, True),
        (cy, 0, True),
        (w.tom, 1, True),
        (fay, 0, False),
    ]
    assert eve not in {x.person_id for x in loads}


# --- refusals leave everything as it was ---------------------------------------------------


@dataclass(frozen=True)
class Bad:
    name: str
    status: Status  # where the ticket is when the bad action comes
    act: Callable[[Env, int], Awaitable[object]]
    error: type[DomainError]


def _later(env: Env, **kw: float) -> datetime:
    return env.clock.now + timedelta(**kw)


BAD_ACTIONS = [
    # a transition the table does not allow
    Bad(
        "complete before start",
        S.ASSIGNED,
        lambda e, t: work.complete(e.store.uow(), t, e.world.ann),
        TransitionNotAllowed,
    ),
    Bad(
        "resume what is not deferred",
        S.IN_PROGRESS,
        lambda e, t: work.resume(e.store.uow(), t, e.world.ann),
        TransitionNotAllowed,
    ),
    Bad(
        "rate before completion",
        S.IN_PROGRESS,
        lambda e, t: requester.confirm_and_rate(e.store.uow(), t, e.world.requester, 4),
        TransitionNotAllowed,
    ),
    Bad(
        "cancel work in progress",
        S.IN_PROGRESS,
        lambda e, t: requester.cancel(e.store.uow(), t, e.world.requester),
        TransitionNotAllowed,
    ),
    Bad(
        "accept an assigned job",
        S.ASSIGNED,
        lambda e, t: dispatch.accept(e.store.uow(), t, e.world.tom),
        TransitionNotAllowed,
    ),
    # no role or no scope
    # Bob's scope is Building B: he has no relation to the ticket at all, and learns no
    # more than for a ticket that does not exist.
    Bad(
        "technician outside scope accepts",
        S.DISPATCHING,
        lambda e, t: dispatch.accept(e.store.uow(), t, e.world.bob),
        NotFound,
    ),
    Bad(
        "inspector of the building accepts",
        S.DISPATCHING,
        lambda e, t: dispatch.accept(e.store.uow(), t, e.world.ivy),
        NotPermitted,
    ),
    Bad(
        "dispatcher accepts",
        S.DISPATCHING,
        lambda e, t: dispatch.accept(e.store.uow(), t, e.world.dana),
        NotPermitted,
    ),
    Bad(
        "requester accepts",
        S.DISPATCHING,
        lambda e, t: dispatch.accept(e.store.uow(), t, e.world.requester),
        NotPermitted,
    ),
    Bad(
        "requester starts",
        S.ASSIGNED,
        lambda e, t: work.start(e.store.uow(), t, e.world.requester),
        NotPermitted,
    ),
    Bad(
        "requester assigns",
        S.DISPATCHING,
        lambda e, t: dispatch.assign(e.store.uow(), t, e.world.requester, e.world.tom),
        NotPermitted,
    ),
    Bad(
        "technician assigns",
        S.DISPATCHING,
        lambda e, t: dispatch.assign(e.store.uow(), t, e.world.tom, e.world.tom),
        NotPermitted,
    ),
    Bad(
        "other technician starts",
        S.ASSIGNED,
        lambda e, t: work.start(e.store.uow(), t, e.world.tom),
        NotPermitted,
    ),
    Bad(
        "other technician completes",
        S.IN_PROGRESS,
        lambda e, t: work.complete(e.store.uow(), t, e.world.tom),
        NotPermitted,
    ),
    Bad(
        "other technician defers",
        S.IN_PROGRESS,
        lambda e, t: work.defer(e.store.uow(), t, e.world.tom, _later(e, days=2), "parts"),
        NotPermitted,
    ),
    Bad(
        "other technician proposes a visit",
        S.ASSIGNED,
        lambda e, t: work.propose_visit(e.store.uow(), t, e.world.tom, _later(e, hours=2)),
        NotPermitted,
    ),
    Bad(
        "other technician releases",
        S.ASSIGNED,
        lambda e, t: dispatch.release(e.store.uow(), t, e.world.tom, "not mine"),
        NotPermitted,
    ),
    Bad(
        "stranger answers the visit",
        S.ASSIGNED,
        lambda e, t: work.answer_visit(e.store.uow(), t, e.world.stranger, accepted=True),
        NotFound,
    ),
    Bad(
        "stranger rates",
        S.COMPLETED,
        lambda e, t: requester.confirm_and_rate(e.store.uow(), t, e.world.stranger, 5),
        NotFound,
    ),
    # bad values
    Bad(
        "promised date in the past",
        S.IN_PROGRESS,
        lambda e, t: work.defer(e.store.uow(), t, e.world.ann, _later(e, minutes=-1), "parts"),
        PromisedDateInPast,
    ),
    Bad(
        "promised date is now",
        S.IN_PROGRESS,
        lambda e, t: work.defer(e.store.uow(), t, e.world.ann, _later(e), "parts"),
        PromisedDateInPast,
    ),
    Bad(
        "promised date beyond max_defer",
        S.IN_PROGRESS,
        lambda e, t: work.defer(e.store.uow(), t, e.world.ann, _later(e, days=91), "parts"),
        InvalidInput,
    ),
    Bad(
        "defer without a reason",
        S.IN_PROGRESS,
        lambda e, t: work.defer(e.store.uow(), t, e.world.ann, _later(e, days=2), "   "),
        ReasonRequired,
    ),
    Bad(
        "visit in the past",
        S.ASSIGNED,
        lambda e, t: work.propose_visit(e.store.uow(), t, e.world.ann, _later(e, hours=-1)),
        PromisedDateInPast,
    ),
    Bad(
        "rating 0",
        S.COMPLETED,
        lambda e, t: requester.confirm_and_rate(e.store.uow(), t, e.world.requester, 0),
        RatingOutOfRange,
    ),
    Bad(
        "rating 6",
        S.COMPLETED,
        lambda e, t: requester.confirm_and_rate(e.store.uow(), t, e.world.requester, 6),
        RatingOutOfRange,
    ),
    Bad(
        "six result photos",
        S.IN_PROGRESS,
        lambda e, t: work.complete(e.store.uow(), t, e.world.ann, [f"r{i}" for i in range(6)]),
        TooManyPhotos,
    ),
    Bad(
        "answer a visit nobody proposed",
        S.ASSIGNED,
        lambda e, t: work.answer_visit(e.store.uow(), t, e.world.requester, accepted=True),
        TransitionNotAllowed,
    ),
]


async def _ticket_in(env: Env, status: Status) -> int:
    """A water ticket in A-101 brought to `status` with Ann as the technician."""
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    if status is S.DISPATCHING:
        return t
    await dispatch.accept(st.uow(), t, w.ann)
    if status is S.ASSIGNED:
        return t
    await work.start(st.uow(), t, w.ann)
    if status is S.IN_PROGRESS:
        return t
    assert status is S.COMPLETED
    await work.complete(st.uow(), t, w.ann)
    return t


async def test_refused_actions_leave_data_untouched(store: Store) -> None:
    """Each bad press gets its error and changes nothing: status, events, notices, offers.

    One world for all cases (a fresh ticket per case) keeps this fast on PostgreSQL; every
    case is checked and all failures are reported together.
    """
    env = await make_env(store)
    failures: list[str] = []
    for bad in BAD_ACTIONS:
        ticket_id = await _ticket_in(env, bad.status)
        before = await snapshot(env.store)
        env.clock.advance(timedelta(minutes=1))
        try:
            await bad.act(env, ticket_id)
        except DomainError as exc:
            if not isinstance(exc, bad.error):
                failures.append(f"{bad.name}: {type(exc).__name__}, not {bad.error.__name__}")
        else:
            failures.append(f"{bad.name}: was accepted")
        if await snapshot(env.store) != before:
            failures.append(f"{bad.name}: data changed")
        if (await ticket_row(env.store, ticket_id)).status != bad.status:
            failures.append(f"{bad.name}: status changed")
    assert failures == []


async def test_description_over_the_limit_files_nothing(store: Store) -> None:
    env = await make_env(store, description_max=50)
    st, w = env.store, env.world
    before = await snapshot(st)
    with pytest.raises(DescriptionTooLong) as err:
        await file_ticket(st, w, description="x" * 51)
    assert err.value.params == {"limit": 50, "length": 51}
    with pytest.raises(InvalidInput):
        await file_ticket(st, w, description="   ")
    assert await snapshot(st) == before
    # exactly at the limit is fine, and the refused attempts used up no number
    ok = await file_ticket(st, w, description="y" * 50)
    assert ok.ticket.number == "2031-000001"


async def test_too_many_photos_files_nothing(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    before = await snapshot(st)
    with pytest.raises(TooManyPhotos) as err:
        await file_ticket(st, w, photos=[f"p{i}" for i in range(6)])
    assert err.value.params["limit"] == 5
    assert await snapshot(st) == before
    ok = await file_ticket(st, w, photos=[f"p{i}" for i in range(5)])
    assert len(ok.ticket.photos) == 5


async def test_proxy_filing_needs_a_filer_role(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    before = await snapshot(st)
    with pytest.raises(NotPermitted):
        await file_ticket(st, w, filed_by=w.stranger)
    with pytest.raises(NotPermitted):  # Ivy inspects Building A only
        await file_ticket(st, w, filed_by=w.ivy, room=w.room_b1)
    assert await snapshot(st) == before
    result = await file_ticket(st, w, filed_by=w.ivy)
    t = result.ticket
    assert (t.requester_id, t.filed_by_id) == (w.requester, w.ivy)
    # the requester is on Telegram, so the notices go to them, not to the inspector
    rows = await outbox_rows(st, ticket_id=t.id, kind="ticket.received")
    assert [r.recipient_id for r in rows] == [w.requester]
    assert event_lines(await events_of(st, t.id))[0] == ("file", None, S.RECEIVED, w.ivy)


async def test_declined_visit_is_cleared_and_can_be_proposed_again(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, w.ann)
    await work.propose_visit(st.uow(), t, w.ann, clock.now + timedelta(hours=1))
    mark = await last_outbox_id(st)
    view = await work.answer_visit(st.uow(), t, w.requester, accepted=False)
    assert (view.visit_at, view.visit_confirmed) == (None, False)
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == [("job.visit_declined", w.ann)]
    assert rows[0].payload["visit_at"] == (clock.now + timedelta(hours=1)).isoformat()
    before = await snapshot(st)
    with pytest.raises(TransitionNotAllowed):  # nothing left to answer
        await work.answer_visit(st.uow(), t, w.requester, accepted=True)
    assert await snapshot(st) == before

    later = clock.now + timedelta(days=1)
    await work.propose_visit(st.uow(), t, w.ann, later)
    view = await work.answer_visit(st.uow(), t, w.requester, accepted=True)
    assert (view.visit_at, view.visit_confirmed) == (later, True)
    assert [e.action for e in await events_of(st, t)][-4:] == [
        "visit_proposed",
        "visit_declined",
        "visit_proposed",
        "visit_accepted",
    ]
