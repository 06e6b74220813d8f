"""A double-tapped visit answer counts once; numbers follow the campus calendar year."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from store.errors import TransitionNotAllowed
from store.repair import dispatch, work
from store.uow import Store
from tests.support.races import warm_pool
from tests.support.rows import events_of, outbox_rows, ticket_row
from tests.support.world import Clock, clocked, file_ticket, make_env


async def test_a_double_tapped_visit_answer_counts_once(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    t = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), t, w.ann)
    await work.propose_visit(st.uow(), t, w.ann, st.clock() + timedelta(days=1))
    await warm_pool(st, 3)
    outcomes = await asyncio.gather(
        *(work.answer_visit(st.uow(), t, w.requester, accepted=True) for _ in range(3)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, TransitionNotAllowed) for o in outcomes if isinstance(o, Exception))
    assert (await ticket_row(st, t)).visit_confirmed
    assert len(await outbox_rows(st, ticket_id=t, kind="job.visit_accepted")) == 1
    assert [e.action for e in await events_of(st, t)].count("visit_accepted") == 1


async def test_numbers_roll_over_at_local_new_year(store: Store) -> None:
    env = await make_env(store)
    w = env.world
    # 17:30 UTC on 31 December is already 01:30 on 1 January in Asia/Shanghai.
    clock = Clock(datetime(2030, 12, 31, 17, 30, tzinfo=UTC))
    st = clocked(env.store, clock, timezone="Asia/Shanghai")
    first = await file_ticket(st, w)
    assert first.ticket.number == "2031-000001"
    london = clocked(env.store, clock, timezone="Europe/London")
    second = await file_ticket(london, w)
    assert second.ticket.number == "2030-000001"
