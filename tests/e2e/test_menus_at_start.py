"""Command menus after a start (issue 28): the first update is answered before any menu
goes out, and a restart republishes only the staff menus that changed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot import menus, scheduling
from bot.app import BotApp, build_application
from sandbox.testing import start_polling
from store.directory import staff
from store.lifecycle import Role
from tests.support.harness import Harness
from tests.support.world import make_person

TOM, ADA, WALK_IN = 2001, 3001, 4001


@dataclass
class Call:
    method: str
    chat: int | None  # sendMessage's chat_id, or setMyCommands' chat scope


@dataclass
class Recording(HTTPXRequest):
    """The bot's HTTP client, noting every Bot API call in order."""

    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        params = request_data.parameters if request_data is not None else {}
        name = url.rsplit("/", 1)[-1]
        chat = params.get("chat_id")
        scope = params.get("scope")
        if isinstance(scope, str):
            scope = json.loads(scope)
        if isinstance(scope, dict) and scope.get("type") == "chat":
            chat = scope.get("chat_id")
        self.calls.append(Call(name, chat if isinstance(chat, int) else None))
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )

    def staff_menus(self) -> list[int]:
        """The chats that got their own command list."""
        return [c.chat for c in self.calls if c.method == "setMyCommands" and c.chat is not None]


async def started(bot: Harness, request: Recording) -> BotApp:
    """The bot started as `repairbot run` starts it, its Bot API calls recorded."""
    app = build_application(
        bot.settings, bot.store, sender_poll_interval=0.1, with_scheduler=False, request=request
    )
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await start_polling(app)
    return app


async def stopped(app: BotApp) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def published(app: BotApp) -> int:
    """Wait for the start's menus to go out; how many staff menus were sent."""
    task = menus.task_of(app)
    assert task is not None
    return await task


async def test_a_restart_republishes_only_the_staff_menus_that_changed(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.stop()
    monkeypatch.setattr(menus, "QUIET_START_S", 0.05)  # no update comes: publish at once
    building = bot.places.room("E1-101").building_id
    await make_person(
        bot.store, Role.TECHNICIAN, name="Tom", telegram_id=TOM, buildings=[building]
    )
    await make_person(bot.store, Role.ADMIN, name="Ada", telegram_id=ADA)

    first = Recording()
    app = await started(bot, first)
    assert await published(app) == 2
    await stopped(app)
    assert sorted(first.staff_menus()) == [TOM, ADA]
    assert "jobs" in bot.sandbox.commands({"type": "chat", "chat_id": TOM})

    again = Recording()
    app = await started(bot, again)
    assert await published(app) == 0
    await stopped(app)
    assert again.staff_menus() == []  # nothing changed: no call per staff member
    assert any(c.method == "setMyCommands" for c in again.calls)  # the default lists

    # Tom becomes a dispatcher too (the command line, while the bot is down).
    await staff.add_staff(bot.store.uow(), TOM, Role.DISPATCHER, building_ids=[building])
    changed = Recording()
    app = await started(bot, changed)
    assert await published(app) == 1
    await stopped(app)
    assert changed.staff_menus() == [TOM]
    assert "queue" in bot.sandbox.commands({"type": "chat", "chat_id": TOM})

    # Ada loses her role and gets it back: the same menu, but she may have seen another
    # one in between (the removal resets it), so it is sent again.
    await staff.remove_staff(bot.store.uow(), ADA, role=Role.ADMIN)
    await staff.add_staff(bot.store.uow(), ADA, Role.ADMIN)
    back = Recording()
    app = await started(bot, back)
    assert await published(app) == 1
    await stopped(app)
    assert back.staff_menus() == [ADA]


async def test_the_first_update_is_answered_before_the_menus_go_out(bot: Harness) -> None:
    await bot.stop()
    building = bot.places.room("E1-101").building_id
    await make_person(
        bot.store, Role.TECHNICIAN, name="Tom", telegram_id=TOM, buildings=[building]
    )
    walk_in = bot.sandbox.user(WALK_IN, "Walk-in", language_code="en")
    await walk_in.command("start")  # waiting before the bot starts
    request = Recording()
    app = await started(bot, request)
    try:
        await walk_in.next_message()
        assert await published(app) == 1
    finally:
        await stopped(app)
    calls = request.calls
    answer = next(i for i, c in enumerate(calls) if c.method == "sendMessage")
    assert calls[answer].chat == WALK_IN
    menus_at = [i for i, c in enumerate(calls) if c.method == "setMyCommands"]
    assert menus_at and min(menus_at) > answer
    assert request.staff_menus() == [TOM]


async def test_the_scheduler_catch_up_waits_for_the_first_answer(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After downtime the catch-up is minutes of work for the machine's cores: it starts
    # once the first waiting user has had their answer, not before.
    await bot.stop()
    monkeypatch.setattr(menus, "QUIET_START_S", 60.0)  # only the answer lets it go
    walk_in = bot.sandbox.user(WALK_IN, "Walk-in", language_code="en")
    await walk_in.command("start")  # waiting before the bot starts
    request = Recording()
    answered_at_tick: list[bool] = []

    async def tick(*_: object, **__: object) -> dict[str, list[str]]:
        answered_at_tick.append(
            any(c.method == "sendMessage" and c.chat == WALK_IN for c in request.calls)
        )
        return {}

    monkeypatch.setattr(scheduling, "sla_tick", tick)
    app = build_application(bot.settings, bot.store, sender_poll_interval=0.1, request=request)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        assert app.job_queue is not None
        [sla] = app.job_queue.get_jobs_by_name("sla")
        due = asyncio.create_task(sla.run(app))  # due at once, as after downtime
        await asyncio.sleep(0.5)
        assert answered_at_tick == []  # still waiting: nobody has been answered
        await start_polling(app)
        await walk_in.next_message()
        await asyncio.wait_for(due, 30)
    finally:
        await stopped(app)
    assert answered_at_tick == [True]
