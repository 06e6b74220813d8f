"""Polling Telegram: only the leader polls, and an update is confirmed only once handled.

Of several instances on one PostgreSQL database, only the one holding the leader lock
(scheduler.leadership) calls getUpdates; a standby polls nothing and starts within one
leader check (LEADER_INTERVAL_S) of taking the lock over; a leader that loses the lock
stops at once. On SQLite the one instance always leads. So Telegram never sees two
pollers ("409 Conflict: terminated by other getUpdates request") in normal operation;
one that still comes (a second bot on another database, say) is one warning line.

PTB's Updater confirms a batch with the very next getUpdates, before its updates were
handled: a leader killed then loses them, and Telegram never sends them again. Here the
offset sent is the oldest update still in flight, so Telegram keeps every update until
it was handled (bot.inbox tells which are done), and the next leader gets what a dead one
had not finished. What it had finished but not confirmed comes again too, and is skipped
as handled (store.delivery.inbox): before each getUpdates, the finished updates it will
not confirm are marked handled, in one statement (most updates are confirmed by the very
next call and never need a mark). While updates are in flight, getUpdates cannot wait
for new ones without confirming them, so it asks again as soon as one is done, or every
BUSY_POLL_S. At most HOLD updates are kept unconfirmed, so a stuck one cannot fill
getUpdates' page and stall the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.inbox import InboxApplication
from store.delivery.inbox import last_handled, mark_all_handled

log = logging.getLogger(__name__)
LONG_POLL_S = 10  # getUpdates' timeout while nothing is in flight
BUSY_POLL_S = 0.2  # with updates in flight: ask again after one is done, or this often
LIMIT = 100  # updates per getUpdates (Telegram's maximum)
# At most this many updates (by id) are kept unconfirmed behind the newest fetched: a page
# must have room for new updates even when an old one is stuck or one chat has a backlog.
# An older update still in flight is then confirmed before it is done (lost if this
# instance dies before it is).
HOLD = LIMIT // 2
RETRY_S = (1.0, 2.0, 5.0, 10.0)  # waits after failed getUpdates calls in a row


class Poller:
    """Fetches updates into the Application's queue while `leading()` says so."""

    def __init__(
        self,
        app: InboxApplication,
        leading: Callable[[], bool],
        allowed_updates: Sequence[str] | None = None,
    ) -> None:
        self.app = app
        self.leading = leading
        self.allowed_updates = allowed_updates
        self.in_flight: set[int] = set()  # fetched, not done yet
        # Done but maybe not confirmed yet (at or above the offset last sent): getUpdates
        # returns these again while an older one is in flight; they are not queued twice.
        self.done: set[int] = set()
        # Done, its mark left to us (mark_later), and not confirmed to Telegram yet: before
        # each getUpdates, those the call will not confirm are marked in one statement.
        self.unmarked: set[int] = set()
        self.next_id: int | None = None  # after the last update fetched (as PTB's Updater)
        self.polling = False  # whether the loop is fetching now
        self._turn = asyncio.Event()  # the leadership changed, or stop was asked
        self._progress = asyncio.Event()  # an update was done
        self._failures = 0
        app.done_listeners.append(self._done)
        app.mark_later = self.mark_later

    def wake(self, *_: object) -> None:
        """Look at the leadership again now (Leadership's listener)."""
        self._turn.set()

    def mark_later(self, update_id: int) -> bool:
        """While polling, the mark of a finished update is ours: most are confirmed to
        Telegram by the next getUpdates and need none."""
        if self.polling:
            self.unmarked.add(update_id)
        return self.polling

    async def _write_marks(self, offset: int | None) -> None:
        """Mark the finished updates that a getUpdates with `offset` leaves unconfirmed
        (all of them when `offset` is None)."""
        keep = {u for u in self.unmarked if offset is None or u >= offset}
        store = self.app.bot_data.store
        if not keep or store is None:
            return
        try:
            await mark_all_handled(store.uow(), self.app.bot.id, keep)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("polling: could not mark %d handled updates: %s", len(keep), exc)
            return
        self.unmarked -= keep

    def _done(self, update_id: int) -> None:
        self.in_flight.discard(update_id)
        self.done.add(update_id)
        self._progress.set()

    @property
    def offset(self) -> int | None:
        """What getUpdates confirms: everything below the oldest update still in flight
        (or, with a long backlog, below the last HOLD fetched)."""
        if self.in_flight and self.next_id is not None:
            return max(min(self.in_flight), self.next_id - HOLD)
        return self.next_id

    def _go_on(self, stop: asyncio.Event) -> bool:
        return self.leading() and not stop.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll while leading, stand by otherwise, until `stop` is set."""
        watch_stop = asyncio.ensure_future(self._relay(stop))
        try:
            while not stop.is_set():
                if not self.leading():
                    self._turn.clear()
                    if not self.leading() and not stop.is_set():
                        await self._turn.wait()
                    continue
                log.info("polling: this instance leads; fetching updates from Telegram")
                await self._learn_what_was_handled()
                self.polling = True
                try:
                    while self._go_on(stop):
                        await self._poll_once(stop)
                finally:
                    self.polling = False
                    # Not confirmed by a poll of ours any more: the next leader must skip them.
                    await self._write_marks(None)
                if not stop.is_set():
                    log.info("polling: no longer the leader; stopped fetching updates")
        finally:
            watch_stop.cancel()

    async def _learn_what_was_handled(self) -> None:
        """Only the leader fetches, so what it fetches above the last update anyone marked
        handled is new: those skip the handled check. Below it (a previous leader had
        them, or this process before a restart) each is checked."""
        self.app.unseen_above = None
        store = self.app.bot_data.store
        if store is None:
            return
        try:
            self.app.unseen_above = await last_handled(store.read(), self.app.bot.id)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("polling: cannot read the handled updates, checking each: %s", exc)

    async def _relay(self, stop: asyncio.Event) -> None:
        """A stop request wakes whatever waits for a turn."""
        await stop.wait()
        self._turn.set()

    @staticmethod
    async def _first(*waits: Awaitable[object], seconds: float | None = None) -> None:
        """Until one of `waits` is done or `seconds` passed; the others are cancelled
        (a Future among them is left alone)."""
        tasks = [asyncio.ensure_future(w) for w in waits]
        try:
            await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task, wait in zip(tasks, waits, strict=True):
                if task is not wait:
                    task.cancel()

    async def _poll_once(self, stop: asyncio.Event) -> None:
        busy = bool(self.in_flight)
        if busy:
            # getUpdates would answer at once with what is in flight: ask again when one
            # of them is done (the offset moves), or after a moment for new ones.
            self._progress.clear()
            self._turn.clear()
            if self.in_flight and self._go_on(stop):
                await self._first(self._progress.wait(), self._turn.wait(), seconds=BUSY_POLL_S)
            if not self._go_on(stop):
                return
        self._turn.clear()
        offset = self.offset
        await self._write_marks(offset)
        call = asyncio.ensure_future(
            self.app.bot.get_updates(
                offset=offset,
                limit=LIMIT,
                timeout=0 if busy else LONG_POLL_S,
                allowed_updates=self.allowed_updates,
            )
        )
        # A long poll ends early when this instance stops leading or is told to stop: the
        # next leader must not get a 409 from a poll of ours. What it might have brought
        # was not confirmed, so nothing is lost.
        while not call.done() and self._go_on(stop):
            await self._first(self._turn.wait(), call)
            self._turn.clear()
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
            return
        try:
            updates = call.result()
        except InvalidToken:
            raise
        except Conflict as exc:
            log.warning(
                "polling: getUpdates refused with 409 (%s): another bot with this token is "
                "polling; only one instance should (a second bot on another database?)",
                exc.message,
            )
            await self._back_off(stop)
            return
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait if isinstance(wait, int) else wait.total_seconds()
            log.warning("polling: flood control on getUpdates, waiting %.0f s", seconds)
            await stop_or_sleep(stop, seconds + 0.5)
            return
        except TimedOut:
            return  # a long poll that outlived its timeout: ask again
        except NetworkError as exc:
            log.warning("polling: getUpdates failed (%s); retrying", exc.message)
            await self._back_off(stop)
            return
        self._failures = 0
        if offset is not None:  # Telegram has forgotten everything below it
            self.done = {update_id for update_id in self.done if update_id >= offset}
            self.unmarked = {update_id for update_id in self.unmarked if update_id >= offset}
        for update in updates:
            self.next_id = update.update_id + 1
            if update.update_id in self.in_flight or update.update_id in self.done:
                continue  # fetched before: being handled, or done and not confirmed yet
            self.in_flight.add(update.update_id)
            await self.app.update_queue.put(update)

    async def _back_off(self, stop: asyncio.Event) -> None:
        wait = RETRY_S[min(self._failures, len(RETRY_S) - 1)]
        self._failures += 1
        await stop_or_sleep(stop, wait)

    async def confirm(self) -> None:
        """Tell Telegram what was handled (on the way out, after the Application stopped),
        so the next leader does not fetch it again; nothing when not leading."""
        if not self.leading() or self.offset is None:
            return
        try:
            await self.app.bot.get_updates(offset=self.offset, limit=1, timeout=0)
        except Exception as exc:  # the updates come again and are skipped as handled
            log.warning("polling: could not confirm the last updates: %s", exc)


async def stop_or_sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def serve(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The whole life of a polling instance: start, poll while leading, and on SIGINT or
    SIGTERM stop fetching, finish the updates in flight, confirm them, shut down and close
    the store's connections (on this event loop, which owns them)."""
    assert isinstance(app, InboxApplication)
    leadership, store = app.bot_data.leadership, app.bot_data.store
    assert leadership is not None and store is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    poller = Poller(app, lambda: leadership.leading, allowed_updates=Update.ALL_TYPES)
    leadership.listeners.append(poller.wake)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            await poller.run(stop)
        finally:
            log.info("stopping: finishing the updates in flight")
            await app.stop()
            await poller.confirm()
    finally:
        try:
            await app.shutdown()
        finally:
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
            await store.dispose()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
