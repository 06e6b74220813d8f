"""The board's list pages: buildings, the tickets list (filters, keyset pages, export)
and search, with their JSON twins under /board/api/.

Filters live in the URL's query string, so a link reproduces the view. A bad value (a
garbled id, reversed or huge dates, an unknown status) gets a message on the page with
status 400, never a server error; a building, campus or technician outside the viewer's
scope is refused with the same words as one that does not exist. The export is the
chat's /export (bot.export.ExportFiles over store.reporting.export.stream_export) with
the list's filters as its WHERE terms: exactly the listed tickets, in the same scope,
with phones only where store.domain.phones allows them.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.board.headers import SECURITY_HEADERS
from bot.i18n import Texts
from store.lifecycle import Status
from store.reporting import board_lists
from store.reporting.board_lists import Cursor, Options, TicketFilter
from store.reporting.summaries import local_midnight

if TYPE_CHECKING:
    from bot.settings import Settings
    from store.domain.board_access import Viewer
    from store.reporting.export import ExportRow
    from store.uow import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BoardServer(Protocol):
    """What the list pages use of bot.board.server.BoardServer (which adds them: a
    Protocol here, so that neither module imports the other)."""

    settings: Settings
    store: Store

    async def _viewer(self, person_id: int) -> Viewer: ...

    def _texts(self, viewer: Viewer | None, request: web.Request | None = None) -> Texts: ...

    def _render(
        self,
        name: str,
        viewer: Viewer | None,
        *,
        status: int = 200,
        request: web.Request | None = None,
        **context: Any,
    ) -> web.Response: ...

    def _page(
        self, build: Callable[[web.Request, int], Awaitable[web.StreamResponse]]
    ) -> Handler: ...

    def _api(self, build: Callable[[web.Request, int], Awaitable[Any]]) -> Handler: ...


MAX_DAYS = 366  # the longest date range a list or an export covers
LIST_DAYS = 30  # the tickets list's default range: the last 30 days
SEARCH_DAYS = 90  # words are searched in the last 90 days unless dates are given
QUERY_MAX = 100
QUERY_MIN = 2
FIRST_YEAR, LAST_YEAR = 2000, 2100
FILTERS = ("from", "to", "campus", "building", "category", "status", "technician", "rating")
CHUNK = 64 * 1024


@dataclass
class Parsed:
    """A list's query string read: the filter, the cursors, what the form shows again,
    and the messages about values that could not be used."""

    filter: TicketFilter
    values: dict[str, str]  # the filters as given (the form and the links keep them)
    errors: list[str] = field(default_factory=list)
    after: Cursor | None = None
    before: Cursor | None = None
    start_day: date | None = None
    end_day: date | None = None


def _today(server: BoardServer) -> date:
    zone = ZoneInfo(server.settings.service.timezone)
    return server.store.clock().astimezone(zone).date()


def _day(raw: str, label: str, t: Texts, errors: list[str]) -> date | None:
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors.append(t("boardlists.bad_date", field=label, value=raw[:40]))
        return None
    return day


def _dates(
    server: BoardServer, query: Any, t: Texts, errors: list[str], default_days: int
) -> tuple[date, date]:
    """The range's first and last local day (inclusive); the default ends today."""
    today = _today(server)
    raw_from, raw_to = query.get("from", "").strip(), query.get("to", "").strip()
    last = _day(raw_to, t("boardlists.filter_to"), t, errors) if raw_to else today
    first = (
        _day(raw_from, t("boardlists.filter_from"), t, errors)
        if raw_from
        else (last or today) - timedelta(days=default_days - 1)
    )
    if first is None or last is None:
        return today - timedelta(days=default_days - 1), today
    if first > last:
        errors.append(t("boardlists.reversed_dates"))
    elif (last - first).days + 1 > MAX_DAYS:
        errors.append(t("boardlists.range_too_long", days=MAX_DAYS))
    return first, last


