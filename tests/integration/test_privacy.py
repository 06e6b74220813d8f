"""Personal data (issue 25): retention on a schedule, a person's export, erasure, and who
may ask — on SQLite and PostgreSQL (store.directory.privacy, scheduler privacy_tick)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, String, TypeDecorator, func
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, col, select

from scheduler.ticks import privacy_tick, summaries_tick
from store.directory import privacy, profiles
from store.domain.filing import NewTicket
from store.domain.ticket_views import timeline
from store.errors import NotFound, NotPermitted
from store.intake import drafts
from store.intake.report import follow, report
from store.lifecycle import Role
from store.models import DaySummary, Outbox, Person, PrivacyEvent, Ticket, TicketPhoto
from store.repair import dispatch, requester, work
from store.reporting import figures
from store.reporting.export import export_rows
from store.uow import Store
from tests.support import stats_scenario
from tests.support.booth_world import claim, make_booth_world, walkup
from tests.support.world import Env, make_env, make_person

NAME = "Zhang Xiaoyu-7781"
PHONE = "+86 138 0013 8000"
TICKET_PHONE = "+86 139 2222 7781"
OTHER_NAME = "Neighbour Qian-5512"
OTHER_PHONE = "+86 137 5555 5512"
OTHER_TICKET_PHONE = "+86 136 6666 5512"
OTHER_DESCRIPTION = "Qian's window latch is broken, call before 9"


async def _no_pause() -> None:
    return None


@dataclass
class People:
    env: Env
    me: int
    me_tg: int
    other: int
    other_tg: int
    my_open: int  # requested, open, with photos and a contact phone
    my_closed: int  # requested, closed and rated
    other_ticket: int  # the neighbour's, which I follow


async def _person(store: Store, person_id: int) -> Person:
    async with store.read() as uow:
        person = await uow.session.get(Person, person_id)
        assert person is not None
        return person


async def _ticket(store: Store, ticket_id: int) -> Ticket:
    async with store.read() as uow:
        ticket = await uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def _photos(store: Store, ticket_id: int) -> list[str]:
    async with store.read() as uow:
        rows = await uow.session.execute(
            select(TicketPhoto.file_id).where(TicketPhoto.ticket_id == ticket_id)
        )
        return list(rows.scalars())


async def _file(
    env: Env,
    requester_id: int,
    description: str,
    *,
    phone: str | None = None,
    photos: Sequence[str] = (),
    room: int | None = None,
) -> int:
    new = NewTicket(
        requester_id,
        room or env.world.room_a1,
        "water",
        description,
        photos=photos,
        contact_phone=phone,
    )
    return (await report(env.store.uow(), new)).ticket.id


async def people(store: Store) -> People:
    """Me (a requester with a saved phone and room, a draft, an open ticket with photos,
    a closed rated one with a complaint, following the neighbour's) and the neighbour."""
    env = await make_env(store)
    st, w = env.store, env.world
    me = await make_person(st, name=NAME, phone=PHONE, room_id=w.room_a1)
    other = await make_person(st, name=OTHER_NAME, phone=OTHER_PHONE, room_id=w.room_a2)
    assert me.telegram_id is not None and other.telegram_id is not None
    my_open = await _file(
        env, me.id, "Tap drips in the bathroom", phone=TICKET_PHONE, photos=["AgAD-mine-1"]
    )
    my_closed = await _file(
        env, me.id, "Light flickers", phone=TICKET_PHONE, photos=["AgAD-mine-2"]
    )
    await dispatch.accept(st.uow(), my_closed, w.ann)
    await work.start(st.uow(), my_closed, w.ann)
    await work.complete(st.uow(), my_closed, w.ann)
    await requester.confirm_and_rate(st.uow(), my_closed, me.id, 2)
    await requester.comment_rating(st.uow(), my_closed, me.id, "Took two visits")
    await requester.complain(st.uow(), my_closed, me.id, "The technician was late")
    other_ticket = await _file(
        env,
        other.id,
        OTHER_DESCRIPTION,
        phone=OTHER_TICKET_PHONE,
        photos=["AgAD-other"],
        room=w.room_a2,
    )
    await follow(st.uow(), other_ticket, me.id)
    await drafts.save_draft(
        st.uow(), me.id, drafts.DraftView("describe", {"room_id": w.room_a1, "phone": PHONE})
    )
    return People(
        env, me.id, me.telegram_id, other.id, other.telegram_id, my_open, my_closed, other_ticket
    )


# --- export ------------------------------------------------------------------------------


async def test_export_holds_my_data_and_none_of_another_requesters(store: Store) -> None:
    p = await people(store)
    doc = await privacy.export_person(p.env.store.uow(), p.me_tg, by=p.me_tg)
    text = json.dumps(doc, ensure_ascii=False)
    assert doc["profile"]["name"] == NAME and doc["profile"]["phone"] == PHONE
    assert doc["profile"]["room"]["room_code"] == "A-101"
    mine = {t["description"]: t for t in doc["tickets"]}
    assert set(mine) == {"Tap drips in the bathroom", "Light flickers"}
    assert mine["Tap drips in the bathroom"]["contact_phone"] == TICKET_PHONE
    assert mine["Tap drips in the bathroom"]["photos"] == ["AgAD-mine-1"]
    assert mine["Light flickers"]["rating"] == 2
    assert mine["Light flickers"]["rating_comment"] == "Took two visits"
    assert [(c["kind"], c["text"]) for c in doc["complaints"]] == [
        ("low_rating", "Took two visits"),
        ("complaint", "The technician was late"),
    ]
    assert len(doc["following"]) == 1 and doc["draft"]["step"] == "describe"
    assert doc["retention"] == {
        "contact_phone_days_after_ticket_ends": 30,
        "photos_days_after_ticket_ends": 180,
        "person_days_without_activity": 730,
    }
    # Nothing of the neighbour, though I follow their ticket.
    for theirs in (OTHER_NAME, OTHER_PHONE, OTHER_TICKET_PHONE, OTHER_DESCRIPTION, "AgAD-other"):
        assert theirs not in text
    assert str(p.other_tg) not in text
    # Staff's notes on my tickets are not mine: only my own steps carry their note.
    for ticket in doc["tickets"]:
        assert all(e["note"] is None for e in ticket["timeline"] if e["by"] != "me")


async def test_export_and_erasure_are_refused_to_anyone_but_the_person_or_the_cli(
    store: Store,
) -> None:
    p = await people(store)
    st = p.env.store
    with pytest.raises(NotPermitted):
        await privacy.export_person(st.uow(), p.me_tg, by=p.other_tg)
    with pytest.raises(NotPermitted):
        await privacy.erase_person(st.uow(), p.me_tg, by=p.other_tg)
    with pytest.raises(NotPermitted):
        await privacy.erase_person(st.uow(), p.me_tg, by="board")  # type: ignore[arg-type]
    assert (await _person(st, p.me)).name == NAME  # nothing happened
    await privacy.export_person(st.uow(), p.me_tg, by=privacy.CLI)
    with pytest.raises(NotFound):
        await privacy.export_person(st.uow(), 999_999_999, by=privacy.CLI)
    async with st.read() as uow:
        events = (await uow.session.execute(select(PrivacyEvent))).scalars().all()
    assert [(e.action, e.by, e.person_id) for e in events] == [("export", "cli", p.me)]


async def test_staff_are_not_erased_while_they_hold_a_role(store: Store) -> None:
    env = await make_env(store)
    tech = await make_person(env.store, Role.TECHNICIAN, name="Tech Wu")
    assert tech.telegram_id is not None
    with pytest.raises(privacy.StaffNotErasable):
        await privacy.erase_person(env.store.uow(), tech.telegram_id, by=tech.telegram_id)
    assert (await _person(env.store, tech.id)).name == "Tech Wu"


# --- erasure -----------------------------------------------------------------------------


def _text_columns() -> list[tuple[Any, Any]]:
    """Every column holding text (strings of any kind, SQLModel's AutoString included, and
    JSON) of every table."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            if isinstance(kind, TypeDecorator):
                kind = kind.impl_instance
            if isinstance(kind, (String, JSON)):
                found.append((table, column))
    return found


def test_the_grep_reads_every_name_and_phone_column() -> None:
    names = {f"{t.name}.{c.name}" for t, c in _text_columns()}
    assert {"person.name", "person.phone", "ticket.contact_phone", "outbox.payload"} <= names
    assert {"ticketevent.note", "draft.data", "ticketphoto.file_id", "followup.text"} <= names


async def _holding(store: Store, *needles: str) -> list[str]:
    """ "table.column" for every text cell containing any of `needles`."""
    hits = []
    async with store.read() as uow:
        for table, column in _text_columns():
            rows = await uow.session.execute(sa_select(column).select_from(table))
            for (value,) in rows.all():
                text = (
                    json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
                )
                if value is not None and any(n in text for n in needles):
                    hits.append(f"{table.name}.{column.name}")
    return hits


async def test_after_erasure_no_table_holds_the_name_or_phone(store: Store) -> None:
    p = await people(store)
    st = p.env.store
    assert await _holding(st, NAME, PHONE, TICKET_PHONE)  # the grep finds them before
    done = await privacy.erase_person(st.uow(), p.me_tg, by=p.me_tg)
    assert done.tickets_kept == 2 and done.drafts_cancelled == 1 and done.follows_ended == 1
    assert await _holding(st, NAME, PHONE, TICKET_PHONE) == []
    async with st.read() as uow:
        assert (
            await uow.session.execute(select(Person).where(Person.telegram_id == p.me_tg))
        ).first() is None
        event = (await uow.session.execute(select(PrivacyEvent))).scalar_one()
    assert (event.action, event.by, event.person_id) == ("erase", "self", p.me)
    # The neighbour's data is untouched; my tickets are kept, naming a former user.
    assert (await _ticket(st, p.other_ticket)).contact_phone == OTHER_TICKET_PHONE
    assert (await _person(st, p.other)).name == OTHER_NAME
    kept = await _ticket(st, p.my_closed)
    assert (kept.requester_id, kept.rating, kept.description) == (p.me, 2, "Light flickers")
    me = await _person(st, p.me)
    assert me.erased_at is not None and me.name == "" and me.room_id is None
    # Erased once: the same id is no longer known.
    with pytest.raises(NotFound):
        await privacy.erase_person(st.uow(), p.me_tg, by=privacy.CLI)


async def test_after_erasure_the_same_account_starts_as_a_new_person(store: Store) -> None:
    p = await people(store)
    st = p.env.store
    await privacy.erase_person(st.uow(), p.me_tg, by=privacy.CLI)
    assert await profiles.known_person(st.read(), p.me_tg, NAME, "en") is None
    again = await profiles.ensure_person(st.uow(), p.me_tg, NAME, "en")
    assert again.id != p.me and again.phone is None
    assert await profiles.room_of(st.uow(), again.id) is None
    assert await drafts.get_draft(st.uow(), again.id) is None


async def test_an_erased_requester_hears_nothing_more_of_an_open_ticket(store: Store) -> None:
    p = await people(store)
    st, w = p.env.store, p.env.world
    await privacy.erase_person(st.uow(), p.me_tg, by=p.me_tg)

    async def notices_to_me() -> int:
        async with st.read() as uow:
            stmt = (
                sa_select(func.count()).select_from(Outbox).where(col(Outbox.recipient_id) == p.me)
            )
            return int((await uow.session.execute(stmt)).scalar_one())

    assert await notices_to_me() == 0  # pending ones dropped
    view = await dispatch.accept(st.uow(), p.my_open, w.ann)  # still open, still worked on
    assert view.assignee_id == w.ann and view.contact_phone is None
    assert await notices_to_me() == 0
    # The timeline shows a former user where my name was.
    async with st.read() as uow:
        events = await timeline(uow, p.my_open, w.ann)
    mine = [e for e in events if e.action == "file"]
    assert mine and all(e.actor_former and not e.actor_name for e in mine)


# --- retention ---------------------------------------------------------------------------


async def test_retention_moves_after_each_period_and_not_a_day_before(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    rita = await make_person(st, name=NAME, phone=PHONE, room_id=w.room_a1)
    ned = await make_person(st, name=OTHER_NAME)  # keeps a ticket open throughout
    tid = await _file(env, rita.id, "Tap drips", phone=TICKET_PHONE, photos=["AgAD-1", "AgAD-2"])
    await _file(env, ned.id, "Door sticks", room=w.room_a2)
    await requester.cancel(st.uow(), tid, rita.id)
    ended = clock.now

    async def tick() -> dict[str, list[str]]:
        return await privacy_tick(st, pause=_no_pause)

    clock.now = ended + timedelta(days=29)
    assert await tick() == {"contacts_erased": [], "photos_dropped": [], "people_anonymised": []}
    assert (await _ticket(st, tid)).contact_phone == TICKET_PHONE
    clock.now = ended + timedelta(days=30, minutes=1)
    assert (await tick())["contacts_erased"] == [str(tid)]
    assert (await _ticket(st, tid)).contact_phone is None
    assert (await tick())["contacts_erased"] == []  # idempotent

    clock.now = ended + timedelta(days=179)
    await tick()
    assert await _photos(st, tid) == ["AgAD-1", "AgAD-2"]
    clock.now = ended + timedelta(days=180, minutes=1)
    assert (await tick())["photos_dropped"] == [str(tid)]
    assert await _photos(st, tid) == []
    assert (await _ticket(st, tid)).photos_removed_at == clock.now
    assert (await tick())["photos_dropped"] == []

    clock.now = ended + timedelta(days=729)
    assert (await tick())["people_anonymised"] == []
    assert (await _person(st, rita.id)).name == NAME
    clock.now = ended + timedelta(days=730, minutes=1)
    anonymised = (await tick())["people_anonymised"]
    assert str(rita.id) in anonymised
    # Ned has an open ticket; staff hold roles: both kept.
    assert str(ned.id) not in anonymised
    assert not set(anonymised) & {str(i) for i in w.technicians}
    erased = await _person(st, rita.id)
    assert (erased.name, erased.phone, erased.telegram_id, erased.room_id) == (
        "",
        None,
        None,
        None,
    )
    assert (await _person(st, ned.id)).name == OTHER_NAME
    assert (await _person(st, w.tom)).name == "Tom"
    assert (await tick())["people_anonymised"] == []
    async with st.read() as uow:
        rows = await uow.session.execute(
            select(PrivacyEvent).where(col(PrivacyEvent.person_id) == rita.id)
        )
        assert [(e.action, e.by) for e in rows.scalars()] == [("erase", "retention")]


async def test_a_requester_seen_lately_is_not_anonymised(store: Store) -> None:
    env = await make_env(store)
    st, clock = env.store, env.clock
    rita = await make_person(st, name=NAME)
    assert rita.telegram_id is not None
    clock.advance(days=400)
    await profiles.ensure_person(st.uow(), rita.telegram_id, NAME, "en")  # writes again
    clock.advance(days=400)
    assert str(rita.id) not in (await privacy_tick(st, pause=_no_pause))["people_anonymised"]
    clock.advance(days=331)
    assert str(rita.id) in (await privacy_tick(st, pause=_no_pause))["people_anonymised"]


async def test_statistics_are_the_same_before_and_after_retention_and_erasure(
    store: Store,
) -> None:
    s = await stats_scenario.build(store)
    st, clock = s.store, s.clock
    clock.now = stats_scenario.END + timedelta(days=800)
    await summaries_tick(st, pause=_no_pause)

    async def read() -> tuple[Any, ...]:
        period = stats_scenario.PERIOD
        office = await figures.office_stats(st.uow(), viewer_id=s.ada, **period)
        techs = await figures.technician_stats(st.uow(), viewer_id=s.ada, **period)
        rows = await export_rows(st.uow(), viewer_id=s.ada, **period)
        async with st.read() as uow:
            days = (await uow.session.execute(select(DaySummary))).scalars().all()
            summary = sorted((d.day, d.building_id, d.tickets, d.tally) for d in days)
        return office, techs, rows, summary

    before = await read()
    await privacy_tick(st, pause=_no_pause)
    rita = await _person(st, s.rita)
    assert rita.telegram_id is not None
    await privacy.erase_person(st.uow(), rita.telegram_id, by=privacy.CLI)
    await summaries_tick(st, pause=_no_pause)
    assert await read() == before


async def test_erasing_a_booth_claimant_erases_the_walk_up_record_too(store: Store) -> None:
    w = await make_booth_world(store)
    name, phone = "Walk-up Sun-9902", "+86 138 9902 9902"
    filed = await walkup(w, name=name, phone=phone)
    await claim(w, filed.code, 7_990_200, name=name)
    assert set(await _holding(w.store, name, phone)) >= {
        "person.name",
        "person.phone",
        "ticket.contact_phone",
        "ticketevent.note",
    }
    done = await privacy.erase_person(w.store.uow(), 7_990_200, by=privacy.CLI)
    assert done.extra["walkups_erased"] == 1 and done.tickets_kept == 1
    assert await _holding(w.store, name, phone) == []
