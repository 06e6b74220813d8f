"""Ticket numbers follow the campus calendar year: the year rolls over at local midnight."""

from __future__ import annotations

from datetime import UTC, datetime

from store.uow import Store
from tests.support.world import Clock, clocked, file_ticket, make_env


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
