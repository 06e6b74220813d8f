"""Parsing and checking a staff CSV (`telegram_id,name,role,campus,building`). Pure: no I/O.

One line is one grant: a role for a person, everywhere (campus and building empty), in a
campus, or in a building (named in its campus, or alone when the name is unique). Every
bad row is reported with its line number, so an operator fixes the file in one pass; the
places are checked against the database by `staff.import_staff`, just as strictly.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

from store import roles
from store.db import table_of
from store.errors import StaffImportError
from store.lifecycle import Role
from store.models import Building, Campus, Person
from store.text import csv_columns

COLUMNS = ("telegram_id", "name", "role", "campus", "building")
TELEGRAM_ID_LIMIT = 2**53  # the Bot API: at most 52 significant bits


def _length(column: object) -> int:
    """The VARCHAR length the model declares."""
    length = getattr(getattr(column, "type", None), "length", None)
    assert isinstance(length, int), f"{column} has no max_length"
    return length


MAX_LENGTH = {
    "name": _length(table_of(Person).c.name),
    "campus": _length(table_of(Campus).c.name),
    "building": _length(table_of(Building).c.name),
}


@dataclass(frozen=True, slots=True)
class StaffRow:
    """One checked line of a staff file; empty campus and building: everywhere."""

    telegram_id: int
    name: str
    role: Role
    campus: str
    building: str
    line: int = 0


def _check(
    fields: list[str], positions: dict[str, int], width: int, line: int
) -> StaffRow | list[str]:
    if len(fields) != width:
        return [f"expected {width} columns, got {len(fields)}"]
    values = {c: unicodedata.normalize("NFC", fields[positions[c]].strip()) for c in COLUMNS}
    problems = []
    raw_id = values["telegram_id"]
    telegram_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else 0
    if not 1 <= telegram_id < TELEGRAM_ID_LIMIT:
        problems.append(f"telegram_id {raw_id!r} is not a Telegram user id")
    staff_roles = sorted(str(r) for r in roles.STAFF)
    role = values["role"].lower()
    if role not in staff_roles:
        problems.append(f"role {values['role']!r} is not one of {', '.join(staff_roles)}")
    for column, limit in MAX_LENGTH.items():
        value = values[column]
        if len(value) > limit:
            problems.append(f"{column} is {len(value)} characters long; the limit is {limit}")
        elif any(ch < " " for ch in value):
            problems.append(f"{column} contains a control character")
    if problems:
        return problems
    return StaffRow(
        telegram_id, values["name"], Role(role), values["campus"], values["building"], line
    )


def parse_staff_csv(text: str) -> list[StaffRow]:
    """Parse and check a staff file; StaffImportError lists every bad row."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: list[tuple[int, str]] = []
    rows: list[StaffRow] = []
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            raise StaffImportError([(1, f"file is empty; expected a header {','.join(COLUMNS)}")])
        positions = csv_columns(header, COLUMNS)
        if isinstance(positions, str):
            raise StaffImportError([(reader.line_num, positions)])
        first: dict[tuple[int, Role, str, str], int] = {}
        names: dict[int, tuple[str, int]] = {}
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue  # blank lines are harmless; spreadsheets like to add them
            checked = _check(fields, positions, len(header), line)
            if isinstance(checked, list):
                errors.extend((line, problem) for problem in checked)
                continue
            key = (
                checked.telegram_id,
                checked.role,
                checked.campus.casefold(),
                checked.building.casefold(),
            )
            if key in first:
                errors.append((line, f"the same grant as line {first[key]}"))
                continue
            first[key] = line
            if checked.name:
                named = names.setdefault(checked.telegram_id, (checked.name, line))
                if named[0] != checked.name:
                    errors.append(
                        (line, f"{checked.telegram_id} is named {named[0]!r} on line {named[1]}")
                    )
                    continue
            rows.append(checked)
    except csv.Error as exc:
        errors.append((reader.line_num, f"malformed CSV: {exc}"))
    if errors:
        raise StaffImportError(errors)
    return rows
