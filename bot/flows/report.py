"""The report: where → category → one message (a photo with a caption, or text) → Submit.

Scanning a room's QR code starts at the category, so a report is four actions: the scan,
the category, the message, Submit. Without a QR code the person's own room (or their last
report's) is offered first, and a typed room code or building name finds the place
(bot/flows/report_where.py, with the guided campus → building → floor → room list one
tap away). The summary shows everything, and toggles urgency and the phone in one tap;
more photos may be sent to it before Submit.

The draft is saved to the database at every step (store.intake.drafts), so a restart
of the bot loses nothing: the user's next message or button carries on at the same step.
Every step has Back and Cancel; /cancel works anywhere. Buttons carry the step they
belong to, so a press on an older message is recognised as stale.
"""

from __future__ import annotations

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
from bot.flows.report_where import (
    BUILDING,
    CAMPUS,
    FLOOR,
    PLACE_STEPS,
    ROOM,
    WHERE,
    nav_row,
    pick_place,
    place_data,
    render_place,
    typed_place,
)
from bot.flows.report_where import PICKS as PLACE_PICKS
from bot.flows.walkup import submit_walkup
from bot.ui import Button, clip, grid, keyboard, mask_phone, reply_keyboard
from store.directory import places
from store.directory.categories import list_categories
from store.directory.profiles import room_of, saved_phone, set_phone
from store.domain.filing import NewTicket, Urgency, validate_description
from store.errors import DescriptionTooLong, InvalidInput, NotFound
from store.intake import drafts
from store.intake.drafts import DraftView
from store.intake.report import follow, last_room, report
from store.repair.queries import open_duplicates, ticket_detail

# Steps, in order; BACK says where Back leads from each. The message step keeps the key
# "description" (a draft saved there before the one-message step still resumes there);
# "photos" is only ever found in such an older draft, and is the message step too.
CATEGORY, DUPLICATE, MESSAGE, OLD_PHOTOS = "category", "duplicate", "description", "photos"
URGENCY, CONTACT, SUMMARY, EDIT = "urgency", "contact", "summary", "edit"
BACK = {
    CAMPUS: WHERE,
    BUILDING: CAMPUS,
    FLOOR: BUILDING,
    ROOM: FLOOR,
    WHERE: CATEGORY,  # only offered when a room was chosen before ("another room")
    CATEGORY: WHERE,
    DUPLICATE: CATEGORY,
    MESSAGE: CATEGORY,
    SUMMARY: MESSAGE,
    URGENCY: SUMMARY,
    CONTACT: SUMMARY,
    EDIT: SUMMARY,
}
EDITABLE = {
    "place": WHERE,
    "category": CATEGORY,
    "description": MESSAGE,
    "photos": MESSAGE,
    "urgency": URGENCY,
    "contact": CONTACT,
}
# Which kinds of Pick each step offers; callback data can be forged, so no other kind of
# choice may act on the step (e.g. an urgency pressed "at" the category step).
PICKS = {**PLACE_PICKS, CATEGORY: {"cat"}, URGENCY: {"urg"}}


# --- entry points ---------------------------------------------------------------------------


