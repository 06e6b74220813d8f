"""The scheduler's ticks, the daily digest and the leader check on PTB's job queue
(APScheduler 3): what runs how often, and only on the leader."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram.ext import Application, JobQueue

from bot import menus
from bot.digest import send_due_digests
from bot.metrics import Metrics
from bot.sender import OutboxSender
from bot.settings import Settings
from scheduler.leadership import LEADER_INTERVAL_S, Leadership
from scheduler.ticks import (
    PRIVACY_INTERVAL_S,
    SLA_INTERVAL_S,
    SUMMARIES_INTERVAL_S,
    privacy_tick,
    sla_tick,
    summaries_tick,
)
from store.delivery.inbox import prune_handled
from store.uow import Store

log = logging.getLogger(__name__)
DIGEST_INTERVAL_S = 60.0
PRUNE_INTERVAL_S = 3600.0  # handled updates: a day's worth is kept, an hour either way is fine
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
    metrics: Metrics | None = None,
) -> None:
    """Register the repeating jobs on PTB's job queue (each leader-only run is measured
    in `metrics`: count, outcome, duration, last run)."""
    queue: JobQueue[Any] | None = app.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    def going() -> bool:
        # A catch-up ends after its current batch once the bot is stopping: PTB's stop
        # waits for running jobs, and the rest of a backlog is due again next start.
        return bool(app.running)

    async def leader(_: Any) -> None:
        await leadership.refresh()

    def on_leader(name: str, work: Callable[[], Awaitable[None]]) -> JobCallback:
        """A job that runs `work` only while this instance leads; a database that is
        briefly away is logged and the next tick tries again."""

        async def job(_: Any) -> None:
            # A catch-up after downtime is work for both cores: not before the first
            # user's answer (at most QUIET_START_S more on a quiet start).
            await menus.after_first_answer(app)
            if not leadership.leading:
                return
            started = time.perf_counter()
            outcome = "error"
            try:
                await work()
                outcome = "ok"
            except OperationalError as exc:
                log.warning("%s: database unavailable, will retry: %s", name, exc.orig)
            finally:
                if metrics is not None:
                    metrics.scheduler_run(name, outcome, time.perf_counter() - started)

        return job

    async def sla() -> None:
        done = await sla_tick(store, going=going)
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
        await summaries_tick(store, going=going)

    async def handled_updates() -> None:
        pruned = await prune_handled(store.uow())
        if pruned:
            log.info("handled updates: forgot %d older than a day", pruned)

    async def retention() -> None:
        done = await privacy_tick(store, going=going)
        if any(done.values()):
            log.info("privacy retention: %s", {k: len(v) for k, v in done.items()})

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
    queue.run_repeating(
        on_leader("handled updates", handled_updates),
        interval=PRUNE_INTERVAL_S,
        first=60.0,
        name="handled_updates",
    )
    queue.run_repeating(
        on_leader("privacy", retention),
        interval=PRIVACY_INTERVAL_S,
        first=20.0,
        name="privacy",
    )
