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
    telegram_id,
    with_store,
)
from bot.settings import INVITE_HOURS_MAX, ConfigError, Settings
from store.directory import invites
from store.directory.staff import StaffView, add_staff, list_staff
from store.lifecycle import Role
from store.uow import Store


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    """Grant a staff role."""

    async def work(store: Store) -> StaffView:
        buildings = await building_ids(store, args.building, args.campus)
        campus = None if buildings else await campus_id(store, args.campus)
        return await add_staff(
            store.uow(),
            args.telegram_id,
            Role(args.role),
            name=args.name,
            building_ids=buildings,
            campus_id=campus,
        )

    staff = asyncio.run(with_store(settings, work))
    roles = "; ".join(f"{g.role} ({g.scope_label()})" for g in staff.grants)
    print(f"{staff.person.name or '(no name)'} [{staff.person.telegram_id}]: {roles}")
    return EXIT_OK


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    """List staff and their roles."""
    staff = asyncio.run(with_store(settings, lambda s: list_staff(s.uow())))
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
    """`staff add | list | invite`."""
    staff = group(commands, "staff", config, "staff roles and invites")
    add = staff.add_parser("add", parents=[config], help="grant a role to a Telegram user")
    add.add_argument("telegram_id", type=telegram_id, help="the user's numeric Telegram id")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--name")
    add.add_argument("--building", action="append", default=[], metavar="NAME", help=BUILDING_HELP)
    add.add_argument("--campus", metavar="NAME")
    add.set_defaults(func=cmd_staff_add)
    staff.add_parser("list", parents=[config], help="list staff").set_defaults(func=cmd_staff_list)
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
