"""The report's "where is it?": a typed room code or building letters, or the guided list.

The first place step is WHERE: the person types the room code from the door or the QR
sticker ("E1-103": straight on to the category) or the first letters of a building
("E1公", "libr"), and the matches come back as buttons, a page at a time. "Choose on a list"
keeps the guided path campus → building → floor → room (where a room number can be typed
too). The steps here only change the draft; bot/flows/report.py saves and shows it.
"""

from __future__ import annotations

from typing import Any, Literal

from telegram import Update

from bot.callbacks import Nav, Pick
from bot.context import Ctx
from bot.flows.common import reply
from bot.ui import Button, clip, grid, keyboard, pager
from store.directory import places
from store.errors import NotFound
from store.intake.drafts import DraftView

WHERE, CAMPUS, BUILDING, FLOOR, ROOM = "where", "campus", "building", "floor", "room"
PLACE_STEPS = (WHERE, CAMPUS, BUILDING, FLOOR, ROOM)
ROOMS_PER_PAGE = 24
MATCHES_PER_PAGE = 24
# The place lists a page at a time (a campus may have hundreds of buildings): 10 rows of
# their grid each, well inside Telegram's 100 buttons. Kept per step in the draft as
# "<step>_offset"; a forged offset shows the nearest page there is.
PER_PAGE = {CAMPUS: 20, BUILDING: 30, FLOOR: 40, ROOM: ROOMS_PER_PAGE, WHERE: MATCHES_PER_PAGE}
COLUMNS = {CAMPUS: 2, BUILDING: 3, FLOOR: 5, ROOM: 4, WHERE: 3}
PICKS = {
    WHERE: {"building", "room", "page"},
    CAMPUS: {"campus", "page"},
    BUILDING: {"building", "page"},
    FLOOR: {"floor", "page"},
    ROOM: {"room", "page"},
}
QUERY_MAX = 60  # characters of a typed search kept in the draft

Outcome = Literal["moved", "placed", "stale"]


def nav_row(context: Ctx, step: str, *extra: Button, back: bool = True) -> list[Button]:
    """The Back and Cancel row every step ends with (after `extra` buttons)."""
    row: list[Button] = list(extra)
    if back:
        row.append((context.texts("common.back"), Nav(step, "back")))
    row.append((context.texts("common.cancel"), Nav(step, "cancel")))
    return row


def place_data(place: places.PlaceView) -> dict[str, object]:
    """What the draft keeps of a chosen room."""
    return {
        "campus_id": place.campus_id,
        "campus": place.campus,
        "building_id": place.building_id,
        "building": place.building,
        "floor": place.floor,
        "room_id": place.room_id,
        "room": place.room,
        "room_code": place.code,
    }


def _list_button(context: Ctx) -> list[Button]:
    return [(context.texts("report.choose_on_list"), Nav(WHERE, "list"))]


