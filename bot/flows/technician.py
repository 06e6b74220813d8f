"""Technicians: answering job offers (accept / decline) and going on or off duty."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.callbacks import OfferAnswer
from bot.context import Ctx
from bot.edits import clear_keyboard, retire_pressed
from bot.flows.common import answer, data_of, guarded, pattern, reply, stale_press
from bot.flows.jobs import show_job
from store.directory.staff import set_duty
from store.errors import AlreadyTaken
from store.repair import dispatch


async def on_offer(update: Update, context: Ctx) -> None:
    """Accept (first press wins) or decline an offered job."""
    offer = data_of(update, OfferAnswer)
    t, query = context.texts, update.callback_query
    if offer.action == "accept":
        try:
            view = await dispatch.accept(context.store.uow(), offer.ticket_id, context.person.id)
        except AlreadyTaken as exc:
            await answer(query, t("error.already_taken", taken_by=exc.taken_by or "—"), True)
            await retire_pressed(query)  # the offer is someone else's now
            return
        context.nudge_sender()
        # No toast: the job card below says "is yours" (a toast would say it twice).
        await answer(query)
        assert query is not None
        await clear_keyboard(query.message)
        # The job card with its next steps (visit time, Start, Give back) right away, not
        # only through /jobs; the offer above it keeps the photos and loses its buttons.
        await show_job(
            update,
            context,
            offer.ticket_id,
            edit=False,
            heading=t("staff.accepted", number=view.number),
        )
    elif offer.action == "decline":
        await dispatch.decline(context.store.uow(), offer.ticket_id, context.person.id)
        context.nudge_sender()
        await answer(query, t("staff.declined"))
        assert query is not None
        await clear_keyboard(query.message)
    else:
        await stale_press(update, context)


async def duty(update: Update, context: Ctx) -> None:
    """/duty toggles on and off duty."""
    on = await set_duty(context.store.uow(), context.person.id)
    await reply(update, context.texts("staff.on_duty" if on else "staff.off_duty"))


def handlers() -> list[BaseHandler[Update, Ctx, object]]:
    """This flow's handlers."""
    return [
        CommandHandler("duty", guarded(duty)),
        CallbackQueryHandler(guarded(on_offer), pattern=pattern(OfferAnswer)),
    ]
