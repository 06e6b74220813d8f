"""The ticks: time-driven work the bot's job queue runs every few seconds (bot/scheduling.py)
on the leader (scheduler/leadership.py). Everything a tick acts on is derived from
database rows (due_at, promised_at, overdue_at), so after downtime overdue work is done
once, and nothing depends on in-memory timers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from store.directory import privacy
from store.intake import campaigns
from store.repair import sla
from store.reporting import summaries
from store.uow import Store

SLA_INTERVAL_S = 30.0
SUMMARIES_INTERVAL_S = 60.0
SUMMARIES_BUDGET_S = 30.0
# Retention counts in days: an hourly pass erases what is due within the hour.
PRIVACY_INTERVAL_S = 3600.0
BATCH_PAUSE_S = 0.12


async def sla_tick(
    store: Store, *, pause: Callable[[], Awaitable[None]] | None = None
) -> dict[str, list[str]]:
    """Escalations and clean-up whose time has come, each at most once per ticket.

    Each check runs in batches (store.repair.sla), one transaction each; between two
    batches `pause` lets users' updates take the database (SQLite has one writer), so a
    catch-up of thousands of tickets after downtime never stalls anyone for long.
    """
    wait = pause or _between_batches
    return {
        "escalated": await run_batches(store, sla.escalate_overdue_offers_batch, wait),
        "promise_missed": await run_batches(store, sla.escalate_missed_promises_batch, wait),
        "overdue": await run_batches(store, sla.flag_overdue_batch, wait),
        "closed": await run_batches(store, sla.auto_close_batch, wait),
        "sweeps_started": [str(i) for i in await campaigns.repeat_due_campaigns(store.uow())],
    }


async def privacy_tick(
    store: Store, *, pause: Callable[[], Awaitable[None]] | None = None
) -> dict[str, list[str]]:
    """Personal data past its retention period ([privacy] settings), erased batch by
    batch like the SLA checks (store.directory.privacy): contact phones of tickets ended
    `contact_retention_days` ago, photos of those ended `photo_retention_days` ago, and
    requesters inactive `person_retention_days` with no open ticket (anonymised). Each
    batch is claimed by a conditional UPDATE and nothing is due twice: idempotent, and
    the figures and day summaries do not change. Returns the ids done, per kind."""
    wait = pause or _between_batches
    return {
        "contacts_erased": await run_batches(store, privacy.erase_contacts_batch, wait),
        "photos_dropped": await run_batches(store, privacy.drop_photos_batch, wait),
        "people_anonymised": await run_batches(store, privacy.anonymise_inactive_batch, wait),
    }


async def summaries_tick(
    store: Store, *, pause: Callable[[], Awaitable[None]] | None = None
) -> int:
    """Add the tickets closed or cancelled since the last tick to the day summaries
    (store.reporting.summaries), a short transaction per batch; returns how many batches
    ran. After an upgrade the whole history goes through here once, batch by batch."""
    batches = 0
    after = 0
    wait = pause or _between_batches
    deadline = time.monotonic() + SUMMARIES_BUDGET_S
    while time.monotonic() < deadline:  # the rest of a long catch-up: at the next tick
        batch = await summaries.summarize_batch(store.uow(), after=after)
        if batch.last_id is None:
            break
        batches += 1
        after = batch.last_id
        await wait()
    return batches


async def run_batches(
    store: Store, step: sla.BatchStep, pause: Callable[[], Awaitable[None]]
) -> list[str]:
    """Call `step` batch after batch (each its own committed unit) until nothing is due."""
    done: list[str] = []
    after = 0
    while True:
        batch = await step(store.uow(), after=after)
        done.extend(batch.numbers)
        if batch.last_id is None:
            return done
        after = batch.last_id
        await pause()


async def _between_batches() -> None:
    # Longer than SQLite's busy handler sleeps between its tries late in a wait (100 ms),
    # so a user's write that queued behind a batch gets the lock before the next batch.
    await asyncio.sleep(BATCH_PAUSE_S)
