"""The office board's JSON API: who may see what, checked on every request.

Real aiohttp server and client, real SQLite and PostgreSQL, the ticket world of
tests/support/world.py: North (Buildings A and B) is Sam's and Dana's, South (Building C)
is nobody's but Ada's.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete
from sqlmodel import col

from bot.board.auth import COOKIE, make_session, sign_init_data
from bot.board.server import BoardServer
from bot.settings import Settings
from store.directory import sign_in, staff
from store.models import FollowUp, Person, RoleGrant
from store.repair import dispatch
from store.reporting import figures
from store.uow import Store
from tests.support.world import Env, file_ticket, make_env


def _token() -> str:
    """A token in Telegram's shape, made up for this run."""
    return f"{secrets.randbelow(10**9) + 10**9}:FAKE-test-secret-{secrets.token_urlsafe(16)}"


@dataclass
class Board:
    env: Env
    client: TestClient[Any, Any]
    token: str
    north_ticket: int
    south_ticket: int

    def as_(self, person_id: int) -> dict[str, str]:
        """Headers of a browser signed in as `person_id`."""
        return {"Cookie": f"{COOKIE}={make_session(person_id, self.token)}"}

    async def get(self, path: str, person_id: int | None = None, **headers: str) -> Any:
        auth = self.as_(person_id) if person_id is not None else {}
        response = await self.client.get(path, headers={**auth, **headers})
        body = await response.text()
        return response.status, json.loads(body) if response.content_type.endswith(
            "json"
        ) else body


@pytest_asyncio.fixture
async def web(store: Store) -> AsyncIterator[Board]:
    env = await make_env(store)
    w = env.world
    north = (await file_ticket(env.store, w, room=w.room_a1)).ticket.id
    south = (await file_ticket(env.store, w, room=w.room_c1, category="electrical")).ticket.id
    await dispatch.accept(env.store.uow(), north, w.tom)
    token = _token()
    settings = Settings.model_validate({"telegram": {"token": token}})
    server = BoardServer(settings, env.store)
    async with TestClient(TestServer(server.app())) as client:
        yield Board(env, client, token, north, south)


async def _telegram_id(store: Store, person_id: int) -> int:
    async with store.uow() as uow:
        person = await uow.session.get(Person, person_id)
        assert person is not None and person.telegram_id is not None
        return person.telegram_id


async def test_without_or_with_bad_credentials_the_api_says_401(web: Board) -> None:
    assert (await web.get("/board/api/overview"))[0] == 401
    forged = make_session(web.env.world.sam, "123:another-bots-token-aaaaaaaaaaaa")
    assert (await web.get("/board/api/overview", Cookie=f"{COOKIE}={forged}"))[0] == 401
    assert (await web.get("/board/api/overview", Authorization="tma hash=00&user=%7B%7D"))[
        0
    ] == 401
    # A page asks to sign in, in words, with the same status.
    status, page = await web.get("/board/")
    assert status == 401 and "/board" in page


async def test_people_without_a_board_role_get_403(web: Board) -> None:
    w = web.env.world
    for person in (w.requester, w.ivy):  # a requester; an inspector
        assert (await web.get("/board/api/overview", person))[0] == 403
        assert (await web.get(f"/board/api/tickets/{web.north_ticket}", person))[0] == 403


async def test_a_supervisor_sees_their_campus_and_not_the_other(web: Board) -> None:
    w = web.env.world
    status, overview = await web.get("/board/api/overview", w.sam)
    assert status == 200
    buildings = {name for _id, name, _n in overview["open_by_building"]}
    assert buildings == {"Building A"}
    assert overview["open_by_status"] == {"assigned": 1}
    assert overview["reported_today"] == 2 - 1  # South's ticket is not Sam's
    status, ticket = await web.get(f"/board/api/tickets/{web.north_ticket}", w.sam)
    assert status == 200 and ticket["ticket"]["assignee_name"] == "Tom"
    assert [e["action"] for e in ticket["timeline"]][:1] == ["file"]
    # Another campus's ticket and building are "not found", by URL too.
    assert (await web.get(f"/board/api/tickets/{web.south_ticket}", w.sam))[0] == 404
    assert (await web.get(f"/board/api/buildings/{w.building_c}", w.sam))[0] == 404
    assert (await web.get(f"/board/tickets/{web.south_ticket}", w.sam))[0] == 404
    status, building = await web.get(f"/board/api/buildings/{w.building_a}", w.sam)
    assert status == 200 and [t["id"] for t in building["open_tickets"]] == [web.north_ticket]
    status, table = await web.get("/board/api/technicians", w.sam)
    assert status == 200 and "Tom" in {row["name"] for row in table}


async def test_a_dispatcher_has_the_same_scope_and_an_admin_sees_everything(web: Board) -> None:
    w = web.env.world
    assert (await web.get(f"/board/api/tickets/{web.south_ticket}", w.dana))[0] == 404
    assert (await web.get(f"/board/api/tickets/{web.north_ticket}", w.dana))[0] == 200
    status, overview = await web.get("/board/api/overview", w.ada)
    assert status == 200
    assert {name for _i, name, _n in overview["open_by_building"]} == {"Building A", "Building C"}
    assert (await web.get(f"/board/api/tickets/{web.south_ticket}", w.ada))[0] == 200


