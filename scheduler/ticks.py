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
# Whether a tick may start its next batch: False once the bot is stopping, so a catch-up of
# thousands of tickets ends after its current batch instead of holding the shutdown (PTB
# waits for running jobs) until the whole backlog is done; the rest is due next start.
Going = Callable[[], bool]


def _always() -> bool:
    return True


async def sla_tick(
    store: Store,
    *,
    pause: Callable[[], Awaitable[None]] | None = None,
    going: Going = _always,
) -> dict[str, list[str]]:
    """Escalations and clean-up whose time has come, each at most once per ticket.

    Each check runs in batches (store.repair.sla), one transaction each; between two
    batches `pause` lets users' updates take the database (SQLite has one writer), so a
    catch-up of thousands of tickets after downtime never stalls anyone for long. Once
    `going()` is False (the bot stopping) no further batch starts.
    """
    wait = pause or _between_batches
    return {
        "escalated": await run_batches(store, sla.escalate_overdue_offers_batch, wait, going),
        "promise_missed": await run_batches(
            store, sla.escalate_missed_promises_batch, wait, going
        ),
        "overdue": await run_batches(store, sla.flag_overdue_batch, wait, going),
        "closed": await run_batches(store, sla.auto_close_batch, wait, going),
        "sweeps_started": (
            [str(i) for i in await campaigns.repeat_due_campaigns(store.uow())] if going() else []
        ),
    }


async def privacy_tick(
    store: Store,
    *,
    pause: Callable[[], Awaitable[None]] | None = None,
    going: Going = _always,
) -> dict[str, list[str]]:
    """Personal data past its retention period ([privacy] settings), erased batch by
    batch like the SLA checks (store.directory.privacy): contact phones of tickets ended
    `contact_retention_days` ago, photos of those ended `photo_retention_days` ago, and
    requesters inactive `person_retention_days` with no open ticket (anonymised). Each
    batch is claimed by a conditional UPDATE and nothing is due twice: idempotent, and
    the figures and day summaries do not change. Returns the ids done, per kind."""
    wait = pause or _between_batches
    return {
        "contacts_erased": await run_batches(store, privacy.erase_contacts_batch, wait, going),
        "photos_dropped": await run_batches(store, privacy.drop_photos_batch, wait, going),
        "people_anonymised": await run_batches(
            store, privacy.anonymise_inactive_batch, wait, going
        ),
    }


async def summaries_tick(
    store: Store,
    *,
    pause: Callable[[], Awaitable[None]] | None = None,
    going: Going = _always,
) -> int:
    """Add the tickets closed or cancelled since the last tick to the day summaries
    (store.reporting.summaries), a short transaction per batch; returns how many batches
    ran. After an upgrade the whole history goes through here once, batch by batch."""
    batches = 0
    after = 0
    wait = pause or _between_batches
    deadline = time.monotonic() + SUMMARIES_BUDGET_S
    # The rest of a long catch-up: at the next tick (or the next start).
    while time.monotonic() < deadline and going():
        batch = await summaries.summarize_batch(store.uow(), after=after)
        if batch.last_id is None:
            break
        batches += 1
        after = batch.last_id
        await wait()
    return batches


async def run_batches(
    store: Store,
    step: sla.BatchStep,
    pause: Callable[[], Awaitable[None]],
    going: Going = _always,
) -> list[str]:
    """Call `step` batch after batch (each its own committed unit) until nothing is due,
    or `going()` says the bot is stopping (what is left stays due: the next tick does it)."""
    done: list[str] = []
    after = 0
    while going():
        batch = await step(store.uow(), after=after)
        done.extend(batch.numbers)
        if batch.last_id is None:
            return done
        after = batch.last_id
        await pause()
    return done


async def _between_batches() -> None:
    # Longer than SQLite's busy handler sleeps between its tries late in a wait (100 ms),
    # so a user's write that queued behind a batch gets the lock before the next batch.
    await asyncio.sleep(BATCH_PAUSE_S)
