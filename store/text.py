"""Free text on its way into the store: one normal form, whatever the database.

PostgreSQL refuses NUL in text (asyncpg raises) while SQLite stores it, and a name typed
as "e + combining accent" would not match one typed as "é". So every text a person types
(names, room codes, descriptions, reasons, complaints, comments) passes `normalise` once,
and both databases store, and compare, the same thing. Names with numbers in them sort
as people read them (`natural_key`).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class CsvLine:
    """One data line of an operator's CSV file: its values by column (stripped, NFC, as
    everywhere text enters the store), or what is wrong with it instead."""

    line: int
    values: dict[str, str]
    problem: str | None = None


def csv_lines(text: str, columns: tuple[str, ...]) -> Iterator[CsvLine]:
    """The data lines of a CSV file with a header naming `columns` (case-blind, any order,
    other columns ignored; a UTF-8 BOM and blank lines skipped). A line with the wrong
    number of columns comes with its problem; a missing or unfit header, or a malformed
    file, is one last line with the problem, and nothing follows it."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            yield CsvLine(1, {}, f"file is empty; expected a header {','.join(columns)}")
            return
        positions = _csv_columns(header, columns)
        if isinstance(positions, str):
            yield CsvLine(reader.line_num, {}, positions)
            return
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue  # blank lines are harmless; spreadsheets like to add them
            if len(fields) != len(header):
                problem = f"expected {len(header)} columns, got {len(fields)}"
                yield CsvLine(reader.line_num, {}, problem)
                continue
            values = {
                c: unicodedata.normalize("NFC", fields[positions[c]].strip()) for c in columns
            }
            yield CsvLine(reader.line_num, values)
    except csv.Error as exc:
        yield CsvLine(reader.line_num, {}, f"malformed CSV: {exc}")


def _csv_columns(header: list[str], columns: tuple[str, ...]) -> dict[str, int] | str:
    """Where each of `columns` is in a CSV header, or the one-line reason it will not do."""
    names = [name.strip().lower() for name in header]
    missing = [c for c in columns if c not in names]
    if missing:
        return f"header must name the columns {','.join(columns)}; missing {', '.join(missing)}"
    duplicated = sorted({n for n in names if n in columns and names.count(n) > 1})
    if duplicated:
        return f"column {', '.join(duplicated)} appears twice in the header"
    return {c: names.index(c) for c in columns}
