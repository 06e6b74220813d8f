"""A small HTTP load balancer for webhook tests and benches: each request goes to the next
instance in turn (round robin, the path and headers kept), and an instance that is down or
breaks off gets the caller a 502, as nginx would answer, so Telegram (the stand-in) sends
the update again."""

from __future__ import annotations

import itertools
from collections import Counter
from types import TracebackType

import aiohttp
from aiohttp import web

HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class Balancer:
    """Round robin over `backends` (base URLs such as "http://127.0.0.1:8443")."""

    def __init__(self, backends: list[str], *, timeout: float = 65.0) -> None:
        self.backends = backends
        self.timeout = timeout
        self.port = 0
        self.forwarded: Counter[str] = Counter()  # answered by the instance, any status
        self.failed: Counter[str] = Counter()  # 502: the instance was down or broke off
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """Where to point the webhook (add the path)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Balancer:
        """Listen on a free port of 127.0.0.1."""
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=0),
        )
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop listening and close the connections to the instances."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Balancer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        backend = self.backends[next(self._turn) % len(self.backends)]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read()
        try:
            async with self._session.request(
                request.method, backend + request.path_qs, data=body, headers=headers
            ) as answer:
                payload = await answer.read()
                self.forwarded[backend] += 1
                return web.Response(
                    status=answer.status,
                    body=payload,
                    content_type=answer.content_type,
                )
        except (aiohttp.ClientError, TimeoutError):
            self.failed[backend] += 1
            return web.Response(status=502, text="bad gateway")
