"""A requester's phone reaches only who needs it (store.domain.phones): the technician
holding the job while it is open, and the building's dispatchers and supervisors on the
ticket's card; never a list, an offer to technicians who have not taken the job, the
board's lists, or an export without an admin's `--with-phones`. SQLite and PostgreSQL.

The ticket world of tests/support/world.py: Tom (all of North) accepts Rita's ticket in
Building A; Olga also covers North but does not hold it; Bob covers Building B only; Dana
and Sam are North's dispatcher and supervisor; Ada is the admin; Carl dispatches South.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.board.auth import COOKIE, make_session
from bot.board.server import BoardServer
from bot.export import to_csv
from bot.i18n import Texts
from bot.settings import Settings
from bot.ui import ticket_lines
from store.directory import privacy, staff
from store.domain.filing import NewTicket
from store.errors import NotFound, NotPermitted
from store.intake.report import report
from store.lifecycle import Role
from store.repair import dispatch, queries, requester, work
from store.reporting import export
from store.uow import Store
from tests.support.rows import outbox_rows, person_row
from tests.support.stats_scenario import Period
from tests.support.world import T0, Env, make_env, make_person

PHONE = "+86 139 1234 5678"  # Rita's, as given on this ticket
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass
class Phones:
    env: Env
    ticket: int
    carl: int  # a dispatcher of South, not of the ticket's building


@pytest_asyncio.fixture
async def phones(store: Store) -> Phones:
    env = await make_env(store)
    w = env.world
    new = NewTicket(w.requester, w.room_a1, "water", "The tap drips.", contact_phone=PHONE)
    ticket = (await report(env.store.uow(), new)).ticket.id
    carl = await make_person(env.store, Role.DISPATCHER, name="Carl", campus_id=w.south)
    return Phones(env, ticket, carl.id)


async def _card_phone(store: Store, ticket_id: int, viewer_id: int) -> str | None:
    view, _caps = await queries.ticket_detail(store.uow(), ticket_id, viewer_id)
    return view.contact_phone


async def test_the_holder_sees_it_while_open_and_not_after(phones: Phones) -> None:
    st, w, tid = phones.env.store, phones.env.world, phones.ticket
    # Offered, not yet taken: no technician sees it, in the offer or on the card.
    offers = await outbox_rows(st, ticket_id=tid, kind="offer.new")
    assert offers and all(PHONE not in json.dumps(o.payload) for o in offers)
    assert await _card_phone(st, tid, w.tom) is None

    await dispatch.accept(st.uow(), tid, w.tom)
    assert (await work.held_job(st.uow(), tid, w.tom)).contact_phone == PHONE
    assert await _card_phone(st, tid, w.tom) == PHONE
    # Olga covers the building but does not hold the job; Bob does not cover it at all.
    assert await _card_phone(st, tid, w.olga) is None
    with pytest.raises((NotFound, NotPermitted)):
        await _card_phone(st, tid, w.bob)
    # The holder's own list of jobs carries no phone, nor does the requester's list.
    assert PHONE not in repr(await queries.technician_jobs(st.uow(), w.tom))
    assert PHONE not in repr(await queries.my_tickets(st.uow(), w.requester))

    await work.start(st.uow(), tid, w.tom)
    assert await _card_phone(st, tid, w.tom) == PHONE
    await work.complete(st.uow(), tid, w.tom)
    assert await _card_phone(st, tid, w.tom) is None
    assert (await work.held_job(st.uow(), tid, w.tom)).contact_phone is None
    await requester.confirm_and_rate(st.uow(), tid, w.requester, 5)
    assert await _card_phone(st, tid, w.tom) is None
    # The office still has it on the card (until retention erases it).
    assert await _card_phone(st, tid, w.dana) == PHONE


async def test_an_assignment_carries_it_an_offer_does_not(phones: Phones) -> None:
    st, w, tid = phones.env.store, phones.env.world, phones.ticket
    await dispatch.assign(st.uow(), tid, w.dana, w.ann)
    (assigned,) = await outbox_rows(st, ticket_id=tid, kind="job.assigned")
    assert (assigned.recipient_id, assigned.payload["contact_phone"]) == (w.ann, PHONE)


async def test_the_office_of_the_building_sees_it_on_the_card_only(phones: Phones) -> None:
    st, w, tid = phones.env.store, phones.env.world, phones.ticket
    assert await _card_phone(st, tid, w.dana) == PHONE
    assert await _card_phone(st, tid, w.sam) == PHONE
    assert await _card_phone(st, tid, w.ada) == PHONE
    assert (await dispatch.ticket_in_scope(st.uow(), tid, w.dana)).contact_phone == PHONE
    # Another building's dispatcher does not see the ticket, so not its phone either.
    with pytest.raises((NotFound, NotPermitted)):
        await _card_phone(st, tid, phones.carl)
    # The queue's lists never carry it, whichever tab.
    for flt in queries.QueueFilter:
        page = await queries.dispatcher_queue(st.uow(), w.dana, flt)
        assert PHONE not in repr(page)
    assert (await queries.dispatcher_queue(st.uow(), w.dana)).items  # the ticket is there


async def test_an_export_has_a_phone_column_only_for_an_admin_who_asks(phones: Phones) -> None:
    st, w = phones.env.store, phones.env.world
    period: Period = {"start": T0 - timedelta(days=1), "end": T0 + timedelta(days=1)}
    for viewer in (w.dana, w.sam, w.ada):
        rows = await export.export_rows(st.uow(), viewer_id=viewer, **period)
        assert len(rows) == 1
        data = to_csv(rows, ZONE)
        assert PHONE.encode() not in data
        assert b"phone" not in data.splitlines()[0]

    rows = await export.export_rows(st.uow(), viewer_id=w.ada, with_phones=True, **period)
    data = to_csv(rows, ZONE, with_phones=True)
    header, line = data.decode("utf-8-sig").splitlines()[:2]
    assert header.endswith(",phone") and line.endswith(PHONE)
    for viewer in (w.dana, w.sam):
        with pytest.raises(NotPermitted):
            await export.export_rows(st.uow(), viewer_id=viewer, with_phones=True, **period)


# --- the board ----------------------------------------------------------------------------


@dataclass
class Web:
    phones: Phones
    client: TestClient[Any, Any]
    token: str

    async def get(self, path: str, person_id: int) -> tuple[int, str]:
        cookie = {"Cookie": f"{COOKIE}={make_session(person_id, self.token)}"}
        response = await self.client.get(path, headers=cookie)
        return response.status, await response.text()


@pytest_asyncio.fixture
async def web(phones: Phones) -> AsyncIterator[Web]:
    token = f"{secrets.randbelow(10**9) + 10**9}:FAKE-test-secret-{secrets.token_urlsafe(16)}"
    settings = Settings.model_validate({"telegram": {"token": token}})
    server = BoardServer(settings, phones.env.store)
    async with TestClient(TestServer(server.app())) as client:
        yield Web(phones, client, token)


async def test_the_board_shows_it_on_the_ticket_page_only(web: Web) -> None:
    st, w, tid = web.phones.env.store, web.phones.env.world, web.phones.ticket
    await dispatch.accept(st.uow(), tid, w.tom)
    number = (await queries.ticket_detail(st.uow(), tid, w.sam))[0].number
    office = ("/board/api/overview", f"/board/api/buildings/{w.building_a}", "/board/")
    lists = [(path, viewer) for path in office for viewer in (w.sam, w.dana, w.ada)]
    # Tom's own jobs are on his front page.
    lists += [("/board/api/overview", w.tom), ("/board/", w.tom)]
    for path, viewer in lists:
        status, body = await web.get(path, viewer)
        assert status == 200, (path, viewer)
        assert PHONE not in body, (path, viewer)
    # The lists do show the ticket (so the check above could have failed).
    assert number in (await web.get(f"/board/api/buildings/{w.building_a}", w.sam))[1]
    assert number in (await web.get("/board/api/overview", w.tom))[1]
    for path in (f"/board/api/tickets/{tid}", f"/board/tickets/{tid}"):
        for viewer in (w.sam, w.dana, w.tom):
            status, body = await web.get(path, viewer)
            assert status == 200 and PHONE in body, (path, viewer)
    assert (await web.get(f"/board/api/tickets/{tid}", w.bob))[0] == 404
    assert (await web.get(f"/board/api/tickets/{tid}", web.phones.carl))[0] == 404

    await work.start(st.uow(), tid, w.tom)
    await work.complete(st.uow(), tid, w.tom)
    for path in (f"/board/api/tickets/{tid}", f"/board/tickets/{tid}"):
        status, body = await web.get(path, w.tom)
        assert status == 200 and PHONE not in body, path
        assert PHONE in (await web.get(path, w.sam))[1]


async def test_a_former_technician_is_named_former_user(web: Web) -> None:
    """A technician who left (role revoked) and was erased: the job they completed names a
    "former user" on the board's list, the ticket page and the chat's card. (An open job
    of theirs is handed back to dispatch when the role goes: test_staff_lifecycle.py.)"""
    st, w, tid = web.phones.env.store, web.phones.env.world, web.phones.ticket
    await dispatch.accept(st.uow(), tid, w.tom)
    await work.start(st.uow(), tid, w.tom)
    await work.complete(st.uow(), tid, w.tom)
    telegram_id = (await person_row(st, w.tom)).telegram_id
    assert telegram_id is not None
    await staff.remove_role(st.uow(), w.tom, Role.TECHNICIAN)
    await privacy.erase_person(st.uow(), telegram_id, by=privacy.CLI)
    for path in (f"/board/api/buildings/{w.building_a}", f"/board/tickets/{tid}"):
        status, body = await web.get(path, w.sam)
        assert status == 200 and "Tom" not in body, path
    assert "👷 former user" in (await web.get(f"/board/tickets/{tid}", w.sam))[1]
    view, _caps = await queries.ticket_detail(st.uow(), tid, w.dana)
    assert view.assignee_former
    lines = ticket_lines(Texts("en"), view)
    assert lines[-1] == Texts("en")("my.assignee", name="former user")
