"""Running one of the scheduler's checks from a test, as a tick runs it."""

from __future__ import annotations

from scheduler.ticks import run_batches
from store.repair.sla import BatchStep
from store.uow import Store


async def run_check(store: Store, check: BatchStep) -> list[str]:
    """The numbers of the tickets `check` (a `store.repair.sla` `*_batch` function)
    handled, batch after batch until nothing is due: one check of a tick, without the
    pauses between batches."""
    return await run_batches(store, check, _no_pause)


async def _no_pause() -> None:
    return None
