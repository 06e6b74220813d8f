"""Photos, documents, albums, stickers, voice and video: uploads, file ids, getFile, downloads."""

from __future__ import annotations

import aiohttp
import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Sticker,
)
from telegram.error import BadRequest

from sandbox import actions
from sandbox.actions import UsageError
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


async def test_user_sticker_voice_and_video_reach_the_bot(
    app: AnyApplication, sandbox: SandboxClient
) -> None:
    alice = sandbox.user(1001)
    webp, ogg, mp4 = b"RIFF\0\0\0\0WEBPVP8 cat", b"OggS\0\2hello", b"\0\0\0\x18ftypmp42 tap"
    await alice.send_sticker(webp, emoji="😿")
    await alice.send_voice(ogg, duration=4)
    await alice.send_video(mp4, duration=7, caption="the tap")
    updates = await app.bot.get_updates()
    messages = [u.message for u in updates if u.message is not None and u.message.text is None]
    assert len(messages) == 3
    sticker, voice, video = messages[0].sticker, messages[1].voice, messages[2].video
    assert sticker is not None and voice is not None and video is not None
    assert (sticker.width, sticker.height, sticker.type) == (512, 512, Sticker.REGULAR)
    assert not sticker.is_animated and not sticker.is_video and sticker.emoji == "😿"
    assert voice.mime_type == "audio/ogg" and voice.to_dict()["duration"] == 4
    assert video.mime_type == "video/mp4" and video.to_dict()["duration"] == 7
    assert messages[2].caption == "the tap" and not messages[0].photo
    for record, data, ext in (
        (sticker, webp, ".webp"),
        (voice, ogg, ".oga"),
        (video, mp4, ".mp4"),
    ):
        file = await app.bot.get_file(record.file_id)
        assert file.file_path is not None and file.file_path.endswith(ext)
        assert file.file_size == len(data)
        assert bytes(await file.download_as_bytearray()) == data
    # A sticker's file id is not a photo's.
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type sticker as photo"):
        await app.bot.send_photo(1001, photo=sticker.file_id)
    assert "[sticker 😿]" in sandbox.transcript() and "[voice 4s]" in sandbox.transcript()


async def test_sticker_and_voice_json_shapes(raw_api: RawApi, sandbox: SandboxClient) -> None:
    alice = sandbox.user(1001, "Alice")
    sent = await alice.send_sticker()
    await alice.send_voice()
    first, second = [u["message"] for u in await raw_api.ok("getUpdates")]
    assert set(first["sticker"]) == {
        "file_id",
        "file_unique_id",
        "width",
        "height",
        "is_animated",
        "is_video",
        "type",
        "emoji",
        "file_size",
    }
    assert first["sticker"]["type"] == "regular" and first["sticker"]["file_id"] == sent.file_id
    assert set(second["voice"]) == {
        "file_id",
        "file_unique_id",
        "duration",
        "mime_type",
        "file_size",
    }
    assert second["voice"]["mime_type"] == "audio/ogg" and "text" not in second
    with pytest.raises(UsageError, match="some bytes"):
        actions.post(sandbox.state, 1001, None, voice=(b"", 1))
    with pytest.raises(UsageError, match="no caption"):
        actions.post(sandbox.state, 1001, None, sticker=(b"x", "👍"), caption="hi")
