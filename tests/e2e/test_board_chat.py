"""/board in the chat, and the "📊 Board" Mini App buttons when the board has an HTTPS
address (Telegram opens Mini Apps over HTTPS only)."""

from __future__ import annotations

from typing import Any

from bot.board.server import BoardServer
from sandbox.views import BotMessage
from store.lifecycle import Role
from tests.support.chats import started
from tests.support.harness import Harness
from tests.support.world import make_person

PUBLIC = "https://repairs.example.edu"


def _web_apps(message: BotMessage) -> list[str]:
    """The Mini App addresses of a message's inline buttons."""
    markup: dict[str, Any] = message.stored.content.reply_markup or {}
    rows = markup.get("inline_keyboard") or []
    return [b["web_app"]["url"] for row in rows for b in row if "web_app" in b]


async def _with_public_url(bot: Harness, board: BoardServer) -> None:
    cfg = bot.settings.board.model_copy(update={"public_url": PUBLIC})
    bot.settings = bot.settings.model_copy(update={"board": cfg})
    board.settings = bot.settings
    await bot.restart()
    assert bot.app is not None
    bot.app.bot_data.board = board


async def test_board_sends_a_one_time_link_to_staff_and_refuses_others(
    bot: Harness, board: BoardServer
) -> None:
    await make_person(bot.store, Role.DISPATCHER, name="Dana", telegram_id=5002)
    dana = bot.sandbox.user(5002, "Dana", language_code="en")
    await dana.command("board")
    link = await dana.expect(text_contains="sign-in link")
    assert f"{board.base_url()}/board/signin?token=" in link.body
    assert "valid 10 minutes, works once" in link.body
    assert _web_apps(link) == []  # no HTTPS address: no Mini App button

    alice = await started(bot, 1001, "Alice")
    await alice.command("board")
    refused = await alice.expect(text_contains="office board")
    assert "/board/signin" not in refused.body


async def test_with_an_https_address_staff_get_the_mini_app_buttons(
    bot: Harness, board: BoardServer
) -> None:
    await _with_public_url(bot, board)
    await make_person(bot.store, Role.SUPERVISOR, name="Sam", telegram_id=5001)
    sam = bot.sandbox.user(5001, "Sam", language_code="en")
    await sam.command("start")
    await sam.expect(text_contains="What would you like to do")
    menu = bot.server.state.menu_buttons.get(5001)
    assert menu == {
        "type": "web_app",
        "text": "📊 Board",
        "web_app": {"url": f"{PUBLIC}/board/"},
    }
    await sam.command("board")
    link = await sam.expect(text_contains="sign-in link")
    assert f"{PUBLIC}/board/signin?token=" in link.body
    assert _web_apps(link) == [f"{PUBLIC}/board/"]
    await sam.command("stats")
    figures = await sam.expect(text_contains="Office:")
    assert _web_apps(figures) == [f"{PUBLIC}/board/"]
    # A requester's chat keeps Telegram's own menu button.
    alice = await started(bot, 1001, "Alice")
    assert alice is not None and bot.server.state.menu_buttons.get(1001) is None
