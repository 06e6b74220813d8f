"""Catalog lookup: every user-facing text lives in bot/locales/<lang>.toml.

Languages are zh_Hans, zh_Hant and en. Keys are dotted (`menu.report`); values use
`str.format` placeholders, and `{count|one|other}` picks a plural form by `count`. A test
checks every catalog has every key and placeholder.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("zh_Hans", "zh_Hant", "en")
FALLBACK = "en"
BABEL_LOCALE = {"zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW", "en": "en_GB"}
# Timeline events whose note is a moment (ISO 8601 with its UTC offset, as stored):
# shown in campus time like every other time, not as the stored text.
TIMED_NOTES = frozenset({"visit_proposed", "promise_missed"})


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(name, value, out)
        else:
            out[name] = str(value)


@cache
def catalog(language: str) -> dict[str, str]:
    """All texts of one language, flattened to dotted keys."""
    with (LOCALES_DIR / f"{language}.toml").open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, str] = {}
    _flatten("", data, out)
    return out


def language_from_telegram(code: str | None, default: str = "zh_Hans") -> str:
    """Map Telegram's IETF `language_code` to a catalog; unknown Chinese is Simplified."""
    if not code:
        return default
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        traditional = ("hant", "tw", "hk", "mo")
        return "zh_Hant" if any(part in code for part in traditional) else "zh_Hans"
    if code.startswith("en"):
        return "en"
    return default


# "{count|room|rooms}": the first form when `count` is 1, else the second. English needs
# it ("1 room", "3 rooms"); Chinese has no plural forms and simply writes "{count} 间".
_PLURAL = re.compile(r"\{(\w+)\|([^{}|]*)\|([^{}|]*)\}")


def fill(text: str, params: dict[str, Any]) -> str:
    """A catalog text with its plural choices made and its placeholders filled."""
    chosen = _PLURAL.sub(lambda m: m.group(2) if params.get(m.group(1)) == 1 else m.group(3), text)
    return chosen.format(**params)


class Texts:
    """One language's texts, with time formatting in the campus time zone."""

    def __init__(self, language: str, timezone: str = "Asia/Shanghai") -> None:
        self.language = language if language in LANGUAGES else FALLBACK
        self.zone = ZoneInfo(timezone)

    def __call__(self, key: str, /, **params: Any) -> str:
        """The text for `key`, formatted; a missing key falls back to English, then the key."""
        text = catalog(self.language).get(key) or catalog(FALLBACK).get(key)
        if text is None:
            return key
        return fill(text, params) if params else text

    def has(self, key: str) -> bool:
        """Whether the catalog knows `key`."""
        return key in catalog(self.language) or key in catalog(FALLBACK)

    def when(self, moment: datetime | None, fmt: str = "short") -> str:
        """A UTC moment shown in the campus time zone, in this language's style."""
        if moment is None:
            return "—"
        if moment.tzinfo is None:  # stored naive values are UTC by convention
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(self.zone)
        pattern = "yyyy-MM-dd HH:mm" if fmt == "short" else fmt
        return format_datetime(local, pattern, locale=BABEL_LOCALE[self.language])

    def event_note(self, action: str, note: str | None) -> str | None:
        """A timeline event's note as shown: a moment (TIMED_NOTES) in campus time in this
        language's style, any other note as written."""
        if not note or action not in TIMED_NOTES:
            return note
        try:
            moment = datetime.fromisoformat(note)
        except ValueError:
            return note
        return self.when(moment)

    def to_utc(self, local: datetime) -> datetime:
        """A naive campus-local moment (typed or picked by a user) to aware UTC."""
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def status(self, status: str) -> str:
        """A status's label."""
        return self(f"status.{status}")

    def category(self, key: str) -> str:
        """A category's label (with its icon)."""
        return self(f"category.{key}")
