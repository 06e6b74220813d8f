"""In-memory records of users, chats, messages, files and callback queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

from telegram import Chat, MessageEntity, User

ChatType = Literal["private", "group", "supergroup"]
FileKind = Literal["photo", "document", "sticker", "voice", "video"]


@dataclass
class UserInfo:
    """A person (or the bot) known to the stand-in."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str | None = None
    is_bot: bool = False

    def to_ptb(self) -> User:
        """Return the PTB User object for this record."""
        return User(
            id=self.id,
            first_name=self.first_name,
            is_bot=self.is_bot,
            last_name=self.last_name,
            username=self.username,
            language_code=None if self.is_bot else self.language_code,
        )


@dataclass
class ChatInfo:
    """A private chat with one user, or a group with several members and the bot."""

    id: int
    type: ChatType
    title: str | None = None
    members: list[int] = field(default_factory=list)
    user: UserInfo | None = None

    def to_ptb(self) -> Chat:
        """Return the PTB Chat object for this record."""
        if self.user is not None:
            return Chat(
                id=self.id,
                type=Chat.PRIVATE,
                first_name=self.user.first_name,
                last_name=self.user.last_name,
                username=self.user.username,
            )
        return Chat(id=self.id, type=self.type, title=self.title)


@dataclass(frozen=True)
class FileRecord:
    """Bytes stored under a file_id, downloadable via getFile's file_path."""

    file_id: str
    file_unique_id: str
    kind: FileKind
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0
    emoji: str | None = None


@dataclass(frozen=True)
class Content:
    """The editable part of a message, snapshotted on every edit."""

    text: str | None = None
    entities: tuple[MessageEntity, ...] = ()
    caption: str | None = None
    caption_entities: tuple[MessageEntity, ...] = ()
    reply_markup: dict[str, object] | None = None
    parse_mode: str | None = None
    raw: str | None = None


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press."""

    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0


class ContactCard(TypedDict):
    """A shared contact, with the fields PTB's Contact takes."""

    phone_number: str
    first_name: str
    last_name: str | None
    user_id: int | None


class MessageFields(TypedDict, total=False):
    """What a new message may carry beside its content: StoredMessage's optional fields."""

    photo: FileRecord | None
    document: FileRecord | None
    sticker: FileRecord | None
    voice: FileRecord | None
    video: FileRecord | None
    contact: ContactCard | None
    location: tuple[float, float] | None
    media_group_id: str | None
    reply_to: int | None


@dataclass
class StoredMessage:
    """A message in a chat, from a user or from the bot, with its edit history."""

    chat_id: int
    message_id: int
    date: int
    sender_id: int
    from_bot: bool
    content: Content
    photo: FileRecord | None = None
    document: FileRecord | None = None
    sticker: FileRecord | None = None
    voice: FileRecord | None = None
    video: FileRecord | None = None
    contact: ContactCard | None = None
    location: tuple[float, float] | None = None
    media_group_id: str | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[Content] = field(default_factory=list)
    callback_answers: list[CallbackAnswer] = field(default_factory=list)

    @property
    def edits(self) -> int:
        """Number of edits applied after sending."""
        return len(self.history) - 1


@dataclass
class CallbackRecord:
    """A button press waiting for, or holding, the bot's answer."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answer: CallbackAnswer | None = None
