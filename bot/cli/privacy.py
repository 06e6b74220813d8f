"""`repairbot privacy ...`: a person's data for a request that came by letter or e-mail
(a copy of it, or its erasure), each recorded as done by the CLI."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

from bot.cli.common import EXIT_OK, CliError, Commands, group, telegram_id, with_store
from bot.settings import Settings
from store.directory import privacy
from store.errors import NotFound
from store.uow import Store


def _unknown(tid: int) -> CliError:
    return CliError(f"no person with Telegram id {tid} (never wrote to the bot, or erased)")


def cmd_privacy_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write everything kept about a person to FILE (JSON, readable by the owner only)."""
    target = Path(args.file)
    if target.is_dir():
        raise CliError(f"{target} is a directory; give a file name")

    async def work(store: Store) -> dict[str, object]:
        return await privacy.export_person(store.uow(), args.telegram_id, by=privacy.CLI)

    try:
        document = asyncio.run(with_store(settings, work))
    except NotFound:
        raise _unknown(args.telegram_id) from None
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    partial = target.with_name(f".{target.name}.partial")
    # Personal data: the file is the operator's alone (0600), and appears whole or not at all.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(target)
    tickets = document.get("tickets")
    count = len(tickets) if isinstance(tickets, list) else 0
    print(f"exported Telegram id {args.telegram_id}: {count} ticket(s) -> {target}")
    return EXIT_OK


def cmd_privacy_erase(args: argparse.Namespace, settings: Settings) -> int:
    """Erase a person's data for good (no prompt) and say what was done."""

    async def work(store: Store) -> privacy.Erasure:
        return await privacy.erase_person(store.uow(), args.telegram_id, by=privacy.CLI)

    try:
        done = asyncio.run(with_store(settings, work))
    except privacy.StaffNotErasable:
        raise CliError(
            f"Telegram id {args.telegram_id} holds a staff role; staff data is kept while "
            "they hold one (revoke the role first)"
        ) from None
    except NotFound:
        raise _unknown(args.telegram_id) from None
    walkups = done.extra.get("walkups_erased", 0)
    print(
        f"erased Telegram id {args.telegram_id} (now a former user): name, phone, room and "
        f'Telegram id removed; {done.tickets_kept} ticket(s) kept as "former user", '
        f"{done.phones_erased} contact phone(s) erased, {done.drafts_cancelled} draft(s) "
        f"cancelled, {done.notices_dropped} pending notice(s) dropped, "
        f"{done.follows_ended} follow(s) ended"
        + (f", {walkups} booth walk-up record(s) erased" if walkups else "")
    )
    return EXIT_OK


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`privacy export | erase`."""
    sub = group(commands, "privacy", config, "a person's data: export or erase on request")
    export = sub.add_parser(
        "export", parents=[config], help="write everything kept about a person to FILE (JSON)"
    )
    export.add_argument("telegram_id", type=telegram_id, help="the person's numeric Telegram id")
    export.add_argument("file", help="where to write the JSON document")
    export.set_defaults(func=cmd_privacy_export)
    erase = sub.add_parser(
        "erase", parents=[config], help="erase a person's data for good (no prompt)"
    )
    erase.add_argument("telegram_id", type=telegram_id, help="the person's numeric Telegram id")
    erase.set_defaults(func=cmd_privacy_erase)
