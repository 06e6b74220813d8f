"""The ops listener answers a real HTTP client: /healthz, /readyz (ready or not, and why)
and /metrics with the figures read from the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event

from bot.metrics import Metrics
from bot.ops import OpsServer
from bot.settings import Settings
from store.db import create_engine
from store.delivery import outbox
from store.migrate import head_revision, upgrade
from store.repair import dispatch
from store.reporting import health
from store.uow import Store, UnitOfWork
from tests.support.databases import throwaway_database
from tests.support.processes import free_port
from tests.support.world import Env, file_ticket, make_env

TOKEN = "123456:" + "A" * 35


@asynccontextmanager
async def listener(store: Store, leading: bool = False) -> AsyncIterator[str]:
    """An ops listener on a free port for `store`; its base URL."""
    settings = Settings.model_validate(
        {"telegram": {"token": TOKEN}, "ops": {"listen": "127.0.0.1", "port": 0}}
    )
    metrics = Metrics(store)
    metrics.follow_leader(lambda: leading)
    server = OpsServer(settings, store, metrics, lambda: leading)
    port = await server.start()
    assert port is not None
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text format."""
    for line in exposition.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if metric == name and found == labels:
            return float(value)
    raise AssertionError(f"no {name}{labels} in:\n{exposition}")


async def test_healthz_answers_ok(store: Store) -> None:
    async with listener(store) as base:
        status, _, body = await get(f"{base}/healthz")
    assert (status, body) == (200, "ok")


async def readyz(store: Store, leading: bool = False) -> tuple[int, dict[str, Any], str]:
    """/readyz of a listener on `store`: status, the JSON document and its raw text."""
    async with listener(store, leading) as base:
        status, content_type, text = await get(f"{base}/readyz")
    assert content_type.startswith("application/json")
    return status, json.loads(text), text


async def test_readyz_on_a_migrated_database_says_ready_with_the_figures(store: Store) -> None:
    env: Env = await make_env(store)
    ticket = (await file_ticket(env.store, env.world)).ticket.id
    await file_ticket(env.store, env.world)
    await dispatch.accept(env.store.uow(), ticket, env.world.tom)
    env.clock.advance(minutes=10)  # the notices of filing have waited 10 minutes
    status, body, _ = await readyz(env.store, leading=True)
    assert status == 200, body
    assert body["ready"] is True and body["reason"] is None
    head = head_revision()
    assert body["database"] == {"reachable": True, "revision": head, "head": head}
    assert body["role"] == "leader"
    pending = await outbox.backlog(env.store.read())
    assert pending.due > 0
    assert body["outbox"]["backlog"] == pending.due
    assert 600 <= body["outbox"]["oldest_due_age_s"] < 1200
    assert body["scheduler"] == {"last_tick_age_s": None}  # no job ran in this process


async def test_readyz_on_a_database_behind_the_code_is_503_with_the_reason(
    db_url: str, tmp_path: Path
) -> None:
    async with _database_at("0006", db_url, tmp_path) as url:
        behind = Store(create_engine(url))
        try:
            status, body, _ = await readyz(behind)
        finally:
            await behind.dispose()
    assert status == 503
    assert body["ready"] is False
    assert body["database"] == {"reachable": True, "revision": "0006", "head": head_revision()}
    assert "run `repairbot db upgrade`" in body["reason"]
    assert body["role"] == "standby"


@asynccontextmanager
async def _database_at(revision: str, db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    if db_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        await upgrade(url, revision)
        yield url
        return
    async with throwaway_database() as url:
        await upgrade(url, revision)
        yield url


@contextmanager
def _silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung database host)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.mark.postgres
async def test_readyz_when_the_database_is_down_is_503_at_once() -> None:
    url = f"postgresql+asyncpg://postgres:hunter2hunter2@127.0.0.1:{free_port()}/x"
    down = Store(create_engine(url))
    try:
        status, body, text = await readyz(down)
    finally:
        await down.dispose()
    assert status == 503
    assert body["ready"] is False and body["database"]["reachable"] is False
    assert body["reason"].startswith("the database is unreachable")
    assert body["outbox"] == {"backlog": None, "oldest_due_age_s": None}
    assert "hunter2hunter2" not in text


@pytest.mark.postgres
async def test_readyz_when_the_database_hangs_is_503_within_about_a_second() -> None:
    with _silent_server() as port:
        hung = Store(create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x"))
        try:
            started = time.monotonic()
            status, body, _ = await readyz(hung)
            took = time.monotonic() - started
        finally:
            await asyncio.wait_for(hung.dispose(), 5)
    assert status == 503
    assert body["reason"] == "the database did not answer within 1 s"
    assert 0.9 <= took < 3.0  # the listener's start and stop included


async def test_metrics_show_open_tickets_by_status_and_the_backlog(store: Store) -> None:
    env: Env = await make_env(store)
    held = (await file_ticket(env.store, env.world)).ticket.id
    await file_ticket(env.store, env.world)
    await file_ticket(env.store, env.world)
    await dispatch.accept(env.store.uow(), held, env.world.tom)
    env.clock.advance(minutes=7)
    async with listener(env.store, leading=True) as base:
        status, content_type, text = await get(f"{base}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    assert sample(text, "repairbot_open_tickets", status="dispatching") == 2
    assert sample(text, "repairbot_open_tickets", status="assigned") == 1
    assert sample(text, "repairbot_open_tickets", status="in_progress") == 0
    assert sample(text, "repairbot_open_tickets", status="received") == 0
    assert sample(text, "repairbot_outbox_backlog") == (await outbox.backlog(env.store.read())).due
    assert 7 * 60 <= sample(text, "repairbot_outbox_oldest_due_seconds") < 8 * 60
    assert sample(text, "repairbot_leader") == 1
    assert sample(text, "repairbot_updates_total", kind="command", outcome="ok") == 0


async def test_a_scrape_storm_reads_the_database_once(store: Store) -> None:
    metrics = Metrics(store)
    reads = 0
    real = health.open_by_status

    async def counted(uow: UnitOfWork) -> dict[str, int]:
        nonlocal reads
        reads += 1
        return await real(uow)

    mp = pytest.MonkeyPatch()
    mp.setattr(health, "open_by_status", counted)
    try:
        await asyncio.gather(*(metrics.exposition() for _ in range(50)))
        await metrics.exposition()
    finally:
        mp.undo()
    assert reads == 1


async def test_the_monitoring_reads_seek_an_index(sqlite_url: str) -> None:
    """Both figures come from an index on SQLite, never a scan of the ticket or outbox rows
    (the plans PostgreSQL picks follow its statistics)."""
    store = Store(create_engine(sqlite_url))
    seen: list[tuple[str, Any]] = []

    def record(_c: object, _cur: object, statement: str, params: object, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        await outbox.backlog(store.read())
        await health.open_by_status(store.read())
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        plans = []
        async with store.engine.connect() as conn:
            for sql, params in seen:
                rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)).all()
                plans.append("\n".join(str(r[-1]) for r in rows))
    finally:
        await store.dispose()
    backlog_plan, open_plan = plans
    assert "SEARCH outbox USING COVERING INDEX ix_outbox_pending" in backlog_plan, backlog_plan
    assert re.search(
        r"SEARCH ticket USING COVERING INDEX ix_ticket_status_\w+ \(status=\?\)", open_plan
    ), open_plan
