"""TEMPORARY dev-only plugin (`pytest -p tests.integration.conftest_tickets_tmp`).

sqlmodel 0.0.50 maps `datetime` fields to UTCDateTime, which refuses the naive-UTC
values every service writes (store/models.py's convention). Until store/models.py is
fixed, this plugin makes UTCDateTime store and return naive UTC so the ticket tests can
be developed. Not auto-loaded; delete once models.py declares naive datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel.sql.sqltypes import UTCDateTime


def _bind(self: Any, value: datetime | None, dialect: Any) -> datetime | None:
    if value is None or value.utcoffset() is None:
        return (
            value if dialect.name != "postgresql" or value is None else value.replace(tzinfo=UTC)
        )
    return (
        value.astimezone(UTC)
        if dialect.name == "postgresql"
        else value.astimezone(UTC).replace(tzinfo=None)
    )


def _result(self: Any, value: datetime | None, dialect: Any) -> datetime | None:
    if value is None or value.utcoffset() is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


UTCDateTime.process_bind_param = _bind  # type: ignore[method-assign]
UTCDateTime.process_result_value = _result  # type: ignore[method-assign]
