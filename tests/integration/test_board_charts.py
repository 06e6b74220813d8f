"""The board's charts (/board/charts and its JSON twin /board/api/charts) on both engines:
every figure equals a count made directly over the seeded tickets, in campus days, before
and after the day summaries are rolled up; each viewer sees only their buildings'; bad
input is answered, not guessed.

The tickets: test_stats' scenario (tests/support/stats_scenario.py, two buildings, one
campus day around T0) plus tickets filed and completed over the following weeks, so the
30- and 90-day charts cross several days and weeks and the 30-day one leaves some out.
"""

from __future__ import annotations

import json
import re
import secrets
import statistics
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlmodel import col

from bot.board.auth import COOKIE, make_session
from bot.board.server import BoardServer
from bot.settings import Settings
from store.domain.filing import NewTicket
from store.intake.report import report
from store.models import Building, Category, Room, Ticket
from store.repair import dispatch, work
from store.reporting import summaries
from store.reporting.periods import as_utc
from tests.support.stats_scenario import END, Scenario, build


@dataclass
class Charts:
    w: Scenario
    client: TestClient[Any, Any]
    token: str
    e1: int
    e2: int

    async def get(self, path: str, person_id: int) -> tuple[int, Any]:
        cookie = {"Cookie": f"{COOKIE}={make_session(person_id, self.token)}"}
        response = await self.client.get(path, headers=cookie)
        body = await response.text()
        if response.content_type.endswith("json"):
            return response.status, json.loads(body)
        return response.status, body


async def _more_tickets(w: Scenario, e1: int, e2: int) -> None:
    """Eleven more tickets, one every 4 days from END on, alternately in E1 and E2; all
    but every third completed the same hour or the day after (some crossing midnight)."""
    rooms: dict[int, int] = {}
    async with w.store.uow() as uow:
        for building in (e1, e2):
            room = await uow.session.execute(
                select(col(Room.id)).where(col(Room.building_id) == building).limit(1)
            )
            rooms[building] = int(str(room.scalar_one()))
    for n in range(11):
        w.clock.now = END + timedelta(days=4 * n, hours=n * 2.5)
        building = e1 if n % 2 == 0 else e2
        tech = w.tom if building == e1 else w.bob
        category = ("water", "electrical", "water")[n % 3]
        new = NewTicket(w.rita, rooms[building], category, f"extra {n}")
        ticket = (await report(w.store.uow(), new)).ticket.id
        if n % 3 == 2:
            continue
        await dispatch.accept(w.store.uow(), ticket, tech)
        await work.start(w.store.uow(), ticket, tech)
        w.clock.now += timedelta(minutes=20 + 170 * n)
        await work.complete(w.store.uow(), ticket, tech)
    w.clock.now += timedelta(hours=5)


@pytest_asyncio.fixture
async def board(store: Any) -> AsyncIterator[Charts]:
    w = await build(store)
    async with w.store.uow() as uow:
        found = await uow.session.execute(select(col(Building.name), col(Building.id)))
        ids = {str(name): int(str(i)) for name, i in found.all()}
    e1, e2 = ids["E1公寓"], ids["E2公寓"]
    await _more_tickets(w, e1, e2)
    token = f"{secrets.randbelow(10**9) + 10**9}:FAKE-test-secret-{secrets.token_urlsafe(16)}"
    settings = Settings.model_validate({"telegram": {"token": token}})
    server = BoardServer(settings, w.store)
    async with TestClient(TestServer(server.app())) as client:
        yield Charts(w, client, token, e1, e2)


async def _direct(board: Charts, days: int, buildings: set[int]) -> dict[str, Any]:
    """The chart figures counted straight from the ticket rows."""
    w = board.w
    zone = ZoneInfo(w.store.policy.timezone)
    today = w.clock().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    async with w.store.uow() as uow:
        rows = (
            await uow.session.execute(
                select(
                    col(Ticket.created_at),
                    col(Ticket.completed_at),
                    col(Room.building_id),
                    col(Category.key),
                )
                .join(Room, col(Room.id) == Ticket.room_id)
                .join(Category, col(Category.id) == Ticket.category_id)
            )
        ).all()

    def local(moment: datetime) -> date:
        return as_utc(moment).astimezone(zone).date()

    received: Counter[date] = Counter()
    completed: Counter[date] = Counter()
    by_building: dict[int, list[int]] = {}
    by_category: Counter[str] = Counter()
    weeks: dict[date, list[float]] = {}
    for created, done, building, key in rows:
        if building not in buildings:
            continue
        if first <= local(created) <= today:
            received[local(created)] += 1
            by_category[key] += 1
            by_building.setdefault(building, [0, 0])[0] += 1
        if done is not None and first <= local(done) <= today:
            day = local(done)
            completed[day] += 1
            by_building.setdefault(building, [0, 0])[1] += 1
            monday = day - timedelta(days=day.weekday())
            weeks.setdefault(monday, []).append((as_utc(done) - as_utc(created)).total_seconds())
    return {
        "days": {
            (first + timedelta(days=i)).isoformat(): (
                received[first + timedelta(days=i)],
                completed[first + timedelta(days=i)],
            )
            for i in range(days)
        },
        "buildings": {str(b): tuple(v) for b, v in by_building.items()},
        "categories": dict(by_category),
        "medians": {d.isoformat(): statistics.median(v) for d, v in weeks.items()},
    }


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    """The same figures as the JSON twin gives them."""
    return {
        "days": {d["day"]: (d["received"], d["completed"]) for d in data["daily"]},
        "buildings": {p["key"]: (p["received"], p["completed"]) for p in data["by_building"]},
        "categories": {p["key"]: p["received"] for p in data["by_category"]},
        "medians": {w["week"]: w["p50"] for w in data["weekly"] if w["completed"]},
    }


