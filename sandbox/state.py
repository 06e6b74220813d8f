"""The stand-in's in-memory world: users, chats, messages, files and pending updates."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Unpack

from telegram import (
    CallbackQuery,
    Contact,
    Document,
    InlineKeyboardMarkup,
    Location,
    Message,
    PhotoSize,
    Sticker,
    Update,
    Video,
    Voice,
)

from sandbox import errors
from sandbox.chatlog import ChatLog
from sandbox.errors import bad_request, forbidden
from sandbox.faults import FaultPlan, RateLimiter
from sandbox.models import (
    CallbackRecord,
    ChatInfo,
    ChatType,
    Content,
    FileKind,
    FileRecord,
    MessageFields,
    StoredMessage,
    UserInfo,
)
from sandbox.notify import Notifier
from sandbox.transcript import Transcript
from sandbox.updates import UpdateQueue
from sandbox.webhook import TELEGRAM_TIMEOUT, WebhookDelivery


def new_token() -> str:
    """Return a random token in Telegram's '<bot id>:<secret>' shape."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"


# Download folder and default extension per kind, as Telegram's file paths look.
_FOLDERS: dict[FileKind, tuple[str, str]] = {
    "photo": ("photos", "jpg"),
    "document": ("documents", "bin"),
    "sticker": ("stickers", "webp"),
    "voice": ("voice", "oga"),
    "video": ("videos", "mp4"),
}


def _dt(seconds: int) -> datetime:
    """Telegram dates are whole seconds since the epoch."""
    return datetime.fromtimestamp(seconds, UTC)


