"""Each update takes effect once, across instances: the Application skips an update that
was handled already and marks each one handled after its handlers finished.

This sits in `Application.process_update` (a subclass, set through the builder's
`application_class`) because that one method is the funnel every update passes through:
the polling updater and a webhook both reach it through the per-chat processor
(bot/processor.py, which keeps a chat's updates one at a time, so the check and the mark
of one update never interleave with the chat's next), and tests and benches feed it
directly. A handler group could skip an update but cannot run after all groups (a flow
that stops the chain or raises would skip the mark), and the processor alone would miss
updates fed to `process_update` directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import Application

from bot.context import BotData, Ctx
from store.delivery.inbox import mark_handled, was_handled
from store.uow import Store

log = logging.getLogger(__name__)


class InboxApplication(Application[Any, Ctx, Any, Any, BotData, Any]):
    """PTB's Application, with the handled-updates check around each update, telling
    `done_listeners` the id of each update it is finished with (handled, failed or skipped;
    not one cut short by shutdown): the poller confirms to Telegram only those."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.done_listeners: list[Callable[[int], None]] = []
        # Updates with a higher id are known never to have been handled (set by the poller
        # when it starts fetching, bot/polling.py): they skip the database check.
        # None: every update is checked (webhook: any instance may have had it).
        self.unseen_above: int | None = None
        # Asked after an update's handlers finished: True when the poller takes over its
        # mark (it confirms most updates to Telegram at once and marks only the rest,
        # bot/polling.py); None or False: marked here, at once.
        self.mark_later: Callable[[int], bool] | None = None

    async def process_update(self, update: object) -> None:
        """Run the handlers of an update not handled before, then mark it handled, also
        when a handler raised (one bad update must not come back forever). An update cut
        short by shutdown (cancelled) is not marked: it is handled again when it comes back.
        """
        store = self.bot_data.store
        if not isinstance(update, Update) or store is None:
            await super().process_update(update)
            return
        try:
            await self._once(store, update)
        except Exception:
            self._done(update.update_id)
            raise
        self._done(update.update_id)

    async def _once(self, store: Store, update: Update) -> None:
        bot_id = self.bot.id
        fresh = self.unseen_above is not None and update.update_id > self.unseen_above
        try:
            if not fresh and await was_handled(store.read(), bot_id, update.update_id):
                log.debug("update %d was handled already: skipped", update.update_id)
                return
        except (OSError, SQLAlchemyError) as exc:
            # Better handle it (its effects are mostly idempotent) than lose it.
            log.warning("update %d: handled check failed, handling it: %s", update.update_id, exc)
        try:
            await super().process_update(update)
        except Exception:
            await self._mark(store, bot_id, update.update_id)
            raise
        await self._mark(store, bot_id, update.update_id)

    async def _mark(self, store: Store, bot_id: int, update_id: int) -> None:
        if self.mark_later is not None and self.mark_later(update_id):
            return
        try:
            await mark_handled(store.uow(), bot_id, update_id)
        except (OSError, SQLAlchemyError) as exc:
            log.warning("update %d: could not mark it handled: %s", update_id, exc)

    def _done(self, update_id: int) -> None:
        for listener in self.done_listeners:
            listener(update_id)
