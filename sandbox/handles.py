"""Chat and user handles: read what the bot posted, act as a user, wait event-driven."""

# Waits take an explicit `timeout` by design (readable tests); they use asyncio.timeout inside.
# ruff: noqa: ASYNC109

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar, Unpack

from sandbox import actions
from sandbox.images import tiny_jpeg
from sandbox.models import CallbackAnswer, ContactCard, StoredMessage, UserInfo
from sandbox.notify import WaitTimeout
from sandbox.state import SandboxState
from sandbox.views import BotMessage, Button

T = TypeVar("T")
Predicate = Callable[[BotMessage], bool]


class Client(Protocol):
    """What a handle needs of the client that made it (sandbox.client.SandboxClient)."""

    @property
    def state(self) -> SandboxState:
        """Everything the stand-in holds."""

    @property
    def default_timeout(self) -> float:
        """Seconds a wait lasts when the test gives none."""

    def chat(self, chat_id: int) -> ChatHandle:
        """The handle of another chat (where a pressed message lives)."""


def _placeholder(magic: bytes, serial: int) -> bytes:
    """Bytes that start like a real file of the kind and differ per call (never decoded)."""
    return magic + f"sandbox-{serial}".encode()


class ChatHandle:
    """A chat seen from the user side: read what the bot posted and wait for more."""

    def __init__(self, client: Client, chat_id: int) -> None:
        self.client = client
        self.id = chat_id
        self._cursor = 0

    @property
    def _state(self) -> SandboxState:
        return self.client.state

    def _bot_messages(self) -> list[StoredMessage]:
        return [m for m in self._state.messages.get(self.id, ()) if m.from_bot]

    @property
    def messages(self) -> list[BotMessage]:
        """Every message the bot sent here, deleted ones included, oldest first."""
        return [BotMessage(self._state, m) for m in self._bot_messages()]

    @property
    def all_messages(self) -> list[BotMessage]:
        """Every message in the chat from both sides, oldest first."""
        return [BotMessage(self._state, m) for m in self._state.messages.get(self.id, ())]

    @property
    def last_message(self) -> BotMessage | None:
        """The bot's most recent message here, if any."""
        sent = self._bot_messages()
        return BotMessage(self._state, sent[-1]) if sent else None

    @property
    def reply_keyboard(self) -> list[list[Button]] | None:
        """The reply keyboard currently shown in this chat, if any."""
        for message in reversed(self.messages):
            if message.removes_keyboard:
                return None
            if message.reply_keyboard is not None:
                return message.reply_keyboard
        return None

    @property
    def chat_actions(self) -> list[str]:
        """Chat actions (e.g. 'typing') the bot sent here, in order."""
        return [action for chat, action in self._state.chat_actions if chat == self.id]

    def mark(self) -> None:
        """Treat everything the bot sent so far as seen; later waits return newer messages."""
        self._cursor = len(self._bot_messages())

    def _context(self) -> str:
        """Tail of the chat for timeout messages."""
        tail = self.all_messages[-6:]
        return "; recent messages: " + (", ".join(map(repr, tail)) if tail else "none")

    async def _wait(self, probe: Callable[[], T | None], timeout: float | None, what: str) -> T:
        """Wait on state changes for a probe, adding the chat context on timeout."""
        limit = self.client.default_timeout if timeout is None else timeout
        try:
            return await self._state.changed.wait_for(probe, limit, what)
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc} in chat {self.id}{self._context()}") from None

    async def next_message(
        self, predicate: Predicate | None = None, *, timeout: float | None = None
    ) -> BotMessage:
        """Return the next new bot message after the mark (matching predicate, if given)."""

        def probe() -> BotMessage | None:
            sent = self._bot_messages()
            for index in range(self._cursor, len(sent)):
                view = BotMessage(self._state, sent[index])
                if predicate is None or predicate(view):
                    self._cursor = index + 1
                    return view
            return None

        return await self._wait(probe, timeout, "a new bot message")

    wait_for_message = next_message

    async def expect(
        self,
        *,
        text_contains: str | None = None,
        text: str | None = None,
        has_buttons: list[str] | None = None,
        timeout: float | None = None,
    ) -> BotMessage:
        """Wait for a new bot message whose text/caption and buttons match."""

        def matches(message: BotMessage) -> bool:
            if text is not None and message.body != text:
                return False
            if text_contains is not None and text_contains not in message.body:
                return False
            return has_buttons is None or all(b in message.button_texts for b in has_buttons)

        return await self.next_message(matches, timeout=timeout)

    async def collect(self, count: int, *, timeout: float | None = None) -> list[BotMessage]:
        """Return the next `count` new bot messages."""
        return [await self.next_message(timeout=timeout) for _ in range(count)]

    async def assert_no_message(self, within: float = 0.2) -> None:
        """Fail if the bot posts a new message here within `within` seconds."""
        try:
            message = await self.next_message(timeout=within)
        except WaitTimeout:
            return
        raise AssertionError(f"unexpected bot message {message!r}")

    async def wait_for_edit(
        self,
        message: BotMessage,
        predicate: Predicate | None = None,
        *,
        timeout: float | None = None,
    ) -> BotMessage:
        """Wait until the message was edited beyond what the test has seen (and matches)."""

        def probe() -> BotMessage | None:
            edited = message.edits > message.seen_edits
            if edited and (predicate is None or predicate(message)):
                message.seen_edits = message.edits
                return message
            return None

        return await self._wait(probe, timeout, f"an edit of message {message.message_id}")

    async def wait_for_deletion(
        self, message: BotMessage, *, timeout: float | None = None
    ) -> BotMessage:
        """Wait until the bot deletes the message."""
        return await self._wait(
            lambda: message if message.deleted else None,
            timeout,
            f"deletion of message {message.message_id}",
        )


