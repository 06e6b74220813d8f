"""Parsing and checking a staff CSV (`telegram_id,name,role,campus,building`). Pure: no I/O.

One line is one grant: a role for a person, everywhere (campus and building empty), in a
campus, or in a building (named in its campus, or alone when the name is unique). Every
bad row is reported with its line number, so an operator fixes the file in one pass; the
places are checked against the database by `staff.import_staff`, just as strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

from store import roles
from store.db import max_length, table_of
from store.errors import StaffImportError
from store.lifecycle import Role
from store.models import Building, Campus, Person
from store.text import csv_lines

COLUMNS = ("telegram_id", "name", "role", "campus", "building")
TELEGRAM_ID_LIMIT = 2**53  # the Bot API: at most 52 significant bits


MAX_LENGTH = {
    "name": max_length(table_of(Person).c.name),
    "campus": max_length(table_of(Campus).c.name),
    "building": max_length(table_of(Building).c.name),
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


def _check(values: dict[str, str], line: int) -> StaffRow | list[str]:
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
    errors: list[tuple[int, str]] = []
    rows: list[StaffRow] = []
    first: dict[tuple[int, Role, str, str], int] = {}
    names: dict[int, tuple[str, int]] = {}
    for item in csv_lines(text, COLUMNS):
        line = item.line
        checked = _check(item.values, line) if item.problem is None else [item.problem]
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
    if errors:
        raise StaffImportError(errors)
    return rows
