"""The guided report: place → category → description → photos → urgency → phone → confirm.

The draft is saved to the database at every step (store.intake.drafts), so a restart
of the bot loses nothing: the user's next message or button carries on at the same step.
Every step has Back and Cancel; /cancel works anywhere. Buttons carry the step they
belong to, so a press on an older message is recognised as stale.
"""

from __future__ import annotations

from typing import Any

from telegram import (
    KeyboardButton,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import EditField, Follow, Nav, Pick
from bot.context import Ctx
from bot.flows import pending
from bot.flows.common import answer, data_of, guarded, pattern, reply
from bot.flows.walkup import submit_walkup
from bot.ui import Button, clip, grid, keyboard, mask_phone, pager, reply_keyboard
from store.directory import places
from store.directory.categories import list_categories
from store.directory.profiles import room_of, saved_phone, set_phone
from store.domain.filing import NewTicket, Urgency, validate_description
from store.errors import DescriptionTooLong, InvalidInput, NotFound
from store.intake import drafts
from store.intake.drafts import DraftView
from store.intake.report import follow, report
from store.repair.queries import open_duplicates, ticket_detail

# Steps, in order; BACK says where Back leads from each.
CAMPUS, BUILDING, FLOOR, ROOM = "campus", "building", "floor", "room"
CATEGORY, DUPLICATE, DESCRIPTION, PHOTOS = "category", "duplicate", "description", "photos"
URGENCY, CONTACT, SUMMARY, EDIT = "urgency", "contact", "summary", "edit"
BACK = {
    BUILDING: CAMPUS,
    FLOOR: BUILDING,
    ROOM: FLOOR,
    CATEGORY: ROOM,
    DUPLICATE: CATEGORY,
    DESCRIPTION: CATEGORY,
    PHOTOS: DESCRIPTION,
    URGENCY: PHOTOS,
    CONTACT: URGENCY,
    SUMMARY: CONTACT,
    EDIT: SUMMARY,
}
EDITABLE = {
    "place": CAMPUS,
    "category": CATEGORY,
    "description": DESCRIPTION,
    "photos": PHOTOS,
    "urgency": URGENCY,
    "contact": CONTACT,
}
ROOMS_PER_PAGE = 24
# The place lists a page at a time (a campus may have hundreds of buildings): 10 rows of
# their grid each, well inside Telegram's 100 buttons. Kept per step in the draft as
# "<step>_offset"; a forged offset shows the nearest page there is.
PER_PAGE = {CAMPUS: 20, BUILDING: 30, FLOOR: 40, ROOM: ROOMS_PER_PAGE}
COLUMNS = {CAMPUS: 2, BUILDING: 3, FLOOR: 5, ROOM: 4}
# Which kinds of Pick each step offers; callback data can be forged, so no other kind of
# choice may act on the step (e.g. an urgency pressed "at" the category step).
PICKS = {
    CAMPUS: {"campus", "page"},
    BUILDING: {"building", "page"},
    FLOOR: {"floor", "page"},
    ROOM: {"room", "page"},
    CATEGORY: {"cat"},
    URGENCY: {"urg"},
}


# --- entry points ---------------------------------------------------------------------------


async def begin(update: Update, context: Ctx, *, walkup: dict[str, str] | None = None) -> None:
    """Start a report: at the person's own room when set, else at the first place step.
    `walkup` (name, phone) files a fresh one for a walk-up person at a booth.

    A report already in progress is picked up instead (as /report does): a Report button
    on an older message (the menu, a sweep's question) must not wipe it. A parked question
    is dropped, as any navigation drops it, resuming the report it kept aside."""
    if walkup is None:
        await pending.clear(context)
        existing = await drafts.get_draft(context.store.uow(), context.person.id)
        if existing is not None:
            await reply(update, context.texts("report.resumed"))
            await render(update, context, existing)
            return
        await _tell_unseen_filing(update, context)
    draft = DraftView(CAMPUS)
    if walkup is not None:
        draft.data["walkup"] = walkup
    else:
        room_id = await room_of(context.store.uow(), context.person.id)
        if room_id is not None:
            place = await places.get_room_place(context.store.uow(), room_id)
            draft = DraftView(CATEGORY, _place_data(place))
            await reply(
                update,
                context.texts(
                    "report.my_room_used",
                    room_code=place.code,
                    building=place.building,
                    room=place.room,
                ),
            )
            await _go(update, context, draft)
            return
    campuses = await places.list_campuses(context.store.uow())
    if len(campuses) == 1:  # nothing to choose: skip straight to the buildings
        draft.data["campus_id"] = campuses[0].id
        draft.step = BUILDING
    await _go(update, context, draft)


async def _tell_unseen_filing(update: Update, context: Ctx) -> None:
    """The last report was filed but its confirmation may never have been seen (the bot
    stopped, or the message failed): name the ticket before starting a new report."""
    filed = await drafts.filed_draft(context.store.uow(), context.person.id)
    if filed is None or filed.acknowledged:
        return
    await drafts.acknowledge_filed(context.store.uow(), context.person.id)
    try:
        view, _caps = await ticket_detail(context.store.uow(), filed.ticket_id, context.person.id)
    except NotFound:
        return  # no longer theirs to see (a booth filer who left the booth)
    status = context.texts.status(view.status)
    await reply(update, context.texts("report.filed_earlier", number=filed.number, status=status))


async def start_for_room(update: Update, context: Ctx, code: str) -> bool:
    """A QR deep link: begin a report with the room filled in; False if the room is unknown."""
    place = await places.room_by_code(context.store.uow(), code)
    if place is None:
        return False
    draft = DraftView(CATEGORY, _place_data(place))
    await reply(
        update,
        context.texts(
            "start.deeplink_room", room_code=place.code, building=place.building, room=place.room
        ),
    )
    await _go(update, context, draft)
    return True


async def report_command(update: Update, context: Ctx) -> None:
    """/report: a new report (a draft in progress is picked up where it was)."""
    await begin(update, context)


async def cancel_command(update: Update, context: Ctx) -> None:
    """/cancel anywhere: drop whatever is in progress."""
    dropped = await drafts.drop_draft(context.store.uow(), context.person.id)
    key = "common.cancelled" if dropped else "common.nothing_to_cancel"
    await reply(update, context.texts(key), ReplyKeyboardRemove())


# --- rendering ------------------------------------------------------------------------------


def _nav_row(context: Ctx, step: str, *extra: Button) -> list[Button]:
    row: list[Button] = list(extra)
    if step in BACK:
        row.append((context.texts("common.back"), Nav(step, "back")))
    row.append((context.texts("common.cancel"), Nav(step, "cancel")))
    return row


async def _go(update: Update, context: Ctx, draft: DraftView, *, edit: bool = False) -> None:
    """Save the draft, then show its step."""
    await drafts.save_draft(context.store.uow(), context.person.id, draft)
    await render(update, context, draft, edit=edit)


async def render(update: Update, context: Ctx, draft: DraftView, *, edit: bool = False) -> None:
    """Show the prompt and buttons of the draft's current step."""
    t, step, d, uow = context.texts, draft.step, draft.data, context.store.uow
    policy = context.store.policy
    if step == CAMPUS:
        campuses = await places.list_campuses(uow())
        if not campuses:
            await drafts.drop_draft(uow(), context.person.id)
            return await reply(update, t("report.no_places"), edit=edit)
        buttons: list[Button] = [(c.name, Pick(step, "campus", c.id)) for c in campuses]
        rows: list[list[Button]] = [*_page(context, d, step, buttons), _nav_row(context, step)]
        return await reply(update, t("report.choose_campus"), keyboard(rows), edit=edit)
    if step == BUILDING:
        buildings = await places.list_buildings(uow(), int(d["campus_id"]))
        buttons = [(b.name, Pick(step, "building", b.id)) for b in buildings]
        campus = buildings[0].campus if buildings else ""
        rows = [*_page(context, d, step, buttons), _nav_row(context, step)]
        text = t("report.choose_building", campus=campus)
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == FLOOR:
        floors = await places.list_floors(uow(), int(d["building_id"]))
        buttons = [(f, Pick(step, "floor", i)) for i, f in enumerate(floors)]
        rows = [*_page(context, d, step, buttons), _nav_row(context, step)]
        text = t("report.choose_floor", building=d.get("building", ""))
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == ROOM:
        offset = int(d.get("room_offset", 0))
        rooms, total = await places.list_rooms(
            uow(), int(d["building_id"]), d.get("floor"), offset=offset, limit=ROOMS_PER_PAGE
        )
        if not rooms and offset > 0:  # past the end (a forged or outdated page): the last
            offset = max((total - 1) // ROOMS_PER_PAGE * ROOMS_PER_PAGE, 0)
            rooms, total = await places.list_rooms(
                uow(), int(d["building_id"]), d.get("floor"), offset=offset, limit=ROOMS_PER_PAGE
            )
        buttons = [(r.name, Pick(step, "room", r.id)) for r in rooms]
        newer = Pick(step, "page", max(offset - ROOMS_PER_PAGE, 0)) if offset > 0 else None
        older = (
            Pick(step, "page", offset + ROOMS_PER_PAGE)
            if offset + ROOMS_PER_PAGE < total
            else None
        )
        rows = [*grid(buttons, COLUMNS[ROOM]), pager(t, newer, older), _nav_row(context, step)]
        text = t("report.choose_room", floor=d.get("floor", ""))
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == CATEGORY:
        categories = await list_categories(uow())
        buttons = [(t.category(c.key), Pick(step, "cat", c.id)) for c in categories]
        rows = [*grid(buttons, 2), _nav_row(context, step)]
        return await reply(update, t("report.choose_category"), keyboard(rows), edit=edit)
    if step == DUPLICATE:
        dup = d["duplicate"]
        rows = [
            [(t("report.follow_existing", number=dup["number"]), Follow(int(dup["id"])))],
            [(t("report.file_anyway"), Nav(step, "file_anyway"))],
            _nav_row(context, step),
        ]
        text = t(
            "report.duplicate_found",
            number=dup["number"],
            status=t.status(dup["status"]),
            description=clip(dup["description"], 200),
        )
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == DESCRIPTION:
        text = t("report.ask_description", limit=policy.description_max)
        return await reply(update, text, keyboard([_nav_row(context, step)]), edit=edit)
    if step == PHOTOS:
        action = "done" if d.get("photos") else "skip"
        label = t("common.done") if action == "done" else t("common.skip")
        rows = [[(label, Nav(step, action))], _nav_row(context, step)]
        text = t("report.ask_photos", limit=policy.photos_max)
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == URGENCY:
        buttons = [(t(f"urgency.{u}"), Pick(step, "urg", i)) for i, u in enumerate(Urgency)]
        rows = [buttons, _nav_row(context, step)]
        return await reply(update, t("report.choose_urgency"), keyboard(rows), edit=edit)
    if step == CONTACT:
        saved = await _saved_phone(context)
        share = t("report.share_new_phone" if saved else "report.share_contact")
        offer = t("report.use_saved_phone", phone=mask_phone(saved)) if saved else None
        contact_rows = [[KeyboardButton(offer)]] if offer else []
        contact_rows += [
            [KeyboardButton(share, request_contact=True)],
            [KeyboardButton(t("common.skip"))],
            [KeyboardButton(t("common.back")), KeyboardButton(t("common.cancel"))],
        ]
        markup = reply_keyboard(contact_rows, resize_keyboard=True, one_time_keyboard=True)
        return await reply(update, t("report.ask_contact"), markup)
    if step == EDIT:
        names = ["place", "category", "description", "photos", "urgency", "contact"]
        buttons = [(t(f"report.edit_{n}"), EditField(n)) for n in names]
        rows = [*grid(buttons, 2), _nav_row(context, step)]
        return await reply(update, t("report.edit_which"), keyboard(rows), edit=edit)
    return await _render_summary(update, context, draft, edit=edit)


async def _render_summary(update: Update, context: Ctx, draft: DraftView, *, edit: bool) -> None:
    t, d = context.texts, draft.data
    text = t(
        "report.summary",
        place=f"{d.get('campus', '')} · {d.get('building', '')} · {d.get('room', '')}",
        category=t.category(d.get("category", "other")),
        urgency=t(f"urgency.{d.get('urgency', 'normal')}"),
        description=clip(d.get("description", ""), 1500),
        photos=len(d.get("photos", [])),
        phone=d.get("phone") or t("report.no_phone"),
    )
    rows = [
        [(t("common.confirm"), Nav(SUMMARY, "confirm"))],
        [(t("report.edit"), Nav(SUMMARY, "edit")), (t("common.cancel"), Nav(SUMMARY, "cancel"))],
    ]
    return await reply(update, text, keyboard(rows), edit=edit)


# --- moving between steps ------------------------------------------------------------------


def _place_data(place: places.PlaceView) -> dict[str, object]:
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


def _after(draft: DraftView, step: str) -> str:
    """The step after `step`, or the summary when the user came from "Edit"."""
    order = [CATEGORY, DESCRIPTION, PHOTOS, URGENCY, CONTACT, SUMMARY]
    if draft.data.get("editing"):
        draft.data.pop("editing")
        return SUMMARY
    return order[order.index(step) + 1] if step in order else CATEGORY


async def _after_place(update: Update, context: Ctx, draft: DraftView, edit: bool) -> None:
    """The room is known: skip to the summary when editing, else on to the category."""
    if draft.data.get("category_id") and draft.data.get("editing"):
        draft.data.pop("editing")
        draft.step = SUMMARY
    else:
        draft.step = CATEGORY
    await _go(update, context, draft, edit=edit)


async def _after_category(update: Update, context: Ctx, draft: DraftView) -> None:
    """Duplicate guard: an open ticket for the same room and category is offered first."""
    dups = await open_duplicates(
        context.store.uow(), int(draft.data["room_id"]), int(draft.data["category_id"])
    )
    # At a booth the walk-up person files their own ticket (they get a claim code); following
    # someone else's would leave them with nothing to claim.
    if dups and not draft.data.get("file_anyway") and "walkup" not in draft.data:
        dup = dups[0]
        draft.data["duplicate"] = {
            "id": dup.id,
            "number": dup.number,
            "status": dup.status,
            "description": dup.description,
        }
        draft.step = DUPLICATE
    else:
        draft.step = _after(draft, CATEGORY)
    await _go(update, context, draft, edit=True)


async def _load(update: Update, context: Ctx, step: str) -> DraftView | None:
    """The draft, if the pressed button belongs to its current step; else a stale alert."""
    draft = await drafts.get_draft(context.store.uow(), context.person.id)
    if draft is None or draft.step != step:
        await answer(update.callback_query, context.texts("common.stale_button"), alert=True)
        return None
    await answer(update.callback_query)
    return draft


async def on_pick(update: Update, context: Ctx) -> None:
    """A choice button of one of the steps."""
    pick = data_of(update, Pick)
    draft = await _load(update, context, pick.step)
    if draft is None:
        return
    d, uow = draft.data, context.store.uow
    if pick.what not in PICKS.get(draft.step, set()):
        return await _stale(update, context, draft)
    if pick.what == "campus":
        if pick.value not in {c.id for c in await places.list_campuses(uow())}:
            return await _stale(update, context, draft)
        d.update(campus_id=pick.value, building_offset=0)
        draft.step = BUILDING
    elif pick.what == "building":
        buildings = await places.list_buildings(uow(), int(d.get("campus_id", 0)))
        chosen = next((b for b in buildings if b.id == pick.value), None)
        if chosen is None:
            return await _stale(update, context, draft)
        d.update(building_id=chosen.id, building=chosen.name, campus=chosen.campus, floor_offset=0)
        draft.step = FLOOR
    elif pick.what == "floor":
        floors = await places.list_floors(uow(), int(d["building_id"]))
        if not 0 <= pick.value < len(floors):
            return await _stale(update, context, draft)
        d.update(floor=floors[pick.value], room_offset=0)
        draft.step = ROOM
    elif pick.what == "page":
        d[f"{draft.step}_offset"] = max(pick.value, 0)
    elif pick.what == "room":
        try:
            place = await places.get_room_place(uow(), pick.value)
        except NotFound:  # the press was answered already: a refusal alert can't follow
            return await _stale(update, context, draft)
        if place.building_id != d.get("building_id"):
            return await _stale(update, context, draft)
        d.update(_place_data(place))
        return await _after_place(update, context, draft, edit=True)
    elif pick.what == "cat":
        categories = await list_categories(uow())
        chosen_cat = next((c for c in categories if c.id == pick.value), None)
        if chosen_cat is None:
            return await _stale(update, context, draft)
        d.update(category_id=chosen_cat.id, category=chosen_cat.key)
        d.pop("file_anyway", None)
        return await _after_category(update, context, draft)
    elif pick.what == "urg":
        urgencies = list(Urgency)
        if not 0 <= pick.value < len(urgencies):
            return await _stale(update, context, draft)
        d["urgency"] = urgencies[pick.value].value
        if urgencies[pick.value] is Urgency.EMERGENCY:
            phone = context.settings.service.emergency_phone
            await reply(update, context.texts("report.emergency_notice", phone=phone))
        draft.step = _after(draft, URGENCY)
        return await _go(update, context, draft)
    else:
        return await _stale(update, context, draft)
    await _go(update, context, draft, edit=True)


def _page(context: Ctx, d: dict[str, Any], step: str, buttons: list[Button]) -> list[list[Button]]:
    """One page of a place list laid out in its grid, and its ◀️/▶️ row."""
    size, total = PER_PAGE[step], len(buttons)
    offset = min(max(int(d.get(f"{step}_offset", 0)), 0), max((total - 1) // size * size, 0))
    newer = Pick(step, "page", offset - size) if offset > 0 else None
    older = Pick(step, "page", offset + size) if offset + size < total else None
    shown = buttons[offset : offset + size]
    return [*grid(shown, COLUMNS[step]), pager(context.texts, newer, older)]


async def _stale(update: Update, context: Ctx, draft: DraftView) -> None:
    """A button whose value no longer fits (or was forged): say so, and show the step anew
    with today's choices, so "use the latest message" has a latest message to use."""
    await reply(update, context.texts("common.stale_button"))
    await render(update, context, draft)


async def on_nav(update: Update, context: Ctx) -> None:
    """Back, Cancel, Skip, Done, Edit, Confirm and "file anyway"."""
    nav = data_of(update, Nav)
    if nav.action == "confirm" and await _answer_if_filed(update, context):
        return
    draft = await _load(update, context, nav.step)
    if draft is None:
        return
    await navigate(update, context, draft, nav.action, edit=True)


async def navigate(
    update: Update, context: Ctx, draft: DraftView, action: str, *, edit: bool
) -> None:
    """Apply a navigation action to the draft."""
    if action == "cancel":
        await drafts.drop_draft(context.store.uow(), context.person.id)
        await reply(update, context.texts("common.cancelled"), edit=edit)
        if not edit:
            await reply(update, "⬇️", ReplyKeyboardRemove())
        return
    if action == "back":
        draft.data.pop("editing", None)
        draft.step = BACK.get(draft.step, CAMPUS)
        if draft.step == CATEGORY and "room_id" not in draft.data:
            draft.step = CAMPUS
    elif action in ("skip", "done") and draft.step in (PHOTOS, CONTACT):
        draft.step = _after(draft, draft.step)
    elif action == "file_anyway" and draft.step == DUPLICATE:
        draft.data["file_anyway"] = True
        draft.data.pop("duplicate", None)
        draft.step = _after(draft, CATEGORY)
    elif action == "edit" and draft.step == SUMMARY:
        draft.step = EDIT
    elif action == "confirm" and draft.step == SUMMARY:
        await _submit(update, context, draft)
        return
    else:
        await _stale(update, context, draft)
        return
    await _go(update, context, draft, edit=edit)


async def on_edit_field(update: Update, context: Ctx) -> None:
    """From the edit menu to one field's step; afterwards back to the summary."""
    field = data_of(update, EditField).field
    draft = await _load(update, context, EDIT)
    if draft is None or field not in EDITABLE:
        return
    draft.data["editing"] = True
    draft.step = EDITABLE[field]
    if field == "photos":
        draft.data["photos"] = []
    await _go(update, context, draft, edit=True)


async def on_follow(update: Update, context: Ctx) -> None:
    """Follow the existing ticket instead of filing a duplicate."""
    ticket_id = data_of(update, Follow).ticket_id
    draft = await _load(update, context, DUPLICATE)
    if draft is None:
        return
    if int(draft.data.get("duplicate", {}).get("id", -1)) != ticket_id:
        return await _stale(update, context, draft)
    await follow(context.store.uow(), ticket_id, context.person.id)
    await drafts.drop_draft(context.store.uow(), context.person.id)
    number = draft.data["duplicate"]["number"]
    await reply(update, context.texts("report.following", number=number), edit=True)


async def _submit(update: Update, context: Ctx, draft: DraftView) -> None:
    """File the draft: one ticket per draft however often Confirm is pressed or retried
    (the draft's submission key is stored with the ticket, and the draft becomes a "filed"
    marker in the same transaction)."""
    d = draft.data
    new = NewTicket(
        requester_id=context.person.id,
        room_id=int(d["room_id"]),
        category_key=str(d["category"]),
        description=str(d["description"]),
        urgency=Urgency(d.get("urgency", "normal")),
        photos=list(d.get("photos", [])),
        contact_phone=d.get("phone"),
        submission_key=d.get(drafts.KEY),
    )
    walkup = d.get("walkup")
    if isinstance(walkup, dict):
        await submit_walkup(update, context, new, walkup)
    else:
        result = await report(context.store.uow(), new, draft_owner=context.person.id)
        context.nudge_sender()  # before the reply: a failed edit must not hold notices up
        if result.already_filed:
            text = context.texts("report.already_filed", number=result.ticket.number)
        else:
            text = context.texts("report.submitted")
        await reply(update, text, edit=True)
    await drafts.acknowledge_filed(context.store.uow(), context.person.id)


async def _answer_if_filed(update: Update, context: Ctx) -> bool:
    """A Confirm on a draft that was already filed: say which ticket it became."""
    filed = await drafts.filed_draft(context.store.uow(), context.person.id)
    if filed is None:
        return False
    text = context.texts("report.already_filed", number=filed.number)
    await answer(update.callback_query, text, alert=True)
    await drafts.acknowledge_filed(context.store.uow(), context.person.id)
    return True


# --- typed input -------------------------------------------------------------------------


async def _saved_phone(context: Ctx) -> str | None:
    """The requester's remembered number, read fresh (it may have just been forgotten)."""
    return await saved_phone(context.store.uow(), context.person.id)


async def on_message(update: Update, context: Ctx, draft: DraftView) -> None:
    """A message while a report is in progress: text, photo, contact or something else."""
    message = update.effective_message
    assert message is not None
    t, d, step = context.texts, draft.data, draft.step
    text = (message.text or "").strip()
    if step == CONTACT and text in (t("common.skip"), t("common.back"), t("common.cancel")):
        action = {t("common.skip"): "skip", t("common.back"): "back"}.get(text, "cancel")
        if action != "cancel":
            await reply(update, "👌", ReplyKeyboardRemove())
        return await navigate(update, context, draft, action, edit=False)
    if step == PHOTOS:
        return await _on_photo_step(update, context, draft)
    if step == CONTACT and message.contact is not None:
        user = update.effective_user
        if user is None or message.contact.user_id != user.id:
            return await reply(update, t("report.contact_not_own"))
        # Remembered for the next report (and forgettable from the menu).
        person = await set_phone(
            context.store.uow(), context.person.id, message.contact.phone_number
        )
        d["phone"] = person.phone
        await reply(update, t("report.contact_saved"), ReplyKeyboardRemove())
        draft.step = _after(draft, CONTACT)
        return await _go(update, context, draft)
    if step == CONTACT and text:
        saved = await _saved_phone(context)
        if saved and text == t("report.use_saved_phone", phone=mask_phone(saved)):
            d["phone"] = saved
            await reply(update, "👌", ReplyKeyboardRemove())
            draft.step = _after(draft, CONTACT)
            return await _go(update, context, draft)
    if step == DESCRIPTION and text:
        try:
            d["description"] = validate_description(context.store.uow(), text)
        except DescriptionTooLong as exc:
            return await reply(update, t("report.description_too_long", **exc.params))
        except InvalidInput:
            return await reply(update, t("report.description_empty"))
        draft.step = _after(draft, DESCRIPTION)
        return await _go(update, context, draft)
    if step in (FLOOR, ROOM) and text and d.get("building_id"):
        place = await places.find_room(context.store.uow(), int(d["building_id"]), text)
        if place is None:
            building = d.get("building", "")
            return await reply(
                update, t("report.room_not_found", text=clip(text, 40), building=building)
            )
        d.update(_place_data(place))
        return await _after_place(update, context, draft, edit=False)
    await reply(update, t("common.use_buttons"))
    await render(update, context, draft)


async def _on_photo_step(update: Update, context: Ctx, draft: DraftView) -> None:
    message = update.effective_message
    assert message is not None
    t, limit = context.texts, context.store.policy.photos_max
    if not message.photo:
        return await reply(update, t("report.not_a_photo"))
    photos: list[str] = list(draft.data.get("photos", []))
    if len(photos) >= limit:
        return await reply(update, t("report.too_many_photos", limit=limit))
    # The largest size is last; its file id is what technicians will be shown.
    photos.append(message.photo[-1].file_id)
    draft.data["photos"] = photos
    await drafts.save_draft(context.store.uow(), context.person.id, draft)
    rows: list[list[Button]] = [[(t("common.done"), Nav(PHOTOS, "done"))]]
    rows.append(_nav_row(context, PHOTOS))
    await reply(update, t("report.photo_added", count=len(photos), limit=limit), keyboard(rows))


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers (typed input is routed here by bot.flows.inputs)."""
    return [
        CommandHandler("report", guarded(report_command)),
        CommandHandler("cancel", cancel_command),
        CallbackQueryHandler(guarded(on_pick), pattern=pattern(Pick)),
        CallbackQueryHandler(guarded(on_nav), pattern=pattern(Nav)),
        CallbackQueryHandler(guarded(on_edit_field), pattern=pattern(EditField)),
        CallbackQueryHandler(guarded(on_follow), pattern=pattern(Follow)),
    ]