async def begin(update: Update, context: Ctx, *, walkup: dict[str, str] | None = None) -> None:
    """Start a report: at the person's own room, or the room of their last report, when
    there is one (the category step says which, with "another room" one tap away); else
    at "where is it?". `walkup` (name, phone) files a fresh one for a walk-up person.

    A report already in progress is picked up instead (as /report does): a Report button
    on an older message (the menu, a sweep's question) must not wipe it. A parked question
    is dropped, as any navigation drops it, resuming the report it kept aside."""
    if walkup is not None:
        return await _go(update, context, DraftView(WHERE, {"walkup": walkup}))
    await pending.clear(context)
    existing = await drafts.get_draft(context.store.uow(), context.person.id)
    if existing is not None:
        await reply(update, context.texts("report.resumed"))
        await render(update, context, existing)
        return
    await _tell_unseen_filing(update, context)
    uow = context.store.uow
    mine = await room_of(uow(), context.person.id)
    room_id, key = (mine, "report.my_room_used") if mine else (None, "")
    if room_id is None:
        room_id, key = await last_room(uow(), context.person.id), "report.last_room_used"
    if room_id is not None:
        try:
            place = await places.get_room_place(uow(), room_id)
        except NotFound:  # the room was removed from the locations since
            place = None
        if place is not None:
            text = context.texts(
                key, room_code=place.code, building=place.building, room=place.room
            )
            await reply(update, text)
            return await _go(update, context, DraftView(CATEGORY, place_data(place)))
    await _go(update, context, DraftView(WHERE))


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
    draft = DraftView(CATEGORY, place_data(place))
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


async def _go(update: Update, context: Ctx, draft: DraftView, *, edit: bool = False) -> None:
    """Save the draft, then show its step."""
    await drafts.save_draft(context.store.uow(), context.person.id, draft)
    await render(update, context, draft, edit=edit)


async def render(
    update: Update, context: Ctx, draft: DraftView, *, edit: bool = False, note: str = ""
) -> None:
    """Show the prompt and buttons of the draft's current step."""
    t, step, d = context.texts, draft.step, draft.data
    if step == OLD_PHOTOS:
        draft.step = step = MESSAGE
    if step in PLACE_STEPS:
        if not await render_place(update, context, draft, edit=edit):
            await drafts.drop_draft(context.store.uow(), context.person.id)
            await reply(update, t("report.no_places"), edit=edit)
        return None
    if step == CATEGORY:
        categories = await list_categories(context.store.uow())
        buttons: list[Button] = [(t.category(c.key), Pick(step, "cat", c.id)) for c in categories]
        another = (t("report.another_room"), Nav(step, "where"))
        rows = [*grid(buttons, 2), nav_row(context, step, another)]
        text = t("report.choose_category", room_code=d.get("room_code", ""))
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == DUPLICATE:
        dup = d["duplicate"]
        rows = [
            [(t("report.follow_existing", number=dup["number"]), Follow(int(dup["id"])))],
            [(t("report.file_anyway"), Nav(step, "file_anyway"))],
            nav_row(context, step),
        ]
        text = t(
            "report.duplicate_found",
            number=dup["number"],
            status=t.status(dup["status"]),
            description=clip(dup["description"], 200),
        )
        return await reply(update, text, keyboard(rows), edit=edit)
    if step == MESSAGE:
        policy = context.store.policy
        text = t("report.ask_message", limit=policy.description_max, photos=policy.photos_max)
        return await reply(update, text, keyboard([nav_row(context, step)]), edit=edit)
    if step == URGENCY:
        buttons = [(t(f"urgency.{u}"), Pick(step, "urg", i)) for i, u in enumerate(Urgency)]
        rows = [buttons, nav_row(context, step)]
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
        rows = [*grid(buttons, 2), nav_row(context, step)]
        return await reply(update, t("report.edit_which"), keyboard(rows), edit=edit)
    return await _render_summary(update, context, draft, edit=edit, note=note)


