"""The HTTP server: Bot API, file downloads and /_sandbox/ control endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from http import HTTPStatus
from types import TracebackType

from aiohttp import web

from sandbox import control, errors
from sandbox.chatlog import keyboard
from sandbox.client import SandboxClient
from sandbox.errors import ApiError, too_many_requests
from sandbox.faults import Fault
from sandbox.methods import SENDING, lookup
from sandbox.models import Content
from sandbox.params import Params
from sandbox.state import SandboxState, new_token
from sandbox.webhook import TELEGRAM_TIMEOUT

HOST = "127.0.0.1"  # Never bind or talk beyond loopback.
_log = logging.getLogger(__name__)


def _json(body: object, status: int = 200) -> web.Response:
    """JSON response with Telegram's compact encoding."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def _summary(p: Params) -> str:
    """Short description of a call's interesting parameters for the transcript."""
    parts = []
    for key in ("chat_id", "message_id", "callback_query_id", "offset", "text", "caption", "url"):
        value = p.get_str(key)
        if value is not None:
            shown = value if len(value) <= 200 else value[:197] + "..."
            parts.append(f"{key}={shown!r}" if key in ("text", "caption") else f"{key}={shown}")
    try:
        markup = p.get_json("reply_markup")
    except ApiError:  # the method itself will refuse it; the log shows it raw
        markup = p.get_str("reply_markup")
        parts.append(f"reply_markup={str(markup)[:160]}")
    if isinstance(markup, dict):
        rows = keyboard(Content(reply_markup=markup))
        parts.append("buttons=" + " / ".join(" ".join(f"[{b}]" for b in row) for row in rows))
    parts.extend(f"{name}=<upload {len(u.data)}B>" for name, u in p.uploads.items())
    return " ".join(parts)


class SandboxServer:
    """A local Telegram Bot API stand-in that a real PTB Application talks to over HTTP."""

    def __init__(
        self,
        token: str | None = None,
        *,
        port: int = 0,
        rate_limits: bool = False,
        bot_name: str = "Sandbox Bot",
        bot_username: str = "sandbox_bot",
        callback_timeout: float = 15.0,
        webhook_backoff: tuple[float, float] = (0.05, 2.0),
        webhook_timeout: float = TELEGRAM_TIMEOUT,
        default_timeout: float = 5.0,
    ) -> None:
        self.state = SandboxState(
            token or new_token(),
            bot_name=bot_name,
            bot_username=bot_username,
            callback_timeout=callback_timeout,
            webhook_backoff=webhook_backoff,
            webhook_timeout=webhook_timeout,
        )
        self.state.rate_limiter.enabled = rate_limits
        self.client = SandboxClient(self.state, default_timeout=default_timeout)
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> SandboxServer:
        """Bind 127.0.0.1 (port 0 picks a free one) and serve."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/{bot:bot[^/]+}/{method}", self._bot_call)
        app.router.add_get(r"/file/{bot:bot[^/]+}/{path:.+}", self._download)
        control.add_routes(app, self)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self._requested_port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        return self

    async def stop(self) -> None:
        """Release long polls and slow calls, stop webhook delivery and close the socket."""
        self._closing.set()
        self.state.updates.close()
        await self.state.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses --------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The bot token the stand-in accepts."""
        return self.state.token

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """Root URL of the server."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for ApplicationBuilder().base_url()."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ApplicationBuilder().base_file_url()."""
        return f"{self.url}/file/bot"

    def transcript(self) -> str:
        """Readable log of every API call (for debugging the bot's traffic)."""
        return self.state.transcript.render()

    def chat_transcript(self) -> str:
        """What every person saw and did, in order: whole texts, buttons, photos."""
        names = {
            chat_id: chat.user.first_name if chat.user else chat.title or str(chat_id)
            for chat_id, chat in self.state.chats.items()
        }
        return self.state.chatlog.render(names)

    # -- Bot API ----------------------------------------------------------------------------

    async def _bot_call(self, request: web.Request) -> web.StreamResponse:
        """Dispatch one Bot API call with token check, faults, flood limits and logging."""
        name = request.match_info["method"]
        if request.match_info["bot"][3:] != self.state.token:
            self.state.log("bot", name, "-> 401 Unauthorized (wrong token)")
            return _json(errors.UNAUTHORIZED.payload(), 401)
        found = lookup(name)
        if found is None:
            self.state.log("bot", name, "-> 404 Not Found (method not implemented)")
            return _json(errors.NOT_FOUND.payload(), 404)
        canonical, handler = found
        detail = ""
        try:
            params = await Params.from_request(request)
            detail = _summary(params)
            fault = self.state.faults.take(canonical)
            if fault is not None:
                self.state.log("sandbox", f"inject {fault.describe()}", f"into {canonical}")
                early = await self._apply_fault(request, fault)
                if early is not None:
                    return early
            if canonical.lower() in SENDING:
                self._check_flood(params)
            result = await handler(self.state, params)
        except ApiError as exc:
            gone = request.transport is None or request.transport.is_closing()
            # A poll the bot already abandoned (e.g. on shutdown) is not worth a transcript line.
            if not (gone and canonical == "getUpdates"):
                self.state.log("bot", canonical, f"{detail} -> {exc.code} {exc.description}")
            return _json(exc.payload(), exc.code)
        if canonical != "getUpdates" or result:
            self.state.log("bot", canonical, f"{detail} -> {_outcome(result)}")
        return _json({"ok": True, "result": result})

    async def _apply_fault(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """Carry out an injected fault; None means 'now process the call normally'."""
        if fault.kind == "delay":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
            return None
        if fault.kind == "retry_after":
            raise too_many_requests(fault.retry_after)
        if fault.kind == "server_error":
            phrase = HTTPStatus(fault.status).phrase
            body = {"ok": False, "error_code": fault.status, "description": phrase}
            return _json(body, fault.status)
        # A dropped connection: close the socket so the client sees no response at all.
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    def _check_flood(self, params: Params) -> None:
        """Apply the flood limits to a sending call."""
        try:
            target = params.get_int("chat_id")
        except ApiError:
            return
        if target is not None:
            retry_after = self.state.rate_limiter.check(target)
            if retry_after is not None:
                raise too_many_requests(retry_after)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """Serve stored file bytes by file_path, as api.telegram.org/file/ does."""
        if request.match_info["bot"][3:] != self.state.token:
            return _json(errors.UNAUTHORIZED.payload(), 401)
        record = self.state.files_by_path.get(request.match_info["path"])
        if record is None:
            return _json(errors.NOT_FOUND.payload(), 404)
        self.state.log("bot", "download", record.file_path)
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )


def _outcome(result: object) -> str:
    """Short description of a successful result."""
    if isinstance(result, dict) and "message_id" in result:
        return f"ok #{result['message_id']}"
    if isinstance(result, list):
        ids = [r.get("message_id") for r in result if isinstance(r, dict)]
        if ids and all(i is not None for i in ids):
            return f"ok #{','.join(map(str, ids))}"
        updates = [r.get("update_id") for r in result if isinstance(r, dict)]
        return f"ok {len(result)} item(s) {updates if any(updates) else ''}".rstrip()
    return f"ok {json.dumps(result)[:80]}"
