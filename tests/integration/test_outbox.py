"""The outbox's bookkeeping: what is due, sent, retried, postponed, or given up."""

from __future__ import annotations

from datetime import timedelta

from store.delivery import outbox
from store.delivery.outbox import MAX_ATTEMPTS
from store.domain.notices import notify
from store.repair import queries
from store.uow import Store
from tests.support.rows import outbox_rows, person_row, send_due
from tests.support.world import Env, file_ticket, make_env


async def _queue(
    env: Env, recipient: int, kind: str, due_in: timedelta, ticket_id: int | None = None
) -> int:
    """One notice written the way services write them; returns its id."""
    async with env.store.uow() as uow:
        notify(uow, recipient, kind, {"n": kind}, ticket_id=ticket_id, due_at=uow.now() + due_in)
        await uow.commit()
    return (await outbox_rows(env.store, kind=kind))[-1].id or 0


async def _due(st: Store) -> list[int]:
    """The ids the sender would read now: each chat's next due notice."""
    return [n.id for n in await outbox.next_per_chat(st.uow(), limit=1000)]


async def test_due_notices_are_oldest_due_first_and_only_when_due(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    ticket = (await file_ticket(st, w)).ticket
    firsts: dict[int, int] = {}  # each chat's first notice: the one the sender reads
    for row in await outbox_rows(st):
        firsts.setdefault(row.recipient_id, row.id or 0)
    filed = sorted(firsts.values())  # all due at filing time: oldest written first
    overdue = await _queue(env, w.neighbour, "digest.overdue", -timedelta(minutes=5))
    later = await _queue(env, w.stranger, "reminder.later", timedelta(minutes=10))

    due = await outbox.next_per_chat(st.uow(), limit=1000)
    assert [n.id for n in due] == [overdue, *filed]
    first = next(n for n in due if n.kind == "ticket.received")
    requester = await person_row(st, w.requester)
    assert (first.recipient_id, first.telegram_id, first.language, first.attempts) == (
        w.requester,
        requester.telegram_id,
        "en",
        0,
    )
    assert (first.ticket_id, first.payload["number"]) == (ticket.id, ticket.number)
    assert [n.id for n in await outbox.next_per_chat(st.uow(), limit=2)] == [overdue, filed[0]]

    clock.advance(timedelta(minutes=10))
    assert (await _due(st))[-1] == later


async def test_mark_sent_keeps_the_delivery_ref_and_stops_resending(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    ticket = (await file_ticket(st, w)).ticket
    offer = (await outbox_rows(st, kind="offer.new", recipient=w.tom))[0]
    assert offer.id is not None
    assert await outbox.delivery_ref(st.uow(), w.tom, ticket.id, "offer.new") is None

    clock.advance(timedelta(seconds=3))
    await outbox.mark_sent(st.uow(), offer.id, 4242)
    row = (await outbox_rows(st, kind="offer.new", recipient=w.tom))[0]
    assert (row.sent_at, row.attempts, row.delivery_ref, row.failed_at) == (
        clock.now,
        1,
        4242,
        None,
    )
    assert offer.id not in await _due(st)
    assert await outbox.delivery_ref(st.uow(), w.tom, ticket.id, "offer.new") == 4242
    assert await outbox.delivery_ref(st.uow(), w.ann, ticket.id, "offer.new") is None
    assert await outbox.delivery_ref(st.uow(), w.tom, ticket.id, "offer.taken") is None

    # a later notice of the same kind wins the lookup
    newer = await _queue(env, w.tom, "offer.new", timedelta(0), ticket_id=ticket.id)
    await outbox.mark_sent(st.uow(), newer, 5000)
    assert await outbox.delivery_ref(st.uow(), w.tom, ticket.id, "offer.new") == 5000


async def test_mark_retry_backs_off_then_gives_up(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    notice = await _queue(env, w.requester, "ticket.received", timedelta(0))
    for attempt in range(1, MAX_ATTEMPTS):
        again = await outbox.mark_retry(
            st.uow(), notice, f"502 Bad Gateway #{attempt}", timedelta(seconds=30 * attempt)
        )
        assert again is True
        row = (await outbox_rows(st, kind="ticket.received"))[-1]
        assert (row.attempts, row.due_at, row.failed_at) == (
            attempt,
            clock.now + timedelta(seconds=30 * attempt),
            None,
        )
        assert row.last_error == f"502 Bad Gateway #{attempt}"
        assert notice not in await _due(st)
        clock.advance(timedelta(seconds=30 * attempt))
        assert notice in await _due(st)

    assert await outbox.mark_retry(st.uow(), notice, "x" * 900, timedelta(seconds=30)) is False
    row = (await outbox_rows(st, kind="ticket.received"))[-1]
    assert (row.attempts, row.failed_at, row.sent_at) == (MAX_ATTEMPTS, clock.now, None)
    assert row.last_error == "x" * 500
    clock.advance(timedelta(days=1))
    assert notice not in await _due(st)
    assert await outbox.mark_retry(st.uow(), 999_999, "gone", timedelta(seconds=1)) is False


async def test_postpone_counts_no_attempt(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    notice = await _queue(env, w.requester, "ticket.received", timedelta(0))
    until = clock.now + timedelta(seconds=7)
    await outbox.postpone(st.uow(), notice, until)
    row = (await outbox_rows(st, kind="ticket.received"))[-1]
    assert (row.due_at, row.attempts, row.last_error) == (until, 0, None)
    clock.advance(timedelta(seconds=6))
    assert notice not in await _due(st)
    clock.advance(timedelta(seconds=1))
    assert notice in await _due(st)


async def test_mark_unreachable_stops_every_pending_notice_of_that_person(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    ticket = (await file_ticket(st, w)).ticket
    mine = await outbox_rows(st, recipient=w.requester)  # received, dispatching
    assert [r.kind for r in mine] == ["ticket.received", "ticket.dispatching"]
    first, second = (r.id or 0 for r in mine)
    await outbox.mark_sent(st.uow(), first, 11)
    reminder = await _queue(env, w.requester, "reminder", timedelta(hours=5))
    others = [r.id or 0 for r in await outbox_rows(st) if r.recipient_id != w.requester]

    clock.advance(timedelta(seconds=1))
    given_up = await outbox.mark_unreachable(st.uow(), second, "403 bot was blocked by the user")
    assert sorted(given_up) == [reminder]
    assert await outbox_rows(st, kind="staff.unreachable") == []  # a requester is no staff
    rows = {r.id: r for r in await outbox_rows(st)}
    assert (rows[first].sent_at, rows[first].failed_at) == (clock.now - timedelta(seconds=1), None)
    for notice in (second, reminder):
        assert rows[notice].failed_at == clock.now
        assert rows[notice].last_error == "403 bot was blocked by the user"
    for other in others:
        assert rows[other].failed_at is None
    assert (await person_row(st, w.requester)).unreachable_since == clock.now
    sent = await send_due(st)
    assert w.requester not in {n.recipient_id for n in sent}
    assert {n.id for n in sent} == set(others)

    # a second refusal keeps the first moment; nothing is left to give up
    clock.advance(timedelta(minutes=1))
    assert await outbox.mark_unreachable(st.uow(), second, "403 again") == []
    assert (await person_row(st, w.requester)).unreachable_since == clock.now - timedelta(
        minutes=1
    )
    assert await outbox.mark_unreachable(st.uow(), 999_999, "no such notice") == []
    assert ticket.id is not None


async def test_unreachable_technicians_get_no_offers_until_reachable(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    await file_ticket(st, w)
    offer = (await outbox_rows(st, kind="offer.new", recipient=w.tom))[0]
    mark = (await outbox_rows(st))[-1].id or 0
    await outbox.mark_unreachable(st.uow(), offer.id or 0, "403 Forbidden")
    # the dispatchers learn that a technician can no longer be reached, once
    staff = await outbox_rows(st, after=mark, kind="staff.unreachable")
    assert sorted(r.recipient_id for r in staff) == sorted([w.dana, w.ada])
    assert {r.payload["name"] for r in staff} == {"Tom"}
    await outbox.mark_unreachable(st.uow(), offer.id or 0, "403 Forbidden")
    assert len(await outbox_rows(st, after=mark, kind="staff.unreachable")) == 2

    result = await file_ticket(st, w)
    assert result.offered_to == [w.ann]
    assert {
        r.recipient_id for r in await outbox_rows(st, ticket_id=result.ticket.id, kind="offer.new")
    } == {w.ann}
    loads = await queries.on_duty_technicians(st.uow(), w.room_a1, "water")
    assert [(x.person_id, x.reachable) for x in loads] == [(w.ann, True), (w.tom, False)]

    await outbox.mark_reachable(st.uow(), w.tom)
    assert (await person_row(st, w.tom)).unreachable_since is None
    again = await file_ticket(st, w)
    assert again.offered_to == [w.tom, w.ann]
    await outbox.mark_reachable(st.uow(), w.tom)  # already reachable: nothing happens
    assert (await person_row(st, w.tom)).unreachable_since is None


async def test_a_chats_notices_go_in_the_order_they_were_written(store: Store) -> None:
    """A notice handed back (a direct reply took the chat's second), postponed by a 429 or
    waiting for a retry keeps its place: the ones written after it wait. Only reminders
    written ahead for later stand aside until their time."""
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    reminder = await _queue(env, w.requester, "job.promise_reminder", timedelta(hours=1))
    first = await _queue(env, w.requester, "first.notice", timedelta(0))
    second = await _queue(env, w.requester, "second.notice", timedelta(0))

    def ids(notices: list[outbox.Notice]) -> list[int]:
        return [n.id for n in notices if n.recipient_id == w.requester]

    # The reminder for later does not hold up what is due now.
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == [first]
    # Claimed, then handed back unsent: due again "now", later than `second` was.
    assert await outbox.claim_many(st.uow(), [first], timedelta(minutes=1)) == {first}
    clock.advance(timedelta(seconds=5))
    await outbox.release(st.uow(), [first])
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == [first]
    # Waiting for a retry, or postponed by flood control: nothing of that chat goes.
    await outbox.mark_retry(st.uow(), first, "timed out", timedelta(seconds=30))
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == []
    clock.advance(timedelta(seconds=31))
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == [first]
    await outbox.postpone(st.uow(), first, clock.now + timedelta(seconds=10))
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == []
    await outbox.mark_sent(st.uow(), first, None)
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == [second]
    # Once due, the reminder written before `second` goes first.
    clock.advance(timedelta(hours=1))
    assert ids(await outbox.next_per_chat(st.uow(), limit=10)) == [reminder]
