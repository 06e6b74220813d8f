"""Telegram's validation rules for text, captions, keyboards and replies."""

from __future__ import annotations

import json

from telegram import InlineKeyboardMarkup, MessageEntity, ReplyKeyboardMarkup

from sandbox import errors
from sandbox.errors import bad_request
from sandbox.formatting import parse_html, strip_text, utf16_len
from sandbox.params import Params

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# Telegram's keyboard limits: buttons in all and in one row, and the markup's JSON size.
MAX_INLINE_BUTTONS = 100
MAX_INLINE_ROW = 8
MAX_REPLY_BUTTONS = 300
MAX_REPLY_ROW = 12
MAX_MARKUP_BYTES = 10 * 1024
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def formatted(
    raw: str | None, parse_mode: str | None, entities: object
) -> tuple[str, tuple[MessageEntity, ...]]:
    """Apply parse_mode (or explicit entities) and Telegram's trimming to a text."""
    text = raw or ""
    parsed: list[MessageEntity] = []
    mode = (parse_mode or "").lower()
    if mode == "html":
        text, parsed = parse_html(text)
    elif mode in ("markdown", "markdownv2"):
        pass  # Stored as sent; the stand-in does not interpret Markdown.
    elif mode:
        raise bad_request("unsupported parse_mode")
    elif entities is not None:
        if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
            raise bad_request("can't parse entities JSON object")
        parsed = [MessageEntity.de_json(e, None) for e in entities]
    text, parsed = strip_text(text, parsed)
    return text, tuple(parsed)


def message_text(p: Params, field: str = "text") -> tuple[str, tuple[MessageEntity, ...]]:
    """Validate a message text: 1-4096 UTF-16 units after entity parsing."""
    text, entities = formatted(p.get_str(field), p.get_str("parse_mode"), p.get_json("entities"))
    if not text:
        raise bad_request(errors.TEXT_EMPTY)
    if utf16_len(text) > MAX_TEXT:
        raise bad_request(errors.TEXT_TOO_LONG)
    return text, entities


def caption(
    raw: str | None, parse_mode: str | None, entities: object
) -> tuple[str | None, tuple[MessageEntity, ...]]:
    """Validate a media caption: at most 1024 UTF-16 units after entity parsing."""
    if raw is None:
        return None, ()
    text, parsed = formatted(raw, parse_mode, entities)
    if utf16_len(text) > MAX_CAPTION:
        raise bad_request(errors.CAPTION_TOO_LONG)
    return (text or None), parsed


def reply_markup(p: Params, *, inline_only: bool = False) -> dict[str, object] | None:
    """Validate reply_markup and normalise it through PTB's own types."""
    markup = p.get_json("reply_markup", error=bad_request(errors.BAD_MARKUP))
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request(errors.BAD_MARKUP)
    if "inline_keyboard" in markup:
        return _inline_keyboard(markup)
    if inline_only:
        raise bad_request(errors.BAD_MARKUP)
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(errors.BAD_MARKUP)
        normalised = [[{"text": b} if isinstance(b, str) else b for b in row] for row in rows]
        if not all(isinstance(b, dict) and b.get("text") for row in normalised for b in row):
            raise bad_request("keyboard button text must be non-empty")
        _check_size(markup, normalised, MAX_REPLY_BUTTONS, MAX_REPLY_ROW)
        return ReplyKeyboardMarkup.de_json({**markup, "keyboard": normalised}, None).to_dict()
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return dict(markup)
    raise bad_request(errors.BAD_MARKUP)


def _inline_keyboard(markup: dict[str, object]) -> dict[str, object]:
    """Check every inline button has one action and valid callback_data."""
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(errors.BAD_MARKUP)
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(errors.BAD_MARKUP)
            if not any(button.get(key) is not None for key in _BUTTON_ACTIONS):
                raise bad_request(errors.TEXT_BUTTONS_NOT_ALLOWED)
            data = button.get("callback_data")
            if data is not None:
                size = len(str(data).encode())
                if not 1 <= size <= MAX_CALLBACK_DATA:
                    raise bad_request(errors.BUTTON_DATA_INVALID)
    _check_size(markup, rows, MAX_INLINE_BUTTONS, MAX_INLINE_ROW)
    return InlineKeyboardMarkup.de_json(markup, None).to_dict()


def _check_size(
    markup: dict[str, object], rows: list[list[object]], most: int, per_row: int
) -> None:
    """Refuse a keyboard over Telegram's limits: buttons in all, in a row, JSON bytes."""
    if sum(len(row) for row in rows) > most or any(len(row) > per_row for row in rows):
        raise bad_request(errors.MARKUP_TOO_LONG)
    size = len(json.dumps(markup, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_MARKUP_BYTES:
        raise bad_request(errors.MARKUP_TOO_LONG)


def reply_target(p: Params, exists: set[int]) -> int | None:
    """Resolve reply_parameters / reply_to_message_id against the chat's live messages."""
    params = p.get_json("reply_parameters")
    allow_missing = p.get_bool("allow_sending_without_reply")
    target: int | None = None
    if isinstance(params, dict):
        value = params.get("message_id")
        target = value if isinstance(value, int) else None
        allow_missing = allow_missing or params.get("allow_sending_without_reply") is True
    elif p.has("reply_to_message_id"):
        target = p.get_int("reply_to_message_id")
    if target is None or target in exists:
        return target
    if allow_missing:
        return None
    raise bad_request(errors.REPLY_NOT_FOUND)
