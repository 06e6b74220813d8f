"""Room deep-link payloads for `https://t.me/<bot>?start=<payload>`. Pure: no I/O.

Telegram allows 1-64 characters of [A-Za-z0-9_-] in a start payload. A code that already
fits is sent readably as `r_<code>`; any other code is sent as `rb_<base64url(utf-8)>`.
"""

from __future__ import annotations

import base64
import binascii
import re

MAX_PAYLOAD = 64
PLAIN_PREFIX = "r_"
ENCODED_PREFIX = "rb_"
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def fits_alphabet(text: str) -> bool:
    """Whether `text` uses only the deep-link alphabet (and is non-empty)."""
    return _ALPHABET.fullmatch(text) is not None


def room_payload(code: str) -> str:
    """The start payload for a room code; ValueError when it cannot fit in 64 characters."""
    if not code:
        raise ValueError("empty room code")
    if fits_alphabet(code):
        payload = PLAIN_PREFIX + code
    else:
        raw = base64.urlsafe_b64encode(code.encode("utf-8")).rstrip(b"=").decode("ascii")
        payload = ENCODED_PREFIX + raw
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"room code {code!r} is too long for a deep link")
    return payload


def parse_room_payload(payload: str) -> str | None:
    """The room code in a start payload, or None when it is not a (valid) room payload."""
    if len(payload) > MAX_PAYLOAD or not fits_alphabet(payload):
        return None
    if payload.startswith(ENCODED_PREFIX):
        raw = payload[len(ENCODED_PREFIX) :]
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            code = decoded.decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        # Only accept the canonical form, so one room has exactly one payload.
        if not code or fits_alphabet(code) or room_payload_or_none(code) != payload:
            return None
        return code
    if payload.startswith(PLAIN_PREFIX):
        code = payload[len(PLAIN_PREFIX) :]
        return code or None
    return None


def room_payload_or_none(code: str) -> str | None:
    """Like `room_payload`, but None instead of ValueError."""
    try:
        return room_payload(code)
    except ValueError:
        return None
