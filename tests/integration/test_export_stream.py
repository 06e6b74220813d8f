"""The export streams: a big period comes out of the database a batch at a time, through a
server-side cursor, and every row still reaches the writer in order, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import QueuePool, event, insert
from sqlmodel import col, select

from store.models import Ticket
from store.reporting.export import ExportRow, export_rows, stream_export
from store.uow import Store
from tests.support.stats_scenario import PERIOD, Scenario, build

EXTRA = 400  # copies of a filed ticket, on top of the scenario's eight in E1
BATCH = 64


@pytest.fixture
async def world(store: Store) -> Scenario:
    world = await build(store)
    async with store.uow() as uow:
        first = (
            await uow.session.execute(select(Ticket).where(col(Ticket.id) == world.tickets["t1"]))
        ).scalar_one()
        base = {name: getattr(first, name) for name in Ticket.model_fields}
        del base["id"]
        base["source_draft_id"] = None
        await uow.session.execute(
            insert(Ticket),
            [{**base, "number": f"2026-9{i:05d}"} for i in range(EXTRA)],
        )
        await uow.commit()
    return world


class FetchSpy:
    """What the export's query asked of the database driver: each fetch and its size."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fetched: list[int] = []
        self.fetched_all = False
        self.cursors: list[type[Any]] = []
        self.monkeypatch = monkeypatch
        self.engine = store.engine.sync_engine
        event.listen(self.engine, "before_cursor_execute", self.spy)

    def spy(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "ORDER BY ticket.created_at" not in statement:
            return
        # SQLAlchemy's async adapters mark a server-side cursor `server_side`; a plain
        # one has every row in memory once the statement has run.
        cls = type(cursor)
        self.cursors.append(cls)
        fetchmany, fetchall = cls.fetchmany, cls.fetchall
        spy = self

        def counted_fetchmany(self: Any, size: int | None = None) -> Any:
            rows = fetchmany(self, size)
            spy.fetched.append(len(rows))
            return rows

        def counted_fetchall(self: Any) -> Any:
            spy.fetched_all = True
            return fetchall(self)

        self.monkeypatch.setattr(cls, "fetchmany", counted_fetchmany)
        self.monkeypatch.setattr(cls, "fetchall", counted_fetchall)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self.spy)


async def test_an_export_of_many_rows_is_read_and_handed_on_in_bounded_batches(
    world: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = await export_rows(world.store.uow(), viewer_id=world.sup_e1, **PERIOD)
    assert len(whole) == 8 + EXTRA
    batches: list[list[ExportRow]] = []

    async def write(batch: list[ExportRow]) -> None:
        batches.append(batch)

    spy = FetchSpy(world.store, monkeypatch)
    try:
        count = await stream_export(
            world.store.read(), viewer_id=world.sup_e1, write=write, batch_size=BATCH, **PERIOD
        )
    finally:
        spy.close()
    assert count == len(whole)
    assert [r for batch in batches for r in batch] == whole  # every row, oldest first
    assert all(0 < len(batch) <= BATCH for batch in batches)
    assert len(batches) == -(-len(whole) // BATCH)
    # The driver handed the rows over a batch at a time, never the whole result at once.
    assert len(spy.cursors) == 1 and spy.cursors[0].server_side
    assert spy.fetched and max(spy.fetched) <= BATCH and not spy.fetched_all
    assert sum(spy.fetched) == len(whole)


async def test_a_failing_writer_stops_the_export_and_frees_the_database(
    world: Scenario,
) -> None:
    seen: list[int] = []

    async def write(batch: list[ExportRow]) -> None:
        seen.append(len(batch))
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await stream_export(
            world.store.read(), viewer_id=world.sup_e1, write=write, batch_size=BATCH, **PERIOD
        )
    assert seen == [BATCH]
    # The read unit is closed: its connection is back in the pool, no cursor left open.
    pool = world.store.engine.pool
    assert isinstance(pool, QueuePool) and pool.checkedout() == 0
