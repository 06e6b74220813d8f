"""Filing is idempotent on its submission key, and the draft goes with the filing.

A second Confirm of one draft, two Confirms at once (each its own connection), a retry
of a booth filing: one ticket each time, and the later ones answer with that ticket.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func
from sqlmodel import select

from store.intake import booth, drafts
from store.intake.drafts import DraftView
from store.intake.report import report
from store.lifecycle import Role, Status
from store.models import ClaimCode, Outbox, Ticket
from store.uow import Store
from tests.support.races import warm_pool
from tests.support.world import make_env, make_person, report_with_key


async def count(store: Store, model: type[Ticket] | type[ClaimCode]) -> int:
    async with store.uow() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
        )


async def received_notices(store: Store) -> int:
    async with store.uow() as uow:
        rows = await uow.session.execute(
            select(func.count()).select_from(Outbox).where(Outbox.kind == "ticket.received")
        )
        return int(rows.scalar_one())


async def test_a_draft_is_filed_once_and_becomes_its_tickets_marker(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await drafts.save_draft(st.uow(), w.requester, DraftView("summary", {"room_id": w.room_a1}))
    draft = await drafts.get_draft(st.uow(), w.requester)
    assert draft is not None
    key = draft.data[drafts.KEY]
    assert key.startswith("draft:")

    first = await report(st.uow(), report_with_key(w, key), draft_owner=w.requester)
    assert not first.already_filed and first.ticket.status is Status.DISPATCHING
    # The draft is gone in the same transaction; what is left names the ticket.
    assert await drafts.get_draft(st.uow(), w.requester) is None
    marker = await drafts.filed_draft(st.uow(), w.requester)
    assert marker == drafts.FiledDraft(first.ticket.id, first.ticket.number, False)

    second = await report(st.uow(), report_with_key(w, key), draft_owner=w.requester)
    assert second.already_filed and second.ticket.id == first.ticket.id
    assert await count(st, Ticket) == 1
    assert await received_notices(st) == 1  # nobody is told twice

    # A new draft gets a new key and files a new ticket.
    await drafts.save_draft(st.uow(), w.requester, DraftView("summary", {}))
    fresh = await drafts.get_draft(st.uow(), w.requester)
    assert fresh is not None and fresh.data[drafts.KEY] != key
    assert await drafts.filed_draft(st.uow(), w.requester) is None
    third = await report(st.uow(), report_with_key(w, fresh.data[drafts.KEY]))
    assert not third.already_filed and await count(st, Ticket) == 2


async def test_two_confirms_at_once_file_one_ticket(store: Store) -> None:
    """Each Confirm on its own connection: on PostgreSQL the second INSERT waits on the
    unique key and fails, and that Confirm answers with the first one's ticket."""
    env = await make_env(store)
    st, w = env.store, env.world
    await warm_pool(st, 3)
    for round_ in range(10):
        key = f"draft:race-{round_}"
        results = await asyncio.gather(
            *(report(st.uow(), report_with_key(w, key)) for _ in range(3))
        )
        assert sorted(r.already_filed for r in results) == [False, True, True]
        assert len({r.ticket.id for r in results}) == 1
    assert await count(st, Ticket) == 10
    assert await received_notices(st) == 10


async def test_a_booth_filing_sent_twice_files_once(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    bea = (await make_person(st, Role.INSPECTOR, name="Bea", buildings=[w.building_a])).id
    await drafts.save_draft(st.uow(), bea, DraftView("summary", {"walkup": {"name": "Wang"}}))
    draft = await drafts.get_draft(st.uow(), bea)
    assert draft is not None
    new = report_with_key(w, draft.data[drafts.KEY])

    first = await booth.file_walkup(
        st.uow(), staff_id=bea, name="Wang Wei", phone=None, new=new, draft_owner=bea
    )
    assert first.code and not first.report.already_filed
    assert await drafts.get_draft(st.uow(), bea) is None
    again = await booth.file_walkup(
        st.uow(), staff_id=bea, name="Wang Wei", phone=None, new=new, draft_owner=bea
    )
    # The same ticket; no second walk-up person, ticket or claim code.
    assert again.report.already_filed and again.report.ticket.id == first.report.ticket.id
    assert again.code == ""
    assert (await count(st, Ticket), await count(st, ClaimCode)) == (1, 1)
