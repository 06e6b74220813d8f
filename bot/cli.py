"""The `repairbot` command: run the bot and the operator's chores (db, locations, staff, QR)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot import logs
from bot.settings import ConfigError, Settings, load_settings
from store import roles
from store.db import is_sqlite
from store.deeplink import room_payload
from store.directory import invites, places
from store.directory.location_csv import parse_locations_csv
from store.directory.staff import StaffView, add_staff, list_staff
from store.errors import DomainError, LocationImportError
from store.lifecycle import Role
from store.migrate import current_revision, head_revision, upgrade
from store.uow import Store

T = TypeVar("T")
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
# Telegram ids fit in 52 bits (the Bot API promises "at most 52 significant bits").
TELEGRAM_ID_LIMIT = 2**53
STAFF_ROLES = sorted(str(r) for r in roles.STAFF)


class CliError(Exception):
    """A failure the operator can fix; the message is printed as is."""

    def __init__(self, message: str, exit_code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _safe_api_url(settings: Settings) -> str:
    return logs.redact(settings.telegram.api_url) or "(empty)"


def telegram_id(value: str) -> int:
    """A Telegram user id as the Bot API has them: 1 ≤ id < 2**53."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 1 <= number < TELEGRAM_ID_LIMIT:
        raise argparse.ArgumentTypeError(
            f"{value} is not a Telegram user id (a whole number from 1 to {TELEGRAM_ID_LIMIT - 1})"
        )
    return number


def sheet_name(code: str) -> str:
    """The default QR sheet file for a building whose room codes start with `code`: a plain
    name in the current folder, whatever the code holds (a path separator, "..")."""
    prefix = code.split("-")[0]
    stem = re.sub(r"[^\w-]+", "_", prefix).strip("_") or "rooms"
    return f"qr-{stem}.pdf"


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the database (migrating SQLite first, as `run` does), run `work`, close it."""
    url = settings.database.url
    if is_sqlite(url):
        await upgrade(url)
    store = settings.store()
    try:
        return await work(store)
    finally:
        await store.dispose()


def _link(settings: Settings, payload: str) -> str:
    username = settings.telegram.bot_username.strip().lstrip("@")
    if not username:
        raise CliError(
            "telegram.bot_username is not set; set it under [telegram] bot_username in "
            "config.toml or as REPAIRBOT_TELEGRAM__BOT_USERNAME.",
            EXIT_CONFIG,
        )
    return f"https://t.me/{username}?start={payload}"


async def _building_ids(store: Store, names: list[str], campus: str | None) -> list[int]:
    return [(await places.building_by_name(store.uow(), n, campus)).id for n in names]


async def _campus_id(store: Store, campus: str | None) -> int | None:
    return None if campus is None else (await places.campus_by_name(store.uow(), campus)).id


# --- commands ------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the bot."""
    try:
        settings.require_token()
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    try:
        # Lazy: the transport is heavy and no other command needs it.
        app = importlib.import_module("bot.app")
    except ImportError as exc:
        raise CliError(f"the bot application is not available: {exc}") from None
    from telegram.error import InvalidToken, NetworkError, TelegramError

    try:
        result = app.run(settings)
    except ConfigError as exc:  # e.g. webhook mode without a webhook URL
        raise CliError(str(exc), EXIT_CONFIG) from None
    # One line with what to do, never the traceback: Telegram's own message quotes the token.
    except InvalidToken:
        raise CliError(
            "Telegram refused the bot token: check telegram.token (REPAIRBOT_TELEGRAM__TOKEN) "
            "against the one @BotFather gave you, and telegram.api_url.",
            EXIT_CONFIG,
        ) from None
    except NetworkError as exc:
        raise CliError(
            f"cannot reach Telegram at {_safe_api_url(settings)} ({type(exc).__name__}: "
            f"{logs.redact(exc.message)}). Check telegram.api_url "
            "(REPAIRBOT_TELEGRAM__API_URL) and the network.",
            EXIT_CONFIG,
        ) from None
    except TelegramError as exc:
        raise CliError(
            f"Telegram refused to start the bot: {logs.redact(exc.message)}", EXIT_CONFIG
        ) from None
    return result if isinstance(result, int) else EXIT_OK


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot offline against the sandbox stand-in and play a day of the office."""
    demo = importlib.import_module("bot.demo")
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the demo is stopped
            asyncio.run(demo.run_demo(settings, port=args.port, once=args.once))
    except (TimeoutError, demo.DemoStepFailed) as exc:
        # The transcript so far is printed; say which step did not happen.
        raise CliError(f"demo failed: a step did not happen ({exc or 'timed out'})", 1) from None
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Apply migrations."""
    url = settings.database.url
    asyncio.run(upgrade(url))
    print(f"{_safe_url(url)}: at revision {asyncio.run(current_revision(url))}")
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    """Show the database's revision and the newest one shipped."""
    current = asyncio.run(current_revision(settings.database.url))
    head = head_revision()
    print(f"current: {current or '(none)'}  head: {head}")
    return EXIT_OK if current == head else EXIT_FAIL


