"""/start greets a user in their Telegram language, through the real Application over HTTP."""

from __future__ import annotations

import pytest

from tests.support.harness import Harness


@pytest.mark.parametrize(
    ("language_code", "greeting", "menu_button"),
    [
        ("en", "Hello Alice", "🛠 Report a repair"),
        ("zh-hans", "你好", "🛠 我要报修"),
        ("zh-hant", "你好", "🛠 我要報修"),
    ],
)
async def test_start_greets_in_the_users_language(
    bot: Harness, language_code: str, greeting: str, menu_button: str
) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code=language_code)
    await alice.command("start")
    message = await alice.next_message()
    assert greeting in message.body
    assert menu_button in message.button_texts
