"""The bot's keyboard helper refuses what Telegram would refuse, and every keyboard of the
bot is built through it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, KeyboardButton

from bot.callbacks import JobAction
from bot.ui import Button, KeyboardTooBig, grid, inline_markup, keyboard, reply_keyboard

ROOT = Path(__file__).resolve().parents[2]


def _buttons(n: int) -> list[Button]:
    return [(f"job {i}", JobAction("open", i)) for i in range(n)]


def test_inline_keyboard_limits() -> None:
    assert len(keyboard(grid(_buttons(100), 8)).inline_keyboard) == 13
    with pytest.raises(KeyboardTooBig, match="101 buttons"):
        keyboard([[b] for b in _buttons(101)])
    with pytest.raises(KeyboardTooBig, match="row of 9"):
        keyboard([_buttons(9)])


def test_inline_keyboard_json_size() -> None:
    # 40 buttons of long text and data: well under 100, but over 10 KB of JSON.
    rows = [[("维修" * 50 + str(i), JobAction("open", 10**9 + i))] for i in range(40)]
    with pytest.raises(KeyboardTooBig, match="bytes"):
        keyboard(rows)


def test_ready_buttons_and_reply_keyboards_are_checked() -> None:
    link = InlineKeyboardButton("board", url="https://example.org")
    with pytest.raises(KeyboardTooBig):
        inline_markup([[link] * 9])
    assert reply_keyboard([[KeyboardButton(str(i)) for i in range(12)]] * 25).keyboard
    with pytest.raises(KeyboardTooBig, match="301 buttons"):
        reply_keyboard([[KeyboardButton("x")]] * 301)
    with pytest.raises(KeyboardTooBig, match="row of 13"):
        reply_keyboard([[KeyboardButton("x")] * 13])


def test_no_keyboard_is_built_outside_the_helper() -> None:
    """A raw InlineKeyboardMarkup(...) / ReplyKeyboardMarkup(...) would skip the limits."""
    raw = re.compile(r"\b(InlineKeyboardMarkup|ReplyKeyboardMarkup)\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("bot", "scheduler")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "bot" / "ui.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if raw.search(line)
    ]
    assert offenders == []
