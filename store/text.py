"""Free text on its way into the store: one normal form, whatever the database.

PostgreSQL refuses NUL in text (asyncpg raises) while SQLite stores it, and a name typed
as "e + combining accent" would not match one typed as "é". So every text a person types
(names, room codes, descriptions, reasons, complaints, comments) passes `normalise` once,
and both databases store, and compare, the same thing. Names with numbers in them sort
as people read them (`natural_key`).
"""

from __future__ import annotations

import re
import unicodedata

# Telegram's own ceiling for a message's text: nothing longer can arrive from the chat,
# so it is the last-resort limit for fields without a stricter one of their own.
TEXT_MAX = 4096
# Unicode's control characters (category Cc: U+0000-U+001F and U+007F-U+009F) but newline
# and tab, and lone surrogates (Cs), which no UTF-8 database can store. Private-use and
# unassigned code points stay: they are real user text (new emoji).
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def normalise(value: str | None, limit: int = TEXT_MAX) -> str | None:
    """NFC, control characters (other than newline and tab) removed, surrounding space
    stripped, at most `limit` characters; None for nothing left."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", _UNWANTED.sub("", value)).strip()
    return text[:limit].rstrip() or None


def normalise_key(value: str, limit: int = TEXT_MAX) -> str:
    """A typed look-up key (room code, building or campus name, claim code): like
    `normalise`, but "" rather than None, so callers can compare and query it at once."""
    return normalise(value, limit) or ""


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders "2" before "10" and "B2" before "B10"."""
    parts = re.split(r"(\d+)", text.casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def csv_columns(header: list[str], columns: tuple[str, ...]) -> dict[str, int] | str:
    """Where each of `columns` is in a CSV header (names matched case-blind, any order), or
    the one-line reason the header will not do: a column missing or named twice."""
    names = [name.strip().lower() for name in header]
    missing = [c for c in columns if c not in names]
    if missing:
        return f"header must name the columns {','.join(columns)}; missing {', '.join(missing)}"
    duplicated = sorted({n for n in names if n in columns and names.count(n) > 1})
    if duplicated:
        return f"column {', '.join(duplicated)} appears twice in the header"
    return {c: names.index(c) for c in columns}