async def _check_all(board: Charts) -> None:
    w = board.w
    both = {board.e1, board.e2}
    for person, buildings in ((w.ada, both), (w.sup_e1, {board.e1}), (w.sup_e2, {board.e2})):
        for days in (30, 90):
            status, data = await board.get(f"/board/api/charts?days={days}", person)
            assert status == 200
            expected = await _direct(board, days, buildings)
            assert _shown(data) == expected
            assert data["received"] == sum(r for r, _ in expected["days"].values())
            assert data["completed"] == sum(c for _, c in expected["days"].values())


async def test_the_charts_equal_a_direct_count_before_and_after_the_roll_up(
    board: Charts,
) -> None:
    # Something to show, in both periods: the 30-day one leaves the scenario's day out.
    _status, wide = await board.get("/board/api/charts?days=90", board.w.ada)
    _status, recent = await board.get("/board/api/charts?days=30", board.w.ada)
    assert wide["received"] == 9 + 11 and recent["received"] < wide["received"]
    assert len(wide["daily"]) == 90 and len(recent["daily"]) == 30
    assert len(wide["weekly"]) >= 13
    await _check_all(board)
    # Rolled up into the day summaries, the closed tickets are read from them: same figures.
    while (await summaries.summarize_batch(board.w.store.uow(), limit=3)).last_id is not None:
        pass
    assert await summaries.pending(board.w.store.uow()) == 0
    await _check_all(board)


async def test_each_viewer_sees_only_their_buildings(board: Charts) -> None:
    w = board.w
    _status, mine = await board.get("/board/api/charts?days=90", w.sup_e1)
    assert {p["name"] for p in mine["by_building"]} == {"E1公寓"}
    _status, page = await board.get("/board/charts?days=90", w.sup_e1)
    assert "E1公寓" in page and "E2公寓" not in page
    # The building page's chart of another supervisor's building: not found, as by URL.
    assert (await board.get(f"/board/buildings/{board.e2}", w.sup_e1))[0] == 404
    status, own = await board.get(f"/board/buildings/{board.e1}", w.sup_e1)
    assert status == 200 and 'id="building-daily"' in own
    # A technician has no office figures; the chart page says so.
    assert (await board.get("/board/api/charts", w.tom))[0] == 403
    assert (await board.get("/board/charts", w.tom))[0] == 403
    # Nor does anyone without a session.
    response = await board.client.get("/board/api/charts")
    assert response.status == 401


async def test_a_period_other_than_30_or_90_days_is_refused_with_what_to_ask(
    board: Charts,
) -> None:
    for bad in ("7", "abc", "90000000000000000000", "-30"):
        status, _body = await board.get(f"/board/api/charts?days={bad}", board.w.ada)
        assert status == 400
        status, page = await board.get(f"/board/charts?days={bad}", board.w.ada)
        assert status == 400 and "?days=90" in page
    # No `days`: the last 30.
    _status, data = await board.get("/board/api/charts", board.w.ada)
    assert data["days"] == 30


async def test_the_page_draws_each_chart_with_its_figures_in_words(board: Charts) -> None:
    _status, page = await board.get("/board/charts?days=90", board.w.ada)
    _status, data = await board.get("/board/api/charts?days=90", board.w.ada)
    svgs = re.findall(r"<svg [^>]*>", page)
    assert len(svgs) == 4 and all('role="img"' in s and "aria-label=" in s for s in svgs)
    assert f"{data['received']} received, {data['completed']} completed" in page
    # The tables hold the same figures: a row per day, a row per building.
    assert page.count("<tr><td>20") >= 90  # ISO days and weeks
    for part in data["by_building"]:
        assert f">{part['name']}</a></td><td>{part['received']}</td>" in page
    # Small samples say what they rest on.
    assert re.search(r"median [^<]* · p90 [^<]* · \d+ tickets", page)
    # The overview has the compact chart and the figures with their sample size.
    _status, overview = await board.get("/board/", board.w.ada)
    assert 'id="overview-daily"' in overview and "/board/charts" in overview
    _status, figures = await board.get("/board/api/overview", board.w.ada)
    week = figures["week"]
    assert week["count"] == 1
    share = f"{week['within_hour_share']:.0%} · of 1 ticket"
    median = f"median {int(week['median'] // 3600)} h {int(week['median'] % 3600 // 60)} min"
    assert share in overview and f"{median} · 1 ticket<" in overview  # no p90 of one
    assert "0 min / 0 min" not in overview
    # A week with nothing completed says so.
    board.w.clock.now += timedelta(days=8)
    _status, overview = await board.get("/board/", board.w.ada)
    assert overview.count("no completed tickets yet") == 2