class SandboxState:
    """Everything the stand-in knows; bot methods and user actions both change it."""

    def __init__(
        self,
        token: str,
        *,
        bot_name: str = "Sandbox Bot",
        bot_username: str = "sandbox_bot",
        callback_timeout: float = 15.0,
        webhook_backoff: tuple[float, float] = (0.05, 2.0),
        webhook_timeout: float = TELEGRAM_TIMEOUT,
    ) -> None:
        bot_id, _, _ = token.partition(":")
        self.token = token
        self.bot = UserInfo(int(bot_id), bot_name, username=bot_username, is_bot=True)
        self.callback_timeout = callback_timeout
        self.users: dict[int, UserInfo] = {}
        self.chats: dict[int, ChatInfo] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.messages: dict[int, list[StoredMessage]] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, object]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.changed = Notifier()
        self.transcript = Transcript()
        self.chatlog = ChatLog()
        self.faults = FaultPlan()
        self.rate_limiter = RateLimiter()
        self.updates = UpdateQueue()
        self.webhook = WebhookDelivery(
            self.updates,
            lambda actor, text: self.log(actor, "deliver", text),
            backoff_start=webhook_backoff[0],
            backoff_max=webhook_backoff[1],
            request_timeout=webhook_timeout,
        )
        self._serial = itertools.count(1)

    # -- bookkeeping ------------------------------------------------------------------------

    def log(self, actor: str, action: str, detail: str = "") -> None:
        """Record a transcript entry and wake waiters (the transcript is observable state)."""
        self.transcript.record(actor, action, detail)
        self.changed.notify()

    def serial(self) -> int:
        """Return a process-unique counter value for ids."""
        return next(self._serial)

    @staticmethod
    def now() -> int:
        """Current Telegram date in seconds."""
        return int(time.time())

    def actor(self, user_id: int) -> str:
        """Readable transcript name of a user."""
        user = self.users.get(user_id)
        return f"{user.first_name} ({user_id})" if user else f"user {user_id}"

    # -- users and chats --------------------------------------------------------------------

    def add_user(self, user: UserInfo) -> UserInfo:
        """Register (or update) a user and their private chat with the bot."""
        self.users[user.id] = user
        chat = self.chats.get(user.id)
        if chat is None:
            self.chats[user.id] = ChatInfo(user.id, "private", members=[user.id], user=user)
            self.messages[user.id] = []
        else:
            chat.user = user
        return user

    def add_group(
        self, chat_id: int, title: str, members: list[int], chat_type: ChatType = "group"
    ) -> ChatInfo:
        """Create a group chat that contains the bot and the given users."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = ChatInfo(chat_id, chat_type, title=title, members=list(members))
        self.chats[chat_id] = chat
        self.messages.setdefault(chat_id, [])
        return chat

    def chat_for_bot(self, chat_id: int | None) -> ChatInfo:
        """Resolve a chat the bot writes to, with Telegram's access errors."""
        if chat_id is None:
            raise bad_request(errors.CHAT_ID_EMPTY)
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request(errors.CHAT_NOT_FOUND)
        if chat.type == "private":
            if chat_id in self.blocked:
                raise forbidden(errors.BLOCKED)
            if chat_id not in self.started:
                raise forbidden(errors.CANT_INITIATE)
        return chat

    # -- messages ---------------------------------------------------------------------------

    def new_message(
        self, chat_id: int, sender_id: int, content: Content, **fields: Unpack[MessageFields]
    ) -> StoredMessage:
        """Append a message with the chat's next message_id (ids count per chat)."""
        log = self.messages.setdefault(chat_id, [])
        message_id = (log[-1].message_id + 1) if log else 1
        message = StoredMessage(
            chat_id=chat_id,
            message_id=message_id,
            date=self.now(),
            sender_id=sender_id,
            from_bot=sender_id == self.bot.id,
            content=content,
            history=[content],
            **fields,
        )
        log.append(message)
        self.chatlog.message(message)
        self.changed.notify()
        return message

    def find_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        """Return a live (not deleted) message, or None."""
        for message in self.messages.get(chat_id, ()):
            if message.message_id == message_id:
                return None if message.deleted else message
        return None

    def to_ptb(self, message: StoredMessage, *, with_reply: bool = True) -> Message:
        """Build the PTB Message for a stored message, so JSON shapes match Telegram's."""
        chat = self.chats[message.chat_id]
        sender = self.bot if message.from_bot else self.users[message.sender_id]
        content = message.content
        markup = content.reply_markup
        reply_to = None
        if with_reply and message.reply_to is not None:
            original = self.find_message(message.chat_id, message.reply_to)
            if original is not None:
                reply_to = self.to_ptb(original, with_reply=False)
        return Message(
            message_id=message.message_id,
            date=_dt(message.date),
            chat=chat.to_ptb(),
            from_user=sender.to_ptb(),
            text=content.text,
            entities=content.entities or None,
            caption=content.caption,
            caption_entities=content.caption_entities or None,
            photo=(self._photo_sizes(message.photo) if message.photo else None),
            document=self._document(message.document) if message.document else None,
            sticker=self._sticker(message.sticker) if message.sticker else None,
            voice=self._voice(message.voice) if message.voice else None,
            video=self._video(message.video) if message.video else None,
            contact=Contact(**message.contact) if message.contact else None,
            location=(
                Location(longitude=message.location[1], latitude=message.location[0])
                if message.location
                else None
            ),
            media_group_id=message.media_group_id,
            edit_date=_dt(message.edit_date) if message.edit_date else None,
            reply_to_message=reply_to,
            reply_markup=(
                InlineKeyboardMarkup.de_json(markup, None)
                if markup and "inline_keyboard" in markup
                else None
            ),
        )

    def message_dict(self, message: StoredMessage) -> dict[str, object]:
        """Return the Bot API JSON object of a stored message."""
        return self.to_ptb(message).to_dict()

    @staticmethod
    def _photo_sizes(record: FileRecord) -> tuple[PhotoSize, ...]:
        """Telegram sends several sizes; one real size is enough for bots to pick [-1]."""
        return (
            PhotoSize(
                file_id=record.file_id,
                file_unique_id=record.file_unique_id,
                width=record.width,
                height=record.height,
                file_size=len(record.data),
            ),
        )

    @staticmethod
    def _document(record: FileRecord) -> Document:
        """PTB Document for a stored file."""
        return Document(
            file_id=record.file_id,
            file_unique_id=record.file_unique_id,
            file_name=record.file_name,
            mime_type=record.mime_type,
            file_size=len(record.data),
        )

    @staticmethod
    def _sticker(record: FileRecord) -> Sticker:
        """PTB Sticker: a plain (static, regular) sticker as users send from a pack."""
        return Sticker(
            file_id=record.file_id,
            file_unique_id=record.file_unique_id,
            width=record.width,
            height=record.height,
            is_animated=False,
            is_video=False,
            type=Sticker.REGULAR,
            emoji=record.emoji,
            file_size=len(record.data),
        )

    @staticmethod
    def _voice(record: FileRecord) -> Voice:
        """PTB Voice: an OGG/Opus voice note."""
        return Voice(
            file_id=record.file_id,
            file_unique_id=record.file_unique_id,
            duration=record.duration,
            mime_type=record.mime_type,
            file_size=len(record.data),
        )

    @staticmethod
    def _video(record: FileRecord) -> Video:
        """PTB Video: an MP4 clip."""
        return Video(
            file_id=record.file_id,
            file_unique_id=record.file_unique_id,
            width=record.width,
            height=record.height,
            duration=record.duration,
            mime_type=record.mime_type,
            file_size=len(record.data),
        )

    # -- files ------------------------------------------------------------------------------

    def add_file(
        self,
        kind: FileKind,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: tuple[int, int] = (0, 0),
        duration: int = 0,
        emoji: str | None = None,
    ) -> FileRecord:
        """Store uploaded bytes under fresh file ids and a download path."""
        number = self.serial()
        folder, ext = _FOLDERS[kind]
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        record = FileRecord(
            file_id=f"SBX{kind[0].upper()}{number:06d}{secrets.token_hex(8)}",
            file_unique_id=f"U{number:06d}{secrets.token_hex(3)}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{number}.{ext}",
            file_name=file_name,
            mime_type=mime_type,
            width=size[0],
            height=size[1],
            duration=duration,
            emoji=emoji,
        )
        self.files[record.file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    # -- updates ----------------------------------------------------------------------------

    def emit_message(self, message: StoredMessage) -> int | None:
        """Queue a 'message' update for a user's message."""
        return self.updates.push(
            "message", lambda update_id: Update(update_id, message=self.to_ptb(message))
        )

    def emit(self, kind: str, build: Callable[[int], Update]) -> int | None:
        """Queue an update of any type."""
        return self.updates.push(kind, build)

    def callback_query(self, record: CallbackRecord, message: StoredMessage) -> CallbackQuery:
        """PTB CallbackQuery for a button press."""
        return CallbackQuery(
            id=record.id,
            from_user=self.users[record.user_id].to_ptb(),
            chat_instance=str(record.chat_id * 7919 % 1_000_003),
            message=self.to_ptb(message),
            data=record.data,
        )