class UserHandle(ChatHandle):
    """A user; reading methods look at their private chat with the bot."""

    def __init__(self, client: Client, info: UserInfo) -> None:
        super().__init__(client, info.id)
        self.info = info

    def __repr__(self) -> str:
        return f"<UserHandle {self.info.first_name} ({self.id})>"

    def _target(self, chat: ChatHandle | None) -> ChatHandle:
        """The chat an action happens in; marks it so waits see only newer bot messages."""
        target = chat or self
        target.mark()
        return target

    def _post(self, chat: ChatHandle | None, **fields: Unpack[actions.PostFields]) -> BotMessage:
        target = self._target(chat)
        stored = actions.post(self._state, self.id, target.id, **fields)
        return BotMessage(self._state, stored)

    async def send(
        self, text: str, *, chat: ChatHandle | None = None, reply_to: BotMessage | None = None
    ) -> BotMessage:
        """Send a text message (commands get bot_command entities)."""
        reply = reply_to.message_id if reply_to else None
        return self._post(chat, text=text, reply_to=reply)

    async def command(
        self, name: str, payload: str | None = None, *, chat: ChatHandle | None = None
    ) -> BotMessage:
        """Send '/name [payload]', e.g. command('start', 'ref42') for a deep link."""
        text = f"/{name.lstrip('/')}" + (f" {payload}" if payload else "")
        return await self.send(text, chat=chat)

    async def send_photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        chat: ChatHandle | None = None,
    ) -> BotMessage:
        """Send a photo (a tiny JPEG unless bytes are given)."""
        return self._post(
            chat, photo=data or tiny_jpeg(f"photo-{self._state.serial()}"), caption=caption
        )

    async def send_album(
        self,
        photos: list[bytes] | int,
        *,
        caption: str | None = None,
        chat: ChatHandle | None = None,
    ) -> list[BotMessage]:
        """Send 2-10 photos as one media group; the caption goes on the first, as in clients."""
        items = (
            [tiny_jpeg(f"album-{self._state.serial()}") for _ in range(photos)]
            if isinstance(photos, int)
            else photos
        )
        if not 2 <= len(items) <= 10:
            raise actions.UsageError("an album has 2-10 items")
        target = self._target(chat)
        group_id = str(12_000_000_000_000_000 + self._state.serial())
        sent = []
        for index, data in enumerate(items):
            stored = actions.post(
                self._state,
                self.id,
                target.id,
                photo=data,
                caption=caption if index == 0 else None,
                media_group_id=group_id,
            )
            sent.append(BotMessage(self._state, stored))
        return sent

    async def send_document(
        self,
        data: bytes,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        *,
        caption: str | None = None,
        chat: ChatHandle | None = None,
    ) -> BotMessage:
        """Send a file as a document."""
        return self._post(chat, document=(data, file_name, mime_type), caption=caption)

    async def send_sticker(
        self,
        data: bytes | None = None,
        *,
        emoji: str | None = "👍",
        chat: ChatHandle | None = None,
    ) -> BotMessage:
        """Send a (static, regular) sticker; placeholder WebP bytes unless given."""
        payload = data or _placeholder(b"RIFF\x00\x00\x00\x00WEBPVP8 ", self._state.serial())
        return self._post(chat, sticker=(payload, emoji))

    async def send_voice(
        self,
        data: bytes | None = None,
        *,
        duration: int = 2,
        caption: str | None = None,
        chat: ChatHandle | None = None,
    ) -> BotMessage:
        """Send a voice message (audio/ogg); placeholder Ogg bytes unless given."""
        payload = data or _placeholder(b"OggS\x00\x02", self._state.serial())
        return self._post(chat, voice=(payload, duration), caption=caption)

    async def send_video(
        self,
        data: bytes | None = None,
        *,
        duration: int = 3,
        caption: str | None = None,
        chat: ChatHandle | None = None,
    ) -> BotMessage:
        """Send a video (video/mp4); placeholder MP4 bytes unless given."""
        payload = data or _placeholder(b"\x00\x00\x00\x18ftypmp42", self._state.serial())
        return self._post(chat, video=(payload, duration), caption=caption)

    async def share_contact(
        self, phone_number: str | None = None, *, chat: ChatHandle | None = None
    ) -> BotMessage:
        """Share the user's own contact, as the request_contact button does."""
        phone = phone_number or self.info.phone_number or f"+1555{self.id % 10**7:07d}"
        contact: ContactCard = {
            "phone_number": phone,
            "first_name": self.info.first_name,
            "last_name": self.info.last_name,
            "user_id": self.id,
        }
        return self._post(chat, contact=contact)

    async def send_location(
        self, latitude: float, longitude: float, *, chat: ChatHandle | None = None
    ) -> BotMessage:
        """Send a location pin."""
        return self._post(chat, location=(latitude, longitude))

    async def press(
        self,
        message: BotMessage,
        text: str,
        *,
        timeout: float | None = None,
        wait_answer: bool = True,
    ) -> CallbackAnswer | None:
        """Press the inline button labelled `text`; return the bot's answer."""
        return await self._press(message, text=text, data=None, timeout=timeout, wait=wait_answer)

    async def press_data(
        self,
        message: BotMessage,
        data: str,
        *,
        timeout: float | None = None,
        wait_answer: bool = True,
    ) -> CallbackAnswer | None:
        """Press the inline button whose callback_data is `data`; return the bot's answer."""
        return await self._press(message, text=None, data=data, timeout=timeout, wait=wait_answer)

    async def press_forged(
        self, message: BotMessage, data: str, *, timeout: float | None = None
    ) -> CallbackAnswer | None:
        """Send a callback_query with arbitrary `data` on a bot message (a tampered client)."""
        return await self._press(
            message, text=None, data=data, timeout=timeout, wait=True, forged=True
        )

    async def _press(
        self,
        message: BotMessage,
        *,
        text: str | None,
        data: str | None,
        timeout: float | None,
        wait: bool,
        forged: bool = False,
    ) -> CallbackAnswer | None:
        chat = self if message.chat_id == self.id else self.client.chat(message.chat_id)
        chat.mark()
        message.seen_edits = message.edits
        record = actions.press(
            self._state, self.id, message.stored, text=text, data=data, forged=forged
        )
        if not wait:
            return None
        return await chat._wait(
            lambda: record.answer, timeout, f"an answer to the press of {record.data!r}"
        )

    async def block(self) -> None:
        """Block the bot: its sends now fail with 403."""
        actions.set_blocked(self._state, self.id, True)

    async def unblock(self) -> None:
        """Unblock the bot again."""
        actions.set_blocked(self._state, self.id, False)