async def _render_summary(
    update: Update, context: Ctx, draft: DraftView, *, edit: bool, note: str = ""
) -> None:
    """Everything the ticket will say, with Submit, the Urgent toggle and the phone's
    "don't share" (or "share") one tap away; more photos may still be sent."""
    t, d = context.texts, draft.data
    urgency = d.get("urgency", "normal")
    text = t(
        "report.summary",
        place=f"{d.get('campus', '')} · {d.get('building', '')} · {d.get('room', '')}",
        room_code=d.get("room_code", ""),
        category=t.category(d.get("category", "other")),
        urgency=t(f"urgency.{urgency}"),
        description=clip(d.get("description") or t("report.no_description"), 1500),
        photos=len(d.get("photos", [])),
        limit=context.store.policy.photos_max,
        phone=d.get("phone") or t("report.no_phone"),
    )
    if note:
        text = f"{note}\n\n{text}"
    toggle = "report.make_normal" if urgency != "normal" else "report.make_urgent"
    rows: list[list[Button]] = [
        [(t("report.submit"), Nav(SUMMARY, "confirm"))],
        [(t(toggle), Nav(SUMMARY, "urgent"))],
    ]
    if "walkup" not in d:  # a walk-up person's number came with their name
        if d.get("phone"):
            rows.append([(t("report.dont_share_phone"), Nav(SUMMARY, "nophone"))])
        else:
            saved = await _saved_phone(context)
            if saved:
                label = t("report.share_saved_phone", phone=mask_phone(saved))
                rows.append([(label, Nav(SUMMARY, "usephone"))])
            else:
                rows.append([(t("report.add_phone"), Nav(SUMMARY, "addphone"))])
    rows.append(nav_row(context, SUMMARY, (t("report.edit"), Nav(SUMMARY, "edit"))))
    return await reply(update, text, keyboard(rows), edit=edit)


# --- moving between steps ------------------------------------------------------------------


async def _to_summary(context: Ctx, draft: DraftView) -> None:
    """On to the summary: the saved phone is on the report unless the person said not."""
    draft.data.pop("editing", None)
    draft.step = SUMMARY
    if "phone" not in draft.data and "walkup" not in draft.data:
        draft.data["phone"] = await _saved_phone(context)


async def _after_place(update: Update, context: Ctx, draft: DraftView, edit: bool) -> None:
    """The room is known: back to the summary when editing, else on to the category."""
    draft.data.pop("where_query", None)
    if draft.data.get("category_id") and draft.data.get("editing"):
        await _to_summary(context, draft)
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
        await _after_message_choice(context, draft)
    await _go(update, context, draft, edit=True)


async def _after_message_choice(context: Ctx, draft: DraftView) -> None:
    """After the category: the message step, or the summary when editing (or when the
    message is already there, e.g. the category was changed on the way back)."""
    d = draft.data
    if d.get("editing") or d.get("description") or d.get("photos"):
        await _to_summary(context, draft)
    else:
        draft.step = MESSAGE


async def _load(update: Update, context: Ctx, step: str) -> DraftView | None:
    """The draft, if the pressed button belongs to its current step; else a stale alert."""
    draft = await drafts.get_draft(context.store.uow(), context.person.id)
    if draft is not None and draft.step == OLD_PHOTOS:
        draft.step = MESSAGE
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
    if draft.step in PLACE_STEPS:
        outcome = await pick_place(context, draft, pick)
        if outcome == "stale":
            return await _stale(update, context, draft)
        if outcome == "placed":
            return await _after_place(update, context, draft, edit=True)
        return await _go(update, context, draft, edit=True)
    if pick.what == "cat":
        categories = await list_categories(uow())
        chosen_cat = next((c for c in categories if c.id == pick.value), None)
        if chosen_cat is None:
            return await _stale(update, context, draft)
        d.update(category_id=chosen_cat.id, category=chosen_cat.key)
        d.pop("file_anyway", None)
        return await _after_category(update, context, draft)
    # The urgency list (from Edit): 🚨 Emergency is chosen there.
    urgencies = list(Urgency)
    if not 0 <= pick.value < len(urgencies):
        return await _stale(update, context, draft)
    d["urgency"] = urgencies[pick.value].value
    if urgencies[pick.value] is Urgency.EMERGENCY:
        phone = context.settings.service.emergency_phone
        await reply(update, context.texts("report.emergency_notice", phone=phone))
    await _to_summary(context, draft)
    return await _go(update, context, draft)


async def _stale(update: Update, context: Ctx, draft: DraftView) -> None:
    """A button whose value no longer fits (or was forged): say so, and show the step anew
    with today's choices, so "use the latest message" has a latest message to use."""
    await reply(update, context.texts("common.stale_button"))
    await render(update, context, draft)


