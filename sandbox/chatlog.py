"""What each person saw and did, as a readable chat transcript (the demo prints it).

The API log (`Transcript`) records calls; this records the conversation: whole texts,
buttons as `[Accept] [Decline]`, photos as `[photo]`, edits and alerts, in the order they
happened across every chat: a message's line is written as the stand-in stores it, so in
each chat the lines follow the order (and message ids) in which things reached it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sandbox.models import Content, StoredMessage

Kind = Literal["user", "bot", "edit", "press", "alert", "deleted"]
INDENT = "    "


@dataclass(frozen=True)
class ChatLine:
    """One thing seen in one chat."""

    chat_id: int
    kind: Kind
    body: str
    buttons: tuple[tuple[str, ...], ...] = ()
    message_id: int | None = None  # the chat's message this line shows (not for presses)


def keyboard(content: Content) -> tuple[tuple[str, ...], ...]:
    """Button labels by row, inline or reply keyboard (contact buttons say so)."""
    markup = content.reply_markup or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels: list[tuple[str, ...]] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, list):
            continue
        labels.append(
            tuple(
                str(button.get("text", "")) if isinstance(button, dict) else str(button)
                for button in row
            )
        )
    return tuple(labels)


def seen(message: StoredMessage, content: Content | None = None) -> str:
    """The visible body of a message: media markers, then its whole text or caption."""
    content = content or message.content
    parts = []
    if message.photo is not None:
        parts.append("[photo]")
    if message.document is not None:
        parts.append(f"[file {message.document.file_name or ''}]".replace(" ]", "]"))
    if message.sticker is not None:
        parts.append(f"[sticker {message.sticker.emoji or ''}]".strip())
    if message.voice is not None:
        parts.append("[voice]")
    if message.video is not None:
        parts.append("[video]")
    if message.contact is not None:
        parts.append(f"[contact {message.contact.get('phone_number', '')}]")
    if message.location is not None:
        parts.append("[location]")
    text = content.text if content.text is not None else content.caption
    if text:
        parts.append(text)
    return " ".join(parts) if parts else "[empty]"


class ChatLog:
    """Append-only list of chat lines; rendered with the names of the people in it."""

    def __init__(self) -> None:
        self.lines: list[ChatLine] = []

    def message(self, message: StoredMessage) -> None:
        """A new message, from a person or from the bot."""
        kind: Kind = "bot" if message.from_bot else "user"
        self.lines.append(
            ChatLine(
                message.chat_id,
                kind,
                seen(message),
                keyboard(message.content),
                message.message_id,
            )
        )

    def edit(self, message: StoredMessage) -> None:
        """The bot changed one of its messages (text, caption or buttons)."""
        self.lines.append(
            ChatLine(
                message.chat_id,
                "edit",
                seen(message),
                keyboard(message.content),
                message.message_id,
            )
        )

    def press(self, chat_id: int, label: str) -> None:
        """A person pressed a button."""
        self.lines.append(ChatLine(chat_id, "press", f"[{label}]"))

    def alert(self, chat_id: int, text: str) -> None:
        """The bot answered a press with a notice."""
        self.lines.append(ChatLine(chat_id, "alert", text))

    def deleted(self, message: StoredMessage) -> None:
        """The bot deleted a message."""
        self.lines.append(
            ChatLine(message.chat_id, "deleted", seen(message), message_id=message.message_id)
        )

    def clear(self) -> None:
        """Forget every line."""
        self.lines.clear()

    def render(self, names: dict[int, str]) -> str:
        """Every line as `Who: text`, bot lines as `bot → Who: text`, buttons below."""
        out: list[str] = []
        for line in self.lines:
            who = names.get(line.chat_id, str(line.chat_id))
            head = {
                "user": f"{who}: ",
                "bot": f"  bot → {who}: ",
                "edit": f"  bot ✎ {who}: ",
                "press": f"{who} presses ",
                "alert": f"  bot ⚑ {who}: ",
                "deleted": f"  bot ✗ {who}: deleted ",
            }[line.kind]
            body = line.body.splitlines() or [""]
            out.append(head + body[0])
            pad = " " * len(head) if line.kind in ("bot", "edit", "alert") else INDENT
            out.extend(pad + rest if rest else "" for rest in body[1:])
            for row in line.buttons:
                out.append(pad + " ".join(f"[{label}]" for label in row))
        return "\n".join(out) + ("\n" if out else "")
