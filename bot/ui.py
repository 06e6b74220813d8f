"""Small keyboard and formatting helpers shared by the flows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.callbacks import Callback
from bot.i18n import Texts

Button = tuple[str, Callback]

# Telegram refuses a keyboard over these ("Bad Request: reply markup is too long"): on a
# real chat the whole message is lost. Every keyboard of the bot is built below and
# checked here, so a list that outgrows a message fails where it was built, in a test.
MAX_INLINE_BUTTONS = 100
MAX_INLINE_ROW = 8
MAX_REPLY_BUTTONS = 300
MAX_REPLY_ROW = 12
MAX_MARKUP_BYTES = 10 * 1024


class KeyboardTooBig(ValueError):
    """A keyboard over Telegram's limits: the list it shows must be paged."""


def _checked(kind: str, rows: Sequence[Sequence[object]], most: int, per_row: int) -> None:
    count = sum(len(row) for row in rows)
    widest = max((len(row) for row in rows), default=0)
    if count > most:
        raise KeyboardTooBig(f"{kind} keyboard of {count} buttons (Telegram allows {most})")
    if widest > per_row:
        raise KeyboardTooBig(
            f"{kind} keyboard row of {widest} buttons (Telegram allows {per_row})"
        )


def _sized(markup: InlineKeyboardMarkup | ReplyKeyboardMarkup) -> None:
    size = len(json.dumps(markup.to_dict(), ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_MARKUP_BYTES:
        raise KeyboardTooBig(f"keyboard of {size} bytes (Telegram allows {MAX_MARKUP_BYTES})")


def button(text: str, data: Callback) -> InlineKeyboardButton:
    """An inline button whose data is packed through the one callback codec."""
    return InlineKeyboardButton(text, callback_data=data.pack())


def keyboard(rows: Iterable[Sequence[Button]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (text, callback) pairs; empty rows are dropped.
    KeyboardTooBig when it is over Telegram's limits."""
    return inline_markup([[button(text, data) for text, data in row] for row in rows if row])


def inline_markup(rows: Sequence[Sequence[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    """An inline keyboard of ready buttons (a web app, a URL), checked like `keyboard`."""
    _checked("inline", rows, MAX_INLINE_BUTTONS, MAX_INLINE_ROW)
    markup = InlineKeyboardMarkup(rows)
    _sized(markup)
    return markup


def reply_keyboard(
    rows: Sequence[Sequence[KeyboardButton]], **options: Any
) -> ReplyKeyboardMarkup:
    """A reply keyboard (under the text field), checked against Telegram's limits."""
    _checked("reply", rows, MAX_REPLY_BUTTONS, MAX_REPLY_ROW)
    markup = ReplyKeyboardMarkup(rows, **options)
    _sized(markup)
    return markup


def pager(texts: Texts, newer: Callback | None, older: Callback | None) -> list[Button]:
    """The ◀️/▶️ row of a paged list: only the buttons that lead somewhere."""
    row: list[Button] = []
    if newer is not None:
        row.append((texts("common.prev"), newer))
    if older is not None:
        row.append((texts("common.next"), older))
    return row


def capped(total: int, more: bool) -> str:
    """A count that stops at a cap: "37", or "100+" when there are more."""
    return f"{total}+" if more else str(total)


def grid(buttons: Sequence[Button], columns: int) -> list[list[Button]]:
    """Lay buttons out `columns` to a row."""
    return [list(buttons[i : i + columns]) for i in range(0, len(buttons), columns)]


def place_label(payload: dict[str, Any] | Any) -> str:
    """`campus · building · room` from a notice payload or a view."""
    get = payload.get if isinstance(payload, dict) else lambda k: getattr(payload, k, None)
    parts = [get("campus"), get("building"), get("room")]
    return " · ".join(str(p) for p in parts if p)


def stars(rating: int | None) -> str:
    """★★★☆☆ for 3, or an em dash for no rating."""
    if rating is None:
        return "—"
    return "★" * rating + "☆" * (5 - rating)


def mask_phone(phone: str) -> str:
    """A saved number as it is offered back: `138****5678`, `+86138****5678`."""
    if len(phone) < 8:
        return phone
    keep = phone[:3] if len(phone) <= 11 else phone[: len(phone) - 8]
    return keep + "*" * (len(phone) - len(keep) - 4) + phone[-4:]


def clip(text: str, limit: int) -> str:
    """Shorten text to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_text(texts: Texts, code: str, params: dict[str, Any]) -> str:
    """A domain error's catalog text; unknown parameters are shown as they are."""
    shown = {k: (texts.when(v) if hasattr(v, "isoformat") else v) for k, v in params.items()}
    if "status" in shown:
        shown["status"] = texts.status(str(shown["status"]))
    try:
        return texts(code, **shown)
    except (KeyError, IndexError):
        return texts("error.generic")


def ticket_lines(texts: Texts, view: Any, *, description_limit: int = 1500) -> list[str]:
    """The facts every ticket screen starts with: number, status, place, category,
    urgency, description, and the technician when there is one."""
    lines = [
        texts(
            "my.detail",
            number=view.number,
            status=texts.status(view.status),
            place=place_label(view),
            category=texts.category(view.category),
            urgency=texts(f"urgency.{view.urgency}"),
            description=clip(view.description, description_limit),
        )
    ]
    if getattr(view, "assignee_former", False):
        lines.append(texts("my.assignee", name=texts("former.user")))
    elif view.assignee_name:
        lines.append(texts("my.assignee", name=view.assignee_name))
    return lines


def duration(texts: Texts, value: timedelta | None) -> str:
    """A duration as "1 h 20 min" or "45 min" in the reader's language; "—" for none."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes >= 60:
        return texts("stats.hours", h=minutes // 60, m=minutes % 60)
    return texts("stats.minutes", m=minutes)


def share(value: float | None) -> str:
    """A share as a whole percentage; "—" when there was nothing to count."""
    return "—" if value is None else f"{value:.0%}"


def average_rating(value: float | None) -> str:
    """An average rating like "4.3★"; "—" when nothing was rated."""
    return "—" if value is None else f"{value:.1f}★"
