"""Bot commands per scope and language, the menu button and chat actions."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeChat

from sandbox.client import SandboxClient
from sandbox.testing import AnyApplication, RawApi


async def test_commands_per_scope_and_language(
    ptb_app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    bot = ptb_app.bot
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("report", "Report")])
    await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh")
    await bot.set_my_commands(
        [BotCommand("dispatch", "Dispatch")], scope=BotCommandScopeAllGroupChats()
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    assert [c.description for c in await bot.get_my_commands(language_code="zh")] == ["开始"]
    groups = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
    assert [c.command for c in groups] == ["dispatch"]
    assert await bot.get_my_commands(scope=BotCommandScopeChat(1001)) == ()
    assert sandbox.commands(language_code="zh") == ["start"]
    await bot.delete_my_commands(language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == ()
    assert len(await bot.get_my_commands()) == 2


async def test_invalid_command_name(raw_api: RawApi) -> None:
    status, body = await raw_api(
        "setMyCommands", commands=[{"command": "bad name!", "description": "x"}]
    )
    assert (status, body["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")


async def test_menu_button_and_chat_action(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice")
    await alice.send("/start")
    assert await raw_api.ok("getChatMenuButton") == {"type": "default"}
    await raw_api.ok("setChatMenuButton", menu_button={"type": "commands"})
    assert await raw_api.ok("getChatMenuButton", chat_id=1001) == {"type": "commands"}
    assert await raw_api.ok("sendChatAction", chat_id=1001, action="upload_photo") is True
    status, body = await raw_api("sendChatAction", chat_id=1001, action="dancing")
    assert (status, body["description"]) == (400, "Bad Request: wrong parameter action in request")
    assert alice.chat_actions == ["upload_photo"]
