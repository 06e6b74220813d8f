"""A scheduler catch-up runs in committed batches: users get in between, and one ticket's
failure neither stops the tick nor is lost (it is handed back for the next tick)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

import pytest
from sqlmodel import col, func, select

from scheduler.ticks import run_batches, sla_tick
from store.directory import profiles
from store.domain.notices import notify_audience as real_notify_audience
from store.domain.offers import escalate as real_escalate
from store.domain.scope import responsible_supervisors as real_supervisors
from store.domain.tickets import TicketContext
from store.domain.tickets import log_event as real_log_event
from store.lifecycle import Action, Status
from store.models import Building, Ticket
from store.repair import dispatch, sla, work
from store.uow import Store, UnitOfWork
from tests.support.rows import last_outbox_id, outbox_rows, ticket_row
from tests.support.scheduled import run_check
from tests.support.world import Env, file_ticket, make_env


async def _started(env: Env, count: int) -> list[tuple[int, str]]:
    """`count` water tickets accepted and started by Tom (complete within 4 hours)."""
    st, w = env.store, env.world
    started = []
    for _ in range(count):
        ticket = (await file_ticket(st, w)).ticket
        await dispatch.accept(st.uow(), ticket.id, w.tom)
        await work.start(st.uow(), ticket.id, w.tom)
        started.append((ticket.id, ticket.number))
    return started


async def _flagged(env: Env) -> int:
    async with env.store.read() as uow:
        query = select(func.count()).where(col(Ticket.overdue_at).is_not(None))
        return int((await uow.session.execute(query)).scalar_one())


async def _noop() -> None:
    return None


async def test_each_batch_is_committed_and_a_user_writes_between_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store)
    tickets = await _started(env, 5)
    env.clock.advance(timedelta(hours=5))
    seen: list[int] = []
    seen_inside: list[int] = []

    async def supervisors_and_a_read(uow: UnitOfWork, building: Building) -> list[int]:
        # A user's read (its own task) while a batch holds its transaction open answers
        # at once, with what was committed before the batch (reads take no write lock).
        seen_inside.append(await asyncio.create_task(_flagged(env)))
        return await real_supervisors(uow, building)

    monkeypatch.setattr(sla, "responsible_supervisors", supervisors_and_a_read)

    async def between() -> None:
        # What another connection sees between two batches: the batches so far, committed.
        seen.append(await _flagged(env))
        # And a user's write gets through: had the tick kept its transaction (SQLite's
        # write lock) open across batches, this would wait and fail "database is locked".
        await profiles.ensure_person(env.store.uow(), 990_000 + len(seen), "Walk-in", "en")

    done = await run_batches(env.store, partial(sla.flag_overdue_batch, limit=2), between)
    assert done == [number for _, number in tickets]
    assert seen == [2, 4, 5]
    assert seen_inside == [0, 2, 4]


async def test_a_failing_ticket_is_handed_back_and_the_ones_after_it_still_move(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store)
    (first, n1), (broken, _), (third, n3) = await _started(env, 3)
    mark = await last_outbox_id(env.store)
    env.clock.advance(timedelta(hours=5))

    def failing_log_event(
        uow: UnitOfWork,
        ctx: TicketContext,
        action: Action | str,
        from_status: Status | None,
        to_status: Status | None,
        note: str | None = None,
    ) -> None:
        if ctx.id == broken:
            raise ValueError("a bad row")
        real_log_event(uow, ctx, action, from_status, to_status, note)

    monkeypatch.setattr(sla, "log_event", failing_log_event)
    assert (await sla_tick(env.store, pause=_noop))["overdue"] == [n1, n3]
    assert (await ticket_row(env.store, broken)).overdue_at is None  # due again next tick
    flagged = {
        r.ticket_id for r in await outbox_rows(env.store, after=mark, kind="ticket.overdue")
    }
    assert flagged == {first, third}

    monkeypatch.setattr(sla, "log_event", real_log_event)
    [number] = (await sla_tick(env.store, pause=_noop))["overdue"]
    assert (await ticket_row(env.store, broken)).overdue_at is not None
    assert number != n1 and number != n3


async def test_a_failing_escalation_is_rolled_back_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    waiting = [(await file_ticket(st, w)).ticket for _ in range(3)]  # accept within 30 min
    mark = await last_outbox_id(st)
    env.clock.advance(timedelta(minutes=31))
    broken = waiting[1].id

    async def half_done_then_fails(uow: UnitOfWork, ctx: TicketContext, *, reason: str) -> None:
        await real_escalate(uow, ctx, reason=reason)  # its notices are written ...
        if ctx.id == broken:
            raise RuntimeError("... and then it fails")

    monkeypatch.setattr(sla, "escalate", half_done_then_fails)
    done = (await sla_tick(st, pause=_noop))["escalated"]
    assert done == [waiting[0].number, waiting[2].number]
    # Nothing of the failed one stays: no notices, not marked, so the next tick retries it.
    escalated = {r.ticket_id for r in await outbox_rows(st, after=mark, kind="queue.escalated")}
    assert escalated == {waiting[0].id, waiting[2].id}
    assert (await ticket_row(st, broken)).escalated_at is None
    monkeypatch.setattr(sla, "escalate", real_escalate)
    assert (await sla_tick(st, pause=_noop))["escalated"] == [waiting[1].number]


async def test_one_failing_ticket_does_not_stop_the_auto_close_tick(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    tickets = [ticket_id for ticket_id, _ in await _started(env, 3)]
    for ticket_id in tickets:
        await work.complete(st.uow(), ticket_id, w.tom)
    env.clock.advance(st.policy.auto_close_after + timedelta(hours=1))
    bad = tickets[1]

    async def breaks_on_one(
        uow: UnitOfWork, ctx: TicketContext, kind: str, **extra: object
    ) -> None:
        if ctx.id == bad:
            raise RuntimeError("a broken row")
        await real_notify_audience(uow, ctx, kind, **extra)

    with monkeypatch.context() as patch:
        patch.setattr(sla, "notify_audience", breaks_on_one)
        closed = await run_check(st, sla.auto_close_batch)
    assert len(closed) == 2
    assert (await ticket_row(st, bad)).status == Status.COMPLETED  # left for the next tick
    assert await outbox_rows(st, ticket_id=bad, kind="ticket.closed") == []
    assert len(await run_check(st, sla.auto_close_batch)) == 1
    assert (await ticket_row(st, bad)).status == Status.CLOSED


async def test_a_stopping_bot_ends_the_catch_up_after_the_current_batch(
    store: Store,
) -> None:
    # PTB's stop waits for running jobs: a catch-up of a long backlog must not hold the
    # shutdown until it is done. What is left stays due and the next tick does it.
    env = await make_env(store)
    tickets = await _started(env, 5)
    env.clock.advance(timedelta(hours=5))
    stopping = False

    async def stop_after_a_batch() -> None:
        nonlocal stopping
        stopping = True

    def going() -> bool:
        return not stopping

    check = partial(sla.flag_overdue_batch, limit=2)
    done = await run_batches(env.store, check, stop_after_a_batch, going)
    assert done == [number for _, number in tickets[:2]]
    assert await _flagged(env) == 2
    # The bot already stopping when a tick starts: it does nothing.
    assert await sla_tick(env.store, pause=_noop, going=going) == {
        "escalated": [],
        "promise_missed": [],
        "overdue": [],
        "closed": [],
        "sweeps_started": [],
    }
    assert await _flagged(env) == 2
    # The next start's tick does the rest, each ticket once.
    rest = (await sla_tick(env.store, pause=_noop))["overdue"]
    assert rest == [number for _, number in tickets[2:]]
    assert await _flagged(env) == 5
