"""The office board after retention and erasure: "photos removed after N days" where the
photos were, and "former user" where an erased person's name was."""

from __future__ import annotations

import secrets

from aiohttp.test_utils import TestClient, TestServer

from bot.board.auth import COOKIE, make_session
from bot.board.server import BoardServer
from bot.settings import Settings
from store.directory import privacy
from store.repair import requester
from store.uow import Store
from tests.support.booth_world import claim, make_booth_world, walkup
from tests.support.world import file_ticket, make_env


def _server(st: Store) -> tuple[BoardServer, str]:
    token = f"{secrets.randbelow(10**9) + 10**9}:FAKE-test-secret-{secrets.token_urlsafe(16)}"
    return BoardServer(Settings.model_validate({"telegram": {"token": token}}), st), token


async def test_board_ticket_page_after_photo_retention(store: Store) -> None:
    env = await make_env(store)
    st, w = env.store, env.world
    tid = (await file_ticket(st, w, photos=["AgAD-board-1"])).ticket.id
    await requester.cancel(st.uow(), tid, w.requester)
    server, token = _server(st)
    cookie = {"Cookie": f"{COOKIE}={make_session(w.sam, token)}"}
    async with TestClient(TestServer(server.app())) as client:

        async def page() -> str:
            response = await client.get(f"/board/tickets/{tid}", headers=cookie)
            assert response.status == 200
            return await response.text()

        before = await page()
        assert f"/board/tickets/{tid}/photos/0" in before
        assert "Photos removed" not in before

        env.clock.advance(days=179)
        assert (await privacy.drop_photos_batch(st.uow())).numbers == []
        env.clock.advance(days=2)
        assert (await privacy.drop_photos_batch(st.uow())).numbers == [str(tid)]

        after = await page()
        assert "Photos removed 180 days after the ticket ended" in after
        assert f"/board/tickets/{tid}/photos/0" not in after
        assert (await client.get(f"/board/tickets/{tid}/photos/0", headers=cookie)).status == 404


async def test_board_names_an_erased_claimant_former_user(store: Store) -> None:
    w = await make_booth_world(store)
    filed = await walkup(w, name="Wang Wei-4410", phone="+86 138 0000 4410")
    tid = filed.report.ticket.id
    await claim(w, filed.code, 7_744_100, name="Wang Wei-4410")
    server, token = _server(w.store)
    cookie = {"Cookie": f"{COOKIE}={make_session(w.dora, token)}"}
    async with TestClient(TestServer(server.app())) as client:

        async def page() -> str:
            response = await client.get(f"/board/tickets/{tid}", headers=cookie)
            assert response.status == 200
            return await response.text()

        assert "claimed by Wang Wei-4410" in await page()
        await privacy.erase_person(w.store.uow(), 7_744_100, by=7_744_100)
        after = await page()
        assert "claimed by former user" in after and "Wang Wei-4410" not in after
