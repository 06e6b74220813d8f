"""sendMessage, edits and deletes with Telegram's rules and exact error texts."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from sandbox.client import SandboxClient, UserHandle
from sandbox.testing import AnyApplication, RawApi

KEYBOARD = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}


@pytest.fixture
def alice(sandbox: SandboxClient) -> UserHandle:
    return sandbox.user(1001, "Alice")


async def started(user: UserHandle) -> UserHandle:
    await user.send("/start")
    return user


async def error_of(raw_api: RawApi, method: str, **params: object) -> tuple[int, str]:
    status, body = await raw_api(method, **params)
    assert body["ok"] is False and body["error_code"] == status
    return status, body["description"]


async def test_send_message_result_shape(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    result = await raw_api.ok("sendMessage", chat_id=1001, text="hi", reply_markup=KEYBOARD)
    assert result["chat"] == {"id": 1001, "type": "private", "first_name": "Alice"}
    assert result["from"]["is_bot"] is True
    assert isinstance(result["date"], int) and result["date"] > 1_600_000_000
    assert result["reply_markup"] == KEYBOARD
    assert (await alice.next_message()).button_texts == ["Go"]


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("", "Bad Request: message text is empty"),
        ("   \n ", "Bad Request: message text is empty"),
        ("x" * 4097, "Bad Request: message is too long"),
        ("😀" * 2049, "Bad Request: message is too long"),  # 4098 UTF-16 units
    ],
)
async def test_text_length_rules(
    raw_api: RawApi, alice: UserHandle, text: str, description: str
) -> None:
    await started(alice)
    assert await error_of(raw_api, "sendMessage", chat_id=1001, text=text) == (400, description)


async def test_limit_counts_text_after_entity_parsing(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    text = "<b>" + "x" * 4096 + "</b>"
    result = await raw_api.ok("sendMessage", chat_id=1001, text=text, parse_mode="HTML")
    assert result["entities"] == [{"type": "bold", "offset": 0, "length": 4096}]
    assert len(result["text"]) == 4096


async def test_html_is_parsed_into_text_and_entities(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    html = 'Ticket <b>#12</b> &lt;open&gt; <a href="https://x.test/t/12">view</a>'
    result = await raw_api.ok("sendMessage", chat_id=1001, text=html, parse_mode="HTML")
    assert result["text"] == "Ticket #12 <open> view"
    assert result["entities"] == [
        {"type": "bold", "offset": 7, "length": 3},
        {"type": "text_link", "offset": 18, "length": 4, "url": "https://x.test/t/12"},
    ]
    message = await alice.next_message()
    assert message.raw_text == html and message.parse_mode == "HTML"


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a <blink>x</blink>", 'Unsupported start tag "blink" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ],
)
async def test_malformed_html_is_rejected(
    raw_api: RawApi, alice: UserHandle, html: str, reason: str
) -> None:
    await started(alice)
    _, description = await error_of(
        raw_api, "sendMessage", chat_id=1001, text=html, parse_mode="HTML"
    )
    assert description == f"Bad Request: can't parse entities: {reason}"


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "é" * 33}]]},  # 66 bytes
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": ""}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x"}]]},
            "Bad Request: can't parse InlineKeyboardButton: "
            "Text buttons are not allowed in the inline keyboard",
        ),
        ({"nonsense": True}, "Bad Request: can't parse reply keyboard markup JSON object"),
    ],
)
async def test_keyboard_rules(
    raw_api: RawApi, alice: UserHandle, markup: dict[str, object], description: str
) -> None:
    await started(alice)
    status, text = await error_of(
        raw_api, "sendMessage", chat_id=1001, text="t", reply_markup=markup
    )
    assert (status, text) == (400, description)


async def test_callback_data_of_64_bytes_is_fine(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 64}]]}
    await raw_api.ok("sendMessage", chat_id=1001, text="t", reply_markup=markup)


async def test_chat_access_errors(raw_api: RawApi, sandbox: SandboxClient) -> None:
    never = sandbox.user(2002, "Never")
    assert await error_of(raw_api, "sendMessage", chat_id=999, text="x") == (
        400,
        "Bad Request: chat not found",
    )
    assert await error_of(raw_api, "sendMessage", chat_id=never.id, text="x") == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    await never.send("/start")
    await never.block()
    assert await error_of(raw_api, "sendMessage", chat_id=never.id, text="x") == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    await never.unblock()
    await raw_api.ok("sendMessage", chat_id=never.id, text="x")
    assert await error_of(raw_api, "sendMessage", text="x") == (
        400,
        "Bad Request: chat_id is empty",
    )


async def test_ptb_raises_forbidden_and_bad_request(
    ptb_app: AnyApplication, alice: UserHandle
) -> None:
    bot: Bot = ptb_app.bot
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(1001, "hi")
    await started(alice)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(1001, "")


async def test_message_ids_count_per_chat(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice, bob = sandbox.user(1001, "Alice"), sandbox.user(1002, "Bob")
    await alice.send("a")  # Alice's chat: #1
    await bob.send("b")  # Bob's chat: #1
    a2 = await raw_api.ok("sendMessage", chat_id=1001, text="to alice")
    b2 = await raw_api.ok("sendMessage", chat_id=1002, text="to bob")
    a3 = await raw_api.ok("sendMessage", chat_id=1001, text="again")
    assert (a2["message_id"], b2["message_id"], a3["message_id"]) == (2, 2, 3)


async def test_reply_to_message(raw_api: RawApi, alice: UserHandle) -> None:
    sent = await alice.send("/start")
    result = await raw_api.ok(
        "sendMessage", chat_id=1001, text="re", reply_parameters={"message_id": sent.message_id}
    )
    assert result["reply_to_message"]["text"] == "/start"
    _, description = await error_of(
        raw_api, "sendMessage", chat_id=1001, text="re", reply_parameters={"message_id": 77}
    )
    assert description == "Bad Request: message to be replied not found"


async def test_edit_text_history_and_keyboard_removal(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    sent = await raw_api.ok("sendMessage", chat_id=1001, text="v1", reply_markup=KEYBOARD)
    view = await alice.next_message()
    mid = sent["message_id"]
    edited = await raw_api.ok(
        "editMessageText", chat_id=1001, message_id=mid, text="v2", reply_markup=KEYBOARD
    )
    assert edited["text"] == "v2" and isinstance(edited["edit_date"], int)
    # An edit without reply_markup drops the inline keyboard, as on Telegram.
    await raw_api.ok("editMessageText", chat_id=1001, message_id=mid, text="v3")
    assert [c.text for c in view.history] == ["v1", "v2", "v3"]
    assert view.buttons == [] and view.edits == 2


async def test_edit_errors(raw_api: RawApi, alice: UserHandle) -> None:
    user_message = await alice.send("/start")
    mid = (await raw_api.ok("sendMessage", chat_id=1001, text="same", reply_markup=KEYBOARD))[
        "message_id"
    ]
    not_modified = (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    cases: list[tuple[str, dict[str, object], str]] = [
        (
            "editMessageText",
            {"message_id": mid, "text": "same", "reply_markup": KEYBOARD},
            not_modified,
        ),
        ("editMessageReplyMarkup", {"message_id": mid, "reply_markup": KEYBOARD}, not_modified),
        (
            "editMessageText",
            {"message_id": 999, "text": "x"},
            "Bad Request: message to edit not found",
        ),
        ("editMessageText", {"message_id": mid, "text": ""}, "Bad Request: message text is empty"),
        (
            "editMessageText",
            {"message_id": 1, "text": "x"},
            "Bad Request: message can't be edited",
        ),
        (
            "editMessageCaption",
            {"message_id": mid, "caption": "c"},
            "Bad Request: there is no caption in the message to edit",
        ),
    ]
    assert user_message.message_id == 1
    for method, params, description in cases:
        assert await error_of(raw_api, method, chat_id=1001, **params) == (400, description)


async def test_edit_reply_markup_replaces_buttons(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    mid = (await raw_api.ok("sendMessage", chat_id=1001, text="pick", reply_markup=KEYBOARD))[
        "message_id"
    ]
    view = await alice.next_message()
    other = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop")]])
    await raw_api.ok(
        "editMessageReplyMarkup", chat_id=1001, message_id=mid, reply_markup=other.to_dict()
    )
    assert view.button_texts == ["Stop"] and view.text == "pick"
    await raw_api.ok("editMessageReplyMarkup", chat_id=1001, message_id=mid)
    assert view.buttons == []


async def test_delete_message(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    mid = (await raw_api.ok("sendMessage", chat_id=1001, text="bye"))["message_id"]
    view = await alice.next_message()
    assert await raw_api.ok("deleteMessage", chat_id=1001, message_id=mid) is True
    assert view.deleted
    assert await error_of(raw_api, "deleteMessage", chat_id=1001, message_id=mid) == (
        400,
        "Bad Request: message to delete not found",
    )
    assert await error_of(raw_api, "editMessageText", chat_id=1001, message_id=mid, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    # Bots may delete the user's messages in a private chat.
    assert await raw_api.ok("deleteMessage", chat_id=1001, message_id=1) is True


async def test_bot_cannot_delete_user_messages_in_groups(
    raw_api: RawApi, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001, "Alice")
    group = sandbox.group("Dorm A", [alice])
    sent = await alice.send("hello all", chat=group)
    assert await error_of(
        raw_api, "deleteMessage", chat_id=group.id, message_id=sent.message_id
    ) == (
        400,
        "Bad Request: message can't be deleted",
    )


async def test_reply_keyboard_is_tracked_per_chat(raw_api: RawApi, alice: UserHandle) -> None:
    await started(alice)
    keyboard = {"keyboard": [["Dorm", {"text": "Share phone", "request_contact": True}]]}
    result = await raw_api.ok("sendMessage", chat_id=1001, text="where?", reply_markup=keyboard)
    assert "reply_markup" not in result  # Telegram echoes only inline keyboards.
    rows = alice.reply_keyboard
    assert rows is not None and [b.text for b in rows[0]] == ["Dorm", "Share phone"]
    assert rows[0][1].request_contact
    await raw_api.ok(
        "sendMessage", chat_id=1001, text="ok", reply_markup={"remove_keyboard": True}
    )
    assert alice.reply_keyboard is None
