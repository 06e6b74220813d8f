"""Photos, documents and albums: uploads, re-sends by file_id, getFile and downloads."""

from __future__ import annotations

import aiohttp
import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
)
from telegram.error import BadRequest

from sandbox.client import SandboxClient
from sandbox.images import image_size, tiny_jpeg, tiny_png
from sandbox.server import SandboxServer
from sandbox.testing import AnyApplication, RawApi


@pytest.fixture
async def app(ptb_app: AnyApplication, sandbox: SandboxClient) -> AnyApplication:
    await sandbox.user(1001, "Alice").send("/start")
    return ptb_app


async def test_photo_upload_get_file_download_round_trip(
    app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    data = tiny_png(5, 3)
    # Multipart upload with a JSON-encoded nested field (reply_markup) in the same form.
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Assign", callback_data="a:1")]])
    message = await app.bot.send_photo(
        1001, photo=data, caption="<i>leak</i>", parse_mode="HTML", reply_markup=keyboard
    )
    assert message.caption == "leak"
    assert message.reply_markup == keyboard
    size = message.photo[-1]
    assert (size.width, size.height) == (5, 3)
    file = await app.bot.get_file(size.file_id)
    assert file.file_size == len(data)
    assert bytes(await file.download_as_bytearray()) == data
    view = await sandbox.user(1001).next_message()
    assert view.photo == data and view.caption == "leak" and view.button_texts == ["Assign"]


async def test_resend_by_file_id_and_wrong_ids(
    app: AnyApplication,
) -> None:
    first = await app.bot.send_photo(1001, photo=tiny_jpeg())
    file_id = first.photo[-1].file_id
    again = await app.bot.send_photo(1001, photo=file_id)
    assert again.photo[-1].file_id == file_id
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await app.bot.send_photo(1001, photo="AgACAgIAAxkBAAIB-unknown")
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await app.bot.get_file("nope")
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type photo as document"):
        await app.bot.send_document(1001, document=file_id)


async def test_photo_must_be_an_image_and_caption_limited(raw_api: RawApi, app: object) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "1001")
    form.add_field("photo", b"not an image", filename="x.jpg", content_type="image/jpeg")
    server = raw_api.server
    url = f"{server.base_url}{server.token}/sendPhoto"
    async with raw_api.session.post(url, data=form) as response:
        body = await response.json()
    assert body["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    status, body = await raw_api("sendMessage", chat_id=1001, text="x")
    file_id = (await raw_api.ok("sendPhoto", chat_id=1001, photo=_upload_id(server)))["photo"][0][
        "file_id"
    ]
    status, body = await raw_api("sendPhoto", chat_id=1001, photo=file_id, caption="c" * 1025)
    assert (status, body["description"]) == (400, "Bad Request: message caption is too long")
    await raw_api.ok("sendPhoto", chat_id=1001, photo=file_id, caption="c" * 1024)


def _upload_id(server: SandboxServer) -> str:
    """A photo file_id stored directly, to test JSON-only calls."""
    data = tiny_jpeg("direct")
    record = server.state.add_file("photo", data, size=image_size(data) or (0, 0))
    return record.file_id


async def test_document_upload_keeps_name_and_type(
    app: AnyApplication,
) -> None:
    payload = b"%PDF-1.4 fake"
    message = await app.bot.send_document(1001, document=payload, filename="report.pdf")
    document = message.document
    assert document is not None and document.file_name == "report.pdf"
    file = await app.bot.get_file(document.file_id)
    assert file.file_path is not None and file.file_path.endswith(".pdf")
    assert bytes(await file.download_as_bytearray()) == payload


async def test_media_group_shares_group_id(
    app: AnyApplication,
    sandbox: SandboxClient,
) -> None:
    photos = [InputMediaPhoto(tiny_jpeg(str(i)), caption=f"p{i}") for i in range(3)]
    messages = await app.bot.send_media_group(1001, photos)
    assert [m.message_id for m in messages] == [2, 3, 4]
    assert len({m.media_group_id for m in messages}) == 1 and messages[0].media_group_id
    assert [m.caption for m in messages] == ["p0", "p1", "p2"]
    views = await sandbox.user(1001).collect(3)
    assert views[1].photo == tiny_jpeg("1")
    # Re-sending the album by file ids works too.
    again = [InputMediaPhoto(m.photo[-1].file_id) for m in messages[:2]]
    assert len(await app.bot.send_media_group(1001, again)) == 2


@pytest.mark.parametrize(
    ("count", "description"),
    [(1, "Media group must include 2-10 items"), (11, "Too many messages to send as an album")],
)
async def test_media_group_size_rules(
    app: AnyApplication,
    count: int,
    description: str,
) -> None:
    items = [InputMediaDocument(b"doc", filename="a.txt") for _ in range(count)]
    with pytest.raises(BadRequest, match=description):
        await app.bot.send_media_group(1001, items)


async def test_user_photo_and_album_reach_the_bot(
    raw_api: RawApi, sandbox: SandboxClient, bot_api: SandboxServer
) -> None:
    alice = sandbox.user(1001, "Alice")
    photo = tiny_png(4, 4)
    await alice.send_photo(photo, caption="broken window")
    await alice.send_album(2, caption="more")
    updates = await raw_api.ok("getUpdates")
    first = updates[0]["message"]
    assert first["caption"] == "broken window"
    file = await raw_api.ok("getFile", file_id=first["photo"][-1]["file_id"])
    url = f"{bot_api.base_file_url}{bot_api.token}/{file['file_path']}"
    async with raw_api.session.get(url) as response:
        assert response.status == 200 and await response.read() == photo
    album = [u["message"] for u in updates[1:]]
    assert len(album) == 2 and album[0]["media_group_id"] == album[1]["media_group_id"]
    assert album[0]["caption"] == "more" and "caption" not in album[1]
    async with raw_api.session.get(f"{bot_api.base_file_url}{bot_api.token}/nope") as response:
        assert response.status == 404
    async with raw_api.session.get(f"{bot_api.base_file_url}1:bad/{file['file_path']}") as r:
        assert r.status == 401


async def test_user_document_contact_location(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice", phone_number="+15550001")
    await alice.send_document(b"a,b\n1,2\n", "rooms.csv", "text/csv")
    await alice.share_contact()
    await alice.send_location(31.23, 121.47)
    updates = [u["message"] for u in await raw_api.ok("getUpdates")]
    assert updates[0]["document"]["file_name"] == "rooms.csv"
    assert updates[0]["document"]["mime_type"] == "text/csv"
    assert updates[1]["contact"] == {
        "phone_number": "+15550001",
        "first_name": "Alice",
        "user_id": 1001,
    }
    assert updates[2]["location"] == {"latitude": 31.23, "longitude": 121.47}
