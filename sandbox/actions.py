"""What users do: write, send media, press buttons, block the bot. Each action queues updates."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import TypedDict

from telegram import ChatMemberBanned, ChatMemberMember, ChatMemberUpdated, Update

from sandbox.formatting import command_entities, utf16_len
from sandbox.images import image_size
from sandbox.models import (
    CallbackRecord,
    ChatInfo,
    ContactCard,
    Content,
    MessageFields,
    StoredMessage,
)
from sandbox.state import SandboxState


class UsageError(Exception):
    """A test or demo asked for something a real user could not do."""


def _chat_of(state: SandboxState, user_id: int, chat_id: int | None) -> ChatInfo:
    """The chat a user acts in: their private chat, or a group they belong to."""
    if user_id not in state.users:
        raise UsageError(f"unknown user {user_id}; create it with client.user(...)")
    chat = state.chats.get(user_id if chat_id is None else chat_id)
    if chat is None:
        raise UsageError(f"unknown chat {chat_id}")
    if chat.type != "private" and user_id not in chat.members:
        raise UsageError(f"user {user_id} is not a member of chat {chat.id}")
    if chat.type == "private" and chat.id != user_id:
        raise UsageError("a user can only write in their own private chat with the bot")
    if chat.type == "private" and user_id in state.blocked:
        raise UsageError(f"user {user_id} blocked the bot; unblock() first")
    return chat


class PostFields(TypedDict, total=False):
    """What a user's message may hold: `post`'s keyword arguments."""

    text: str | None
    caption: str | None
    photo: bytes | None
    document: tuple[bytes, str, str] | None
    sticker: tuple[bytes, str | None] | None
    voice: tuple[bytes, int] | None
    video: tuple[bytes, int] | None
    contact: ContactCard | None
    location: tuple[float, float] | None
    media_group_id: str | None
    reply_to: int | None


def post(
    state: SandboxState,
    user_id: int,
    chat_id: int | None,
    *,
    text: str | None = None,
    caption: str | None = None,
    photo: bytes | None = None,
    document: tuple[bytes, str, str] | None = None,
    sticker: tuple[bytes, str | None] | None = None,
    voice: tuple[bytes, int] | None = None,
    video: tuple[bytes, int] | None = None,
    contact: ContactCard | None = None,
    location: tuple[float, float] | None = None,
    media_group_id: str | None = None,
    reply_to: int | None = None,
) -> StoredMessage:
    """Post a user message and queue its 'message' update.

    `sticker` is (webp bytes, emoji); `voice` and `video` are (bytes, duration in seconds).
    """
    chat = _chat_of(state, user_id, chat_id)
    if chat.type == "private":
        state.started.add(user_id)
    fields: MessageFields = {"media_group_id": media_group_id, "reply_to": reply_to}
    if photo is not None:
        size = image_size(photo)
        if size is None:
            raise UsageError("photo bytes are not a PNG/JPEG/GIF image")
        fields["photo"] = state.add_file("photo", photo, mime_type="image/jpeg", size=size)
    if document is not None:
        data, name, mime = document
        fields["document"] = state.add_file("document", data, file_name=name, mime_type=mime)
    if sticker is not None:
        if caption is not None:
            raise UsageError("a sticker has no caption")
        data, emoji = sticker
        fields["sticker"] = state.add_file(
            "sticker", _non_empty(data), mime_type="image/webp", size=(512, 512), emoji=emoji
        )
    if voice is not None:
        data, seconds = voice
        fields["voice"] = state.add_file(
            "voice", _non_empty(data), mime_type="audio/ogg", duration=_seconds(seconds)
        )
    if video is not None:
        data, seconds = video
        fields["video"] = state.add_file(
            "video",
            _non_empty(data),
            mime_type="video/mp4",
            size=(640, 360),
            duration=_seconds(seconds),
        )
    if contact is not None:
        fields["contact"] = contact
    if location is not None:
        fields["location"] = location
    content = Content(
        text=text,
        entities=tuple(command_entities(text)) if text else (),
        caption=caption,
        caption_entities=tuple(command_entities(caption)) if caption else (),
    )
    message = state.new_message(chat.id, user_id, content, **fields)
    state.log(
        state.actor(user_id), "sends", f"in {chat.id} #{message.message_id}: {describe(message)}"
    )
    state.emit_message(message)
    return message


def _non_empty(data: bytes) -> bytes:
    if not data:
        raise UsageError("a file needs some bytes")
    return data


def _seconds(duration: int) -> int:
    if duration < 0:
        raise UsageError("a duration can't be negative")
    return duration


def describe(message: StoredMessage) -> str:
    """One-line human description of a message for transcripts and failures."""
    parts = []
    content = message.content
    if message.photo is not None:
        parts.append(f"[photo {message.photo.width}x{message.photo.height}]")
    if message.document is not None:
        parts.append(f"[document {message.document.file_name}]")
    if message.sticker is not None:
        emoji = message.sticker.emoji
        parts.append(f"[sticker {emoji}]" if emoji else "[sticker]")
    if message.voice is not None:
        parts.append(f"[voice {message.voice.duration}s]")
    if message.video is not None:
        parts.append(f"[video {message.video.duration}s]")
    if message.contact is not None:
        parts.append(f"[contact {message.contact.get('phone_number')}]")
    if message.location is not None:
        parts.append(f"[location {message.location[0]},{message.location[1]}]")
    body = content.text if content.text is not None else content.caption
    if body is not None:
        short = body if utf16_len(body) <= 120 else body[:117] + "..."
        parts.append(repr(short))
    markup = content.reply_markup or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard")
    if isinstance(rows, list):
        labels = [str(b.get("text")) for row in rows for b in row if isinstance(b, dict)]
        kind = "buttons" if "inline_keyboard" in markup else "keyboard"
        parts.append(f"{kind}=[{' | '.join(labels)}]")
    if message.media_group_id:
        parts.append(f"album={message.media_group_id}")
    return " ".join(parts) or "(empty)"


def _inline_buttons(message: StoredMessage) -> list[dict[str, object]]:
    """The message's inline buttons, row after row."""
    markup = message.content.reply_markup or {}
    rows = markup.get("inline_keyboard")
    buttons = [b for row in rows for b in row] if isinstance(rows, list) else []
    return [b for b in buttons if isinstance(b, dict)]


