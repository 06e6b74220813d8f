"""Webhook delivery as Telegram does it: up to `max_connections` requests at once, one
update per chat at a time, and an update that got no 2xx (or timed out) retried with
backoff before any later update of its chat."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable
from urllib.parse import urlsplit

import aiohttp

from sandbox.errors import bad_request
from sandbox.updates import UpdateQueue, WebhookConfig

# Telegram's answer to setWebhook with an http:// (or other non-HTTPS) URL.
HTTPS_REQUIRED = "bad webhook: An HTTPS URL must be provided for webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
TELEGRAM_TIMEOUT = 60.0  # seconds Telegram waits for a webhook's answer

# The update kinds whose object carries the chat (or, failing that, the user) an update
# belongs to; a callback query's chat is that of the message its button is on.
_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "callback_query",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    "chat_boost",
    "removed_chat_boost",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll_answer",
)


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


def _id_of(value: object) -> int | None:
    if isinstance(value, dict):
        found = value.get("id")
        if isinstance(found, int):
            return found
    return None


def delivery_key(update: dict[str, object]) -> Hashable:
    """Whose turn an update waits for: its chat, else its user; else only itself."""
    for kind in _KINDS:
        body = update.get(kind)
        if not isinstance(body, dict):
            continue
        chat = _id_of(body.get("chat"))
        message = body.get("message")
        if chat is None and isinstance(message, dict):
            chat = _id_of(message.get("chat"))
        if chat is not None:
            return ("chat", chat)
        user = _id_of(body.get("from")) or _id_of(body.get("user"))
        if user is not None:
            return ("chat", user)
    return ("update", update.get("update_id"))


class WebhookDelivery:
    """One dispatcher per webhook, starting one request per deliverable update.

    An update is deliverable when it is the oldest pending update of its chat, that chat
    has nothing in flight and is not waiting out a backoff, and fewer than the webhook's
    `max_connections` requests are open. A 2xx answer confirms it; anything else (an error
    status, a refused connection, no answer within `request_timeout`) leaves it first in
    its chat's line, retried after a delay that doubles per failure of that chat.
    """

    def __init__(
        self,
        queue: UpdateQueue,
        log: Callable[[str, str], None],
        *,
        backoff_start: float = 0.05,
        backoff_max: float = 2.0,
        request_timeout: float = TELEGRAM_TIMEOUT,
    ) -> None:
        self.queue = queue
        self.log = log
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.attempts = 0
        self.peak_in_flight = 0  # the most requests open at once since start
        self.in_flight: dict[int, Hashable] = {}  # update_id → its chat key
        self._retry_at: dict[Hashable, float] = {}
        self._delay: dict[Hashable, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self, config: WebhookConfig) -> None:
        """Begin delivering to a (new) webhook."""
        self.queue.webhook = config
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self.queue.changed.notify()

    async def stop(self) -> None:
        """Stop delivering (requests in flight are abandoned) and forget the webhook."""
        self.queue.webhook = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.queue.changed.notify()

    def _deliverable(
        self, config: WebhookConfig, now: float
    ) -> tuple[list[dict[str, object]], float | None]:
        """The updates to send now, and when the next backoff ends (if one blocks a chat)."""
        ready: list[dict[str, object]] = []
        seen: set[Hashable] = set()
        wake: float | None = None
        room = config.max_connections - len(self.in_flight)
        for update in self.queue.pending:
            if len(ready) >= room:
                break
            key = delivery_key(update)
            if key in seen:
                continue  # a later update of a chat waits for the chat's oldest
            seen.add(key)
            if update["update_id"] in self.in_flight:
                continue
            retry_at = self._retry_at.get(key)
            if retry_at is not None and retry_at > now:
                wake = retry_at if wake is None else min(wake, retry_at)
                continue
            ready.append(update)
        return ready, wake

    async def _run(self) -> None:
        """Deliver until stopped."""
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        connector = aiohttp.TCPConnector(limit=0)
        requests: set[asyncio.Task[None]] = set()
        try:
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                while True:
                    config = self.queue.webhook
                    if config is None:
                        return
                    now = time.monotonic()
                    ready, wake = self._deliverable(config, now)
                    for update in ready:
                        update_id = update["update_id"]
                        assert isinstance(update_id, int)
                        self.in_flight[update_id] = delivery_key(update)
                        task = asyncio.create_task(self._deliver(session, config, update))
                        requests.add(task)
                        task.add_done_callback(requests.discard)
                    self.peak_in_flight = max(self.peak_in_flight, len(self.in_flight))
                    wait = 3600.0 if wake is None else max(wake - now, 0.001)
                    await self.queue.changed.wait_change(wait)
        finally:
            for task in list(requests):
                task.cancel()
            for task in list(requests):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.in_flight.clear()

    async def _deliver(
        self, session: aiohttp.ClientSession, config: WebhookConfig, update: dict[str, object]
    ) -> None:
        """One attempt; confirm on 2xx, else put the chat into backoff."""
        update_id = update["update_id"]
        assert isinstance(update_id, int)
        key = self.in_flight[update_id]
        try:
            error = await self._post(session, config, update)
        except Exception as exc:  # whatever broke, the update stays pending
            error = f"Connection error: {exc.__class__.__name__}"
        finally:
            self.in_flight.pop(update_id, None)
            self.queue.changed.notify()  # a connection is free either way
        if error is None:
            self.queue.ack(update_id)
            self._retry_at.pop(key, None)
            self._delay.pop(key, None)
            self.log("webhook", f"delivered update {update_id}")
        else:
            delay = self._delay.get(key, self.backoff_start)
            self._delay[key] = min(delay * 2, self.backoff_max)
            self._retry_at[key] = time.monotonic() + delay
            config.last_error_date = int(time.time())
            config.last_error_message = error
            self.log("webhook", f"update {update_id} failed: {error}; retry")
        self.queue.changed.notify()

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