def _bounds(server: BoardServer, first: date, last: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(server.settings.service.timezone)
    return local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


def _pick(
    raw: str, label: str, choices: list[board_lists.Choice], t: Texts, errors: list[str]
) -> int | None:
    """An id among the viewer's choices; anything else (garbage, another campus's, a
    missing one) gets the same message."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 12 and int(raw) in {c.id for c in choices}:
        return int(raw)
    errors.append(t("boardlists.not_yours", field=label, value=raw[:40]))
    return None


def _cursors(query: Any, t: Texts, errors: list[str]) -> tuple[Cursor | None, Cursor | None]:
    out: list[Cursor | None] = []
    for name in ("after", "before"):
        raw = query.get(name, "")
        try:
            out.append(Cursor.parse(raw) if raw else None)
        except ValueError:
            errors.append(t("boardlists.bad_page"))
            out.append(None)
    return out[0], out[1]


def parse_list(server: BoardServer, query: Any, t: Texts, opts: Options) -> Parsed:
    """The tickets list's query string as a filter (see the module's docstring)."""
    errors: list[str] = []
    values = {name: query.get(name, "").strip() for name in FILTERS}
    first, last = _dates(server, query, t, errors, LIST_DAYS)
    start, end = _bounds(server, first, last)
    picked: dict[str, int | None] = {}
    for name, choices in (
        ("campus", opts.campuses),
        ("building", opts.buildings),
        ("technician", opts.technicians),
    ):
        raw = values[name]
        picked[name] = (
            _pick(raw, t(f"boardlists.filter_{name}"), choices, t, errors) if raw else None
        )
    category_id = None
    if values["category"]:
        keys = {c.key: c.id for c in opts.categories}
        category_id = keys.get(values["category"])
        if category_id is None:
            label = t("boardlists.filter_category")
            errors.append(t("boardlists.not_yours", field=label, value=values["category"][:40]))
    status = None
    if values["status"]:
        try:
            status = Status(values["status"])
        except ValueError:
            errors.append(t("boardlists.bad_status", value=values["status"][:40]))
    rating = None
    if values["rating"]:
        if values["rating"] in {"1", "2", "3", "4", "5"}:
            rating = int(values["rating"])
        else:
            errors.append(t("boardlists.bad_rating", value=values["rating"][:40]))
    after, before = _cursors(query, t, errors)
    f = TicketFilter(
        start,
        end,
        campus_id=picked["campus"],
        building_id=picked["building"],
        category_id=category_id,
        status=status,
        technician_id=picked["technician"],
        rating=rating,
    )
    return Parsed(f, values, errors, after, before, first, last)


def _resolved(parsed: Parsed) -> dict[str, str]:
    """The filters with the dates the view used: the pager's and the export's links name
    the same days even after midnight has moved the default range on."""
    values = dict(parsed.values)
    if not parsed.errors and parsed.start_day and parsed.end_day:
        values["from"], values["to"] = parsed.start_day.isoformat(), parsed.end_day.isoformat()
    return values


def _link(path: str, values: dict[str, str], **extra: str) -> str:
    params = {k: v for k, v in {**values, **extra}.items() if v}
    return f"{path}?{urlencode(params)}" if params else path


# --- the pages -----------------------------------------------------------------------------


class BoardLists:
    """The list pages of one BoardServer (its auth wrappers, texts and rendering)."""

    def __init__(self, server: BoardServer) -> None:
        self.server = server

    def add_routes(self, r: web.UrlDispatcher) -> None:
        s = self.server
        r.add_get("/board/buildings", s._page(self._buildings_page))
        r.add_get("/board/tickets", s._page(self._tickets_page))
        r.add_get("/board/search", s._page(self._search_page))
        r.add_get("/board/export/tickets.xlsx", s._page(self._export_xlsx))
        r.add_get("/board/export/tickets.csv", s._page(self._export_csv))
        r.add_get("/board/api/buildings", s._api(self._buildings))
        r.add_get("/board/api/tickets", s._api(self._tickets))
        r.add_get("/board/api/search", s._api(self._search))

    # -- data ---------------------------------------------------------------------------

    async def _buildings(self, request: web.Request, person_id: int) -> Any:
        return await board_lists.buildings(self.server.store.uow(), person_id)

    async def _list(
        self, request: web.Request, person_id: int, t: Texts
    ) -> tuple[Parsed, Options, board_lists.TicketPage | None]:
        store = self.server.store
        opts = await board_lists.options(store.uow(), person_id)
        parsed = parse_list(self.server, request.query, t, opts)
        if parsed.errors:
            return parsed, opts, None
        page = await board_lists.tickets(
            store.uow(), person_id, parsed.filter, after=parsed.after, before=parsed.before
        )
        return parsed, opts, page

    async def _tickets(self, request: web.Request, person_id: int) -> Any:
        viewer = await self.server._viewer(person_id)
        parsed, _opts, page = await self._list(request, person_id, self.server._texts(viewer))
        if page is None:
            raise web.HTTPBadRequest(text="\n".join(parsed.errors))
        return {"items": page.items, "next": page.next, "prev": page.prev}

    async def _find(
        self, request: web.Request, person_id: int, t: Texts
    ) -> tuple[str, Parsed, board_lists.SearchResult | None]:
        # NUL is no character a ticket holds (and PostgreSQL refuses it in text).
        query = request.query.get("q", "").replace("\x00", "").strip()
        errors: list[str] = []
        first, last = _dates(self.server, request.query, t, errors, SEARCH_DAYS)
        start, end = _bounds(self.server, first, last)
        after, before = _cursors(request.query, t, errors)
        if len(query) > QUERY_MAX:
            errors.append(t("boardlists.query_too_long", n=QUERY_MAX))
        elif query and len(query) < QUERY_MIN and not query.isdigit():
            errors.append(t("boardlists.query_too_short", n=QUERY_MIN))
        values = {
            "q": query[:QUERY_MAX],
            "from": request.query.get("from", "").strip(),
            "to": request.query.get("to", "").strip(),
        }
        parsed = Parsed(TicketFilter(start, end), values, errors, after, before, first, last)
        if errors or not query:
            return query, parsed, None
        result = await board_lists.search(
            self.server.store.uow(), person_id, query, parsed.filter, after=after, before=before
        )
        return query, parsed, result

    async def _search(self, request: web.Request, person_id: int) -> Any:
        viewer = await self.server._viewer(person_id)
        _q, parsed, result = await self._find(request, person_id, self.server._texts(viewer))
        if parsed.errors:
            raise web.HTTPBadRequest(text="\n".join(parsed.errors))
        if result is None:
            return {"ticket_id": None, "room_code": None, "items": [], "next": None, "prev": None}
        page = result.page
        return {
            "ticket_id": result.ticket_id,
            "room_code": result.room_code,
            "items": page.items,
            "next": page.next,
            "prev": page.prev,
        }

    # -- pages --------------------------------------------------------------------------

    async def _buildings_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self.server._viewer(person_id)
        rows = await self._buildings(request, person_id)
        return self.server._render(
            "buildings.html", viewer, rows=rows, figure_days=board_lists.FIGURE_DAYS
        )

    async def _tickets_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self.server._viewer(person_id)
        t = self.server._texts(viewer)
        parsed, opts, page = await self._list(request, person_id, t)
        values = _resolved(parsed)
        return self.server._render(
            "tickets.html",
            viewer,
            status=400 if parsed.errors else 200,
            parsed=parsed,
            opts=opts,
            page=page,
            statuses=list(Status),
            next_link=page and page.next and _link("/board/tickets", values, after=page.next),
            prev_link=page and page.prev and _link("/board/tickets", values, before=page.prev),
            xlsx_link=_link("/board/export/tickets.xlsx", values),
            csv_link=_link("/board/export/tickets.csv", values),
            phones_link=_link("/board/export/tickets.xlsx", values, phones="1"),
        )

    async def _search_page(self, request: web.Request, person_id: int) -> web.StreamResponse:
        viewer = await self.server._viewer(person_id)
        t = self.server._texts(viewer)
        query, parsed, result = await self._find(request, person_id, t)
        if result is not None and result.ticket_id is not None:
            raise web.HTTPSeeOther(f"/board/tickets/{result.ticket_id}")
        page = result.page if result else None
        values = _resolved(parsed)
        return self.server._render(
            "search.html",
            viewer,
            status=400 if parsed.errors else 200,
            query=query,
            parsed=parsed,
            result=result,
            page=page,
            next_link=page and page.next and _link("/board/search", values, after=page.next),
            prev_link=page and page.prev and _link("/board/search", values, before=page.prev),
        )

    # -- export -------------------------------------------------------------------------

    async def _export_xlsx(self, request: web.Request, person_id: int) -> web.StreamResponse:
        return await self._export(request, person_id, sheet=True)

    async def _export_csv(self, request: web.Request, person_id: int) -> web.StreamResponse:
        return await self._export(request, person_id, sheet=False)

    async def _export(
        self, request: web.Request, person_id: int, *, sheet: bool
    ) -> web.StreamResponse:
        """The filtered list as the chat's /export writes it (every page, oldest first)."""
        # Imported here, as the chat does: the workbook writer is heavy.
        from bot.export import ExportFiles
        from store.reporting import export

        server = self.server
        viewer = await server._viewer(person_id)
        t = server._texts(viewer)
        opts = await board_lists.options(server.store.uow(), person_id)
        parsed = parse_list(server, request.query, t, opts)
        with_phones = request.query.get("phones", "") == "1"
        if with_phones and not opts.phones:
            # As /export --with-phones: admins only (store.domain.phones).
            key = "boardlists.phones_admins_only"
            return server._render("message.html", viewer, status=403, key=key)
        if parsed.errors:
            return server._render(
                "tickets.html",
                viewer,
                status=400,
                parsed=parsed,
                opts=opts,
                page=None,
                statuses=list(Status),
                next_link=None,
                prev_link=None,
                xlsx_link="",
                csv_link="",
                phones_link="",
            )
        f = parsed.filter
        assert f.start is not None and f.end is not None
        first, last = parsed.start_day, parsed.end_day
        assert first is not None and last is not None
        stem = f"tickets-{first:%Y%m%d}-{last:%Y%m%d}"
        with tempfile.TemporaryDirectory(prefix="repairbot-board-export-") as tmp:
            with ExportFiles(Path(tmp), stem, t.zone, with_phones=with_phones) as files:

                async def write(batch: list[ExportRow]) -> None:
                    await asyncio.to_thread(files.add, batch)

                await export.stream_export(
                    server.store.read(),
                    start=f.start,
                    end=f.end,
                    viewer_id=person_id,
                    write=write,
                    with_phones=with_phones,
                    where=f.clauses(),
                )
                if sheet:
                    await asyncio.to_thread(files.finish)
            if with_phones:
                log.info(
                    "board export with phone numbers by person %s: %s tickets",
                    person_id,
                    files.count,
                )
            path = files.xlsx_path if sheet else files.csv_path
            kind = (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if sheet
                else "text/csv; charset=utf-8"
            )
            # The middleware's headers, set before the body starts.
            response = web.StreamResponse(
                headers={
                    **SECURITY_HEADERS,
                    "Content-Type": kind,
                    "Content-Disposition": f'attachment; filename="{path.name}"',
                    "Content-Length": str(path.stat().st_size),
                }
            )
            await response.prepare(request)
            with path.open("rb") as fh:
                while chunk := await asyncio.to_thread(fh.read, CHUNK):
                    await response.write(chunk)
            await response.write_eof()
            return response