def _page(context: Ctx, d: dict[str, Any], step: str, buttons: list[Button]) -> list[list[Button]]:
    """One page of a place list laid out in its grid, and its ◀️/▶️ row."""
    size, total = PER_PAGE[step], len(buttons)
    offset = min(max(int(d.get(f"{step}_offset", 0)), 0), max((total - 1) // size * size, 0))
    newer = Pick(step, "page", offset - size) if offset > 0 else None
    older = Pick(step, "page", offset + size) if offset + size < total else None
    shown = buttons[offset : offset + size]
    return [*grid(shown, COLUMNS[step]), pager(context.texts, newer, older)]


async def _matches(context: Ctx, d: dict[str, Any]) -> list[Button]:
    """The buttons for the draft's typed search: buildings first, then rooms."""
    found = await places.search_places(context.store.uow(), str(d.get("where_query", "")))
    names = [b.name for b in found.buildings]
    buttons: list[Button] = []
    for b in found.buildings:
        # Two campuses may have a building of the same name: then say which campus.
        label = f"🏢 {b.name}" if names.count(b.name) == 1 else f"🏢 {b.name} · {b.campus}"
        buttons.append((label, Pick(WHERE, "building", b.id)))
    buttons += [(r.code, Pick(WHERE, "room", r.id)) for r in found.rooms]
    return buttons


async def render_place(update: Update, context: Ctx, draft: DraftView, *, edit: bool) -> bool:
    """Show a place step; False when there are no places at all (the draft is dropped by
    the caller)."""
    t, step, d, uow = context.texts, draft.step, draft.data, context.store.uow
    if step == WHERE:
        back = "room_id" in d  # back to the category of the room chosen before
        query = str(d.get("where_query", ""))
        if not query:
            rows = [_list_button(context), nav_row(context, step, back=back)]
            return await _show(update, t("report.ask_where"), rows, edit)
        buttons = await _matches(context, d)
        if not buttons:
            text = t("report.where_no_match", text=clip(query, 40))
            rows = [_list_button(context), nav_row(context, step, back=back)]
            return await _show(update, text, rows, edit)
        text = t("report.where_matches", text=clip(query, 40), count=len(buttons))
        rows = [*_page(context, d, step, buttons), _list_button(context)]
        return await _show(update, text, [*rows, nav_row(context, step, back=back)], edit)
    if step == CAMPUS:
        campuses = await places.list_campuses(uow())
        if not campuses:
            return False
        buttons = [(c.name, Pick(step, "campus", c.id)) for c in campuses]
        rows = [*_page(context, d, step, buttons), nav_row(context, step)]
        return await _show(update, t("report.choose_campus"), rows, edit)
    if step == BUILDING:
        buildings = await places.list_buildings(uow(), int(d["campus_id"]))
        buttons = [(b.name, Pick(step, "building", b.id)) for b in buildings]
        campus = buildings[0].campus if buildings else ""
        rows = [*_page(context, d, step, buttons), nav_row(context, step)]
        return await _show(update, t("report.choose_building", campus=campus), rows, edit)
    if step == FLOOR:
        floors = await places.list_floors(uow(), int(d["building_id"]))
        buttons = [(f, Pick(step, "floor", i)) for i, f in enumerate(floors)]
        rows = [*_page(context, d, step, buttons), nav_row(context, step)]
        text = t("report.choose_floor", building=d.get("building", ""))
        return await _show(update, text, rows, edit)
    offset = int(d.get("room_offset", 0))
    rooms, total = await places.list_rooms(
        uow(), int(d["building_id"]), d.get("floor"), offset=offset, limit=ROOMS_PER_PAGE
    )
    if not rooms and offset > 0:  # past the end (a forged or outdated page): the last
        offset = max((total - 1) // ROOMS_PER_PAGE * ROOMS_PER_PAGE, 0)
        rooms, total = await places.list_rooms(
            uow(), int(d["building_id"]), d.get("floor"), offset=offset, limit=ROOMS_PER_PAGE
        )
    buttons = [(r.name, Pick(ROOM, "room", r.id)) for r in rooms]
    newer = Pick(ROOM, "page", max(offset - ROOMS_PER_PAGE, 0)) if offset > 0 else None
    older = (
        Pick(ROOM, "page", offset + ROOMS_PER_PAGE) if offset + ROOMS_PER_PAGE < total else None
    )
    rows = [*grid(buttons, COLUMNS[ROOM]), pager(t, newer, older), nav_row(context, ROOM)]
    return await _show(update, t("report.choose_room", floor=d.get("floor", "")), rows, edit)


async def _show(update: Update, text: str, rows: list[list[Button]], edit: bool) -> bool:
    await reply(update, text, keyboard(rows), edit=edit)
    return True


async def pick_place(context: Ctx, draft: DraftView, pick: Pick) -> Outcome:
    """Apply a place button to the draft: "placed" when a room is chosen (its data is in
    the draft), "moved" for the next place step or page, "stale" for a value that is no
    longer (or never was) one of the choices shown."""
    d, uow = draft.data, context.store.uow
    if pick.what not in PICKS.get(draft.step, set()):
        return "stale"
    if pick.what == "page":
        d[f"{draft.step}_offset"] = max(pick.value, 0)
        return "moved"
    if draft.step == WHERE:
        found = await places.search_places(uow(), str(d.get("where_query", "")))
        if pick.what == "building":
            chosen = next((b for b in found.buildings if b.id == pick.value), None)
            if chosen is None:
                return "stale"
            d.update(campus_id=chosen.campus_id, building_offset=0)
            return _into_building(draft, chosen)
        if pick.value not in {r.id for r in found.rooms}:
            return "stale"
        return await _placed(context, draft, pick.value)
    if pick.what == "campus":
        if pick.value not in {c.id for c in await places.list_campuses(uow())}:
            return "stale"
        d.update(campus_id=pick.value, building_offset=0)
        draft.step = BUILDING
        return "moved"
    if pick.what == "building":
        buildings = await places.list_buildings(uow(), int(d.get("campus_id", 0)))
        chosen = next((b for b in buildings if b.id == pick.value), None)
        return "stale" if chosen is None else _into_building(draft, chosen)
    if pick.what == "floor":
        floors = await places.list_floors(uow(), int(d["building_id"]))
        if not 0 <= pick.value < len(floors):
            return "stale"
        d.update(floor=floors[pick.value], room_offset=0)
        draft.step = ROOM
        return "moved"
    # A room of the list: it must be in the building the list was for.
    try:
        place = await places.get_room_place(uow(), pick.value)
    except NotFound:
        return "stale"
    if place.building_id != d.get("building_id"):
        return "stale"
    d.update(place_data(place))
    return "placed"


def _into_building(draft: DraftView, chosen: places.BuildingView) -> Outcome:
    draft.data.update(
        building_id=chosen.id, building=chosen.name, campus=chosen.campus, floor_offset=0
    )
    draft.step = FLOOR
    return "moved"


async def _placed(context: Ctx, draft: DraftView, room_id: int) -> Outcome:
    try:
        place = await places.get_room_place(context.store.uow(), room_id)
    except NotFound:
        return "stale"
    draft.data.update(place_data(place))
    return "placed"


async def typed_place(update: Update, context: Ctx, draft: DraftView, text: str) -> Outcome | None:
    """Typed text at a place step: a search at WHERE (and at the campus and building
    lists, which it leaves for WHERE), a room number at the floor and room lists.
    "placed" when it named one room, "moved" to show the matches (or that none match),
    None when the answer was given here (a room number not in the building)."""
    d = draft.data
    if draft.step in (FLOOR, ROOM) and d.get("building_id"):
        place = await places.find_room(context.store.uow(), int(d["building_id"]), text)
        if place is None:
            building = d.get("building", "")
            await reply(
                update,
                context.texts("report.room_not_found", text=clip(text, 40), building=building),
            )
            return None
        d.update(place_data(place))
        return "placed"
    query = " ".join(text.split())[:QUERY_MAX]
    found = await places.search_places(context.store.uow(), query)
    if found.exact is not None:
        d.pop("where_query", None)
        d.update(place_data(found.exact))
        return "placed"
    d.update(where_query=query, where_offset=0)
    draft.step = WHERE
    return "moved"