def find_callback_button(message: StoredMessage, *, text: str | None, data: str | None) -> str:
    """Return the callback_data of the inline button matching text or data."""
    buttons = _inline_buttons(message)
    for button in buttons:
        if "callback_data" not in button:
            continue
        if (text is not None and button.get("text") == text) or (
            data is not None and button.get("callback_data") == data
        ):
            return str(button["callback_data"])
    labels = [f"{b.get('text')!r}->{b.get('callback_data')!r}" for b in buttons]
    wanted = f"text {text!r}" if text is not None else f"data {data!r}"
    raise UsageError(
        f"no callback button with {wanted} on message {message.message_id}; has {labels}"
    )


def _label(message: StoredMessage, callback_data: str) -> str | None:
    """The text of the inline button carrying `callback_data`, if the message has one."""
    for button in _inline_buttons(message):
        if button.get("callback_data") == callback_data:
            return str(button.get("text", ""))
    return None


def press(
    state: SandboxState,
    user_id: int,
    message: StoredMessage,
    *,
    text: str | None,
    data: str | None,
    forged: bool = False,
) -> CallbackRecord:
    """Press an inline button of a bot message and queue the callback_query update.

    `forged` sends `data` whether or not the message has such a button, as a modified
    client can: the bot must not trust callback_data.
    """
    _chat_of(state, user_id, message.chat_id)
    if message.deleted:
        raise UsageError(f"message {message.message_id} was deleted")
    if forged:
        if data is None:
            raise UsageError("a forged press needs data")
        callback_data = data
    else:
        callback_data = find_callback_button(message, text=text, data=data)
    record = CallbackRecord(
        id=str(secrets.randbits(63)),
        user_id=user_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        data=callback_data,
        created=time.monotonic(),
    )
    state.callbacks[record.id] = record
    state.chatlog.press(message.chat_id, _label(message, callback_data) or "forged button")
    state.log(
        state.actor(user_id),
        "presses",
        f"in {message.chat_id} #{message.message_id}: data={callback_data!r}",
    )
    state.emit(
        "callback_query",
        lambda update_id: Update(update_id, callback_query=state.callback_query(record, message)),
    )
    return record


def set_blocked(state: SandboxState, user_id: int, blocked: bool) -> None:
    """Block or unblock the bot; Telegram tells the bot with a my_chat_member update."""
    if user_id not in state.users:
        raise UsageError(f"unknown user {user_id}")
    if blocked == (user_id in state.blocked):
        return
    if blocked:
        state.blocked.add(user_id)
    else:
        state.blocked.discard(user_id)
    bot = state.bot.to_ptb()
    date = datetime.fromtimestamp(state.now(), UTC)
    banned = ChatMemberBanned(bot, until_date=datetime.fromtimestamp(0, UTC))
    member = ChatMemberMember(bot)
    update = ChatMemberUpdated(
        chat=state.chats[user_id].to_ptb(),
        from_user=state.users[user_id].to_ptb(),
        date=date,
        old_chat_member=member if blocked else banned,
        new_chat_member=banned if blocked else member,
    )
    state.log(state.actor(user_id), "blocks the bot" if blocked else "unblocks the bot")
    state.emit("my_chat_member", lambda update_id: Update(update_id, my_chat_member=update))
