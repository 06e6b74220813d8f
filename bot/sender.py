"""The one outbox sender: drains due notices to Telegram within its rate limits.

A row is marked sent only after Telegram accepted the message, so a crash can at worst
resend a notice, never lose one. About 30 messages/s overall and 1/s per chat; 429s pause
sending for `retry_after`; 5xx and network errors retry with backoff; a user who blocked
the bot (or never started it) is marked unreachable and not retried.

The one window left (at-least-once, inherent: Telegram has no idempotency key) is between
Telegram accepting a message and the row being recorded: a crash there, or a timeout whose
request did arrive, sends the notice again once its claim's lease ends. Passing database
errors while recording are retried, and photos sent ahead of a text are recorded at once,
so a retry repeats only what may not have arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from telegram import Bot, InputMediaPhoto, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.edits import edit_text
from bot.i18n import Texts
from bot.metrics import Metrics
from bot.notices import Rendered, render
from bot.ratelimit import OVERALL_PER_SECOND, SendBudget, bulk
from bot.settings import Settings
from store.delivery import outbox
from store.delivery.outbox import Notice
from store.uow import Store

log = logging.getLogger(__name__)

GLOBAL_RATE = OVERALL_PER_SECOND  # messages per second, bot-wide (shared with replies)
PER_CHAT_INTERVAL = 1.0  # seconds between two messages to one chat
CHAT_GAP_MARGIN = 1.05
MAX_BACKOFF = 300.0
# How long a claimed notice is reserved for the sender that claimed it.
CLAIM_LEASE = timedelta(seconds=60)
# Edits of messages that are gone or already say the same need no retry. PTB capitalises
# Telegram's descriptions ("Message is not modified"), so these are matched lower-cased.
HARMLESS_EDIT_ERRORS = ("message to edit not found", "message is not modified")
# A user who never opened the bot is often unknown to it: Telegram says 400 "chat not
# found" rather than 403. Like a block, that means nobody can reach them.
UNREACHABLE_ERRORS = ("chat not found",)
# Waits between tries to record what Telegram accepted, when the database fails briefly.
# Well inside the lease and stop()'s grace: giving up would send the notice again.
RECORD_RETRIES = (0.25, 0.5, 1.0, 2.0, 4.0)


class OutboxSender:
    """Background task: `start()` in post_init, `stop()` in post_shutdown."""

    def __init__(
        self,
        bot: Bot,
        store: Store,
        settings: Settings,
        poll_interval: float = 1.0,
        per_chat_interval: float = PER_CHAT_INTERVAL,
        budget: SendBudget | None = None,
        *,
        metrics: Metrics | None = None,
    ):
        self.metrics = metrics
        self.bot = bot
        self.store = store
        self.settings = settings
        self.poll_interval = poll_interval
        self.per_chat_interval = per_chat_interval
        # Measured here, at the start of our request: a little more, so that a slower
        # previous request cannot make two arrive at Telegram less than the interval apart.
        self._chat_gap = per_chat_interval * CHAT_GAP_MARGIN
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.budget = budget or SendBudget()
        self._soonest_free = poll_interval
        self._stopping = False
        # Run after a notice was delivered and recorded (e.g. a staff change resets the
        # person's command menu); its failure is logged, never undoes the delivery.
        self.after_delivery: Callable[[Notice], Awaitable[None]] | None = None

    def start(self) -> None:
        """Begin draining in the background."""
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop between two deliveries, so a message Telegram accepted is always marked sent
        (cancelling mid-send could make the next leader send it again); cancel only if the
        current delivery hangs past `grace` seconds."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._stopping = False

    def nudge(self) -> None:
        """New notices were committed: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        with bulk():  # every call from this task is a notice: paced here, not retried there
            await self._loop()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                busy = await self.drain_once()
            except OperationalError as exc:  # e.g. database briefly locked
                log.warning("outbox: database unavailable, retrying: %s", exc.orig)
                busy = False
            except Exception:
                log.exception("outbox: unexpected error")
                busy = False
            if not busy and not self._stopping:
                self._wake.clear()
                # A chat waiting out its one-second gap may have more due: look again
                # as soon as the first such chat is free, not a whole poll later.
                wait = min(self.poll_interval, self._soonest_free)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def drain_once(self, limit: int = int(GLOBAL_RATE)) -> bool:
        """Send what is due now, at most one notice per chat; True if anything was sent.

        Chats still inside their one-second gap (a notice or a direct reply just went
        there) are left out of the query, so a chat with a backlog never holds up the
        others: every batch is the oldest due notice of each chat that may receive one now.
        """
        for _ in range(await outbox.give_up_unreachable(self.store.uow())):
            self._failed()  # never sent: the recipient blocked the bot
        held = self.budget.busy_chats(self._chat_gap)
        notices = await outbox.next_per_chat(self.store.read(), limit=limit, skip_chats=held)
        self._soonest_free = min(
            (self.budget.chat_free_in(c, self._chat_gap) for c in held),
            default=self.poll_interval,
        )
        for notice in notices:
            if notice.telegram_id is None:
                await outbox.mark_unreachable(self.store.uow(), notice.id, "no telegram id")
                self._failed()
        sendable = [n for n in notices if n.telegram_id is not None]
        # Claim the batch first, in one statement: another instance (a leader taking over)
        # must not send them too.
        claimed = await outbox.claim_many(self.store.uow(), [n.id for n in sendable], CLAIM_LEASE)
        attempted = False
        for index, notice in enumerate(sendable):
            if notice.id not in claimed:
                continue
            chat = notice.telegram_id
            assert chat is not None
            if self._stopping or self.budget.chat_free_in(chat, self._chat_gap) > 0:
                # Stopping, or a direct reply reached the chat meanwhile: hand the rest
                # back now rather than when the lease ends.
                await outbox.release(self.store.uow(), [n.id for n in sendable[index:]])
                break
            attempted = True  # the rate limiter waits for a slot in the shared window
            await self._deliver(notice, chat)
        return attempted

    async def _deliver(self, notice: Notice, chat: int) -> None:
        texts = Texts(
            notice.language or self.settings.service.default_language,
            self.settings.service.timezone,
        )
        try:
            rendered = render(notice, texts)
        except (ValueError, KeyError) as exc:
            self._failed()
            log.error("outbox: cannot render notice %s (%s): %s", notice.id, notice.kind, exc)
            await outbox.mark_retry(self.store.uow(), notice.id, f"render: {exc}", timedelta(0))
            return
        # Also without PTB's rate limiter in front (a plain Bot), the chat's gap holds.
        self.budget.mark_chat(chat)
        try:
            ref = await self._send(notice, chat, rendered)
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
            self.budget.paused_until = time.monotonic() + seconds
            until = self.store.clock() + timedelta(seconds=seconds)
            await outbox.postpone(self.store.uow(), notice.id, until)
            log.warning("outbox: flood control, pausing %.0f s", seconds)
            return
        except Forbidden as exc:
            self._failed()
            await outbox.mark_unreachable(self.store.uow(), notice.id, str(exc))
            log.info("outbox: recipient %s unreachable: %s", notice.recipient_id, exc)
            return
        except BadRequest as exc:
            description = str(exc).lower()
            if rendered.edit_of and any(e in description for e in HARMLESS_EDIT_ERRORS):
                await outbox.mark_sent(self.store.uow(), notice.id, None)
                self._sent()
                return
            self._failed()
            if any(e in description for e in UNREACHABLE_ERRORS):
                await outbox.mark_unreachable(self.store.uow(), notice.id, str(exc))
                log.info("outbox: recipient %s unreachable: %s", notice.recipient_id, exc)
                return
            # Telegram refused this message for good; retrying would not help.
            await outbox.mark_retry(
                self.store.uow(), notice.id, f"bad request: {exc}", timedelta(days=3650)
            )
            log.error("outbox: notice %s rejected: %s", notice.id, exc)
            return
        except (TimedOut, NetworkError) as exc:
            self._failed()
            backoff = min(MAX_BACKOFF, 2.0 ** (notice.attempts + 1))
            await outbox.mark_retry(
                self.store.uow(), notice.id, f"network: {exc}", timedelta(seconds=backoff)
            )
            return
        await self._record(lambda: outbox.mark_sent(self.store.uow(), notice.id, ref))
        self._sent()
        if self.after_delivery is not None:
            try:
                await self.after_delivery(notice)
            except Exception:
                log.exception("outbox: after delivering notice %s (%s)", notice.id, notice.kind)

    def _sent(self) -> None:
        if self.metrics is not None:
            self.metrics.notice_sent()

    def _failed(self) -> None:
        if self.metrics is not None:
            self.metrics.notice_failed()

    async def _record(self, write: Callable[[], Awaitable[object]]) -> None:
        """Record what Telegram accepted. A passing database error is retried here: left to
        the drain loop, the notice would stay claimed and be sent again when the lease ends.
        Only a crash (or an outage longer than the retries) leaves that window open."""
        for delay in RECORD_RETRIES:
            try:
                await write()
                return
            except OperationalError as exc:
                log.warning("outbox: recording a delivery failed, retrying: %s", exc.orig)
                await asyncio.sleep(delay)
        await write()

    async def _send(self, notice: Notice, chat: int, rendered: Rendered) -> int | None:
        """Send (or edit) and return the message id Telegram gave the main message."""
        if rendered.edit_of and notice.ticket_id is not None:
            ref = await outbox.delivery_ref(
                self.store.uow(), notice.recipient_id, notice.ticket_id, rendered.edit_of
            )
            # A message that can no longer be edited (too old) gets a fresh one instead.
            if ref is not None and await self._edit(chat, ref, rendered):
                return ref
        # An earlier try got the photos through but not the text: send only the text.
        photos = [] if notice.payload.get(outbox.PHOTOS_SENT) else rendered.photos
        if len(photos) == 1 and len(rendered.text) <= 1024:
            message: Message = await self.bot.send_photo(
                chat, photos[0], caption=rendered.text, reply_markup=rendered.markup
            )
            return message.message_id
        if photos:  # two requests: record the first, so a failed second does not repeat it
            if len(photos) > 1:
                await self.bot.send_media_group(chat, [InputMediaPhoto(p) for p in photos[:10]])
            else:
                await self.bot.send_photo(chat, photos[0])
            await self._record(lambda: outbox.mark_photos_sent(self.store.uow(), notice.id))
        message = await self.bot.send_message(chat, rendered.text, reply_markup=rendered.markup)
        return message.message_id

    async def _edit(self, chat: int, message_id: int, rendered: Rendered) -> bool:
        """Edit a text message, or the caption when the original carried a photo; False
        when it cannot be edited any more (bot/edits.py)."""
        return await edit_text(self.bot, chat, message_id, rendered.text)
