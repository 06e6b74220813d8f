"""An operator scraping a running bot: /metrics counts what users did (commands, presses,
steps, failures, Bot API calls with their 429s) and names nobody; one log line per update
with its kind, the internal person id, milliseconds and outcome, and no personal data."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from bot import scheduling
from bot.app import build_application
from bot.flows import common
from bot.ops import OpsServer
from sandbox.faults import Fault
from sandbox.server import SandboxServer
from store.models import Person
from tests.support.chats import offer_for, started, technicians
from tests.support.harness import Harness, new_harness
from tests.support.report_steps import file_report

BOTH = pytest.mark.parametrize(
    "e2e_db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
NAME, TELEGRAM_ID = "Zebulon Quixwright", 731_555_0199


@pytest_asyncio.fixture
async def ops(bot: Harness) -> AsyncIterator[str]:
    """The ops listener beside the running bot, on a free port; its base URL."""
    assert bot.app is not None and bot.app.bot_data.metrics is not None
    settings = bot.settings.model_copy(
        update={"ops": bot.settings.ops.model_copy(update={"port": 0})}
    )
    leadership = bot.app.bot_data.leadership
    assert leadership is not None
    server = OpsServer(settings, bot.store, bot.app.bot_data.metrics, lambda: leadership.leading)
    port = await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def scrape(base: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        assert response.status == 200
        return await response.text()


def value(exposition: str, name: str, **labels: str) -> float:
    """One series' value (0 when the series is absent)."""
    for line in exposition.splitlines():
        series, _, number = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if not line.startswith("#") and metric == name and found == labels:
            return float(number)
    return 0.0


