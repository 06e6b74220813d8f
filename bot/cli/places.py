"""`repairbot locations import` and `repairbot qr`: the rooms, and their QR codes."""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

from bot.cli.common import (
    BUILDING_HELP,
    EXIT_OK,
    CliError,
    Commands,
    err,
    group,
    link,
    read_utf8,
    refuse_lines,
    with_store,
)
from bot.settings import Settings
from store.deeplink import room_payload
from store.directory import places
from store.directory.location_csv import parse_locations_csv
from store.errors import LocationImportError
from store.uow import Store


def sheet_name(code: str) -> str:
    """The default QR sheet file for a building whose room codes start with `code`: a plain
    name in the current folder, whatever the code holds (a path separator, "..")."""
    prefix = code.split("-")[0]
    stem = re.sub(r"[^\w-]+", "_", prefix).strip("_") or "rooms"
    return f"qr-{stem}.pdf"


def cmd_locations_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import rooms from a CSV file."""
    text = read_utf8(args.file)
    try:
        rows = parse_locations_csv(text)
    except LocationImportError as exc:
        raise refuse_lines(exc.errors) from None
    try:
        result = asyncio.run(
            with_store(settings, lambda s: places.import_locations(s.uow(), rows, move=args.move))
        )
    except LocationImportError as exc:
        for line, message in exc.errors:
            err(f"line {line}: {message}")
        raise CliError(
            f"{len(exc.errors)} room(s) would move to another campus, building or floor; "
            "nothing imported. Check their codes, or run again with --move to move them "
            "(their tickets go with them)."
        ) from None
    for moved in result.moves:
        print(f"line {moved.line}: moved {moved.describe()}")
    print(
        f"campuses created: {result.campuses_created}, "
        f"buildings created: {result.buildings_created}, "
        f"rooms created: {result.rooms_created}, rooms updated: {result.rooms_updated}, "
        f"unchanged: {result.unchanged}"
    )
    return EXIT_OK


def cmd_qr(args: argparse.Namespace, settings: Settings) -> int:
    """Print a room's link, or write a building's sheet of QR codes."""
    if args.room:
        place = asyncio.run(
            with_store(settings, lambda s: places.room_by_code(s.uow(), args.room))
        )
        if place is None:
            raise CliError(f"no room with code {args.room!r}")
        print(link(settings, room_payload(place.code)))
        return EXIT_OK
    link(settings, "check")  # fail on a missing bot_username before doing any work

    async def work(store: Store) -> tuple[places.BuildingView, list[places.RoomView]]:
        building = await places.building_by_name(store.uow(), args.building, args.campus)
        rooms, _total = await places.list_rooms(
            store.uow(), building.id, None, offset=0, limit=1_000_000
        )
        return building, rooms

    building, rooms = asyncio.run(with_store(settings, work))
    if not rooms:
        raise CliError(f"building {building.name!r} has no rooms")
    from bot.qrsheet import QrLabel, has_cjk_font, write_sheet

    labels = [
        QrLabel(link(settings, room_payload(r.code)), r.code, f"{building.name} {r.name}")
        for r in rooms
    ]
    out = Path(args.out or sheet_name(rooms[0].code))
    try:
        files = write_sheet(labels, out, f"{building.campus} {building.name}")
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot write {out}: {exc}") from None
    if not has_cjk_font():
        err("note: no CJK font found; Chinese labels may show as boxes (install fonts-noto-cjk)")
    rooms_written = f"{len(rooms)} room{'' if len(rooms) == 1 else 's'}"
    print(f"{rooms_written} -> {', '.join(str(f) for f in files)}")
    return EXIT_OK


def register(commands: Commands, config: argparse.ArgumentParser) -> None:
    """`locations import` and `qr`."""
    loc = group(commands, "locations", config, "campuses, buildings and rooms")
    imp = loc.add_parser(
        "import", parents=[config], help="import campus,building,floor,room,code CSV"
    )
    imp.add_argument("file")
    imp.add_argument(
        "--move",
        action="store_true",
        help="let a room code change campus, building or floor (each move is printed)",
    )
    imp.set_defaults(func=cmd_locations_import)

    qr = commands.add_parser("qr", parents=[config], help="room QR codes and links")
    which = qr.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--building", metavar="NAME", help="write a sheet for every room; " + BUILDING_HELP
    )
    which.add_argument("--room", metavar="CODE", help="print one room's link")
    qr.add_argument("--campus", metavar="NAME", help="campus of --building, if ambiguous")
    qr.add_argument("--out", metavar="FILE", help="output .pdf or .png (default: qr-*.pdf)")
    qr.set_defaults(func=cmd_qr)