async def on_nav(update: Update, context: Ctx) -> None:
    """Back, Cancel, Edit, Submit, the summary's toggles and "file anyway"."""
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
    d, step = draft.data, draft.step
    if action == "cancel":
        await drafts.drop_draft(context.store.uow(), context.person.id)
        # Typed (the phone step's keyboard): the answer also takes that keyboard away.
        markup = None if edit else ReplyKeyboardRemove()
        await reply(update, context.texts("common.cancelled"), markup, edit=edit)
        return
    if action == "back":
        if step == WHERE and "room_id" not in d:
            return await _stale(update, context, draft)
        if d.pop("editing", None) and d.get("category_id") and step != SUMMARY:
            # Back from a field opened through Edit: the summary it came from.
            await _to_summary(context, draft)
            return await _go(update, context, draft, edit=edit)
        draft.step = BACK.get(step, WHERE)
        if draft.step == CATEGORY and "room_id" not in d:
            draft.step = WHERE
        if draft.step == CAMPUS and len(await places.list_campuses(context.store.uow())) == 1:
            draft.step = WHERE  # nothing to choose there: the list started at the buildings
        if draft.step == WHERE:
            d.pop("where_query", None)
    elif action == "where" and step == CATEGORY:
        d.pop("where_query", None)
        draft.step = WHERE
    elif action == "list" and step == WHERE:
        campuses = await places.list_campuses(context.store.uow())
        draft.step = CAMPUS
        if len(campuses) == 1:  # nothing to choose: straight to the buildings
            d.update(campus_id=campuses[0].id, building_offset=0)
            draft.step = BUILDING
    elif action == "skip" and step == CONTACT:
        d["phone"] = None
        await _to_summary(context, draft)
    elif action == "done" and step == MESSAGE and (d.get("description") or d.get("photos")):
        await _to_summary(context, draft)  # an older draft's photo step's "Done"
    elif action == "file_anyway" and step == DUPLICATE:
        d["file_anyway"] = True
        d.pop("duplicate", None)
        await _after_message_choice(context, draft)
    elif action == "urgent" and step == SUMMARY:
        d["urgency"] = "urgent" if d.get("urgency", "normal") == "normal" else "normal"
    elif action == "nophone" and step == SUMMARY:
        d["phone"] = None
    elif action == "usephone" and step == SUMMARY:
        d["phone"] = await _saved_phone(context)
    elif action == "addphone" and step == SUMMARY:
        d["editing"] = True
        draft.step = CONTACT
        edit = False  # the phone step's keyboard comes with a message of its own
    elif action == "edit" and step == SUMMARY:
        draft.step = EDIT
    elif action == "confirm" and step == SUMMARY:
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
    await _go(update, context, draft, edit=draft.step != CONTACT)


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
    """File the draft: one ticket per draft however often Submit is pressed or retried
    (the draft's submission key is stored with the ticket, and the draft becomes a "filed"
    marker in the same transaction)."""
    d, t = draft.data, context.texts
    # A photo alone is enough: the ticket's text then says so, in the reporter's words.
    description = d.get("description") or t("report.photo_only", count=len(d.get("photos", [])))
    new = NewTicket(
        requester_id=context.person.id,
        room_id=int(d["room_id"]),
        category_key=str(d["category"]),
        description=str(description),
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
            text = t("report.already_filed", number=result.ticket.number)
        else:
            text = t("report.submitted")
        await reply(update, text, edit=True)
    await drafts.acknowledge_filed(context.store.uow(), context.person.id)


async def _answer_if_filed(update: Update, context: Ctx) -> bool:
    """A Submit on a draft that was already filed: say which ticket it became."""
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
    t, step = context.texts, draft.step
    if step == OLD_PHOTOS:
        draft.step = step = MESSAGE
    text = (message.text or "").strip()
    if step == CONTACT:
        return await _on_contact_step(update, context, draft)
    if step in (MESSAGE, SUMMARY) and (message.photo or text):
        return await _on_report_message(update, context, draft)
    if step in (MESSAGE, SUMMARY) and not message.contact:
        # A file, sticker, voice or video where a photo or words were expected.
        return await reply(update, t("report.not_a_photo"))
    if step in PLACE_STEPS and text:
        outcome = await typed_place(update, context, draft, text)
        if outcome == "placed":
            return await _after_place(update, context, draft, edit=False)
        if outcome == "moved":
            return await _go(update, context, draft)
        return None
    await reply(update, t("common.use_buttons"))
    await render(update, context, draft)


async def _on_report_message(update: Update, context: Ctx, draft: DraftView) -> None:
    """The one message of the report (a photo with or without a caption, or text), or
    more of it at the summary: photos are added, a caption or text becomes the description
    (at the summary it is added to it). Either alone is enough to go on to the summary."""
    message = update.effective_message
    assert message is not None
    t, d, limit = context.texts, draft.data, context.store.policy.photos_max
    words = (message.caption if message.photo else message.text) or ""
    note = ""
    if message.photo:
        photos: list[str] = list(d.get("photos", []))
        if len(photos) >= limit:
            return await reply(update, t("report.too_many_photos", limit=limit))
        # The largest size is last; its file id is what technicians will be shown.
        photos.append(message.photo[-1].file_id)
        d["photos"] = photos
        note = t("report.photo_added", count=len(photos), limit=limit)
    if words.strip():
        earlier = d.get("description") if draft.step == SUMMARY else None
        combined = f"{earlier}\n{words}" if earlier else words
        try:
            d["description"] = validate_description(context.store.uow(), combined)
        except DescriptionTooLong as exc:
            # A photo that came with it is kept: only the words are to be sent again.
            await drafts.save_draft(context.store.uow(), context.person.id, draft)
            return await reply(update, t("report.description_too_long", **exc.params))
        except InvalidInput:
            return await reply(update, t("report.description_empty"))
    await _to_summary(context, draft)
    await drafts.save_draft(context.store.uow(), context.person.id, draft)
    await render(update, context, draft, note=note)


async def _on_contact_step(update: Update, context: Ctx, draft: DraftView) -> None:
    """The phone step's reply keyboard: the saved number, a shared contact, Skip, Back,
    Cancel. Each answer takes the keyboard away with a sentence saying what happened."""
    message = update.effective_message
    assert message is not None
    t, d = context.texts, draft.data
    text = (message.text or "").strip()
    if text == t("common.cancel"):
        return await navigate(update, context, draft, "cancel", edit=False)
    if text in (t("common.skip"), t("common.back")):
        said = "report.phone_skipped" if text == t("common.skip") else "report.phone_unchanged"
        if text == t("common.skip"):
            d["phone"] = None
        await reply(update, t(said), ReplyKeyboardRemove())
        await _to_summary(context, draft)
        return await _go(update, context, draft)
    if message.contact is not None:
        user = update.effective_user
        if user is None or message.contact.user_id != user.id:
            return await reply(update, t("report.contact_not_own"))
        # Remembered for the next report (and forgettable from the menu).
        person = await set_phone(
            context.store.uow(), context.person.id, message.contact.phone_number
        )
        d["phone"] = person.phone
        await reply(update, t("report.contact_saved"), ReplyKeyboardRemove())
        await _to_summary(context, draft)
        return await _go(update, context, draft)
    saved = await _saved_phone(context)
    if text and saved and text == t("report.use_saved_phone", phone=mask_phone(saved)):
        d["phone"] = saved
        await reply(update, t("report.phone_used", phone=mask_phone(saved)), ReplyKeyboardRemove())
        await _to_summary(context, draft)
        return await _go(update, context, draft)
    await reply(update, t("common.use_buttons"))
    await render(update, context, draft)


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
