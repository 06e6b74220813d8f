"""Interval jobs. Everything they act on is derived from database rows, so after downtime
overdue work is picked up once, and nothing depends on in-memory timers."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram.ext import Application, JobQueue

from store.services import dispatch, requester
from store.uow import Store

log = logging.getLogger(__name__)
SLA_INTERVAL_S = 60.0


async def sla_tick(store: Store) -> dict[str, list[str]]:
    """Escalate offers nobody accepted in time; close completed tickets nobody confirmed."""
    escalated = await dispatch.escalate_overdue_offers(store.uow())
    closed = await requester.auto_close_completed(store.uow())
    if escalated or closed:
        log.info("sla: escalated %s, auto-closed %s", escalated, closed)
    return {"escalated": escalated, "closed": closed}


def schedule(app: Application[Any, Any, Any, Any, Any, Any], store: Store) -> None:
    """Register the repeating jobs on PTB's job queue (APScheduler 3 underneath)."""
    queue: JobQueue[Any] | None = app.job_queue
    if queue is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")

    async def tick(context: Any) -> None:
        try:
            await sla_tick(store)
        except OperationalError as exc:
            log.warning("sla: database unavailable, will retry: %s", exc.orig)
        sender = getattr(context.bot_data, "sender", None)
        if sender is not None:
            sender.nudge()

    queue.run_repeating(tick, interval=SLA_INTERVAL_S, first=5.0, name="sla")
