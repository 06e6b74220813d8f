"""Admins: /staff lists who holds which staff role, a page of grants at a time, each with a
Remove step that asks first. Removing hands the person's open work on (store.directory.
staff.remove_grant) and resets their command menu at once. Every press is checked on the
server: the presser must be an admin now, and the grant must still exist."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import StaffGrant, StaffPage
from bot.context import Ctx
from bot.flows.common import answer, data_of, guarded, pattern, reply, stale_press
from bot.flows.start import mini_app_of, reset_personal_commands
from bot.ui import Button, clip, keyboard
from store.directory import staff
from store.directory.profiles import get_person_view
from store.errors import NotFound
from store.lifecycle import Role

# Grants per page: with the page buttons well inside Telegram's 100 buttons a message.
PAGE = 20


async def staff_command(update: Update, context: Ctx) -> None:
    """/staff: the first page of the staff list."""
    await staff.check_admin(context.store.uow(), context.person.id)
    await show_page(update, context, 0, edit=False)


async def show_page(update: Update, context: Ctx, page: int, *, edit: bool) -> None:
    """One page of grants, one button each (name · role (scope)), and the page buttons."""
    t = context.texts
    members = await staff.list_staff(context.store.uow())
    entries = [(m, g) for m in members for g in m.grants]
    if not entries:
        await reply(update, t("staff.list_empty"), edit=edit)
        return
    pages = (len(entries) + PAGE - 1) // PAGE
    page = min(max(page, 0), pages - 1)
    rows: list[list[Button]] = [
        [
            (
                clip(
                    f"{m.person.name or m.person.telegram_id} · {t(f'role.{g.role}')} "
                    f"({g.scope_label()})",
                    60,
                ),
                StaffGrant("ask", g.grant_id, page),
            )
        ]
        for m, g in entries[page * PAGE : (page + 1) * PAGE]
    ]
    nav: list[Button] = []
    if page > 0:
        nav.append((t("staff.previous"), StaffPage(page - 1)))
    if page < pages - 1:
        nav.append((t("staff.next"), StaffPage(page + 1)))
    if nav:
        rows.append(nav)
    text = t("staff.list_title", people=len(members), page=page + 1, pages=pages)
    await reply(update, text, keyboard(rows), edit=edit)


async def on_page(update: Update, context: Ctx) -> None:
    """Another page of the list (also the way back from a grant)."""
    page = data_of(update, StaffPage).page
    await staff.check_admin(context.store.uow(), context.person.id)
    await answer(update.callback_query)
    await show_page(update, context, page, edit=True)


async def on_grant(update: Update, context: Ctx) -> None:
    """Ask before removing a grant, then remove it and say what was handed on."""
    press = data_of(update, StaffGrant)
    t, query = context.texts, update.callback_query
    await staff.check_admin(context.store.uow(), context.person.id)
    if press.action not in ("ask", "remove"):
        await stale_press(update, context)
        return
    try:
        member, grant = await staff.find_grant(context.store.uow(), press.grant_id)
    except NotFound:
        await _gone(update, context, press.page)
        return
    name = member.person.name or str(member.person.telegram_id)
    role = t(f"role.{grant.role}")
    back: Button = (t("staff.back"), StaffPage(press.page))
    if grant.role == Role.ADMIN and member.person.id == context.person.id:
        await answer(query, t("staff.not_yourself"), alert=True)
        return
    if press.action == "ask":
        await answer(query)
        text = t("staff.confirm", name=name, role=role, scope=grant.scope_label())
        rows: list[list[Button]] = [
            [(t("staff.remove"), StaffGrant("remove", grant.grant_id, press.page))],
            [back],
        ]
        await reply(update, text, keyboard(rows), edit=True)
        return
    try:
        result = await staff.remove_grant(
            context.store.uow(), grant.grant_id, actor_id=context.person.id
        )
    except NotFound:  # removed by someone else between the two reads
        await _gone(update, context, press.page)
        return
    context.nudge_sender()
    await answer(query)
    person = await get_person_view(context.store.uow(), result.person.id)
    await reset_personal_commands(
        context.bot,
        person,
        context.settings.service.default_language,
        mini_app=mini_app_of(context),
    )
    lines = [t("staff.removed", name=name, role=role, scope=grant.scope_label())]
    handed = result.handed
    if handed.jobs:
        lines.append(t("staff.jobs_back", numbers=", ".join(handed.jobs)))
    if handed.followups:
        lines.append(t("staff.followups_moved", numbers=", ".join(handed.followups)))
    await reply(update, "\n".join(lines), keyboard([[back]]), edit=True)


async def _gone(update: Update, context: Ctx, page: int) -> None:
    await answer(update.callback_query, context.texts("staff.gone"), alert=True)
    await show_page(update, context, page, edit=True)


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("staff", guarded(staff_command)),
        CallbackQueryHandler(guarded(on_page), pattern=pattern(StaffPage)),
        CallbackQueryHandler(guarded(on_grant), pattern=pattern(StaffGrant)),
    ]
