"""The one callback codec: what a button packs comes back; anything a modified client
could send instead (nothing, garbage, too long, wrong types, odd characters) is None."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.callbacks import (
    MAX_BYTES,
    AssignTo,
    Callback,
    CallbackTooLong,
    DeferPick,
    Menu,
    SetLanguage,
    SweepAct,
    TicketAction,
    parse,
)


@pytest.mark.parametrize(
    "callback",
    [
        Menu("report"),
        SetLanguage("zh_Hans"),
        TicketAction("cancel_yes", 2**31 - 1),
        AssignTo(12, 34),
        DeferPick(5, 3, "-"),
        SweepAct("fault", 1, 2, "door_lock"),
        SweepAct("fault", 1, 2, "门锁"),  # checklist keys from settings may be any script
    ],
)
def test_what_a_button_packs_comes_back(callback: Callback) -> None:
    assert parse(callback.pack()) == callback


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "m",
        "m:",
        "m:report:extra",
        "zz:1",
        "t:open:2147483648",  # beyond PostgreSQL's INTEGER
        "t:open:1.5",
        "t:open:²",
        "m:re port",
        "m:\x00",
        "m:\x1b[2J",
        "m:report\n",
        "t:open:" + "1" * 60,
    ],
)
def test_forged_or_garbage_data_is_none(data: str | None) -> None:
    assert parse(data) is None


def test_packing_more_than_64_bytes_is_refused() -> None:
    with pytest.raises(CallbackTooLong):
        SweepAct("fault", 1, 2, "x" * MAX_BYTES).pack()


@given(st.text(max_size=100))
def test_parse_never_raises(data: str) -> None:
    parsed = parse(data)
    assert parsed is None or parse(parsed.pack()) == parsed
