"""The office board over HTTP: aiohttp routes, Jinja2 pages and their JSON twins.

Every request is authenticated (session cookie, or `Authorization: tma <initData>` from
the Mini App) and then authorised by store.reporting.board from the viewer's grants as
they are now. No credentials or bad ones: 401; staff without a board: 403; a building or
ticket outside the viewer's scope: 404, exactly as for one that does not exist.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from telegram import Bot
from telegram.error import TelegramError

from bot.board import charts as svg
from bot.board.auth import (
    COOKIE,
    SESSION_SECONDS,
    AuthError,
    check_init_data,
    make_session,
    read_session,
)
from bot.board.headers import SECURITY_HEADERS
from bot.board.lists import BoardLists
from bot.i18n import Texts, language_from_telegram
from bot.settings import Settings
from bot.ui import duration, share
from store.directory import sign_in
from store.domain.board_access import Viewer
from store.errors import InvalidInput, NotFound, NotPermitted
from store.reporting import board, charts, figures
from store.uow import Store

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BoardServer:
    """The board's aiohttp application, bound to a store, settings and the bot."""

    def __init__(self, settings: Settings, store: Store, bot: Bot | None = None) -> None:
        self.settings = settings
        self.store = store
        self.bot = bot
        self.token = settings.telegram.token.get_secret_value()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
        )
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The routes (also for aiohttp's test client)."""
        app = web.Application(middlewares=[self._headers])
        r = app.router
        r.add_get("/board", _to_slash)
        r.add_get("/board/", self._page(self._overview_page))
        r.add_get("/board/signin", self._signin)
        r.add_post("/board/signout", self._signout)
        r.add_post("/board/api/session", self._session)
        r.add_get("/board/api/overview", self._api(self._overview))
        r.add_get("/board/api/buildings/{id}", self._api(self._building))
        r.add_get("/board/api/technicians", self._api(self._technicians))
        r.add_get("/board/api/tickets/{id}", self._api(self._ticket))
        r.add_get("/board/buildings/{id}", self._page(self._building_page))
        r.add_get("/board/technicians", self._page(self._technicians_page))
        r.add_get("/board/tickets/{id}", self._page(self._ticket_page))
        r.add_get("/board/tickets/{id}/photos/{n}", self._photo)
        # Charts (issue 27): the page and its JSON twin.
        r.add_get("/board/charts", self._page(self._charts_page))
        r.add_get("/board/api/charts", self._api(self._charts))
        # The list pages (buildings, tickets, search, export): bot/board/lists.py.
        BoardLists(self).add_routes(r)
        r.add_static("/board/static/", HERE / "static", append_version=True)
        return app

    async def start(self) -> str:
        """Listen on [board] listen/port; returns the address people open."""
        cfg = self.settings.board
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.listen, cfg.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("office board on http://%s:%s/board/", cfg.listen, self.port)
        return self.base_url()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def base_url(self) -> str:
        """public_url, else the bound local address."""
        cfg = self.settings.board
        return cfg.public_url or f"http://{cfg.listen}:{self.port or cfg.port}"

    # -- who is asking ----------------------------------------------------------------------

    async def _person(self, request: web.Request) -> int:
        """The person id behind the request's credentials; 401 without genuine ones."""
        header = request.headers.get("Authorization", "")
        try:
            if header.startswith("tma "):
                user = check_init_data(header[4:], self.token)
                return (
                    await board.viewer_by_telegram_id(self.store.uow(), user.telegram_id)
                ).person_id
            cookie = request.cookies.get(COOKIE)
            if cookie:
                return read_session(cookie, self.token)
        except AuthError as exc:
            log.info("board: refused credentials (%s)", exc)
        raise web.HTTPUnauthorized(text="sign in: open the board from Telegram or send /board")

    def _texts(self, viewer: Viewer | None, request: web.Request | None = None) -> Texts:
        """The viewer's language; before sign-in, the browser's first choice."""
        svc = self.settings.service
        language = viewer.language if viewer and viewer.language else None
        if language is None and request is not None:
            first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
            language = language_from_telegram(first.strip(), svc.default_language)
        return Texts(language or svc.default_language, svc.timezone)

    # -- wrappers ---------------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def _api(self, build: Callable[[web.Request, int], Awaitable[Any]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                data = await build(request, await self._person(request))
            except NotPermitted:
                raise web.HTTPForbidden(text="not for your role") from None
            except NotFound:
                raise web.HTTPNotFound(text="not found") from None
            return web.json_response(_plain(data))

        return handler

    def _page(self, build: Callable[[web.Request, int], Awaitable[web.StreamResponse]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                return await build(request, await self._person(request))
            except web.HTTPUnauthorized:
                return self._render("signin.html", None, status=401, request=request)
            except NotPermitted:
                key = "board.forbidden"
                return self._render("message.html", None, status=403, request=request, key=key)
            except NotFound:
                key = "board.not_found"
                return self._render("message.html", None, status=404, request=request, key=key)

        return handler

    def _render(
        self,
        name: str,
        viewer: Viewer | None,
        *,
        status: int = 200,
        request: web.Request | None = None,
        **context: Any,
    ) -> web.Response:
        t = self._texts(viewer, request)
        html = self.templates.get_template(name).render(
            t=t,
            viewer=viewer,
            dur=lambda value: duration(t, value),
            pct=share,
            static=lambda file: f"/board/static/{file}",
            svg=svg,
            updated=t.when(self.store.clock(), "HH:mm"),
            **context,
        )
        return web.Response(text=html, status=status, content_type="text/html")

    # -- sign-in ----------------------------------------------------------------------------

    def _with_session(self, response: web.StreamResponse, person_id: int) -> web.StreamResponse:
        response.set_cookie(
            COOKIE,
            make_session(person_id, self.token),
            max_age=SESSION_SECONDS,
            path="/board",
            httponly=True,
            samesite="Strict",
            secure=self.settings.board.base_url().startswith("https://"),
        )
        return response

    async def _signin(self, request: web.Request) -> web.StreamResponse:
        """A one-time link from /board: sets the session and moves on to the overview."""
        try:
            viewer = await sign_in.redeem_signin(self.store.uow(), request.query.get("token", ""))
        except NotPermitted:
            key = "board.link_used"
            return self._render("message.html", None, status=401, request=request, key=key)
        # A page that moves on by itself, not a redirect: the cookie is SameSite=Strict and
        # a redirect that began in Telegram's app would arrive without it.
        page = self._render("moving.html", viewer)
        return self._with_session(page, viewer.person_id)

    async def _session(self, request: web.Request) -> web.StreamResponse:
        """The Mini App trades its initData (Authorization: tma …) for a session cookie."""
        try:
            person_id = await self._person(request)
            await board.viewer(self.store.uow(), person_id)
        except NotPermitted:
            raise web.HTTPForbidden(text="not for your role") from None
        return self._with_session(web.Response(status=204), person_id)

    async def _signout(self, request: web.Request) -> web.StreamResponse:
        response = web.HTTPSeeOther("/board/")
        response.del_cookie(COOKIE, path="/board")
        return response

    # -- data -------------------------------------------------------------------------------

    def _day_and_week(self) -> tuple[datetime, datetime]:
        zone = ZoneInfo(self.settings.service.timezone)
        now = self.store.clock().astimezone(zone)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        week = day - timedelta(days=day.weekday())
        return day, week

    async def _overview(self, request: web.Request, person_id: int) -> board.Overview:
        day, week = self._day_and_week()
        return await board.overview(self.store.uow(), person_id, day_start=day, week_start=week)

    async def _building(self, request: web.Request, person_id: int) -> board.BuildingPage:
        return await board.building_page(self.store.uow(), person_id, _id(request))

    async def _technicians(self, request: web.Request, person_id: int) -> list[Any]:
        end = self.store.clock()
        return await board.technicians(
            self.store.uow(), person_id, start=end - timedelta(days=30), end=end
        )

    async def _ticket(self, request: web.Request, person_id: int) -> board.TicketPage:
        return await board.ticket_page(self.store.uow(), person_id, _id(request))

    # -- pages ------------------------------------------------------------------------------

    async def _viewer(self, person_id: int) -> Viewer:
        return await board.viewer(self.store.uow(), person_id)

    async def _overview_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self._viewer(person_id)
        data = await self._overview(request, person_id)
        t = self._texts(viewer)
        by_status = [(t.status(s), n) for s, n in sorted(data.open_by_status.items())]
        followups = figures.capped(data.open_followups)
        compact = None
        if viewer.office:
            compact = await charts.charts(self.store.uow(), person_id, days=charts.DEFAULT_DAYS)
        return self._render(
            "overview.html",
            viewer,
            o=data,
            status_bars=by_status,
            followups=followups,
            c=compact,
        )

    async def _building_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self._viewer(person_id)
        page = await self._building(request, person_id)
        month = await charts.charts(
            self.store.uow(), person_id, days=charts.DEFAULT_DAYS, building_id=page.building_id
        )
        return self._render("building.html", viewer, b=page, c=month)

    async def _technicians_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self._viewer(person_id)
        rows = await self._technicians(request, person_id)
        return self._render("technicians.html", viewer, rows=rows)

    async def _ticket_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self._viewer(person_id)
        return self._render(
            "ticket.html",
            viewer,
            p=await self._ticket(request, person_id),
            photo_days=self.store.policy.photo_retention.days,
        )

    # -- charts (issue 27) -------------------------------------------------------------------

    async def _charts(self, request: web.Request, person_id: int) -> charts.Charts:
        try:
            days = charts.period_days(request.query.get("days"))
        except InvalidInput:
            raise web.HTTPBadRequest(text="days: 30 or 90") from None
        return await charts.charts(self.store.uow(), person_id, days=days)

    async def _charts_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self._viewer(person_id)
        try:
            days = charts.period_days(request.query.get("days"))
        except InvalidInput:
            key = "charts.bad_days"
            return self._render("message.html", viewer, status=400, key=key)
        data = await charts.charts(self.store.uow(), person_id, days=days)
        return self._render("charts.html", viewer, c=data)

    async def _photo(self, request: web.Request) -> web.StreamResponse:
        """A ticket's photo, fetched from Telegram for someone who may see the ticket."""
        try:
            person_id = await self._person(request)
            ticket = await board.visible_ticket(self.store.uow(), person_id, _id(request))
        except (NotFound, NotPermitted):
            raise web.HTTPNotFound(text="not found") from None
        photos = [*ticket.photos, *ticket.result_photos]
        n = request.match_info["n"]
        if not n.isdigit() or int(n) >= len(photos) or self.bot is None:
            raise web.HTTPNotFound(text="not found")
        try:
            file = await self.bot.get_file(photos[int(n)])
            data = await file.download_as_bytearray()
        except TelegramError as exc:
            log.warning("board: photo unavailable (%s)", exc)
            raise web.HTTPNotFound(text="photo unavailable") from None
        return web.Response(body=bytes(data), content_type="image/jpeg")


async def _to_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/board/")


def _id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound("id", raw=raw)
    return int(raw)


def _plain(value: Any) -> Any:
    """Dataclasses, enums, datetimes and durations as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value
