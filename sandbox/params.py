"""Decoding of Bot API request parameters from JSON, urlencoded and multipart bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from sandbox.errors import ApiError, bad_request

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    """Request parameters with Telegram-style lenient typing.

    Form bodies carry every value as a string (PTB JSON-encodes non-strings), while JSON bodies
    carry native values, so each getter accepts both spellings.
    """

    def __init__(
        self, values: Mapping[str, object], uploads: Mapping[str, Upload] | None = None
    ) -> None:
        self.values = dict(values)
        self.uploads = dict(uploads or {})

    @classmethod
    async def from_request(cls, request: web.Request) -> Params:
        """Read query string and body of a Bot API request."""
        values: dict[str, object] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.content_type == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise bad_request("can't parse JSON encoded request body") from exc
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected in request body")
                values.update(body)
        elif request.content_type in _FORM_TYPES:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.file.read(), value.filename, value.content_type)
                else:
                    values[key] = value
        return cls(values, uploads)

    def has(self, name: str) -> bool:
        """Tell whether a parameter was sent at all."""
        return name in self.values or name in self.uploads

    def get_str(self, name: str) -> str | None:
        """Return a parameter as text, or None when absent."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value)

    def get_int(self, name: str, error: ApiError | None = None) -> int | None:
        """Return an integer parameter; a malformed value raises `error` or a generic 400."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise error or bad_request(f'parameter "{name}" must be an integer')
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise error or bad_request(f'parameter "{name}" must be an integer')

    def get_float(self, name: str) -> float | None:
        """Return a numeric parameter as float, or None when absent."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise bad_request(f'parameter "{name}" must be a number')

    def get_bool(self, name: str) -> bool:
        """Return a boolean flag; absent means False, as in Telegram."""
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return False

    def get_json(self, name: str, error: ApiError | None = None) -> object | None:
        """Return a JSON-valued parameter (object or array), decoding form strings."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                decoded: object = json.loads(value)
            except ValueError as exc:
                raise error or bad_request(f"can't parse {name} JSON object") from exc
            return decoded
        return value

    def upload(self, name: str) -> Upload | None:
        """Return the uploaded file sent under a multipart field name."""
        return self.uploads.get(name)