@BOTH
async def test_metrics_count_a_users_updates_and_name_nobody(
    bot: Harness, ops: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="bot.updates")
    before = await scrape(ops)
    alice = bot.sandbox.user(TELEGRAM_ID, NAME.split()[0], last_name=NAME.split()[1])
    bot.sandbox.fail_next("sendMessage", Fault.flood(1))  # the greeting waits out a 429
    await alice.command("start")
    menu = await alice.expect(text_contains="What would you like to do")
    await alice.press(menu, "☎️ Emergency & complaint numbers")
    await alice.expect(text_contains="110-999")
    await alice.send("my secret words 13800000001")  # no flow waits for it: a step

    # Bob's first update finds the database away: he is told, and it counts as an error.
    def away(*_: object, **__: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(common, "known_person", away)
    bob = bot.sandbox.user(TELEGRAM_ID + 1, "Bob")
    await bob.command("start")
    await bob.expect(text_contains="busy")
    monkeypatch.undo()
    # An update is counted once it is done, the handled mark included (bot/inbox.py),
    # which may be a moment after its answer arrived: wait for the four to settle.
    expected = {("command", "ok"): 1, ("button", "ok"): 1, ("step", "ok"): 1}
    expected[("command", "error")] = 1
    for _ in range(100):
        after = await scrape(ops)
        if all(
            value(after, "repairbot_updates_total", kind=k, outcome=o)
            - value(before, "repairbot_updates_total", kind=k, outcome=o)
            >= n
            for (k, o), n in expected.items()
        ):
            break
        await asyncio.sleep(0.05)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("repairbot_updates_total", kind="command", outcome="ok") == 1
    assert moved("repairbot_updates_total", kind="button", outcome="ok") == 1
    assert moved("repairbot_updates_total", kind="step", outcome="ok") == 1
    assert moved("repairbot_updates_total", kind="command", outcome="error") == 1
    assert moved("repairbot_update_seconds_count", kind="command") == 2
    assert moved("repairbot_bot_api_calls_total", method="sendMessage", outcome="ok") >= 3
    assert moved("repairbot_bot_api_calls_total", method="sendMessage", outcome="retry_after") == 1
    assert moved("repairbot_bot_api_calls_total", method="answerCallbackQuery", outcome="ok") >= 1
    assert value(after, "repairbot_leader") == 1  # SQLite: the one instance leads
    for personal in (NAME.split()[0], NAME.split()[1], str(TELEGRAM_ID), "13800000001", "secret"):
        assert personal not in after

    async with bot.store.read() as uow:
        person_id = (
            await uow.session.execute(select(Person.id).where(Person.telegram_id == TELEGRAM_ID))
        ).scalar_one()
    lines = [r for r in caplog.records if r.name == "bot.updates"]
    alices = [r for r in lines if getattr(r, "person_id", None) == person_id]
    assert [(r.kind, r.outcome) for r in alices] == [  # type: ignore[attr-defined]
        ("command", "ok"),
        ("button", "ok"),
        ("step", "ok"),
    ]
    assert all(r.levelno == logging.INFO and isinstance(r.ms, float) for r in alices)  # type: ignore[attr-defined]
    assert re.fullmatch(
        rf"update \d+ command person={person_id} \d+\.\d ms ok", alices[0].getMessage()
    )
    assert [(r.kind, r.outcome, r.person_id) for r in lines if r not in alices] == [  # type: ignore[attr-defined]
        ("command", "error", None)
    ]
    text = "\n".join(r.getMessage() for r in lines)
    for personal in (*NAME.split(), str(TELEGRAM_ID), "13800000001", "secret", "Bob"):
        assert personal not in text


@BOTH
async def test_notices_sent_and_failed_are_counted(bot: Harness, ops: str) -> None:
    tom, ann = await technicians(bot, "Tom", "Ann")
    # Ann blocked the bot and Telegram never said so: her offer fails with 403.
    bot.server.state.blocked.add(ann.user.id)
    before = await scrape(ops)
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    await offer_for(tom.user, number)

    def moved(text: str, name: str) -> float:
        return value(text, name) - value(before, name)

    async def failed_once() -> bool:
        return moved(await scrape(ops), "repairbot_notices_failed_total") == 1

    for _ in range(100):
        if await failed_once():
            break
        await asyncio.sleep(0.05)
    after = await scrape(ops)
    assert moved(after, "repairbot_notices_failed_total") == 1
    assert moved(after, "repairbot_notices_sent_total") >= 1  # Tom's offer at least
    assert "Tom" not in after and "Ann" not in after and number not in after


@BOTH
async def test_scheduler_runs_are_measured_and_readyz_shows_the_last_tick(
    bot_api: SandboxServer, e2e_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = await new_harness(bot_api, e2e_db)
    app = build_application(harness.settings, harness.store, sender_poll_interval=0.1)
    await app.initialize()
    assert app.post_init is not None and app.job_queue is not None
    await app.post_init(app)
    metrics = app.bot_data.metrics
    assert metrics is not None
    settings = harness.settings.model_copy(
        update={"ops": harness.settings.ops.model_copy(update={"port": 0})}
    )
    server = OpsServer(settings, harness.store, metrics, lambda: True)
    port = await server.start()
    try:
        [sla] = app.job_queue.get_jobs_by_name("sla")
        await sla.run(app)

        async def away(*_: object, **__: object) -> None:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))

        monkeypatch.setattr(scheduling, "sla_tick", away)
        await sla.run(app)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/readyz") as ready:
                body = await ready.json()
            text = await scrape(f"http://127.0.0.1:{port}")
    finally:
        await server.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        await harness.store.dispose()
    assert body["role"] == "leader" and 0 <= body["scheduler"]["last_tick_age_s"] < 5
    assert value(text, "repairbot_scheduler_runs_total", job="sla", outcome="ok") == 1
    assert value(text, "repairbot_scheduler_runs_total", job="sla", outcome="error") == 1
    assert value(text, "repairbot_scheduler_run_seconds_count", job="sla") == 2
    last_run = value(text, "repairbot_scheduler_last_run_timestamp_seconds", job="sla")
    assert abs(last_run - time.time()) < 30
    assert value(text, "repairbot_leader") == 1
