"""Drafts kept in memory between steps: still stored at every step, never overwriting a
newer draft written elsewhere, and a report step that reads nothing from the database.

Two Stores on one database stand for two bot instances (several may share PostgreSQL),
or for the bot before and after a restart.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from store.db import create_engine
from store.errors import DraftChanged, NotFound
from store.intake import drafts
from store.intake.drafts import DraftView
from store.intake.report import report
from store.uow import Store
from tests.support.world import make_env, report_with_key


def statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine runs from now on."""
    seen: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(store.engine.sync_engine, "before_cursor_execute", on_execute)
    return seen


async def test_a_step_reads_nothing_and_writes_one_row(store: Store) -> None:
    env = await make_env(store)
    st, person = env.store, env.world.requester
    await drafts.save_draft(st.uow(), person, DraftView("category", {"room_id": 1}))
    sql = statements(st)
    draft = await drafts.get_draft(st.uow(), person)
    assert draft is not None and draft.step == "category"
    draft.data["category"] = "water"
    await drafts.save_draft(st.uow(), person, DraftView("description", draft.data))
    assert "SELECT" not in sql
    assert sql.count("UPDATE") == 1


async def test_every_step_is_stored_and_survives_a_restart(store: Store, db_url: str) -> None:
    env = await make_env(store)
    st, person = env.store, env.world.requester
    await drafts.save_draft(st.uow(), person, DraftView("category", {"room_id": 1}))
    await drafts.save_draft(
        st.uow(), person, DraftView("description", {"room_id": 1, "category": "water"})
    )
    restarted = Store(create_engine(db_url), st.policy, st.clock)
    try:
        draft = await drafts.get_draft(restarted.uow(), person)
    finally:
        await restarted.dispose()
    assert draft is not None
    assert (draft.step, draft.data["category"]) == ("description", "water")


async def test_a_draft_written_elsewhere_is_not_overwritten(store: Store, db_url: str) -> None:
    env = await make_env(store)
    st, person = env.store, env.world.requester
    await drafts.save_draft(st.uow(), person, DraftView("category", {"room_id": 1}))
    mine = await drafts.get_draft(st.uow(), person)
    assert mine is not None
    other = Store(create_engine(db_url), st.policy, st.clock)
    try:
        theirs = await drafts.get_draft(other.uow(), person)
        assert theirs is not None
        theirs.data["category"] = "power"
        await drafts.save_draft(other.uow(), person, DraftView("description", theirs.data))

        mine.data["category"] = "water"
        with pytest.raises(DraftChanged):
            await drafts.save_draft(st.uow(), person, DraftView("description", mine.data))
        # The newer draft stands, and this process now sees it.
        now = await drafts.get_draft(st.uow(), person)
        assert now is not None and now.data["category"] == "power"
        # Going on from what it sees now works.
        now.data["description"] = "No power in the room."
        await drafts.save_draft(st.uow(), person, DraftView("photos", now.data))
        stored = await drafts.get_draft(other.uow(), person)
    finally:
        await other.dispose()
    # `other` had it cached; a fresh Store reads the database.
    fresh = Store(create_engine(db_url), st.policy, st.clock)
    try:
        stored = await drafts.get_draft(fresh.uow(), person)
    finally:
        await fresh.dispose()
    assert stored is not None and stored.step == "photos"
    assert stored.data["description"] == "No power in the room."


async def test_a_first_draft_started_in_two_places_keeps_the_first(
    store: Store, db_url: str
) -> None:
    env = await make_env(store)
    st, person = env.store, env.world.requester
    other = Store(create_engine(db_url), st.policy, st.clock)
    try:
        assert await drafts.get_draft(st.uow(), person) is None
        assert await drafts.get_draft(other.uow(), person) is None
        await drafts.save_draft(other.uow(), person, DraftView("category", {"room_id": 2}))
        with pytest.raises(DraftChanged):
            await drafts.save_draft(st.uow(), person, DraftView("category", {"room_id": 1}))
    finally:
        await other.dispose()
    draft = await drafts.get_draft(st.uow(), person)
    assert draft is not None and draft.data["room_id"] == 2


async def test_filing_replaces_the_cached_draft_with_its_marker(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await drafts.save_draft(st.uow(), w.requester, DraftView("summary", {"room_id": w.room_a1}))
    draft = await drafts.get_draft(st.uow(), w.requester)
    assert draft is not None
    filed = await report(
        st.uow(), report_with_key(w, draft.data[drafts.KEY]), draft_owner=w.requester
    )
    assert await drafts.get_draft(st.uow(), w.requester) is None
    marker = await drafts.filed_draft(st.uow(), w.requester)
    assert marker is not None and marker.number == filed.ticket.number
    await drafts.acknowledge_filed(st.uow(), w.requester)
    seen = await drafts.filed_draft(st.uow(), w.requester)
    assert seen is not None and seen.acknowledged
    # A new report after the filing starts from nothing and is stored as usual.
    await drafts.save_draft(st.uow(), w.requester, DraftView("category", {"room_id": 1}))
    again = await drafts.get_draft(st.uow(), w.requester)
    assert again is not None and again.data[drafts.KEY] != draft.data[drafts.KEY]


async def test_a_failed_filing_keeps_the_draft(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await drafts.save_draft(st.uow(), w.requester, DraftView("summary", {"room_id": w.room_a1}))
    draft = await drafts.get_draft(st.uow(), w.requester)
    assert draft is not None
    with pytest.raises(NotFound):  # the category was retired meanwhile
        await report(
            st.uow(),
            report_with_key(w, draft.data[drafts.KEY], category="no-such-category"),
            draft_owner=w.requester,
        )
    kept = await drafts.get_draft(st.uow(), w.requester)
    assert kept is not None and kept.data == draft.data
