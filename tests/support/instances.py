"""Several `repairbot run` processes in webhook mode on one database, behind the test load
balancer (tests/support/balancer.py) that the stand-in's webhook points at: as an operator
runs two instances behind nginx. Used by the e2e test and by bench/webhook.py."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from sandbox.server import SandboxServer
from store.db import create_engine
from store.uow import Store
from tests.support.balancer import Balancer
from tests.support.databases import empty
from tests.support.processes import START_TIMEOUT, bot_environment, free_port
from tests.support.world import DEFAULT_LOCATIONS, make_categories, make_places

SECRET = "cluster-Secret_token"
HOOK_PATH = "/telegram"


# 150 more rooms of E1公寓 (floors 3-5, rooms x01-x50), one per user, so that no report
# is taken for another's duplicate ("already an open ticket for this room").
ROOMS = tuple(f"E1-{floor}{n:02d}" for floor in (3, 4, 5) for n in range(1, 51))


async def seed_campus(url: str) -> None:
    """Empty the (migrated) PostgreSQL database at `url`, then the small campus of
    tests.support.world with ROOMS added, and its categories."""
    store = Store(create_engine(url))
    rooms = [("東校區", "E1公寓", code[3], code[3:], code) for code in ROOMS]
    try:
        await empty(store.engine)
        await make_places(store, [*DEFAULT_LOCATIONS, *rooms])
        await make_categories(store)
    finally:
        await store.dispose()


@dataclass
class Instance:
    """One `repairbot run` process, its webhook port and where its output goes."""

    name: str
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def backend(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, connections cut mid-request."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)


@dataclass
class WebhookCluster:
    """`count` instances on `db_url` behind a Balancer; the webhook set to the balancer."""

    bot_api: SandboxServer
    db_url: str
    workdir: Path
    count: int = 2
    instances: list[Instance] = field(default_factory=list)
    balancer: Balancer | None = None

    async def start(self) -> WebhookCluster:
        self.instances = [
            Instance(f"i{n}", free_port(), self.workdir / f"i{n}.log") for n in range(self.count)
        ]
        self.balancer = await Balancer([i.backend for i in self.instances]).start()
        for instance in self.instances:
            await self._spawn(instance)
        for instance in self.instances:
            await self._until_listening(instance)
        return self

    async def _spawn(self, instance: Instance) -> None:
        assert self.balancer is not None
        env = bot_environment(
            self.bot_api,
            self.workdir,
            REPAIRBOT_DATABASE__URL=self.db_url,
            REPAIRBOT_BOARD__ENABLED="false",
            REPAIRBOT_TELEGRAM__MODE="webhook",
            REPAIRBOT_TELEGRAM__WEBHOOK_URL=self.balancer.url + HOOK_PATH,
            REPAIRBOT_TELEGRAM__WEBHOOK_LISTEN="127.0.0.1",
            REPAIRBOT_TELEGRAM__WEBHOOK_PORT=str(instance.port),
            REPAIRBOT_TELEGRAM__WEBHOOK_SECRET=SECRET,
        )
        with instance.log.open("wb") as out:
            instance.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=self.workdir,
                env={**os.environ, **env},
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def _until_listening(self, instance: Instance) -> None:
        """Until the instance answers on its webhook port and the webhook is set."""
        assert instance.process is not None
        for _ in range(int(START_TIMEOUT / 0.1)):
            if instance.process.returncode is not None:
                raise AssertionError(f"{instance.name} exited:\n{instance.output()}")
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", instance.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            if self.bot_api.state.updates.webhook is not None:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{instance.name} did not listen:\n{instance.output()}")

    async def stop(self) -> dict[str, int]:
        """Ctrl-C each live instance; their exit codes (-9 for one killed)."""
        codes: dict[str, int] = {}
        for instance in self.instances:
            process = instance.process
            if process is None:
                continue
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
            try:
                codes[instance.name] = await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                codes[instance.name] = await process.wait()
        if self.balancer is not None:
            await self.balancer.stop()
        return codes

    def outputs(self) -> str:
        return "\n".join(f"--- {i.name}:\n{i.output()}" for i in self.instances)

    async def __aenter__(self) -> WebhookCluster:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
