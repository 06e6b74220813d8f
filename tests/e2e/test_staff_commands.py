"""Staff see their own commands in Telegram's menu; requesters keep the plain list."""

from __future__ import annotations

import re

from store.lifecycle import Role
from tests.support.harness import Harness
from tests.support.world import make_person


def chat_scope(chat_id: int) -> dict[str, object]:
    return {"type": "chat", "chat_id": chat_id}


async def test_staff_menus_at_start_and_after_joining(bot: Harness) -> None:
    sandbox = bot.sandbox
    tom = sandbox.user(2001, "Tom")
    await tom.command("start")
    await tom.next_message()
    building = bot.places.room("E1-101").building_id
    await make_person(
        bot.store, Role.TECHNICIAN, name="Tom", telegram_id=2001, buildings=[building]
    )
    admin = sandbox.user(3001, "Ada")
    await admin.command("start")
    await admin.next_message()
    await make_person(bot.store, Role.ADMIN, name="Ada", telegram_id=3001)
    await bot.restart()  # staff added by the CLI get their menu at the next start
    await bot.menus_published()

    tom_menu = sandbox.commands(chat_scope(2001))
    assert {"duty", "jobs", "report", "my"} <= set(tom_menu)
    assert "queue" not in tom_menu
    assert {"queue", "followups", "invite", "sweep"} <= set(sandbox.commands(chat_scope(3001)))
    assert "jobs" not in sandbox.commands()  # the default list stays the requester's

    await admin.command("invite", "dispatcher E1公寓")
    created = await admin.expect(text_contains="t.me/")
    payload = re.search(r"start=(\S+)", created.body)
    assert payload is not None
    dee = sandbox.user(4001, "Dee")
    await dee.command("start", payload.group(1))
    await dee.expect(text_contains="Welcome aboard")
    assert "queue" in sandbox.commands(chat_scope(4001))
