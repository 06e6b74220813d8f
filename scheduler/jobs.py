"""Time-driven work on PTB's job queue (APScheduler 3). Everything the jobs act on is
derived from database rows (due_at, promised_at, claimed digests), so after downtime
overdue work is done once, and nothing depends on in-memory timers.

With several instances on PostgreSQL only the leader (advisory lock, store.leader) runs
these jobs and the outbox sender; the others check every few seconds and take over when
the leader's connection goes away.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram.ext import Application, JobQueue

from bot.digest import send_due_digests
from bot.sender import OutboxSender
from bot.settings import Settings
from store.intake import sweep
from store.leader import LeaderLock
from store.repair import sla
from store.reporting import summaries
from store.uow import Store

log = logging.getLogger(__name__)
LEADER_INTERVAL_S = 3.0
SLA_INTERVAL_S = 30.0
DIGEST_INTERVAL_S = 60.0
SUMMARIES_INTERVAL_S = 60.0
SUMMARIES_BUDGET_S = 30.0
BATCH_PAUSE_S = 0.12


@dataclass
class Leadership:
    """Whether this instance leads, and the sender that runs only while it does."""

    lock: LeaderLock
    sender: OutboxSender
    leading: bool = field(default=False)

    async def refresh(self) -> bool:
        """Check the lock; start or stop the sender when leadership changes."""
        try:
            now_leading = await self.lock.check()
        except Exception as exc:  # database unreachable: not leading, try again later
            log.warning("leader check failed: %s", exc)
            now_leading = False
        if now_leading and not self.leading:
            self.sender.start()
        elif self.leading and not now_leading:
            await self.sender.stop()
        self.leading = now_leading
        return now_leading

    async def resign(self) -> None:
        """Stop the sender and free the lock (shutdown)."""
        await self.sender.stop()
        await self.lock.release()
        self.leading = False


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
        "sweeps_started": [str(i) for i in await sweep.repeat_due_campaigns(store.uow())],
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


def schedule(
    app: Application[Any, Any, Any, Any, Any, Any],
    store: Store,
    settings: Settings,
    leadership: Leadership,
) -> None:
    """Register the repeating jobs on PTB's job queue."""
    queue: JobQueue[Any] | None = app.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    async def leader(_: Any) -> None:
        await leadership.refresh()

    async def sla_job(_: Any) -> None:
        if not leadership.leading:
            return
        try:
            done = await sla_tick(store)
        except OperationalError as exc:
            log.warning("sla: database unavailable, will retry: %s", exc.orig)
            return
        if any(done.values()):
            log.info("sla: %s", done)
            leadership.sender.nudge()

    async def digest_job(_: Any) -> None:
        if not leadership.leading:
            return
        try:
            sent = await send_due_digests(app.bot, store, settings)
        except OperationalError as exc:
            log.warning("digest: database unavailable, will retry: %s", exc.orig)
            return
        if sent:
            log.info("digest: sent to %d supervisor(s)", len(sent))

    async def summaries_job(_: Any) -> None:
        if not leadership.leading:
            return
        try:
            await summaries_tick(store)
        except OperationalError as exc:
            log.warning("summaries: database unavailable, will retry: %s", exc.orig)

    queue.run_repeating(leader, interval=LEADER_INTERVAL_S, first=LEADER_INTERVAL_S, name="leader")
    queue.run_repeating(sla_job, interval=SLA_INTERVAL_S, first=5.0, name="sla")
    queue.run_repeating(digest_job, interval=DIGEST_INTERVAL_S, first=10.0, name="digest")
    queue.run_repeating(summaries_job, interval=SUMMARIES_INTERVAL_S, first=15.0, name="summaries")
