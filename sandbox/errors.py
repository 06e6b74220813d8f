"""Bot API errors with Telegram's exact descriptions."""

from __future__ import annotations

from typing import Final


class ApiError(Exception):
    """An error the stand-in answers with, shaped like Telegram's error JSON."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, object]:
        """Return the JSON body Telegram sends for this error."""
        body: dict[str, object] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(text: str) -> ApiError:
    """Return a 400 error with Telegram's 'Bad Request: ' prefix."""
    return ApiError(400, f"Bad Request: {text}")


def forbidden(text: str) -> ApiError:
    """Return a 403 error with Telegram's 'Forbidden: ' prefix."""
    return ApiError(403, f"Forbidden: {text}")


def too_many_requests(retry_after: int) -> ApiError:
    """Return a 429 flood-wait error carrying parameters.retry_after."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


NOT_FOUND: Final = ApiError(404, "Not Found")
UNAUTHORIZED: Final = ApiError(401, "Unauthorized")

# Telegram's texts, without the "Bad Request: " / "Forbidden: " prefix.
TEXT_EMPTY: Final = "message text is empty"
TEXT_TOO_LONG: Final = "message is too long"
CAPTION_TOO_LONG: Final = "message caption is too long"
BUTTON_DATA_INVALID: Final = "BUTTON_DATA_INVALID"
TEXT_BUTTONS_NOT_ALLOWED: Final = (
    "can't parse InlineKeyboardButton: Text buttons are not allowed in the inline keyboard"
)
BAD_MARKUP: Final = "can't parse reply keyboard markup JSON object"
# Too many buttons, too many in a row, or too many bytes: Telegram answers all three with
# REPLY_MARKUP_TOO_LONG, which the Bot API spells as below.
MARKUP_TOO_LONG: Final = "reply markup is too long"
NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND: Final = "message to edit not found"
DELETE_NOT_FOUND: Final = "message to delete not found"
CANT_EDIT: Final = "message can't be edited"
CANT_DELETE: Final = "message can't be deleted"
NO_TEXT_TO_EDIT: Final = "there is no text in the message to edit"
NO_CAPTION_TO_EDIT: Final = "there is no caption in the message to edit"
REPLY_NOT_FOUND: Final = "message to be replied not found"
CHAT_NOT_FOUND: Final = "chat not found"
CHAT_ID_EMPTY: Final = "chat_id is empty"
CANT_INITIATE: Final = "bot can't initiate conversation with a user"
BLOCKED: Final = "bot was blocked by the user"
QUERY_TOO_OLD: Final = "query is too old and response timeout expired or query ID is invalid"
WRONG_FILE_ID: Final = "wrong file identifier/HTTP URL specified"
INVALID_FILE_ID: Final = "invalid file_id"
IMAGE_PROCESS_FAILED: Final = "IMAGE_PROCESS_FAILED"
MEDIA_GROUP_SIZE: Final = "media group must include 2-10 items"
ALBUM_TOO_BIG: Final = "too many messages to send as an album"
BAD_MEDIA_JSON: Final = "can't parse media JSON object"
BOT_COMMAND_INVALID: Final = "BOT_COMMAND_INVALID"
BAD_CHAT_ACTION: Final = "wrong parameter action in request"
WEBHOOK_ACTIVE: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_TERMINATED: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
