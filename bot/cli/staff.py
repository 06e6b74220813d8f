"""`repairbot staff ...`: who holds which staff role, and invite links."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from bot.cli.common import (
    BUILDING_HELP,
    EXIT_CONFIG,
    EXIT_OK,
    STAFF_ROLES,
    CliError,
    Commands,
    building_ids,
    campus_id,
    err,
    group,
    link,
    number_between,
    read_utf8,
    refuse_lines,
    telegram_id,
    with_store,
)
from bot.settings import INVITE_HOURS_MAX, ConfigError, Settings
from store.directory import invites
from store.directory.staff import (
    VIA_CLI,
    StaffChangeResult,
    StaffView,
    add_staff,
    import_staff,
    list_staff,
    remove_staff,
)
from store.directory.staff_csv import parse_staff_csv
from store.errors import StaffImportError
from store.lifecycle import Role
from store.uow import Store


def _line(staff: StaffView) -> str:
    """One line per person: id, name, duty, and every grant as "role (scope)"."""
    person = staff.person
    duty = "  on duty" if person.on_duty else ""
    roles = "; ".join(f"{g.role} ({g.scope_label()})" for g in staff.grants) or "no staff role"
    return f"{person.telegram_id}\t{person.name or '(no name)'}{duty}\t{roles}"


def _handed(result: StaffChangeResult) -> None:
    handed = result.handed
    if handed.jobs:
        print(f"jobs back to dispatch: {', '.join(handed.jobs)}")
    if handed.offers:
        print(f"open offers withdrawn: {handed.offers}")
    if handed.followups:
        print(f"follow-ups handed over: {', '.join(handed.followups)}")


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    """Grant a staff role."""

    async def work(store: Store) -> StaffChangeResult:
        buildings = await building_ids(store, args.building, args.campus)
        campus = None if buildings else await campus_id(store, args.campus)
        return await add_staff(
            store.uow(),
            args.telegram_id,
            Role(args.role),
            name=args.name,
            building_ids=buildings,
            campus_id=campus,
            replace=args.replace,
        )

    result = asyncio.run(with_store(settings, work))
    if not result.changed:
        print(f"unchanged: already holds {args.role} there")
    for label in result.removed:
        print(f"replaced: {label}")
    _handed(result)
    print(_line(result.staff))
    return EXIT_OK


def cmd_staff_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Take staff roles away and hand their work on."""

    async def work(store: Store) -> StaffChangeResult:
        buildings = await building_ids(store, args.building, args.campus)
        campus = None if buildings else await campus_id(store, args.campus)
        return await remove_staff(
            store.uow(),
            args.telegram_id,
            role=Role(args.role) if args.role else None,
            campus_id=campus,
            building_ids=buildings,
            via=VIA_CLI,
        )

    result = asyncio.run(with_store(settings, work))
    for label in result.removed:
        print(f"removed: {label}")
    _handed(result)
    print(_line(result.staff))
    err("their staff command menu is reset when the running bot delivers their notice")
    return EXIT_OK


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    """List staff and their roles, one line per person."""

    async def work(store: Store) -> list[StaffView]:
        building = (
            (await building_ids(store, [args.building], args.campus))[0] if args.building else None
        )
        role = Role(args.role) if args.role else None
        return await list_staff(store.uow(), role=role, building_id=building)

    staff = asyncio.run(with_store(settings, work))
    if not staff:
        if args.role or args.building:
            print("no staff match")
        else:
            print("no staff yet; add some with: repairbot staff add TELEGRAM_ID --role ROLE")
    for member in staff:
        print(_line(member))
    return EXIT_OK


