"""Photos, documents, albums and file lookup: sendPhoto, sendDocument, sendMediaGroup, getFile."""

from __future__ import annotations

from typing import Unpack

from telegram import File

from sandbox import errors, rules
from sandbox.errors import bad_request
from sandbox.images import image_size
from sandbox.methods.messages import live_ids
from sandbox.methods.registry import chat_id, method
from sandbox.models import Content, FileRecord, MessageFields
from sandbox.params import Params, Upload
from sandbox.state import SandboxState

_TYPE_NAMES = {
    "photo": "Photo",
    "document": "Document",
    "sticker": "Sticker",
    "voice": "Voice",
    "video": "Video",
}


def store_upload(state: SandboxState, kind: str, upload: Upload) -> FileRecord:
    """Keep uploaded bytes; photos must really be images, as Telegram re-encodes them."""
    if kind == "photo":
        size = image_size(upload.data)
        if size is None:
            raise bad_request(errors.IMAGE_PROCESS_FAILED)
        return state.add_file("photo", upload.data, mime_type="image/jpeg", size=size)
    if not upload.data:
        raise bad_request("file must be non-empty")
    return state.add_file(
        "document",
        upload.data,
        file_name=upload.filename,
        mime_type=upload.content_type or "application/octet-stream",
    )


def resolve_file(
    state: SandboxState, p: Params, value: object, field: str, kind: str
) -> FileRecord:
    """Resolve an upload, an attach:// reference or a known file_id; URLs are never fetched."""
    upload = p.upload(field)
    if upload is None and isinstance(value, str) and value.startswith("attach://"):
        upload = p.upload(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request(errors.WRONG_FILE_ID)
    if upload is not None:
        return store_upload(state, kind, upload)
    if not isinstance(value, str) or not value:
        raise bad_request(f'parameter "{field}" is required')
    record = state.files.get(value)
    if record is None:
        raise bad_request(errors.WRONG_FILE_ID)
    if record.kind != kind:
        raise bad_request(
            f"can't use file of type {_TYPE_NAMES[record.kind]} as {_TYPE_NAMES[kind]}"
        )
    return record


def _carrying(kind: str, record: FileRecord, **fields: Unpack[MessageFields]) -> MessageFields:
    """`fields` and a sent photo or document in its own field (`kind` is one of the two)."""
    if kind == "photo":
        fields["photo"] = record
    else:
        fields["document"] = record
    return fields


async def _send_single(state: SandboxState, p: Params, kind: str) -> object:
    """Shared body of sendPhoto and sendDocument."""
    chat = state.chat_for_bot(chat_id(p))
    caption, entities = rules.caption(
        p.get_str("caption"), p.get_str("parse_mode"), p.get_json("caption_entities")
    )
    markup = rules.reply_markup(p)
    reply_to = rules.reply_target(p, live_ids(state, chat.id))
    record = resolve_file(state, p, p.values.get(kind), kind, kind)
    content = Content(
        caption=caption,
        caption_entities=entities,
        reply_markup=markup,
        parse_mode=p.get_str("parse_mode"),
        raw=p.get_str("caption"),
    )
    message = state.new_message(
        chat.id, state.bot.id, content, **_carrying(kind, record, reply_to=reply_to)
    )
    return state.message_dict(message)


@method("sendPhoto")
async def send_photo(state: SandboxState, p: Params) -> object:
    """Send a photo by upload or file_id."""
    return await _send_single(state, p, "photo")


@method("sendDocument")
async def send_document(state: SandboxState, p: Params) -> object:
    """Send a document by upload or file_id."""
    return await _send_single(state, p, "document")


@method("sendMediaGroup")
async def send_media_group(state: SandboxState, p: Params) -> object:
    """Send an album of 2-10 photos or documents sharing one media_group_id."""
    chat = state.chat_for_bot(chat_id(p))
    media = p.get_json("media", error=bad_request(errors.BAD_MEDIA_JSON))
    if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
        raise bad_request(errors.BAD_MEDIA_JSON)
    if len(media) > 10:
        raise bad_request(errors.ALBUM_TOO_BIG)
    if len(media) < 2:
        raise bad_request(errors.MEDIA_GROUP_SIZE)
    reply_to = rules.reply_target(p, live_ids(state, chat.id))
    # Validate every item before storing anything, so a bad item sends nothing.
    prepared: list[tuple[str, FileRecord, Content]] = []
    for index, item in enumerate(media):
        kind = item.get("type")
        if kind not in ("photo", "document"):
            raise bad_request(f"unsupported media type in the media group item #{index + 1}")
        caption, entities = rules.caption(
            _opt_str(item.get("caption")),
            _opt_str(item.get("parse_mode")),
            item.get("caption_entities"),
        )
        record = resolve_file(state, p, item.get("media"), f"media#{index}", kind)
        content = Content(
            caption=caption, caption_entities=entities, raw=_opt_str(item.get("caption"))
        )
        prepared.append((kind, record, content))
    group_id = str(13_000_000_000_000_000 + state.serial())
    sent = [
        state.new_message(
            chat.id,
            state.bot.id,
            content,
            **_carrying(kind, record, media_group_id=group_id, reply_to=reply_to),
        )
        for kind, record, content in prepared
    ]
    return [state.message_dict(message) for message in sent]


def _opt_str(value: object) -> str | None:
    """A JSON field that should be a string, or None."""
    return value if isinstance(value, str) else None


@method("getFile")
async def get_file(state: SandboxState, p: Params) -> object:
    """Return a File whose file_path downloads under /file/bot<token>/."""
    record = state.files.get(p.get_str("file_id") or "")
    if record is None:
        raise bad_request(errors.INVALID_FILE_ID)
    return File(
        file_id=record.file_id,
        file_unique_id=record.file_unique_id,
        file_size=len(record.data),
        file_path=record.file_path,
    ).to_dict()