def cmd_locations_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import rooms from a CSV file."""
    try:
        text = Path(args.file).read_bytes().decode("utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{args.file} is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    try:
        rows = parse_locations_csv(text)
    except LocationImportError as exc:
        for line, message in exc.errors:
            _err(f"line {line}: {message}")
        raise CliError(f"{len(exc.errors)} error(s); nothing imported") from None
    result = asyncio.run(_with_store(settings, lambda s: places.import_locations(s.uow(), rows)))
    print(
        f"campuses created: {result.campuses_created}, "
        f"buildings created: {result.buildings_created}, "
        f"rooms created: {result.rooms_created}, rooms updated: {result.rooms_updated}, "
        f"unchanged: {result.unchanged}"
    )
    return EXIT_OK


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    """Grant a staff role."""

    async def work(store: Store) -> StaffView:
        building_ids = await _building_ids(store, args.building, args.campus)
        campus_id = None if building_ids else await _campus_id(store, args.campus)
        return await add_staff(
            store.uow(),
            args.telegram_id,
            Role(args.role),
            name=args.name,
            building_ids=building_ids,
            campus_id=campus_id,
        )

    staff = asyncio.run(_with_store(settings, work))
    roles = "; ".join(f"{g.role} ({g.scope_label()})" for g in staff.grants)
    print(f"{staff.person.name or '(no name)'} [{staff.person.telegram_id}]: {roles}")
    return EXIT_OK


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    """List staff and their roles."""
    staff = asyncio.run(_with_store(settings, lambda s: list_staff(s.uow())))
    if not staff:
        print("no staff yet; add some with: repairbot staff add TELEGRAM_ID --role ROLE")
    for member in staff:
        person = member.person
        duty = "  on duty" if person.on_duty else ""
        print(f"{person.telegram_id}\t{person.name or '(no name)'}{duty}")
        for grant in member.grants:
            print(f"\t{grant.role}\t{grant.scope_label()}")
    return EXIT_OK


def cmd_staff_invite(args: argparse.Namespace, settings: Settings) -> int:
    """Create an invite link."""
    try:
        secret = settings.invite_secret()
    except ConfigError as exc:
        raise CliError(f"invites are signed with the bot token. {exc}", EXIT_CONFIG) from None
    hours = args.hours if args.hours is not None else settings.service.invite_ttl_hours

    async def work(store: Store) -> str:
        building_ids = await _building_ids(store, args.building, args.campus)
        campus_id = None if building_ids else await _campus_id(store, args.campus)
        return await invites.create_invite(
            store.uow(),
            created_by=None,
            role=Role(args.role),
            secret=secret,
            campus_id=campus_id,
            building_ids=building_ids,
            ttl=timedelta(hours=hours),
        )

    payload = invites.INVITE_PREFIX + asyncio.run(_with_store(settings, work))
    try:
        print(_link(settings, payload))
    except CliError as exc:
        _err(f"{exc} The start payload is:")
        print(payload)
    _err(f"valid for {hours:g} hours, for one person")
    return EXIT_OK


def cmd_qr(args: argparse.Namespace, settings: Settings) -> int:
    """Print a room's link, or write a building's sheet of QR codes."""
    if args.room:
        place = asyncio.run(
            _with_store(settings, lambda s: places.room_by_code(s.uow(), args.room))
        )
        if place is None:
            raise CliError(f"no room with code {args.room!r}")
        print(_link(settings, room_payload(place.code)))
        return EXIT_OK
    _link(settings, "check")  # fail on a missing bot_username before doing any work

    async def work(store: Store) -> tuple[places.BuildingView, list[places.RoomView]]:
        building = await places.building_by_name(store.uow(), args.building, args.campus)
        rooms, _total = await places.list_rooms(
            store.uow(), building.id, None, offset=0, limit=1_000_000
        )
        return building, rooms

    building, rooms = asyncio.run(_with_store(settings, work))
    if not rooms:
        raise CliError(f"building {building.name!r} has no rooms")
    from bot.qrsheet import QrLabel, has_cjk_font, write_sheet

    labels = [
        QrLabel(_link(settings, room_payload(r.code)), r.code, f"{building.name} {r.name}")
        for r in rooms
    ]
    out = Path(args.out or sheet_name(rooms[0].code))
    try:
        files = write_sheet(labels, out, f"{building.campus} {building.name}")
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot write {out}: {exc}") from None
    if not has_cjk_font():
        _err("note: no CJK font found; Chinese labels may show as boxes (install fonts-noto-cjk)")
    rooms_written = f"{len(rooms)} room{'' if len(rooms) == 1 else 's'}"
    print(f"{rooms_written} -> {', '.join(str(f) for f in files)}")
    return EXIT_OK


# --- wiring --------------------------------------------------------------------------------


CONFIG_HELP = "settings file (default: ./config.toml if it exists)"
BUILDING_HELP = "a building's name, or the code its room codes start with (ED1 for ED1-101)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="repairbot", description=__doc__)
    parser.add_argument("-c", "--config", help=CONFIG_HELP)
    # `-c` after the command too (`repairbot run -c config.toml`), as most tools allow;
    # SUPPRESS keeps a subcommand from resetting a `-c` given before it.
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("-c", "--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", parents=[config], help="start the bot").set_defaults(func=cmd_run)

    demo = sub.add_parser(
        "demo", parents=[config], help="run the bot offline against the sandbox, no token"
    )
    demo.add_argument("--port", type=int, default=8081, help="stand-in port (0: any free)")
    demo.add_argument(
        "--once",
        action="store_true",
        help="exit after the scripted day (exit 0 only if every step happened)",
    )
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", parents=[config], help="database schema").add_subparsers(
        dest="db", required=True
    )
    db.add_parser("upgrade", parents=[config], help="apply migrations").set_defaults(
        func=cmd_db_upgrade
    )
    db.add_parser("current", parents=[config], help="show the schema revision").set_defaults(
        func=cmd_db_current
    )

    loc = sub.add_parser("locations", parents=[config], help="campuses, buildings and rooms")
    loc_sub = loc.add_subparsers(dest="locations", required=True)
    imp = loc_sub.add_parser(
        "import", parents=[config], help="import campus,building,floor,room,code CSV"
    )
    imp.add_argument("file")
    imp.set_defaults(func=cmd_locations_import)

    staff = sub.add_parser("staff", parents=[config], help="staff roles and invites")
    staff_sub = staff.add_subparsers(dest="staff", required=True)
    add = staff_sub.add_parser("add", parents=[config], help="grant a role to a Telegram user")
    add.add_argument("telegram_id", type=telegram_id, help="the user's numeric Telegram id")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--name")
    add.add_argument("--building", action="append", default=[], metavar="NAME", help=BUILDING_HELP)
    add.add_argument("--campus", metavar="NAME")
    add.set_defaults(func=cmd_staff_add)
    staff_sub.add_parser("list", parents=[config], help="list staff").set_defaults(
        func=cmd_staff_list
    )
    inv = staff_sub.add_parser("invite", parents=[config], help="make a one-time invite link")
    inv.add_argument("--role", required=True, choices=STAFF_ROLES)
    inv.add_argument("--building", action="append", default=[], metavar="NAME", help=BUILDING_HELP)
    inv.add_argument("--campus", metavar="NAME")
    inv.add_argument("--hours", type=float, help="lifetime (default: service.invite_ttl_hours)")
    inv.set_defaults(func=cmd_staff_invite)

    qr = sub.add_parser("qr", parents=[config], help="room QR codes and links")
    which = qr.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--building", metavar="NAME", help="write a sheet for every room; " + BUILDING_HELP
    )
    which.add_argument("--room", metavar="CODE", help="print one room's link")
    qr.add_argument("--campus", metavar="NAME", help="campus of --building, if ambiguous")
    qr.add_argument("--out", metavar="FILE", help="output .pdf or .png (default: qr-*.pdf)")
    qr.set_defaults(func=cmd_qr)
    return parser


def _load(config: str | None) -> Settings:
    if config is None and Path("config.toml").is_file():
        config = "config.toml"
    settings = load_settings(config)
    # From here on no output may show a secret: not a log line, not a crash's traceback.
    logs.protect(*settings.secrets())
    try:
        make_url(settings.database.url).port  # noqa: B018 - parses the port too
    except (ArgumentError, ValueError):
        raise ConfigError(
            "database.url is not a database URL (dialect+driver://user:password@host:port/"
            "name, e.g. postgresql+asyncpg://bot:secret@127.0.0.1:5432/repairbot)."
        ) from None
    return settings


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `repairbot` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = _load(args.config)
        code: int = args.func(args, settings)
        return code
    except ConfigError as exc:
        _err(f"config: {exc}")
        return EXIT_CONFIG
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        _err(f"config: {problems}")
        return EXIT_CONFIG
    except CliError as exc:
        _err(str(exc))
        return exc.exit_code
    except DomainError as exc:
        _err(str(exc))
        return EXIT_FAIL
    except (SQLAlchemyError, OSError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        _err(
            logs.redact(
                f"database error: {type(exc).__name__}: {first}. Check database.url "
                "(REPAIRBOT_DATABASE__URL), that the server is running, and run "
                "`repairbot db upgrade` after an update."
            )
        )
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
