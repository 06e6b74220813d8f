"""The bot's own webhook server: a webhook is answered only after its update was handled.

Telegram sends a chat's next update only after the previous one was answered 2xx. PTB's
built-in webhook server answers as soon as the update is queued, so Telegram sends the
next one at once, and behind a load balancer two updates of one chat could run on two
instances at the same time. Here the answer waits for the handling (through the
Application's update processor, so bot/processor.py's one-chat-at-a-time holds inside
the process too), and Telegram's own rule then orders each chat across instances.

A handler error still answers 200 (the error handler has run; one bad update must not
block its chat forever), and handling that takes longer than `ANSWER_WITHIN` seconds is
answered 200 anyway and left to finish: Telegram gives up on an answer after 60 s and
would send the update again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.settings import TelegramSettings
from store.uow import Store

log = logging.getLogger(__name__)
AnyApp = Application[Any, Any, Any, Any, Any, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
ANSWER_WITHIN = 55.0  # seconds; Telegram stops waiting at 60


class WebhookServer:
    """Receives Telegram's POSTs on [telegram] webhook_listen/port/path for `app`."""

    def __init__(
        self, app: AnyApp, telegram: TelegramSettings, *, answer_within: float = ANSWER_WITHIN
    ) -> None:
        self.app = app
        self.telegram = telegram
        self.answer_within = answer_within
        self.port: int | None = None
        self._secret = telegram.webhook_secret.get_secret_value().encode()
        self._runner: web.AppRunner | None = None
        self._closing = False

    @property
    def path(self) -> str:
        """The local path answered on."""
        return "/" + self.telegram.webhook_local_path()

    async def start(self) -> None:
        """Listen (port 0 picks a free one), then tell Telegram where to post."""
        web_app = web.Application()
        web_app.router.add_post(self.path, self._receive)
        # Handlers still running at shutdown get a little time to answer; the updates
        # themselves are Application tasks that Application.stop() awaits.
        self._runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.telegram.webhook_listen, self.telegram.webhook_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info(
            "webhook: listening on %s:%s%s", self.telegram.webhook_listen, self.port, self.path
        )
        await self.app.bot.set_webhook(
            url=self.telegram.webhook_url,
            secret_token=self.telegram.webhook_secret.get_secret_value() or None,
            allowed_updates=Update.ALL_TYPES,
            max_connections=self.telegram.webhook_max_connections,
        )

    async def stop(self) -> None:
        """Stop listening; a request arriving meanwhile gets 503 (Telegram sends it again).
        The webhook stays set: other instances may still be receiving."""
        self._closing = True
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        """One update: check, parse, handle, and only then answer."""
        if self._secret and not hmac.compare_digest(
            request.headers.get(SECRET_HEADER, "").encode(), self._secret
        ):
            return web.Response(status=403, text="wrong secret token")
        if self._closing or not self.app.running:
            return web.Response(status=503, text="stopping")
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(data, dict):
            return web.Response(status=400, text="not an update")
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception:
            # Signed by Telegram but unreadable to this version: refusing it would have
            # Telegram send it again and again, and hold back the chat's later updates.
            log.warning("webhook: an update this bot cannot read was dropped", exc_info=True)
            return web.Response(text="ok")
        await self.handle(update)
        return web.Response(text="ok")

    async def handle(self, update: Update) -> None:
        """Run `update` through the Application's update processor; return once handled
        or after `answer_within` seconds, whichever is first (the handling goes on)."""
        done = asyncio.Event()

        async def process() -> None:
            try:
                await self.app.process_update(update)
            finally:
                done.set()

        # The processor may queue it behind the chat's running update and return at once;
        # `done` tells when it really ran. An Application task: stop() awaits it.
        self.app.create_task(
            self.app.update_processor.process_update(update, process()),
            update=update,
            name=f"webhook:update:{update.update_id}",
        )
        try:
            await asyncio.wait_for(done.wait(), self.answer_within)
        except TimeoutError:
            log.warning(
                "webhook: update %s still running after %.0f s; answered so Telegram does "
                "not send it again",
                update.update_id,
                self.answer_within,
            )


async def serve(app: AnyApp, telegram: TelegramSettings, store: Store | None = None) -> None:
    """Run `app` with its webhook server until SIGINT or SIGTERM, then stop in order:
    no new updates, the running ones finished, the Application shut down, and `store`
    closed (on this loop, which its pooled connections belong to)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    server = WebhookServer(app, telegram)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        await server.start()
        await stopping.wait()
    finally:
        await server.stop()
        if app.running:
            await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        if store is not None:
            await store.dispose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)


def run_webhook(app: AnyApp, telegram: TelegramSettings, store: Store) -> None:
    """`repairbot run` in webhook mode."""
    asyncio.run(serve(app, telegram, store))
