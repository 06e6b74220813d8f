"""Read-only live views of chat messages for tests and the demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import MessageEntity

from sandbox.actions import describe
from sandbox.models import CallbackAnswer, Content, StoredMessage
from sandbox.state import SandboxState


@dataclass(frozen=True)
class Button:
    """One keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    request_contact: bool = False
    request_location: bool = False


def _buttons(rows: object) -> list[list[Button]]:
    """Convert keyboard JSON rows into Button rows."""
    if not isinstance(rows, list):
        return []
    result = []
    for row in rows:
        buttons = []
        for raw in row if isinstance(row, list) else []:
            if isinstance(raw, dict):
                buttons.append(
                    Button(
                        text=str(raw.get("text", "")),
                        callback_data=_opt(raw.get("callback_data")),
                        url=_opt(raw.get("url")),
                        request_contact=raw.get("request_contact") is True,
                        request_location=raw.get("request_location") is True,
                    )
                )
        result.append(buttons)
    return result


def _opt(value: object) -> str | None:
    """A JSON string field or None."""
    return value if isinstance(value, str) else None


class BotMessage:
    """A live view of one message: attributes always show its current state."""

    def __init__(self, state: SandboxState, stored: StoredMessage) -> None:
        self._state = state
        self.stored = stored
        # Edits seen by the test so far; wait_for_edit waits for more than these.
        self.seen_edits = stored.edits

    def __repr__(self) -> str:
        flag = " deleted" if self.deleted else ""
        return f"<BotMessage {self.chat_id}#{self.message_id}{flag}: {describe(self.stored)}>"

    @property
    def message_id(self) -> int:
        """Telegram message id (per chat)."""
        return self.stored.message_id

    @property
    def chat_id(self) -> int:
        """Chat the message is in."""
        return self.stored.chat_id

    @property
    def from_bot(self) -> bool:
        """True when the bot sent it."""
        return self.stored.from_bot

    @property
    def text(self) -> str | None:
        """Current plain text (entities parsed out)."""
        return self.stored.content.text

    @property
    def caption(self) -> str | None:
        """Current caption of a media message."""
        return self.stored.content.caption

    @property
    def body(self) -> str:
        """Text or caption, whichever the message has, else an empty string."""
        return self.text or self.caption or ""

    @property
    def entities(self) -> tuple[MessageEntity, ...]:
        """Entities of the current text or caption."""
        content = self.stored.content
        return content.entities or content.caption_entities

    @property
    def parse_mode(self) -> str | None:
        """parse_mode the bot used for the current content."""
        return self.stored.content.parse_mode

    @property
    def raw_text(self) -> str | None:
        """Text or caption exactly as the bot sent it (before entity parsing)."""
        return self.stored.content.raw

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard rows (empty when there is none)."""
        markup = self.stored.content.reply_markup or {}
        return _buttons(markup.get("inline_keyboard"))

    @property
    def button_texts(self) -> list[str]:
        """Texts of all inline buttons, row by row."""
        return [button.text for row in self.buttons for button in row]

    @property
    def reply_keyboard(self) -> list[list[Button]] | None:
        """Reply keyboard rows sent with this message, or None."""
        markup = self.stored.content.reply_markup or {}
        return _buttons(markup["keyboard"]) if "keyboard" in markup else None

    @property
    def removes_keyboard(self) -> bool:
        """True when the message carried ReplyKeyboardRemove."""
        return (self.stored.content.reply_markup or {}).get("remove_keyboard") is True

    @property
    def photo(self) -> bytes | None:
        """Bytes of the photo, if any."""
        return self.stored.photo.data if self.stored.photo else None

    @property
    def photo_file_id(self) -> str | None:
        """file_id of the photo, if any."""
        return self.stored.photo.file_id if self.stored.photo else None

    @property
    def document(self) -> bytes | None:
        """Bytes of the document, if any."""
        return self.stored.document.data if self.stored.document else None

    @property
    def document_name(self) -> str | None:
        """File name of the document, if any."""
        return self.stored.document.file_name if self.stored.document else None

    @property
    def file_id(self) -> str | None:
        """file_id of the photo, document, sticker, voice or video, if any."""
        stored = self.stored
        record = stored.photo or stored.document or stored.sticker or stored.voice or stored.video
        return record.file_id if record else None

    @property
    def media_group_id(self) -> str | None:
        """Album id shared by messages of one media group."""
        return self.stored.media_group_id

    @property
    def reply_to_message_id(self) -> int | None:
        """Id of the message this one replies to."""
        return self.stored.reply_to

    @property
    def history(self) -> list[Content]:
        """Content as sent, then after each edit, in order."""
        return list(self.stored.history)

    @property
    def edits(self) -> int:
        """Number of edits so far."""
        return self.stored.edits

    @property
    def deleted(self) -> bool:
        """True once the bot deleted the message."""
        return self.stored.deleted

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Answers the bot gave to presses of this message's buttons."""
        return list(self.stored.callback_answers)

    @property
    def raw(self) -> dict[str, Any]:
        """The Bot API JSON object of the message as Telegram would return it."""
        return self._state.message_dict(self.stored)
