"""Who is asking the board: Telegram Mini App initData, and our own session cookie.

initData is checked as Telegram documents it (core.telegram.org/bots/webapps, "Validating
data received via the Mini App"): the data-check-string is every field but `hash`,
sorted by key, as `key=value` lines; the secret key is HMAC-SHA256 of the bot token
under the key "WebAppData"; `hash` must be the hex HMAC-SHA256 of the data-check-string
under that secret key. `auth_date` must be at most a day old.

The session cookie is `person_id.expires.signature`, signed with a key derived from the
bot token, so a new token signs everyone out. Whether that person may still see
anything is decided on each request from their grants (store.reporting.board).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

INIT_DATA_MAX_AGE = 24 * 3600  # seconds
SESSION_SECONDS = 8 * 3600
COOKIE = "board_session"


class AuthError(Exception):
    """Credentials missing, forged or expired (401)."""


@dataclass(frozen=True, slots=True)
class MiniAppUser:
    """The Telegram user a valid initData speaks for."""

    telegram_id: int
    first_name: str
    language_code: str | None
    auth_date: int


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """initData as Telegram would send it for `fields` (the sandbox and tests use this)."""
    from urllib.parse import urlencode

    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    digest = hmac.new(_secret(bot_token), check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def check_init_data(
    init_data: str, bot_token: str, *, now: float | None = None, max_age: int = INIT_DATA_MAX_AGE
) -> MiniAppUser:
    """The user of a genuine, fresh initData; AuthError otherwise (never says why in
    detail to the client: the message is for logs)."""
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise AuthError("initData is not a query string") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise AuthError("initData repeats a field")
    received = fields.pop("hash", "")
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    expected = hmac.new(_secret(bot_token), check.encode(), hashlib.sha256).hexdigest()
    if not received or not hmac.compare_digest(expected, received):
        raise AuthError("initData hash does not match")
    try:
        auth_date = int(fields["auth_date"])
        user = json.loads(fields["user"])
        telegram_id = int(user["id"])
    except (KeyError, ValueError, TypeError):
        raise AuthError("initData lacks auth_date or user") from None
    current = time.time() if now is None else now
    if not 0 <= current - auth_date <= max_age:
        raise AuthError("initData is too old")
    language = user.get("language_code")
    return MiniAppUser(
        telegram_id=telegram_id,
        first_name=str(user.get("first_name", "")),
        language_code=str(language) if language else None,
        auth_date=auth_date,
    )


def _session_key(bot_token: str) -> bytes:
    return hmac.new(b"repairbot-board-session", bot_token.encode(), hashlib.sha256).digest()


def make_session(person_id: int, bot_token: str, *, now: float | None = None) -> str:
    """A cookie value for `person_id`, valid SESSION_SECONDS."""
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    body = f"{person_id}.{expires}"
    signature = hmac.new(_session_key(bot_token), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def read_session(value: str, bot_token: str, *, now: float | None = None) -> int:
    """The person id a genuine, unexpired cookie names; AuthError otherwise."""
    person, _, rest = value.partition(".")
    expires, _, signature = rest.partition(".")
    body = f"{person}.{expires}"
    expected = hmac.new(_session_key(bot_token), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise AuthError("session cookie is not ours")
    if not (person.isdigit() and expires.isdigit()):
        raise AuthError("session cookie is malformed")
    if int(expires) < (time.time() if now is None else now):
        raise AuthError("session expired")
    return int(person)
