"""Two `repairbot run` processes in webhook mode on one PostgreSQL database, behind a load
balancer that sends each webhook request to the next instance in turn: 50 users report at
once, each chat's updates handled in order and once; then one instance is killed with
SIGKILL mid-load and no report is lost or filed twice."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func
from sqlmodel import col, select

from sandbox.client import UserHandle
from sandbox.server import SandboxServer
from store.db import create_engine
from store.models import HandledUpdate, Person, Ticket
from store.uow import Store
from tests.support.instances import ROOMS, WebhookCluster, seed_campus
from tests.support.report_steps import file_report, file_report_resuming

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]

HELP = "Use /report to report a repair"
MY = "You have no tickets yet."
QUEUED = "no technician is on duty"
USERS = 50


@pytest_asyncio.fixture
async def stand_in() -> AsyncIterator[SandboxServer]:
    """The stand-in, patient with a loaded machine; a failed webhook is retried soon."""
    server = SandboxServer(default_timeout=90.0, webhook_backoff=(0.05, 0.5))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def greeted_burst_and_report(user: UserHandle, room: str) -> tuple[bool, str]:
    """/start; then /help and /my back to back (in order: /help's answer first?); then a
    whole report. Returns (order kept, ticket number)."""
    await user.command("start")
    await user.expect(text_contains="Hello")
    await user.command("help")
    await user.command("my")
    first, second = await user.collect(2)
    in_order = HELP in first.body and MY in second.body
    number = await file_report(user, code=room)
    await user.expect(text_contains=QUEUED)  # the notice from the outbox, sent by the leader
    return in_order, number


def shape(user: UserHandle) -> list[str]:
    """Everything said in the user's chat, their name and every digit blanked, sorted (the
    notice from the outbox may come before or after the reply it goes with)."""
    return sorted(
        re.sub(r"\d", "#", m.body.replace(user.info.first_name, "NAME")) for m in user.all_messages
    )


def delivered_ids(server: SandboxServer) -> list[int]:
    """The update ids the stand-in saw answered 2xx, in that order."""
    return [
        int(e.detail.rsplit(" ", 1)[1])
        for e in server.state.transcript.entries
        if e.actor == "webhook" and e.detail.startswith("delivered update")
    ]


async def tickets_by_telegram_id(url: str) -> dict[int, int]:
    store = Store(create_engine(url))
    try:
        async with store.engine.connect() as conn:
            rows = await conn.execute(
                select(Person.telegram_id, func.count(col(Ticket.id)))
                .join(Ticket, col(Ticket.requester_id) == col(Person.id))
                .group_by(col(Person.telegram_id))
            )
            return {int(t): int(n) for t, n in rows.all() if t is not None}
    finally:
        await store.dispose()


async def handled_rows(url: str) -> int:
    store = Store(create_engine(url))
    try:
        async with store.engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(HandledUpdate))
            return int(count or 0)
    finally:
        await store.dispose()


async def test_two_instances_behind_a_balancer(
    stand_in: SandboxServer, postgres_url: str, tmp_path: Path
) -> None:
    await seed_campus(postgres_url)
    cluster = await WebhookCluster(stand_in, postgres_url, tmp_path).start()
    balancer = cluster.balancer
    assert balancer is not None
    first, second = cluster.instances
    try:
        # 1. Fifty users at once, both instances receiving.
        users = [stand_in.client.user(40_000 + i, f"U{i}") for i in range(USERS)]
        results = await asyncio.gather(
            *(greeted_burst_and_report(u, room) for u, room in zip(users, ROOMS, strict=False))
        )
        assert [u.id for u, (ok, _) in zip(users, results, strict=True) if not ok] == []
        assert all(balancer.forwarded[i.backend] > USERS for i in cluster.instances)
        # Each answer exactly once: every chat holds the same messages, none twice.
        reference = shape(users[0])
        assert len(reference) >= 8 and len(set(reference)) == len(reference), reference
        odd = [u for u in users if shape(u) != reference]
        assert not odd, list(itertools.zip_longest(reference, shape(odd[0])))
        # Every update delivered once (no retry) and handled once.
        delivered = delivered_ids(stand_in)
        assert stand_in.state.updates.pending == []
        assert stand_in.state.webhook.attempts == len(delivered)
        assert await handled_rows(postgres_url) == len(delivered)
        filed = await tickets_by_telegram_id(postgres_url)
        assert {u.id: filed.get(u.id) for u in users} == {u.id: 1 for u in users}

        # 2. Thirty more; a third of the way through their reports the first instance dies.
        # Updates it was handling are sent again (the balancer answers 502 for it) and go
        # to the second; one cut off after its step was saved but before the answer was
        # sent leaves its user without the next prompt: they send /report (README).
        more = [stand_in.client.user(50_000 + i, f"V{i}") for i in range(30)]
        before = stand_in.state.webhook.attempts
        running = [
            asyncio.create_task(file_report_resuming(u, room))
            for u, room in zip(more, ROOMS[USERS:], strict=False)
        ]
        await stand_in.state.changed.wait_for(
            lambda: stand_in.state.webhook.attempts >= before + 70 or None, 120, "70 updates"
        )
        first.kill()
        outcomes = await asyncio.gather(*running)
        numbers = [number for number, _resumed in outcomes]
        print("phase 2: /report needed", sum(r for _n, r in outcomes), "times")
        assert len(set(numbers)) == len(more)
        assert balancer.failed[first.backend] > 0  # it was down while requests came
        filed = await tickets_by_telegram_id(postgres_url)
        assert {u.id: filed.get(u.id) for u in more} == {u.id: 1 for u in more}
    except BaseException:
        print(cluster.outputs())
        (tmp_path / "transcript.txt").write_text(stand_in.transcript())
        print("stand-in transcript:", tmp_path / "transcript.txt")
        raise
    finally:
        codes = await cluster.stop()
    assert codes == {first.name: -9, second.name: 0}, cluster.outputs()
    assert "Traceback" not in second.output(), second.output()
