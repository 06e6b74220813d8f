"""What an operator can measure: Prometheus metrics on a registry of the Application's own,
and one log line per handled update.

Every update passes through `ObservedApplication.process_update` (polling, webhook, or a
test calling it directly): it is timed there, and the gatekeeper (who asked) and the
error handler (it failed) note what they learnt in the update's record. No label carries
personal data: kinds, outcomes, Bot API method names, job names and ticket statuses only.

Figures read from the database (outbox backlog, open tickets) are read on a scrape, at most
once per `DB_CACHE_S` however many scrapes arrive, and within `DB_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update

from bot.inbox import InboxApplication
from store.delivery import outbox
from store.reporting import health
from store.uow import Store

log = logging.getLogger(__name__)
update_log = logging.getLogger("bot.updates")

UPDATE_KINDS = ("command", "button", "step", "other")
UPDATE_OUTCOMES = ("ok", "error", "skipped")
DB_CACHE_S = 5.0
DB_TIMEOUT_S = 1.0
CONTENT_TYPE = CONTENT_TYPE_LATEST


def update_kind(update: Update) -> str:
    """command (a message starting with a bot command), button (a press), step (any other
    message: a flow's next answer), other (edits, membership changes, ...)."""
    if update.callback_query is not None:
        return "button"
    message = update.message
    if message is None:
        return "other"
    entities = message.entities or ()
    if any(e.type == e.BOT_COMMAND and e.offset == 0 for e in entities):
        return "command"
    return "step"


@dataclass
class UpdateRecord:
    """What is learnt about one update while it is handled."""

    update_id: int
    kind: str
    person_id: int | None = None
    failed: bool = False


_CURRENT: contextvars.ContextVar[UpdateRecord | None] = contextvars.ContextVar(
    "repairbot_update", default=None
)


def note_person(person_id: int) -> None:
    """The gatekeeper knows who asks (internal person id, never the Telegram id)."""
    record = _CURRENT.get()
    if record is not None:
        record.person_id = person_id


def note_error() -> None:
    """The error handler ran for the update being handled."""
    record = _CURRENT.get()
    if record is not None:
        record.failed = True


@dataclass(frozen=True)
class DbFigures:
    """The database's side of the picture, as of `read_at` (monotonic seconds)."""

    backlog: int
    oldest_due_age_s: float | None
    open_by_status: dict[str, int]
    read_at: float


@dataclass
class Metrics:
    """The metrics of one Application (each has its own registry, so tests build many)."""

    store: Store | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    last_tick: float | None = None  # time.time() of the last leader-only job run here
    _figures: DbFigures | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        r = self.registry
        self.updates = Counter(
            "repairbot_updates_total", "Updates handled", ["kind", "outcome"], registry=r
        )
        self.update_seconds = Histogram(
            "repairbot_update_seconds", "Time to handle an update", ["kind"], registry=r
        )
        for kind in UPDATE_KINDS:
            self.update_seconds.labels(kind)
            for outcome in UPDATE_OUTCOMES:
                self.updates.labels(kind, outcome)
        self.api_calls = Counter(
            "repairbot_bot_api_calls_total",
            "Bot API calls (each try) by method and outcome: ok, error, retry_after (429), "
            "timeout",
            ["method", "outcome"],
            registry=r,
        )
        self.notices_sent = Counter(
            "repairbot_notices_sent_total", "Notices Telegram accepted", registry=r
        )
        self.notices_failed = Counter(
            "repairbot_notices_failed_total",
            "Notice deliveries that failed (retried later or given up)",
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "repairbot_outbox_backlog", "Notices due now and not sent yet", registry=r
        )
        self.outbox_oldest_due = Gauge(
            "repairbot_outbox_oldest_due_seconds",
            "How long the oldest unsent due notice has been due (0: none)",
            registry=r,
        )
        self.scheduler_runs = Counter(
            "repairbot_scheduler_runs_total",
            "Leader-only scheduled job runs by outcome",
            ["job", "outcome"],
            registry=r,
        )
        self.scheduler_seconds = Histogram(
            "repairbot_scheduler_run_seconds",
            "Duration of a scheduled job run",
            ["job"],
            registry=r,
        )
        self.scheduler_last_run = Gauge(
            "repairbot_scheduler_last_run_timestamp_seconds",
            "When a scheduled job last ran on this instance (Unix time)",
            ["job"],
            registry=r,
        )
        self.leader = Gauge(
            "repairbot_leader", "1 while this instance leads (scheduler, sender)", registry=r
        )
        self.open_tickets = Gauge(
            "repairbot_open_tickets", "Open tickets by status", ["status"], registry=r
        )

    # -- recording ----------------------------------------------------------------------------

    async def observe_update(self, update: Update, run: Awaitable[None]) -> None:
        """Handle an update (`run`), timing it; then count it and log one line."""
        record = UpdateRecord(update.update_id, update_kind(update))
        token = _CURRENT.set(record)
        started = time.perf_counter()
        try:
            await run
        except Exception:
            record.failed = True
            raise
        finally:
            _CURRENT.reset(token)
            seconds = time.perf_counter() - started
            if record.failed:
                outcome = "error"
            elif record.person_id is None:
                outcome = "skipped"  # dropped before any flow: a group, a bot, a block
            else:
                outcome = "ok"
            self.updates.labels(record.kind, outcome).inc()
            self.update_seconds.labels(record.kind).observe(seconds)
            ms = round(seconds * 1000, 1)
            update_log.info(
                "update %d %s person=%s %.1f ms %s",
                record.update_id,
                record.kind,
                record.person_id if record.person_id is not None else "-",
                ms,
                outcome,
                extra={
                    "update_id": record.update_id,
                    "kind": record.kind,
                    "person_id": record.person_id,
                    "ms": ms,
                    "outcome": outcome,
                },
            )

    def api_call(self, method: str, outcome: str) -> None:
        """One try of a Bot API call ended: ok, error, retry_after or timeout."""
        self.api_calls.labels(method, outcome).inc()

    def notice_sent(self) -> None:
        """Telegram accepted a notice."""
        self.notices_sent.inc()

    def notice_failed(self) -> None:
        """A notice's delivery failed (it is retried later or given up)."""
        self.notices_failed.inc()

    def scheduler_run(self, job: str, outcome: str, seconds: float) -> None:
        """A leader-only job ran (outcome ok or error)."""
        now = time.time()
        self.scheduler_runs.labels(job, outcome).inc()
        self.scheduler_seconds.labels(job).observe(seconds)
        self.scheduler_last_run.labels(job).set(now)
        self.last_tick = now

    def follow_leader(self, leading: Callable[[], bool]) -> None:
        """The leader gauge reads `leading()` on every scrape."""
        self.leader.set_function(lambda: 1.0 if leading() else 0.0)

    # -- reading ------------------------------------------------------------------------------

    def last_tick_age(self) -> float | None:
        """Seconds since a leader-only job last ran here (None: never)."""
        return None if self.last_tick is None else max(0.0, time.time() - self.last_tick)

    async def db_figures(self) -> DbFigures | None:
        """The backlog and open tickets, read at most once per DB_CACHE_S (concurrent callers
        share one read); the last good figures (or None) when the database does not answer
        within DB_TIMEOUT_S."""
        if self.store is None:
            return None
        async with self._lock:
            cached = self._figures
            if cached is not None and time.monotonic() - cached.read_at < DB_CACHE_S:
                return cached
            try:
                figures = await asyncio.wait_for(self._read(self.store), DB_TIMEOUT_S)
            except (TimeoutError, OSError, SQLAlchemyError) as exc:
                log.warning("metrics: database figures unavailable (%s)", type(exc).__name__)
                return cached
            self._figures = figures
            self.outbox_backlog.set(figures.backlog)
            self.outbox_oldest_due.set(figures.oldest_due_age_s or 0.0)
            for status, count in figures.open_by_status.items():
                self.open_tickets.labels(status).set(count)
            return figures

    @staticmethod
    async def _read(store: Store) -> DbFigures:
        pending = await outbox.backlog(store.read())
        by_status = await health.open_by_status(store.read())
        age = None
        if pending.oldest_due_at is not None:
            oldest = pending.oldest_due_at
            if oldest.tzinfo is None:  # SQLite hands back naive UTC
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (store.clock() - oldest).total_seconds())
        return DbFigures(pending.due, age, by_status, time.monotonic())

    async def exposition(self) -> bytes:
        """The text format Prometheus scrapes, with fresh (or cached) database figures."""
        await self.db_figures()
        return generate_latest(self.registry)


class ObservedApplication(InboxApplication):
    """PTB's Application, with every update timed, counted and logged (bot_data.metrics),
    around the handled-updates check (a redelivered update counts as skipped)."""

    async def process_update(self, update: object) -> None:
        """Application.process_update inside `Metrics.observe_update`."""
        metrics = getattr(self.bot_data, "metrics", None)
        if not isinstance(metrics, Metrics) or not isinstance(update, Update):
            await super().process_update(update)
            return
        await metrics.observe_update(update, super().process_update(update))
