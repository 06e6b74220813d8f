"""Wiring: the whole Application is assembled here, and `run` starts it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    TypeHandler,
)
from telegram.request import BaseRequest

from bot import boundary, menus
from bot.context import BotData, Ctx
from bot.flows import (
    board,
    booth,
    dispatcher,
    inputs,
    jobs,
    my_tickets,
    mydata,
    report,
    reports,
    start,
    supervisor,
    sweep,
    technician,
)
from bot.flows import staff as staff_flow
from bot.flows.common import gatekeeper, on_error
from bot.logs import configure_logging
from bot.metrics import Metrics, ObservedApplication
from bot.polling import serve
from bot.processor import PerChatUpdateProcessor
from bot.ratelimit import ReplyFirstLimiter
from bot.scheduling import schedule
from bot.sender import PER_CHAT_INTERVAL, OutboxSender
from bot.settings import ConfigError, Settings
from scheduler.leadership import Leadership
from store.db import is_sqlite
from store.delivery.outbox import Notice
from store.directory.categories import sync_categories
from store.directory.profiles import get_person_view
from store.directory.staff import STAFF_NOTICE
from store.domain import draft_cache
from store.leader import LeaderLock
from store.migrate import packaged_head, stored_revision, upgrade_if_behind
from store.uow import Store

log = logging.getLogger(__name__)
BotApp = Application[Any, Ctx, Any, Any, BotData, Any]


def build_application(
    settings: Settings,
    store: Store,
    *,
    sender_poll_interval: float = 1.0,
    per_chat_interval: float = PER_CHAT_INTERVAL,
    with_scheduler: bool = True,
    request: BaseRequest | None = None,
    serve_board: bool = False,
    serve_ops: bool = False,
) -> BotApp:
    """The bot: handlers, gatekeeper, error handler, outbox sender, scheduled jobs.

    `request` replaces the HTTP client of Bot API calls (not getUpdates): tests and
    benches use it to watch or stub what the bot sends. `serve_board` and `serve_ops`
    (what `run` serves) add the office board and the ops listener, when enabled.
    """
    token = settings.require_token()
    context_types = ContextTypes(context=Ctx, bot_data=BotData)
    metrics = Metrics(store)
    limiter = ReplyFirstLimiter(on_call=metrics.api_call)
    # Every update timed, counted and logged in one line (bot/metrics.py), and taking
    # effect once across instances (bot/inbox.py: ObservedApplication is an
    # InboxApplication, so a redelivered update is counted and logged as skipped).
    builder = ApplicationBuilder().application_class(ObservedApplication)
    if request is not None:
        builder = builder.request(request)
    app: BotApp = (
        builder.token(token)
        .base_url(settings.telegram.api_url)
        .base_file_url(settings.telegram.file_url)
        .context_types(context_types)
        # Replies first, notices in what is left of 30/s (bot/ratelimit.py says why).
        .rate_limiter(limiter)
        # One chat's updates in order, different chats at once (a slow chat blocks itself).
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data.settings = settings
    app.bot_data.store = store
    app.bot_data.metrics = metrics
    if settings.telegram.mode == "webhook" and not is_sqlite(settings.database.url):
        # Every instance receives: a person's steps alternate between them.
        draft_cache.read_every_time(store)
    sender = OutboxSender(
        app.bot,
        store,
        settings,
        sender_poll_interval,
        per_chat_interval,
        limiter.budget,
        metrics=metrics,
    )

    async def after_delivery(notice: Notice) -> None:
        # A staff role was removed (here or by the CLI): their menu follows at once.
        if notice.kind == STAFF_NOTICE:
            person = await get_person_view(store.uow(), notice.recipient_id)
            board = settings.board.mini_app_url() if app.bot_data.board is not None else None
            await start.reset_personal_commands(
                app.bot, person, settings.service.default_language, mini_app=board
            )

    sender.after_delivery = after_delivery
    app.bot_data.sender = sender
    leadership = Leadership(LeaderLock(store.engine), sender)
    app.bot_data.leadership = leadership
    metrics.follow_leader(lambda: leadership.leading)
    app.add_handlers(boundary.handlers(), group=boundary.GROUP)
    app.add_handler(TypeHandler(Update, gatekeeper), group=-1)
    for flow in (
        start,
        report,
        my_tickets,
        technician,
        jobs,
        dispatcher,
        supervisor,
        staff_flow,
        reports,
        booth,
        sweep,
        board,
        mydata,
        inputs,
    ):
        app.add_handlers(flow.handlers())
    app.add_error_handler(on_error)
    menus.install(app)
    if with_scheduler:
        schedule(app, store, settings, leadership, sender, metrics)
    if serve_board and settings.board.enabled:
        from bot.board.server import BoardServer

        app.bot_data.board = BoardServer(settings, store, app.bot)
    if serve_ops and settings.ops.enabled:
        from bot.ops import OpsServer  # aiohttp: only where the listener runs

        app.bot_data.ops = OpsServer(settings, store, metrics, lambda: leadership.leading)
    return app


async def _post_init(app: BotApp) -> None:
    """Categories from settings, command menus (in the background), then start delivering
    notices."""
    data = app.bot_data
    assert data.store is not None and data.sender is not None and data.settings is not None
    await sync_categories(data.store.uow(), data.store.policy)
    # Command menus: in the background after the first answer (staff: only what changed).
    menus.start(app)
    # The leader (always, on SQLite) starts the sender now; a standby waits for its turn.
    assert data.leadership is not None
    await data.leadership.refresh()
    if data.ops is not None:  # every instance answers its own health and metrics
        await data.ops.start()
    if data.board is not None:  # every instance serves the (read-only) board
        await data.board.start()


async def _post_shutdown(app: BotApp) -> None:
    """Stop the board and the ops listener, then the sender, and hand leadership on
    (reverse order of start); the store is closed by whoever opened it."""
    await menus.stop(app)
    if app.bot_data.board is not None:
        await app.bot_data.board.stop()
    if app.bot_data.ops is not None:
        await app.bot_data.ops.stop()
    if app.bot_data.leadership is not None:
        await app.bot_data.leadership.resign()


async def open_store(settings: Settings) -> Store:
    """Engine and store for the settings; a SQLite file is migrated on the spot. Any other
    database must be reachable and at the code's schema revision, or start-up stops with
    what to do (rather than every update failing on a missing table)."""
    url = settings.database.url
    if is_sqlite(url):
        await upgrade_if_behind(url)  # Alembic only when there is something to do
    else:
        shown = make_url(url).render_as_string(hide_password=True)
        try:
            current = await stored_revision(url)
        except (OSError, SQLAlchemyError) as exc:
            raise ConfigError(
                f"cannot reach the database {shown}: {type(exc).__name__}. Check database.url "
                "(REPAIRBOT_DATABASE__URL) and that the server is running."
            ) from None
        head = packaged_head()
        if current != head:
            raise ConfigError(
                f"the database {shown} is at schema revision {current or 'none'}, this "
                f"version needs {head}: run `repairbot db upgrade` first."
            )
    return settings.store()


def run(settings: Settings) -> int:
    """Start the bot (polling by default, webhook when configured) until interrupted."""
    token = settings.require_token()
    if settings.telegram.mode == "webhook" and not settings.telegram.webhook_url:
        raise ConfigError(
            "telegram.mode is webhook but telegram.webhook_url is empty: set the public "
            "HTTPS URL Telegram should post to (REPAIRBOT_TELEGRAM__WEBHOOK_URL), or use "
            'mode = "polling".'
        )
    configure_logging(token, settings.logging.level, settings.logging.format)
    store = asyncio.run(open_store(settings))
    app = build_application(settings, store, serve_board=True, serve_ops=True)
    tg = settings.telegram
    try:
        if tg.mode == "webhook":
            # Answered only once handled: Telegram then keeps each chat's updates one at a
            # time across instances (bot/webhook.py).
            from bot.webhook import run_webhook  # aiohttp: only in webhook mode

            run_webhook(app, tg, store)
        else:
            # Only the leader polls, and an update is confirmed once handled (bot/polling.py).
            asyncio.run(serve(app))
    finally:
        # The polling loop closed its pool itself, on its own event loop; this is a no-op then.
        asyncio.run(store.dispose())
    return 0
