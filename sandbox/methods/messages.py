"""Text messages: sendMessage, the edit methods and deleteMessage."""

from __future__ import annotations

from dataclasses import replace

from sandbox import errors, rules
from sandbox.errors import bad_request
from sandbox.methods.registry import chat_id, method
from sandbox.models import Content, StoredMessage
from sandbox.params import Params
from sandbox.state import SandboxState


def live_ids(state: SandboxState, chat: int) -> set[int]:
    """Message ids in a chat that can still be replied to."""
    return {m.message_id for m in state.messages.get(chat, ()) if not m.deleted}


@method("sendMessage")
async def send_message(state: SandboxState, p: Params) -> object:
    """Post a text message from the bot."""
    chat = state.chat_for_bot(chat_id(p))
    text, entities = rules.message_text(p)
    markup = rules.reply_markup(p)
    reply_to = rules.reply_target(p, live_ids(state, chat.id))
    content = Content(
        text=text,
        entities=entities,
        reply_markup=markup,
        parse_mode=p.get_str("parse_mode"),
        raw=p.get_str("text"),
    )
    message = state.new_message(chat.id, state.bot.id, content, reply_to=reply_to)
    return state.message_dict(message)


def _editable(state: SandboxState, p: Params) -> StoredMessage:
    """Find the bot message an edit method targets."""
    if p.has("inline_message_id") and not p.has("chat_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = state.chat_for_bot(chat_id(p))
    message_id = p.get_int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    message = state.find_message(chat.id, message_id)
    if message is None:
        raise bad_request(errors.EDIT_NOT_FOUND)
    if not message.from_bot:
        raise bad_request(errors.CANT_EDIT)
    return message


def _visible(content: Content) -> tuple[object, ...]:
    """The parts of a message Telegram compares for 'message is not modified'."""
    markup = content.reply_markup if content.reply_markup else None
    inline = markup if markup and "inline_keyboard" in markup else None
    return (content.text, content.entities, content.caption, content.caption_entities, inline)


def apply_edit(state: SandboxState, message: StoredMessage, new: Content) -> object:
    """Store an edit in the history, refusing no-op edits as Telegram does."""
    if _visible(new) == _visible(message.content):
        raise bad_request(errors.NOT_MODIFIED)
    message.content = new
    message.history.append(new)
    message.edit_date = state.now()
    state.chatlog.edit(message)
    state.changed.notify()
    return state.message_dict(message)


def _kept_markup(message: StoredMessage, p: Params) -> dict[str, object] | None:
    """An edit without reply_markup removes the inline keyboard, as on Telegram."""
    new = rules.reply_markup(p, inline_only=True)
    if new is not None:
        return new
    old = message.content.reply_markup
    return old if old and "inline_keyboard" not in old else None


@method("editMessageText")
async def edit_message_text(state: SandboxState, p: Params) -> object:
    """Replace the text (and inline keyboard) of a bot message."""
    message = _editable(state, p)
    if message.content.text is None:
        raise bad_request(errors.NO_TEXT_TO_EDIT)
    text, entities = rules.message_text(p)
    new = replace(
        message.content,
        text=text,
        entities=entities,
        reply_markup=_kept_markup(message, p),
        parse_mode=p.get_str("parse_mode"),
        raw=p.get_str("text"),
    )
    return apply_edit(state, message, new)


@method("editMessageCaption")
async def edit_message_caption(state: SandboxState, p: Params) -> object:
    """Replace the caption (and inline keyboard) of a bot media message."""
    message = _editable(state, p)
    if message.photo is None and message.document is None:
        raise bad_request(errors.NO_CAPTION_TO_EDIT)
    caption, entities = rules.caption(
        p.get_str("caption"), p.get_str("parse_mode"), p.get_json("caption_entities")
    )
    new = replace(
        message.content,
        caption=caption,
        caption_entities=entities,
        reply_markup=_kept_markup(message, p),
        parse_mode=p.get_str("parse_mode"),
        raw=p.get_str("caption"),
    )
    return apply_edit(state, message, new)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(state: SandboxState, p: Params) -> object:
    """Replace or remove the inline keyboard of a bot message."""
    message = _editable(state, p)
    new = replace(message.content, reply_markup=_kept_markup(message, p))
    return apply_edit(state, message, new)


@method("deleteMessage")
async def delete_message(state: SandboxState, p: Params) -> object:
    """Delete a message; bots may delete users' messages only in private chats."""
    chat = state.chat_for_bot(chat_id(p))
    message_id = p.get_int("message_id")
    message = state.find_message(chat.id, message_id) if message_id is not None else None
    if message is None:
        raise bad_request(errors.DELETE_NOT_FOUND)
    if not message.from_bot and chat.type != "private":
        raise bad_request(errors.CANT_DELETE)
    message.deleted = True
    if message.from_bot:
        state.chatlog.deleted(message)
    state.changed.notify()
    return True
