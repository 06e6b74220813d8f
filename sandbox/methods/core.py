"""Bot identity, updates, webhooks, commands, callback answers and chat actions."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

from telegram import BotCommand, User, WebhookInfo

from sandbox import errors
from sandbox.errors import bad_request
from sandbox.methods.registry import chat_id, method
from sandbox.models import CallbackAnswer
from sandbox.params import Params
from sandbox.state import SandboxState
from sandbox.updates import WebhookConfig
from sandbox.webhook import check_webhook_url

_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


@method("getMe")
async def get_me(state: SandboxState, p: Params) -> object:
    """Describe the bot."""
    bot = state.bot
    return User(
        id=bot.id,
        first_name=bot.first_name,
        is_bot=True,
        username=bot.username,
        can_join_groups=True,
        can_read_all_group_messages=False,
        supports_inline_queries=False,
    ).to_dict()


def _allowed(p: Params) -> list[str] | None:
    """Read allowed_updates as a list of update type names."""
    value = p.get_json("allowed_updates")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("can't parse allowed updates JSON array")
    return value


@method("getUpdates")
async def get_updates(state: SandboxState, p: Params) -> object:
    """Long-poll for updates, confirming those below offset."""
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = max(p.get_float("timeout") or 0.0, 0.0)
    state.updates.set_allowed(_allowed(p))
    return await state.updates.poll(p.get_int("offset"), limit, timeout)


@method("setWebhook")
async def set_webhook(state: SandboxState, p: Params) -> object:
    """Start pushing updates to a local URL; an empty URL removes the webhook."""
    url = p.get_str("url") or ""
    if p.get_bool("drop_pending_updates"):
        state.updates.drop_pending()
    if not url:
        await state.webhook.stop()
        return True
    check_webhook_url(url)
    secret = p.get_str("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = _allowed(p)
    state.updates.set_allowed(allowed)
    config = WebhookConfig(
        url=url,
        secret_token=secret,
        # Telegram: 1-100, 40 when not given.
        max_connections=min(max(p.get_int("max_connections") or 40, 1), 100),
        allowed_updates=tuple(allowed) if allowed else None,
    )
    state.webhook.start(config)
    return True


@method("deleteWebhook")
async def delete_webhook(state: SandboxState, p: Params) -> object:
    """Stop webhook delivery, optionally dropping pending updates."""
    if p.get_bool("drop_pending_updates"):
        state.updates.drop_pending()
    await state.webhook.stop()
    return True


@method("getWebhookInfo")
async def get_webhook_info(state: SandboxState, p: Params) -> object:
    """Report the webhook and its delivery errors."""
    config = state.updates.webhook
    pending = len(state.updates.pending)
    if config is None:
        return WebhookInfo(
            url="", has_custom_certificate=False, pending_update_count=pending
        ).to_dict()
    return WebhookInfo(
        url=config.url,
        has_custom_certificate=False,
        pending_update_count=pending,
        last_error_date=(
            _utc(config.last_error_date) if config.last_error_date is not None else None
        ),
        last_error_message=config.last_error_message,
        max_connections=config.max_connections,
        allowed_updates=config.allowed_updates,
    ).to_dict()


def _utc(seconds: int) -> datetime:
    """Seconds to an aware datetime for PTB objects."""
    return datetime.fromtimestamp(seconds, UTC)


def _command_key(p: Params) -> tuple[str, str]:
    """Commands are stored per scope and language code."""
    scope = p.get_json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True), p.get_str("language_code") or ""


@method("setMyCommands")
async def set_my_commands(state: SandboxState, p: Params) -> object:
    """Store the command list for a scope and language."""
    commands = p.get_json("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    stored: list[dict[str, str]] = []
    for entry in commands:
        if not isinstance(entry, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name, description = entry.get("command"), entry.get("description")
        if not isinstance(name, str) or not _COMMAND.fullmatch(name.lower()):
            raise bad_request(errors.BOT_COMMAND_INVALID)
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise bad_request("command description must be 1-256 characters")
        stored.append(BotCommand(name.lower(), description).to_dict())
    state.commands[_command_key(p)] = stored
    return True


@method("getMyCommands")
async def get_my_commands(state: SandboxState, p: Params) -> object:
    """Return the command list stored for exactly this scope and language."""
    return state.commands.get(_command_key(p), [])


@method("deleteMyCommands")
async def delete_my_commands(state: SandboxState, p: Params) -> object:
    """Remove the command list of a scope and language."""
    state.commands.pop(_command_key(p), None)
    return True


@method("setChatMenuButton")
async def set_chat_menu_button(state: SandboxState, p: Params) -> object:
    """Store the menu button of one private chat, or the default one."""
    button = p.get_json("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in (
        "default",
        "commands",
        "web_app",
    ):
        raise bad_request("can't parse MenuButton JSON object")
    target = chat_id(p)
    if target is not None:
        state.chat_for_bot(target)
    state.menu_buttons[target] = button
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(state: SandboxState, p: Params) -> object:
    """Return the menu button of a chat, falling back to the default one."""
    target = chat_id(p)
    return state.menu_buttons.get(target) or state.menu_buttons.get(None) or {"type": "default"}


@method("answerCallbackQuery")
async def answer_callback_query(state: SandboxState, p: Params) -> object:
    """Answer a button press once, within the callback timeout."""
    record = state.callbacks.get(p.get_str("callback_query_id") or "")
    expired = record is not None and time.monotonic() - record.created > state.callback_timeout
    if record is None or record.answer is not None or expired:
        raise bad_request(errors.QUERY_TOO_OLD)
    text = p.get_str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = CallbackAnswer(
        text=text or None,
        show_alert=p.get_bool("show_alert"),
        url=p.get_str("url"),
        cache_time=p.get_int("cache_time") or 0,
    )
    record.answer = answer
    message = state.find_message(record.chat_id, record.message_id)
    if message is not None:
        message.callback_answers.append(answer)
    if answer.text:
        state.chatlog.alert(record.chat_id, answer.text)
    state.changed.notify()
    return True


@method("sendChatAction")
async def send_chat_action(state: SandboxState, p: Params) -> object:
    """Record a chat action such as 'typing'."""
    chat = state.chat_for_bot(chat_id(p))
    action = p.get_str("action")
    if action not in _CHAT_ACTIONS:
        raise bad_request(errors.BAD_CHAT_ACTION)
    state.chat_actions.append((chat.id, action))
    state.changed.notify()
    return True
