"""The scheduler's ticks, the daily digest and the leader check on PTB's job queue
(APScheduler 3): what runs how often, and only on the leader."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram.ext import Application, JobQueue

from bot.digest import send_due_digests
from bot.sender import OutboxSender
from bot.settings import Settings
from scheduler.leadership import LEADER_INTERVAL_S, Leadership
from scheduler.ticks import SLA_INTERVAL_S, SUMMARIES_INTERVAL_S, sla_tick, summaries_tick
from store.uow import Store

log = logging.getLogger(__name__)
DIGEST_INTERVAL_S = 60.0
JobCallback = Callable[[Any], Coroutine[Any, Any, None]]


def _few(numbers: list[str], shown: int = 5) -> str:
    """How many, and the first few: "3 (2026-000001, ...)"."""
    more = ", ..." if len(numbers) > shown else ""
    return f"{len(numbers)} ({', '.join(numbers[:shown])}{more})"


def schedule(
    app: Application[Any, Any, Any, Any, Any, Any],
    store: Store,
    settings: Settings,
    leadership: Leadership,
    sender: OutboxSender,
) -> None:
    """Register the repeating jobs on PTB's job queue."""
    queue: JobQueue[Any] | None = app.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    async def leader(_: Any) -> None:
        await leadership.refresh()

    def on_leader(name: str, work: Callable[[], Awaitable[None]]) -> JobCallback:
        """A job that runs `work` only while this instance leads; a database that is
        briefly away is logged and the next tick tries again."""

        async def job(_: Any) -> None:
            if not leadership.leading:
                return
            try:
                await work()
            except OperationalError as exc:
                log.warning("%s: database unavailable, will retry: %s", name, exc.orig)

        return job

    async def sla() -> None:
        done = await sla_tick(store)
        if any(done.values()):
            # Counts and a few numbers: after downtime a catch-up flags tens of thousands,
            # and one log line with all of them was megabytes.
            log.info("sla: %s", {k: _few(v) for k, v in done.items() if v})
            sender.nudge()

    async def digest() -> None:
        sent = await send_due_digests(app.bot, store, settings)
        if sent:
            log.info("digest: sent to %d supervisor(s)", len(sent))

    async def summaries() -> None:
        await summaries_tick(store)

    queue.run_repeating(leader, interval=LEADER_INTERVAL_S, first=LEADER_INTERVAL_S, name="leader")
    queue.run_repeating(on_leader("sla", sla), interval=SLA_INTERVAL_S, first=5.0, name="sla")
    queue.run_repeating(
        on_leader("digest", digest), interval=DIGEST_INTERVAL_S, first=10.0, name="digest"
    )
    queue.run_repeating(
        on_leader("summaries", summaries),
        interval=SUMMARIES_INTERVAL_S,
        first=15.0,
        name="summaries",
    )
