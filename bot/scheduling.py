"""The scheduler's ticks, the daily digest and the leader check on PTB's job queue
(APScheduler 3): what runs how often, and only on the leader."""

from __future__ import annotations

import logging
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
            sender.nudge()

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
