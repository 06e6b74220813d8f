"""Webhook delivery: POST each pending update to the bot, retrying with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from sandbox.errors import bad_request
from sandbox.updates import UpdateQueue, WebhookConfig

# Telegram's answer to setWebhook with an http:// (or other non-HTTPS) URL.
HTTPS_REQUIRED = "bad webhook: An HTTPS URL must be provided for webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


def check_webhook_url(url: str) -> None:
    """Refuse a webhook as Telegram does (anything but https://), except that the stand-in,
    which never leaves the host, also delivers over plain http to 127.0.0.1 (a test bot
    has no certificate); any other host is refused too."""
    parts = urlsplit(url)
    local = parts.hostname == "127.0.0.1"
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise bad_request(HTTPS_REQUIRED)
    if not local:
        raise bad_request("bad webhook: the sandbox only delivers to http(s)://127.0.0.1")


class WebhookDelivery:
    """Runs one delivery task per webhook; updates go out one at a time, in order."""

    def __init__(
        self,
        queue: UpdateQueue,
        log: Callable[[str, str], None],
        *,
        backoff_start: float = 0.05,
        backoff_max: float = 2.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.queue = queue
        self.log = log
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.attempts = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, config: WebhookConfig) -> None:
        """Begin delivering to a (new) webhook."""
        self.queue.webhook = config
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self.queue.changed.notify()

    async def stop(self) -> None:
        """Stop delivering and forget the webhook."""
        self.queue.webhook = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.queue.changed.notify()

    async def _run(self) -> None:
        """Deliver until stopped; a failed update is retried before any later one."""
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            delay = self.backoff_start
            while True:
                update = await self.queue.next_for_webhook()
                config = self.queue.webhook
                if config is None:
                    return
                error = await self._post(session, config, update)
                if error is None:
                    update_id = update["update_id"]
                    assert isinstance(update_id, int)
                    self.queue.ack(update_id)
                    self.log("webhook", f"delivered update {update_id}")
                    delay = self.backoff_start
                    continue
                config.last_error_date = int(time.time())
                config.last_error_message = error
                self.log("webhook", f"update {update['update_id']} failed: {error}; retry")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)

    async def _post(
        self, session: aiohttp.ClientSession, config: WebhookConfig, update: dict[str, object]
    ) -> str | None:
        """POST one update; return Telegram's last_error_message text on failure."""
        self.attempts += 1
        headers = {SECRET_HEADER: config.secret_token} if config.secret_token else {}
        try:
            async with session.post(config.url, json=update, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except aiohttp.ClientError as exc:
            return f"Connection error: {exc.__class__.__name__}"
