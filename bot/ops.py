"""The ops listener (`[ops] enabled, listen, port`): what a load balancer, a service
manager and Prometheus ask every instance.

- `/healthz`: 200 "ok" while the process answers at all (liveness).
- `/readyz`: 200 when the database answers within 1 s and is at this code's schema
  revision, else 503; JSON either way, with the reason, whether this instance leads, the
  notice backlog and the age of the last scheduler run.
- `/metrics`: Prometheus text format (bot/metrics.py says what is in it).

It listens on loopback by default: nothing in it is secret, but nothing in it is for the
public either. A port that is taken stops `run` with one line, as the board's does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics import CONTENT_TYPE, Metrics
from bot.settings import Settings
from store.migrate import engine_revision, packaged_head
from store.uow import Store

log = logging.getLogger(__name__)
DB_TIMEOUT_S = 1.0


class OpsServer:
    """The listener of one instance: `start()` in post_init, `stop()` in post_shutdown."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        leading: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.leading = leading
        # Read from the scripts' text: Alembic's script directory costs ~0.1 s of CPU on
        # the way to the first answer (issue 28).
        self.head = packaged_head()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        """The routes (also for aiohttp's test client)."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> int:
        """Listen on [ops] listen/port; the bound port. A port that is taken raises
        OSError, which `repairbot run` turns into one line naming ops.port."""
        cfg = self.settings.ops
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, cfg.listen, cfg.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("ops listener on http://%s:%s (/healthz /readyz /metrics)", cfg.listen, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- routes -------------------------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        body = await self.metrics.exposition()
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        body = await self.readiness()
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def readiness(self) -> dict[str, Any]:
        """The /readyz document."""
        revision: str | None = None
        reachable = False
        reason: str | None = None
        try:
            revision = await asyncio.wait_for(engine_revision(self.store.engine), DB_TIMEOUT_S)
            reachable = True
        except TimeoutError:
            reason = f"the database did not answer within {DB_TIMEOUT_S:g} s"
        except (OSError, SQLAlchemyError) as exc:
            # The type only: a driver's message may quote the URL.
            reason = f"the database is unreachable ({type(exc).__name__})"
        if reachable and revision != self.head:
            reason = (
                f"the database is at schema revision {revision or 'none'}, this version "
                f"needs {self.head}: run `repairbot db upgrade`"
            )
        figures = await self.metrics.db_figures() if reachable else None
        return {
            "ready": reason is None,
            "reason": reason,
            "database": {"reachable": reachable, "revision": revision, "head": self.head},
            "role": "leader" if self.leading() else "standby",
            "outbox": {
                "backlog": figures.backlog if figures else None,
                "oldest_due_age_s": _rounded(figures.oldest_due_age_s if figures else None),
            },
            "scheduler": {"last_tick_age_s": _rounded(self.metrics.last_tick_age())},
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