def cmd_staff_import(args: argparse.Namespace, settings: Settings) -> int:
    """Grant roles from a CSV file, all or nothing."""
    text = read_utf8(args.file)
    try:
        rows = parse_staff_csv(text)
        result = asyncio.run(with_store(settings, lambda s: import_staff(s.uow(), rows)))
    except StaffImportError as exc:
        raise refuse_lines(exc.errors) from None
    print(
        f"people added: {result.people_added}, grants added: {result.grants_added}, "
        f"grants widened: {result.grants_replaced}, unchanged: {result.unchanged}"
    )
    return EXIT_OK


def cmd_staff_invite(args: argparse.Namespace, settings: Settings) -> int:
    """Create an invite link."""
    try:
        secret = settings.invite_secret()
    except ConfigError as exc:
        raise CliError(f"invites are signed with the bot token. {exc}", EXIT_CONFIG) from None
    hours = args.hours if args.hours is not None else settings.service.invite_ttl_hours

    async def work(store: Store) -> str:
        buildings = await building_ids(store, args.building, args.campus)
        campus = None if buildings else await campus_id(store, args.campus)
        return await invites.create_invite(
            store.uow(),
            created_by=None,
            role=Role(args.role),
            secret=secret,
            campus_id=campus,
            building_ids=buildings,
            ttl=timedelta(hours=hours),
        )

    payload = invites.INVITE_PREFIX + asyncio.run(with_store(settings, work))
    try:
        print(link(settings, payload))
    except CliError as exc:
        err(f"{exc} The start payload is:")
        print(payload)
    err(f"valid for {hours:g} hours, for one person")
    return EXIT_OK


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`staff add | remove | list | import | invite`."""
    staff = group(commands, "staff", config, "staff roles and invites")
    add = staff.add_parser("add", parents=[config], help="grant a role to a Telegram user")
    add.add_argument("telegram_id", type=telegram_id, help="the user's numeric Telegram id")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--name")
    add.add_argument("--building", action="append", default=[], metavar="NAME", help=BUILDING_HELP)
    add.add_argument("--campus", metavar="NAME")
    add.add_argument(
        "--replace",
        action="store_true",
        help="replace the role's grants with this scope (e.g. narrow an everywhere grant)",
    )
    add.set_defaults(func=cmd_staff_add)
    rem = staff.add_parser(
        "remove", parents=[config], help="take roles away; their open work is handed on"
    )
    rem.add_argument("telegram_id", type=telegram_id, help="the user's numeric Telegram id")
    rem.add_argument("--role", choices=STAFF_ROLES, help="only this role (default: every role)")
    where = rem.add_mutually_exclusive_group()
    where.add_argument("--campus", metavar="NAME", help="only the grants inside this campus")
    where.add_argument(
        "--building", action="append", default=[], metavar="NAME", help=BUILDING_HELP
    )
    rem.set_defaults(func=cmd_staff_remove)
    lst = staff.add_parser("list", parents=[config], help="list staff, one line per person")
    lst.add_argument("--role", choices=STAFF_ROLES, help="only this role")
    lst.add_argument(
        "--building", metavar="NAME", help="only grants covering it; " + BUILDING_HELP
    )
    lst.add_argument("--campus", metavar="NAME", help="campus of --building, if ambiguous")
    lst.set_defaults(func=cmd_staff_list)
    imp = staff.add_parser(
        "import",
        parents=[config],
        help="grant roles from telegram_id,name,role,campus,building CSV",
    )
    imp.add_argument("file")
    imp.set_defaults(func=cmd_staff_import)
    inv = staff.add_parser("invite", parents=[config], help="make a one-time invite link")
    inv.add_argument("--role", required=True, choices=STAFF_ROLES)
    inv.add_argument("--building", action="append", default=[], metavar="NAME", help=BUILDING_HELP)
    inv.add_argument("--campus", metavar="NAME")
    inv.add_argument(
        "--hours",
        type=number_between(1, INVITE_HOURS_MAX),
        help=f"lifetime, 1 to {INVITE_HOURS_MAX} (default: service.invite_ttl_hours)",
    )
    inv.set_defaults(func=cmd_staff_invite)
