"""The day summaries (store.reporting.summaries) on both engines: the roll-up changes no
figure, the reports read a summarized ticket from its day's summary and not from its row
(except on the partial days at a period's ends), two roll-ups at once count each ticket
once, a changed campus zone starts the summaries again, and a summarized ticket can no
longer be changed in anything a figure reads.

The tickets are test_stats' scenario, driven through the real services.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from store.domain.tickets import load, write
from store.models import DaySummary, Ticket
from store.reporting import digest, summaries
from store.reporting.figures import office_stats, period_stats
from store.reporting.periods import as_utc
from store.uow import Store
from tests.support.stats_scenario import END, T0, Scenario, build

# Whole campus days on either side of the scenario: every moment in a summarized day.
WIDE = {"start": T0 - timedelta(days=2), "end": END + timedelta(days=2)}


async def roll_up(store: Store, limit: int = 2) -> int:
    """Run the roll-up to the end, `limit` tickets a batch; how many batches summarized."""
    batches = 0
    while (await summaries.summarize_batch(store.uow(), limit=limit)).last_id is not None:
        batches += 1
    return batches


async def figures(w: Scenario) -> list[Any]:
    """Everything the reports show, for every kind of viewer, over a wide period, the
    scenario's own period (partial days at both ends) and a digest day."""
    out: list[Any] = []
    for viewer in (w.sup_e1, w.sup_e2, w.dana, w.ada):
        for period in (WIDE, {"start": T0, "end": END}):
            out.append(await period_stats(w.store.uow(), viewer_id=viewer, **period))
        out.append(
            await digest.digest_figures(
                w.store.uow(),
                viewer_id=viewer,
                day=(T0 + timedelta(days=1)).astimezone(digest_zone(w)).date(),
                zone=digest_zone(w),
            )
        )
    return out


def digest_zone(w: Scenario) -> ZoneInfo:
    return ZoneInfo(w.store.policy.timezone)


async def summary_rows(store: Store) -> tuple[int, int]:
    """(rows, contributions) in the day summaries."""
    async with store.engine.connect() as conn:
        n, total = (
            await conn.execute(
                select(func.count(), func.coalesce(func.sum(DaySummary.tickets), 0))
            )
        ).one()
    return int(n), int(total)


async def test_the_roll_up_changes_no_figure(store: Store) -> None:
    w = await build(store)
    before = await figures(w)
    assert await summaries.pending(store.uow()) == 6  # t1-t4, t7 closed; t8 cancelled
    assert await roll_up(store) == 1 + 3  # the first run records the zone; 2 tickets a batch
    assert await summaries.pending(store.uow()) == 0
    rows, contributions = await summary_rows(store)
    assert rows > 0 and contributions >= 6
    assert await figures(w) == before
    # Nothing left to do: a further run changes nothing.
    assert await roll_up(store) == 0
    assert await summary_rows(store) == (rows, contributions)


async def test_a_summarized_ticket_is_read_from_its_summary_except_on_a_partial_day(
    store: Store,
) -> None:
    w = await build(store)
    await roll_up(store)
    wide = await office_stats(store.uow(), viewer_id=w.sup_e1, **WIDE)
    edge = await office_stats(store.uow(), viewer_id=w.sup_e1, start=T0, end=END)
    # Behind the reports' back (no service can do this), t1's five stars become one.
    async with store.engine.begin() as conn:
        await conn.execute(
            update(Ticket).where(col(Ticket.id) == w.tickets["t1"]).values(rating=1)
        )
    # Over whole days the summary answers: the row is not read.
    assert await office_stats(store.uow(), viewer_id=w.sup_e1, **WIDE) == wide
    # T0 is mid-afternoon on the campus, so the scenario's own period starts on a partial
    # day, which is read from the rows: there the change shows.
    changed = await office_stats(store.uow(), viewer_id=w.sup_e1, start=T0, end=END)
    assert changed.low_ratings == edge.low_ratings + 1
    assert changed.average_rating is not None and edge.average_rating is not None
    assert changed.average_rating < edge.average_rating


async def test_two_roll_ups_at_once_count_each_ticket_once(store: Store) -> None:
    w = await build(store)
    before = await figures(w)
    await asyncio.gather(roll_up(store, limit=1), roll_up(store, limit=1), roll_up(store))
    assert await summaries.pending(store.uow()) == 0
    # Each summarized ticket adds one contribution per campus day it touched.
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    col(Ticket.created_at), col(Ticket.accepted_at), col(Ticket.completed_at)
                ).where(col(Ticket.summarized))
            )
        ).all()
    zone = digest_zone(w)
    expected = sum(
        len({as_utc(m).astimezone(zone).date() for m in row if m is not None}) for row in rows
    )
    assert (await summary_rows(store))[1] == expected
    assert await figures(w) == before


async def test_a_new_campus_zone_starts_the_summaries_again(store: Store) -> None:
    w = await build(store)
    before = await figures(w)
    await roll_up(store)
    assert (await summary_rows(store))[0] > 0
    store.policy = dataclasses.replace(store.policy, timezone="Europe/London")
    # Until the job has started again, the reports read every row: the Shanghai days
    # of the summaries are not London's.
    moved = await figures(w)
    first = await summaries.summarize_batch(store.uow())
    assert first.last_id == 0  # the restart is a batch of its own
    assert await summary_rows(store) == (0, 0)
    assert await summaries.pending(store.uow()) == 6
    assert await figures(w) == moved
    await roll_up(store)
    assert await figures(w) == moved
    store.policy = dataclasses.replace(store.policy, timezone="Asia/Shanghai")
    await roll_up(store)
    assert await figures(w) == before


async def test_a_summarized_ticket_cannot_change_what_a_figure_reads(store: Store) -> None:
    w = await build(store)
    await roll_up(store)
    async with store.uow() as uow:
        ctx = await load(uow, w.tickets["t1"], None)
        assert ctx.ticket.summarized
        with pytest.raises(RuntimeError, match="summarized"):
            await write(uow, ctx, "test", rating=1)
        # What no figure reads may still change (the requester's comment on the stars).
        await write(uow, ctx, "comment", rating_comment="thanks")
        await uow.commit()
