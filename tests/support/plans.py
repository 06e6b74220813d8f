"""SQLite query plans of what a service call reads: the call runs once while its
ticket-reading SELECTs are recorded, then each is planned with EXPLAIN QUERY PLAN and its
very parameters (tests/integration/test_query_plans.py, test_board_lists_plans.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from store.uow import Store

# A plan that scans ticket (its table or a whole index), or walks the viewer's buildings
# and then every ticket their rooms ever had, costs in proportion to the history.
FULL_SCAN = re.compile(r"\bSCAN ticket\b")
ROOM_WALK = re.compile(r"SEARCH ticket USING (COVERING )?INDEX ix_ticket_room_category_status")


@contextmanager
def recorded(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The (statement, parameters) of every SELECT naming ticket made inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ticket" in statement:
            seen.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def plans(store: Store, call: Callable[[], Awaitable[Any]]) -> list[tuple[str, str]]:
    """(statement, its plan) for each ticket-reading statement the call made."""
    with recorded(store) as seen:
        await call()
    assert seen, "the call read no ticket at all"
    out = []
    async with store.engine.connect() as conn:
        for sql, params in seen:
            rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)).all()
            out.append((sql, "\n".join(str(r[-1]) for r in rows)))
    return out