async def test_a_technician_sees_only_their_own_jobs(web: Board) -> None:
    w = web.env.world
    status, overview = await web.get("/board/api/overview", w.tom)
    assert status == 200
    assert [t["id"] for t in overview["my_jobs"]] == [web.north_ticket]
    assert overview["open_by_building"] == []  # no office view
    assert (await web.get(f"/board/api/tickets/{web.north_ticket}", w.tom))[0] == 200
    # Bob covers Building B: not his job, not his to read.
    assert (await web.get(f"/board/api/tickets/{web.north_ticket}", w.bob))[0] == 404
    assert (await web.get(f"/board/api/buildings/{w.building_a}", w.tom))[0] == 404
    assert (await web.get("/board/api/technicians", w.tom))[0] == 403


async def test_a_removed_role_ends_access_at_once_though_the_cookie_is_valid(
    web: Board,
) -> None:
    w = web.env.world
    assert (await web.get("/board/api/overview", w.sam))[0] == 200
    async with web.env.store.uow() as uow:
        await uow.session.execute(delete(RoleGrant).where(col(RoleGrant.person_id) == w.sam))
        await uow.commit()
    assert (await web.get("/board/api/overview", w.sam))[0] == 403


async def test_staff_remove_ends_a_board_session_on_its_next_request(web: Board) -> None:
    # Issue 24: `repairbot staff remove` (or /staff) takes the role; the signed-in
    # technician's next request is refused, though the cookie itself is still valid.
    w = web.env.world
    assert (await web.get("/board/api/overview", w.tom))[0] == 200
    await staff.remove_staff(web.env.store.uow(), None, person_id=w.tom)
    assert (await web.get("/board/api/overview", w.tom))[0] == 403


async def test_the_mini_app_signs_in_with_telegrams_init_data(web: Board) -> None:
    w = web.env.world
    sam = await _telegram_id(web.env.store, w.sam)
    fresh = {"auth_date": str(int(time.time())), "user": json.dumps({"id": sam})}
    header = f"tma {sign_init_data(fresh, web.token)}"
    assert (await web.get("/board/api/overview", Authorization=header))[0] == 200
    # Trading it for a session sets an HttpOnly, SameSite=Strict cookie.
    response = await web.client.post("/board/api/session", headers={"Authorization": header})
    assert response.status == 204
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie
    # A requester's genuine initData is still not staff.
    rita = await _telegram_id(web.env.store, w.requester)
    fields = {"auth_date": str(int(time.time())), "user": json.dumps({"id": rita})}
    rita_header = f"tma {sign_init_data(fields, web.token)}"
    assert (await web.get("/board/api/overview", Authorization=rita_header))[0] == 403
    # Nor is a Telegram user the bot has never seen.
    stranger = {"auth_date": str(int(time.time())), "user": json.dumps({"id": 999_999_999})}
    unknown = f"tma {sign_init_data(stranger, web.token)}"
    assert (await web.get("/board/api/overview", Authorization=unknown))[0] == 403


async def test_open_follow_ups_are_counted_up_to_a_cap(
    web: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = web.env.world
    async with web.env.store.uow() as uow:
        for n, ticket in enumerate((web.north_ticket, web.north_ticket, web.south_ticket)):
            uow.session.add(
                FollowUp(number=f"F-{n}", ticket_id=ticket, kind="complaint", opened_at=uow.now())
            )
        await uow.commit()
    _status, overview = await web.get("/board/api/overview", w.sam)
    assert overview["open_followups"] == 2  # South's is not Sam's
    monkeypatch.setattr(figures, "FOLLOWUP_CAP", 1)
    _status, overview = await web.get("/board/api/overview", w.sam)
    assert overview["open_followups"] == 2  # more than the cap
    status, page = await web.get("/board/", w.sam, **{"Accept-Language": "en"})
    assert status == 200 and "1+ open follow-ups" in page


async def test_a_garbled_sign_in_link_is_refused_like_a_used_one(web: Board) -> None:
    """A link mangled by a chat client or forged (non-ASCII, empty, huge) gets the same 401
    page as a used link, never a server error."""
    english = {"Accept-Language": "en"}
    for token in ("%C3%A9t%C3%A9", "", "%ED%A0%80", "x" * 4000, "%00"):
        response = await web.client.get(f"/board/signin?token={token}", headers=english)
        assert response.status == 401, token
        assert "already used or has expired" in await response.text()


async def test_a_sign_in_link_works_once_and_expires(web: Board) -> None:
    w = web.env.world
    token = await sign_in.issue_signin(web.env.store.uow(), w.sam)
    first = await web.client.get(f"/board/signin?token={token}")
    assert first.status == 200 and COOKIE in first.cookies
    assert (await web.client.get(f"/board/signin?token={token}")).status == 401
    late = await sign_in.issue_signin(web.env.store.uow(), w.sam)
    web.env.clock.advance(timedelta(minutes=11))
    english = {"Accept-Language": "en-GB,en;q=0.8"}
    response = await web.client.get(f"/board/signin?token={late}", headers=english)
    assert response.status == 401 and "already used or has expired" in await response.text()
    with pytest.raises(Exception, match="board"):
        await sign_in.issue_signin(web.env.store.uow(), w.requester)
