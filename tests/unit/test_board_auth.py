"""Telegram Mini App initData and the board's session cookie, checked as documented."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.board.auth import (
    INIT_DATA_MAX_AGE,
    SESSION_SECONDS,
    AuthError,
    check_init_data,
    make_session,
    read_session,
    sign_init_data,
)

NOW = 1_790_000_000.0


def _token() -> str:
    return f"{secrets.randbelow(10**9) + 10**9}:FAKE-test-secret-{secrets.token_urlsafe(16)}"


def _fields(user_id: int = 4242, age: float = 60) -> dict[str, str]:
    user = {"id": user_id, "first_name": "Sam", "language_code": "zh-hant"}
    return {
        "auth_date": str(int(NOW - age)),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
    }


def test_genuine_init_data_names_its_user() -> None:
    token = _token()
    user = check_init_data(sign_init_data(_fields(), token), token, now=NOW)
    assert (user.telegram_id, user.first_name, user.language_code) == (4242, "Sam", "zh-hant")


def test_the_hash_is_telegrams_documented_hmac() -> None:
    # Computed here independently: secret = HMAC_SHA256(key="WebAppData", msg=token),
    # hash = hex HMAC_SHA256(key=secret, msg=sorted "k=v" lines without hash).
    token = _token()
    fields = _fields()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    data = urlencode({**fields, "hash": digest})
    assert check_init_data(data, token, now=NOW).telegram_id == 4242


def test_a_tampered_field_is_refused() -> None:
    token = _token()
    pairs = dict(parse_qsl(sign_init_data(_fields(), token)))
    pairs["user"] = pairs["user"].replace("4242", "4243")  # someone else's id
    with pytest.raises(AuthError, match="hash"):
        check_init_data(urlencode(pairs), token, now=NOW)


def test_another_bots_token_is_refused() -> None:
    with pytest.raises(AuthError, match="hash"):
        check_init_data(sign_init_data(_fields(), _token()), _token(), now=NOW)


def test_init_data_older_than_a_day_is_refused() -> None:
    token = _token()
    fresh_enough = sign_init_data(_fields(age=INIT_DATA_MAX_AGE - 5), token)
    assert check_init_data(fresh_enough, token, now=NOW).telegram_id == 4242
    with pytest.raises(AuthError, match="old"):
        check_init_data(sign_init_data(_fields(age=INIT_DATA_MAX_AGE + 5), token), token, now=NOW)


@pytest.mark.parametrize(
    "data",
    ["", "hash=", "not a query", "user=%7B%7D&auth_date=1&hash=ab", "a=1&a=2&hash=00"],
)
def test_garbage_is_refused_without_crashing(data: str) -> None:
    with pytest.raises(AuthError):
        check_init_data(data, _token(), now=NOW)


def test_signed_data_without_a_user_is_refused() -> None:
    token = _token()
    with pytest.raises(AuthError, match="user"):
        check_init_data(sign_init_data({"auth_date": str(int(NOW))}, token), token, now=NOW)


def test_a_session_cookie_is_ours_and_expires() -> None:
    token = _token()
    cookie = make_session(17, token, now=NOW)
    assert read_session(cookie, token, now=NOW + SESSION_SECONDS - 1) == 17
    with pytest.raises(AuthError, match="expired"):
        read_session(cookie, token, now=NOW + SESSION_SECONDS + 1)
    with pytest.raises(AuthError):
        read_session(cookie, _token(), now=NOW)  # a new bot token signs everyone out
    _person, expires, signature = cookie.split(".")
    with pytest.raises(AuthError):
        read_session(f"18.{expires}.{signature}", token, now=NOW)  # another person
