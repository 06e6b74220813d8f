"""Entity handling: HTML parse mode, UTF-16 offsets, command detection and trimming."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from telegram import MessageEntity

from sandbox.errors import ApiError, bad_request

_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for lengths and offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    """An entity whose end tag has not been seen yet."""

    tag: str
    kind: str
    offset: int
    extra: dict[str, str] = field(default_factory=dict)


class _TelegramHTML(HTMLParser):
    """Parses the subset of HTML that Telegram's parse_mode=HTML accepts."""

    def __init__(self, raw: str) -> None:
        super().__init__(convert_charrefs=True)
        self.raw = raw
        self.line_starts = [0]
        for match in re.finditer("\n", raw):
            self.line_starts.append(match.end())
        self.parts: list[str] = []
        self.length = 0
        self.stack: list[_Open] = []
        self.entities: list[MessageEntity] = []

    def byte_offset(self) -> int:
        """Byte offset of the tag being handled, as Telegram reports it."""
        line, column = self.getpos()
        return len(self.raw[: self.line_starts[line - 1] + column].encode())

    def fail(self, reason: str) -> ApiError:
        """Build Telegram's entity parsing error."""
        return bad_request(f"can't parse entities: {reason}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an entity for a supported tag."""
        values = dict(attrs)
        entity = _Open(tag, "", self.length)
        if tag == "a":
            entity.kind, entity.extra["url"] = "text_link", values.get("href") or ""
        elif tag == "span" and values.get("class") == "tg-spoiler":
            entity.kind = "spoiler"
        elif tag == "tg-emoji":
            entity.kind = "custom_emoji"
            entity.extra["custom_emoji_id"] = values.get("emoji-id") or ""
        elif tag in _SIMPLE_TAGS:
            entity.kind = _SIMPLE_TAGS[tag]
            if tag == "code" and self.stack and self.stack[-1].tag == "pre":
                language = (values.get("class") or "").removeprefix("language-")
                if language:
                    self.stack[-1].extra["language"] = language
        else:
            raise self.fail(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset()}')
        self.stack.append(entity)

    def handle_endtag(self, tag: str) -> None:
        """Close the innermost entity, which must match the end tag."""
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {self.byte_offset()}")
        entity = self.stack.pop()
        if entity.tag != tag:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset()}, "
                f'expected "</{entity.tag}>", found "</{tag}>"'
            )
        length = self.length - entity.offset
        # A <code> nested in <pre> only carries the language; Telegram emits one pre entity.
        nested_code = tag == "code" and bool(self.stack) and self.stack[-1].tag == "pre"
        if length > 0 and not nested_code:
            self.entities.append(
                MessageEntity(
                    entity.kind,
                    entity.offset,
                    length,
                    url=entity.extra.get("url"),
                    language=entity.extra.get("language"),
                    custom_emoji_id=entity.extra.get("custom_emoji_id"),
                )
            )

    def handle_data(self, data: str) -> None:
        """Collect plain text."""
        self.parts.append(data)
        self.length += utf16_len(data)


def parse_html(raw: str) -> tuple[str, list[MessageEntity]]:
    """Return Telegram's plain text and entities for a parse_mode=HTML text."""
    parser = _TelegramHTML(raw)
    parser.feed(raw)
    parser.close()
    if parser.stack:
        tag = parser.stack[-1].tag
        raise parser.fail(f'Can\'t find end tag corresponding to start tag "{tag}"')
    entities = sorted(parser.entities, key=lambda e: (e.offset, -e.length))
    return "".join(parser.parts), entities


def command_entities(text: str) -> list[MessageEntity]:
    """Return bot_command entities, as Telegram marks them in users' messages."""
    return [
        MessageEntity(
            MessageEntity.BOT_COMMAND,
            utf16_len(text[: match.start()]),
            utf16_len(match.group()),
        )
        for match in _COMMAND.finditer(text)
    ]


def strip_text(text: str, entities: list[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    """Trim surrounding whitespace as Telegram does, shifting and clamping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    kept: list[MessageEntity] = []
    for entity in entities:
        start = max(0, entity.offset - shift)
        end = min(limit, entity.offset + entity.length - shift)
        if end > start:
            data = entity.to_dict() | {"offset": start, "length": end - start}
            kept.append(MessageEntity.de_json(data, None))
    return stripped, kept
