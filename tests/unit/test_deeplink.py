"""Room deep-link payloads: reversible, always inside Telegram's alphabet and length."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.deeplink import parse_room_payload, room_payload

TELEGRAM_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _fits(code: str) -> bool:
    try:
        room_payload(code)
    except ValueError:
        return False
    return True


@given(st.text(min_size=1, max_size=40).filter(_fits))
def test_any_code_that_fits_round_trips(code: str) -> None:
    payload = room_payload(code)
    assert TELEGRAM_PAYLOAD.fullmatch(payload)
    assert parse_room_payload(payload) == code


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=40))
def test_plain_codes_of_up_to_40_characters_always_fit(code: str) -> None:
    assert parse_room_payload(room_payload(code)) == code


@given(st.text(alphabet="東校區公寓-大廳 ", min_size=1, max_size=10))
def test_short_chinese_codes_fit(code: str) -> None:
    assert parse_room_payload(room_payload(code)) == code


@given(st.text(max_size=100))
def test_garbage_payloads_give_none_or_a_code_never_an_error(payload: str) -> None:
    code = parse_room_payload(payload)
    if code is not None:  # only a genuine room payload decodes, and back to itself
        assert room_payload(code) == payload


def test_examples_an_operator_sees() -> None:
    assert room_payload("ED1-101") == "r_ED1-101"
    assert room_payload("ELIB 1/H").startswith("rb_")
    assert parse_room_payload("inv_abcdef") is None
    assert parse_room_payload("r_") is None
    assert parse_room_payload("rb_!!") is None
    assert parse_room_payload("rb_" + "A" * 5) is None
    with pytest.raises(ValueError, match="too long"):
        room_payload("長" * 40)
