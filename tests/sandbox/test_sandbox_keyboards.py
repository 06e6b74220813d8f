"""Telegram's keyboard limits: 100 inline buttons, 8 a row; 300 reply buttons, 12 a row;
about 10 KB of markup JSON. Each is refused with Telegram's 400 on every method that
takes reply_markup, and a keyboard just inside the limits is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.client import SandboxClient, UserHandle
from sandbox.images import image_size, tiny_jpeg
from sandbox.testing import RawApi

TOO_LONG = (400, "Bad Request: reply markup is too long")


def inline(rows: int, per_row: int, data: str = "x") -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [{"text": f"{r}.{c}", "callback_data": data} for c in range(per_row)]
            for r in range(rows)
        ]
    }


def reply_keyboard(rows: int, per_row: int) -> dict[str, Any]:
    return {"keyboard": [[f"{r}.{c}" for c in range(per_row)] for r in range(rows)]}


# Over 10 KB of JSON in well under 100 buttons: 60 buttons of 60-byte data and long text.
BIG = {
    "inline_keyboard": [
        [{"text": "字" * 60, "callback_data": "d" * 60}, {"text": "字" * 60, "callback_data": "e"}]
        for _ in range(30)
    ]
}

OVER = [
    pytest.param(inline(101, 1), id="101 inline buttons"),
    pytest.param(
        {
            "inline_keyboard": [
                *inline(12, 8)["inline_keyboard"],
                inline(1, 5)["inline_keyboard"][0],
            ]
        },
        id="101 inline in rows of 8",
    ),
    pytest.param(inline(1, 9), id="9 inline in a row"),
    pytest.param(reply_keyboard(31, 10), id="310 reply buttons"),
    pytest.param(reply_keyboard(1, 13), id="13 reply in a row"),
    pytest.param(BIG, id="over 10 KB of JSON"),
]


@pytest.fixture
async def alice(sandbox: SandboxClient) -> UserHandle:
    user = sandbox.user(1001, "Alice")
    await user.send("/start")
    return user


async def error_of(raw_api: RawApi, method: str, **params: object) -> tuple[int, str]:
    status, body = await raw_api(method, **params)
    assert body["ok"] is False and body["error_code"] == status
    return status, str(body["description"])


@pytest.mark.parametrize("markup", OVER)
async def test_send_message_over_a_limit_is_refused(
    raw_api: RawApi, alice: UserHandle, markup: dict[str, Any]
) -> None:
    refused = await error_of(raw_api, "sendMessage", chat_id=1001, text="hi", reply_markup=markup)
    assert refused == TOO_LONG
    # Nothing reached the chat: the next message Alice sees is the one after.
    await raw_api.ok("sendMessage", chat_id=1001, text="after")
    assert (await alice.next_message()).text == "after"


async def test_keyboards_at_the_limits_are_accepted(raw_api: RawApi, alice: UserHandle) -> None:
    hundred = {
        "inline_keyboard": [
            *inline(12, 8)["inline_keyboard"],
            [{"text": "z", "callback_data": "z"}] * 4,
        ]
    }
    await raw_api.ok("sendMessage", chat_id=1001, text="a", reply_markup=hundred)
    assert len((await alice.next_message()).button_texts) == 100
    await raw_api.ok("sendMessage", chat_id=1001, text="b", reply_markup=reply_keyboard(25, 12))
    assert (await alice.next_message()).text == "b"


async def test_every_method_with_reply_markup_enforces_the_limits(
    raw_api: RawApi, alice: UserHandle
) -> None:
    server = raw_api.server
    data = tiny_jpeg("k")
    photo = server.state.add_file("photo", data, size=image_size(data) or (0, 0)).file_id
    document = server.state.add_file(
        "document", b"%PDF-1.4", file_name="a.pdf", mime_type="application/pdf"
    ).file_id
    over = inline(1, 9)
    for method, params in [
        ("sendPhoto", {"photo": photo}),
        ("sendDocument", {"document": document}),
    ]:
        assert await error_of(raw_api, method, chat_id=1001, reply_markup=over, **params) == (
            TOO_LONG
        ), method
    text_id = (await raw_api.ok("sendMessage", chat_id=1001, text="t"))["message_id"]
    photo_id = (await raw_api.ok("sendPhoto", chat_id=1001, photo=photo, caption="c"))[
        "message_id"
    ]
    for method, params in [
        ("editMessageText", {"message_id": text_id, "text": "t2"}),
        ("editMessageReplyMarkup", {"message_id": text_id}),
        ("editMessageCaption", {"message_id": photo_id, "caption": "c2"}),
    ]:
        assert await error_of(raw_api, method, chat_id=1001, reply_markup=over, **params) == (
            TOO_LONG
        ), method
