"""Booth claim codes expire `service.claim_ttl_days` after filing (SQLite and PostgreSQL):
a late code is refused as expired and the ticket stays with the walk-up person."""

from __future__ import annotations

import pytest

from store.errors import InviteInvalid
from store.models import Person
from store.uow import Store
from tests.support.booth_world import claim, make_booth_world, walkup
from tests.support.rows import ticket_row
from tests.support.world import Clock, next_telegram_id


async def test_a_claim_code_works_until_its_last_day_and_not_after(store: Store) -> None:
    w = await make_booth_world(store)
    assert store.policy.claim_ttl.days == 30
    on_time, late = await walkup(w, name="Wang Wei"), await walkup(w, name="Li Na")
    clock = store.clock
    assert isinstance(clock, Clock)
    clock.advance(days=29, hours=23)
    assert await claim(w, on_time.code, next_telegram_id()) == on_time.report.ticket.number
    clock.advance(hours=1)  # 30 days after filing: the claim window has closed
    with pytest.raises(InviteInvalid) as refused:
        await claim(w, late.code, next_telegram_id(), name="Mallory")
    assert refused.value.reason == "expired"
    t = await ticket_row(w.store, late.report.ticket.id)
    async with store.uow() as uow:
        walkup_row = await uow.session.get(Person, t.requester_id)
        assert walkup_row is not None and walkup_row.telegram_id is None  # still unclaimed


async def test_a_400_day_old_code_is_refused_even_though_it_was_never_used(
    store: Store,
) -> None:
    w = await make_booth_world(store)
    result = await walkup(w)
    clock = store.clock
    assert isinstance(clock, Clock)
    clock.advance(days=400)
    with pytest.raises(InviteInvalid) as refused:
        await claim(w, result.code, next_telegram_id())
    assert refused.value.reason == "expired"
