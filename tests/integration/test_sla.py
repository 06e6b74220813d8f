"""The scheduler's time-driven checks: promise reminders, missed promises, accept and
completion targets, urgency, auto-close. Time is a settable clock; "downtime" is simply
moving it far ahead before anything runs, as after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import ColumnElement

from scheduler.ticks import sla_tick
from store.db import create_engine
from store.delivery import outbox
from store.delivery.outbox import Notice
from store.domain import tickets as aggregate
from store.domain.filing import Urgency
from store.errors import ReasonRequired
from store.lifecycle import Role, Status
from store.repair import dispatch, requester, sla, work
from store.repair.sla import BatchStep
from store.reporting.figures import office_stats
from store.uow import Store, UnitOfWork
from tests.support.rows import (
    events_of,
    followups_of,
    last_outbox_id,
    notices,
    outbox_rows,
    send_due,
    snapshot,
    ticket_row,
)
from tests.support.scheduled import run_check
from tests.support.world import (
    T0,
    Env,
    file_ticket,
    make_env,
    make_person,
    set_building_supervisor,
)

SCHEDULED = ("job.promise_reminder", "job.promise_due")


async def tick(st: Store) -> dict[str, list[str]]:
    """One scheduler SLA tick; only what it did (empty: nothing)."""
    return {key: done for key, done in (await sla_tick(st)).items() if done}


def sent(due: list[Notice]) -> list[tuple[str, int]]:
    return sorted((n.kind, n.recipient_id) for n in due)


async def in_progress(env: Env) -> tuple[int, str]:
    """A water ticket in A-101, accepted and started by Tom; (id, number)."""
    st, w = env.store, env.world
    ticket = (await file_ticket(st, w)).ticket
    await dispatch.accept(st.uow(), ticket.id, w.tom)
    await work.start(st.uow(), ticket.id, w.tom)
    return ticket.id, ticket.number


async def with_building_supervisor(env: Env) -> int:
    """Sue supervises Building A by name (Sam only covers North as a whole)."""
    sue = (
        await make_person(env.store, Role.SUPERVISOR, name="Sue", buildings=[env.world.building_a])
    ).id
    await set_building_supervisor(env.store, env.world.building_a, sue)
    return sue


# --- promises -----------------------------------------------------------------------------


async def test_after_downtime_reminders_and_the_missed_promise_fire_once(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    sue = await with_building_supervisor(env)
    t, number = await in_progress(env)
    promised = T0 + timedelta(days=2)
    await work.defer(st.uow(), t, w.tom, promised, "a new valve is on order")
    await send_due(st)  # what was due at once went out
    clock.advance(timedelta(hours=23))  # the reminder is due 24 h before: not yet
    assert await send_due(st) == []

    # The bot was down for three days: past the reminder time and the promised date.
    clock.advance(timedelta(days=3))
    caught_up = await send_due(st)
    assert [(n.kind, n.recipient_id) for n in caught_up] == [
        ("job.promise_reminder", w.tom),
        ("job.promise_due", w.tom),
    ]
    for notice in caught_up:
        assert notice.payload["promised_at"] == promised.isoformat()
        assert notice.payload["reason"] == "a new valve is on order"
        assert notice.payload["number"] == number
    assert await outbox.next_per_chat(st.uow(), limit=100) == []  # sent: never again

    assert await run_check(st, sla.escalate_missed_promises_batch) == [number]
    assert await run_check(st, sla.escalate_missed_promises_batch) == []
    assert await tick(st) == {}  # a whole tick (or a second instance) adds nothing
    [followup] = await followups_of(st, t)
    assert (followup.kind, followup.supervisor_id, followup.text) == (
        "missed_promise",
        sue,
        "a new valve is on order",
    )
    told = await send_due(st)
    assert sent(told) == [("followup.new", sue), ("ticket.promise_missed", w.requester)]
    by_kind = {n.kind: n.payload for n in told}
    assert by_kind["ticket.promise_missed"]["promised_at"] == promised.isoformat()
    assert by_kind["ticket.promise_missed"]["followup"] == followup.number
    assert by_kind["followup.new"]["kind"] == "missed_promise"
    row = await ticket_row(st, t)
    assert (row.status, row.promise_missed_at) == (Status.DEFERRED, clock.now)

    clock.advance(timedelta(days=1))  # a restart a day later: still nothing twice
    assert await tick(st) == {}
    assert await send_due(st) == []


async def test_the_reminder_lead_time_is_configurable(store: Store) -> None:
    env = await make_env(store, defer_reminder=timedelta(hours=2))  # defer_reminder_hours
    st, w, clock = env.store, env.world, env.clock
    far, _ = await in_progress(env)
    await work.defer(st.uow(), far, w.tom, T0 + timedelta(days=1), "parts on order")
    near = (await file_ticket(st, w, room=w.room_a2)).ticket.id
    await dispatch.accept(st.uow(), near, w.tom)
    await work.start(st.uow(), near, w.tom)
    await work.defer(st.uow(), near, w.tom, T0 + timedelta(hours=1), "glue must dry")
    await send_due(st)
    clock.now = T0 + timedelta(hours=21, minutes=59)
    assert [(n.kind, n.ticket_id) for n in await send_due(st)] == [("job.promise_due", near)]
    clock.advance(timedelta(minutes=1))  # 2 h before the far promise
    assert [(n.kind, n.ticket_id) for n in await send_due(st)] == [("job.promise_reminder", far)]
    # the near promise was under 2 h away: no reminder ahead of it, only the one at the time
    rows = await outbox_rows(st, ticket_id=near)
    assert [r.kind for r in rows if r.kind in SCHEDULED] == ["job.promise_due"]


async def test_a_new_date_needs_a_reason_and_replaces_the_reminders(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t, _ = await in_progress(env)
    first = T0 + timedelta(days=2)
    await work.defer(st.uow(), t, w.tom, first, "parts on order")
    old = await outbox_rows(st, ticket_id=t, kind="job.promise_reminder") + await outbox_rows(
        st, ticket_id=t, kind="job.promise_due"
    )
    assert sorted((r.kind, r.due_at) for r in old) == [
        ("job.promise_due", first),
        ("job.promise_reminder", first - timedelta(hours=24)),
    ]

    second = T0 + timedelta(days=5)
    before = await snapshot(st)
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequired):
            await work.defer(st.uow(), t, w.tom, second, reason)
    assert await snapshot(st) == before
    assert (await ticket_row(st, t)).promised_at == first

    clock.advance(timedelta(hours=1))
    mark = await last_outbox_id(st)
    await work.defer(st.uow(), t, w.tom, second, "the supplier is late")
    new = await outbox_rows(st, after=mark)
    assert notices(new) == sorted(
        [
            ("job.promise_due", w.tom),
            ("job.promise_reminder", w.tom),
            ("ticket.deferred", w.requester),
        ]
    )
    told = next(r for r in new if r.kind == "ticket.deferred")
    assert told.payload["previous"] == first.isoformat()
    assert told.payload["promised_at"] == second.isoformat()
    assert told.payload["reason"] == "the supplier is late"
    for row in await outbox_rows(st, ticket_id=t):
        if row.id in {r.id for r in old}:
            assert (row.failed_at, row.sent_at) == (clock.now, None)  # withdrawn

    clock.now = first + timedelta(hours=1)  # the old date passes: none of its reminders
    assert [n.kind for n in await send_due(st) if n.kind in SCHEDULED] == []
    assert await run_check(st, sla.escalate_missed_promises_batch) == []  # the new date stands
    assert (await ticket_row(st, t)).promise_missed_at is None


async def test_a_new_date_after_a_missed_one_starts_a_new_escalation(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t, number = await in_progress(env)
    first = T0 + timedelta(days=1)
    await work.defer(st.uow(), t, w.tom, first, "parts on order")
    clock.now = first + timedelta(minutes=1)
    assert await run_check(st, sla.escalate_missed_promises_batch) == [number]
    assert (await ticket_row(st, t)).promise_missed_at == clock.now

    second = clock.now + timedelta(days=2)
    mark = await last_outbox_id(st)
    await work.defer(st.uow(), t, w.tom, second, "the part arrived broken")
    row = await ticket_row(st, t)
    assert (row.promised_at, row.promise_missed_at) == (second, None)
    [told] = await outbox_rows(st, after=mark, kind="ticket.deferred")
    assert (told.payload["previous"], told.payload["promised_at"]) == (
        first.isoformat(),
        second.isoformat(),
    )
    assert await run_check(st, sla.escalate_missed_promises_batch) == []
    clock.now = second + timedelta(minutes=1)
    assert await run_check(st, sla.escalate_missed_promises_batch) == [number]
    assert [f.kind for f in await followups_of(st, t)] == ["missed_promise", "missed_promise"]


async def test_completing_withdraws_pending_reminders(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t, _ = await in_progress(env)
    promised = T0 + timedelta(days=3)
    await work.defer(st.uow(), t, w.tom, promised, "parts on order")
    await send_due(st)
    clock.advance(timedelta(hours=2))
    await work.resume(st.uow(), t, w.tom)
    await work.complete(st.uow(), t, w.tom)
    for row in await outbox_rows(st, ticket_id=t):
        if row.kind in SCHEDULED:
            assert (row.failed_at, row.sent_at) == (clock.now, None)
    clock.now = promised + timedelta(days=1)
    assert [n.kind for n in await send_due(st) if n.kind in SCHEDULED] == []
    assert await run_check(st, sla.escalate_missed_promises_batch) == []


async def test_a_resumed_job_is_judged_by_its_promise_not_the_target(store: Store) -> None:
    """Back at work on a deferred job: the promise still stands, so the category's
    (long passed) completion target must not raise an overdue alarm; a missed promise
    escalates once, as a missed promise only."""
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    t, number = await in_progress(env)
    promised = T0 + timedelta(days=3)
    await work.defer(st.uow(), t, w.tom, promised, "parts on order")
    clock.now = promised - timedelta(hours=2)  # long past the 4 h water target
    await work.resume(st.uow(), t, w.tom)
    assert await tick(st) == {}
    clock.now = promised + timedelta(minutes=1)
    assert await tick(st) == {"promise_missed": [number]}
    assert await tick(st) == {}
    assert await outbox_rows(st, ticket_id=t, kind="ticket.overdue") == []


# --- targets ------------------------------------------------------------------------------


async def test_unaccepted_offers_go_to_the_dispatchers_once(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    ticket = (await file_ticket(st, w)).ticket  # water: accept within 30 minutes
    assert ticket.status == Status.DISPATCHING
    mark = await last_outbox_id(st)
    clock.advance(timedelta(minutes=29))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == []
    clock.advance(timedelta(minutes=2))
    assert await run_check(st, sla.escalate_overdue_offers_batch) == [ticket.number]
    assert await run_check(st, sla.escalate_overdue_offers_batch) == []
    rows = await outbox_rows(st, after=mark)
    assert notices(rows) == sorted([("queue.escalated", w.ada), ("queue.escalated", w.dana)])
    assert {r.payload["reason"] for r in rows} == {"accept_overdue"}


async def test_a_job_past_its_completion_target_is_flagged_once(store: Store) -> None:
    env = await make_env(store)
    st, clock = env.store, env.clock
    sue = await with_building_supervisor(env)
    t, number = await in_progress(env)  # water: complete within 4 hours
    mark = await last_outbox_id(st)
    clock.advance(timedelta(hours=3, minutes=59))
    assert await run_check(st, sla.flag_overdue_batch) == []
    clock.advance(timedelta(minutes=2))
    assert await run_check(st, sla.flag_overdue_batch) == [number]
    assert await run_check(st, sla.flag_overdue_batch) == []
    assert await tick(st) == {}
    [row] = await outbox_rows(st, after=mark)
    assert (row.kind, row.recipient_id) == ("ticket.overdue", sue)
    assert row.payload["due_at"] == (T0 + timedelta(hours=4)).isoformat()
    assert row.payload["status"] == Status.IN_PROGRESS
    assert (await ticket_row(st, t)).overdue_at == clock.now


async def test_urgent_and_emergency_targets_are_shorter(store: Store) -> None:
    """hvac: accept within 60 min, complete within 24 h; urgent 15 min / 2 h; emergency
    5 min / 1 h. The scheduler chases each ticket by its own targets."""
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    rooms = {Urgency.NORMAL: w.room_a1, Urgency.URGENT: w.room_a2, Urgency.EMERGENCY: w.room_b1}
    numbers: dict[Urgency, str] = {}
    targets: dict[Urgency, tuple[timedelta, timedelta]] = {}
    for urgency, room in rooms.items():
        ticket = (await file_ticket(st, w, category="hvac", urgency=urgency, room=room)).ticket
        row = await ticket_row(st, ticket.id)
        assert row.accept_due_at is not None and row.due_at is not None
        numbers[urgency] = ticket.number
        targets[urgency] = (row.accept_due_at - row.created_at, row.due_at - row.created_at)
    assert targets == {
        Urgency.NORMAL: (timedelta(hours=1), timedelta(hours=24)),
        Urgency.URGENT: (timedelta(minutes=15), timedelta(hours=2)),
        Urgency.EMERGENCY: (timedelta(minutes=5), timedelta(hours=1)),
    }

    clock.advance(timedelta(minutes=6))  # nobody accepted any of the offers
    assert await tick(st) == {"escalated": [numbers[Urgency.EMERGENCY]]}
    clock.advance(timedelta(minutes=10))
    assert await tick(st) == {"escalated": [numbers[Urgency.URGENT]]}
    clock.advance(timedelta(minutes=45))  # 61 minutes after filing
    assert await tick(st) == {
        "escalated": [numbers[Urgency.NORMAL]],
        "overdue": [numbers[Urgency.EMERGENCY]],
    }
    clock.advance(timedelta(hours=1))
    assert await tick(st) == {"overdue": [numbers[Urgency.URGENT]]}


async def test_auto_close_leaves_no_rating_and_no_mark_on_the_average(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    rated, _ = await in_progress(env)
    await work.complete(st.uow(), rated, w.tom)
    await requester.confirm_and_rate(st.uow(), rated, w.requester, 3)
    silent, number = await in_progress(env)
    await work.complete(st.uow(), silent, w.tom)
    completed_at = clock.now
    clock.advance(st.policy.auto_close_after - timedelta(minutes=1))
    assert await run_check(st, sla.auto_close_batch) == []
    clock.advance(timedelta(minutes=2))
    assert await tick(st) == {"closed": [number]}
    assert await tick(st) == {}
    row = await ticket_row(st, silent)
    assert (row.status, row.rating, row.closed_at) == (Status.CLOSED, None, clock.now)
    assert row.completed_at == completed_at
    figures = await office_stats(
        st.uow(), start=T0, end=clock.now + timedelta(minutes=1), viewer_id=w.sam
    )
    assert (figures.completed, figures.rated, figures.average_rating) == (2, 1, 3.0)
    assert figures.low_ratings == 0


# --- two ticks at once --------------------------------------------------------------------

DUE = 4  # tickets each world has due


async def _unaccepted_offers(env: Env) -> list[int]:
    """Water tickets nobody accepted within their 30 minutes."""
    tickets = [(await file_ticket(env.store, env.world)).ticket.id for _ in range(DUE)]
    env.clock.advance(timedelta(minutes=31))
    return tickets


async def _missed_promises(env: Env) -> list[int]:
    """Deferred jobs whose promised date passed."""
    tickets = [(await in_progress(env))[0] for _ in range(DUE)]
    for t in tickets:
        await work.defer(env.store.uow(), t, env.world.tom, T0 + timedelta(days=1), "parts")
    env.clock.now = T0 + timedelta(days=2)
    return tickets


async def _jobs_past_their_target(env: Env) -> list[int]:
    """Jobs in progress past their 4 hour completion target."""
    tickets = [(await in_progress(env))[0] for _ in range(DUE)]
    env.clock.advance(timedelta(hours=5))
    return tickets


async def _unconfirmed_completions(env: Env) -> list[int]:
    """Completed jobs nobody confirmed within the auto-close period."""
    tickets = [(await in_progress(env))[0] for _ in range(DUE)]
    for t in tickets:
        await work.complete(env.store.uow(), t, env.world.tom)
    env.clock.advance(env.store.policy.auto_close_after + timedelta(hours=1))
    return tickets


@dataclass(frozen=True)
class Check:
    """A scheduled check, a world where it fell due for several tickets, and what handling
    one ticket leaves: its events, its notices (kind, whom: a World field), its follow-ups
    and its status."""

    run: BatchStep
    make_due: Callable[[Env], Awaitable[list[int]]]
    events: tuple[str, ...]
    told: tuple[tuple[str, str], ...]
    followups: int
    status: Status | None  # None: as it was


CHECKS = {
    "escalated": Check(
        sla.escalate_overdue_offers_batch,
        _unaccepted_offers,
        ("escalate",),
        (("queue.escalated", "dana"), ("queue.escalated", "ada")),
        0,
        None,
    ),
    "promise_missed": Check(
        sla.escalate_missed_promises_batch,
        _missed_promises,
        ("promise_missed", "followup_missed_promise"),
        (("followup.new", "sam"), ("ticket.promise_missed", "requester")),
        1,
        None,
    ),
    "overdue": Check(
        sla.flag_overdue_batch,
        _jobs_past_their_target,
        ("overdue",),
        (("ticket.overdue", "sam"),),
        0,
        None,
    ),
    "closed": Check(
        sla.auto_close_batch,
        _unconfirmed_completions,
        ("auto_close",),
        (("ticket.closed", "requester"),),
        0,
        Status.CLOSED,
    ),
}


@pytest.mark.parametrize("name", list(CHECKS))
async def test_two_ticks_at_once_handle_each_due_ticket_once(
    store: Store, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During a leader takeover (or a slow tick) two instances may run the same check at
    the same moment: whichever gets a ticket, it is handled once (one event, one notice
    per recipient, one follow-up, one status move), and neither tick fails.

    On PostgreSQL both ticks read the same due tickets before either claims one, so only
    the claim's compare-and-set keeps the second from handling them again. SQLite
    serialises writers: the second tick starts after the first committed."""
    check = CHECKS[name]
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    tickets = await check.make_due(env)
    status = {t: (await ticket_row(st, t)).status for t in tickets}
    events_before = {t: len(await events_of(st, t)) for t in tickets}
    mark = await last_outbox_id(st)
    if st.engine.dialect.name == "postgresql":
        both_read = asyncio.Barrier(2)
        real_due_ids = aggregate.due_ids

        async def read_then_wait_for_the_other(
            uow: UnitOfWork, due: list[ColumnElement[bool]], after: int, limit: int
        ) -> list[int]:
            ids = await real_due_ids(uow, due, after, limit)
            await both_read.wait()
            return ids

        monkeypatch.setattr(aggregate, "due_ids", read_then_wait_for_the_other)
        monkeypatch.setattr(sla, "due_ids", read_then_wait_for_the_other)
    other = Store(create_engine(st.engine.url.render_as_string(hide_password=False)), st.policy)
    other.clock = clock
    try:
        first, second = await asyncio.wait_for(
            asyncio.gather(check.run(st.uow()), check.run(other.uow())), timeout=60
        )
    finally:
        await other.dispose()

    assert (first.failed, second.failed) == ([], [])
    assert not set(first.numbers) & set(second.numbers)
    assert sorted(first.numbers + second.numbers) == sorted(
        [(await ticket_row(st, t)).number for t in tickets]
    )
    told = sorted((kind, getattr(w, whom)) for kind, whom in check.told)
    for t in tickets:
        assert [e.action for e in (await events_of(st, t))[events_before[t] :]] == list(
            check.events
        )
        assert notices(await outbox_rows(st, after=mark, ticket_id=t)) == told
        assert len(await followups_of(st, t)) == check.followups
        assert (await ticket_row(st, t)).status == (check.status or status[t])
