"""`repairbot privacy export | erase` in-process, on a temporary SQLite database."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import select

from bot.cli import main
from store.db import create_engine
from store.directory import profiles
from store.models import Person, PrivacyEvent
from store.uow import Store

TG = 5_551_777
NAME = "Li Mingyue-3301"
PHONE = "+86 135 0000 3301"
T = TypeVar("T")


def _in_db(path: Path, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = Store(create_engine(f"sqlite+aiosqlite:///{path}"))
        try:
            return await work(store)
        finally:
            await store.dispose()

    return asyncio.run(run())


def _someone(cli_dir: Path) -> None:
    assert main(["db", "upgrade"]) == 0

    async def make(store: Store) -> None:
        person = await profiles.ensure_person(store.uow(), TG, NAME, "en")
        await profiles.set_phone(store.uow(), person.id, PHONE)

    _in_db(cli_dir / "cli.db", make)


def test_export_writes_the_persons_document_for_the_owner_only(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _someone(cli_dir)
    capsys.readouterr()
    out = cli_dir / "person.json"
    assert main(["privacy", "export", str(TG), str(out)]) == 0
    assert f"-> {out}" in capsys.readouterr().out
    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["profile"]["name"], document["profile"]["phone"]) == (NAME, PHONE)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(cli_dir.glob(".*.partial"))


def test_erase_says_what_it_did_and_is_final(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _someone(cli_dir)
    capsys.readouterr()
    assert main(["privacy", "erase", str(TG)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"erased Telegram id {TG}") and "former user" in said
    assert NAME not in said and PHONE not in said

    async def check(store: Store) -> list[tuple[str, str]]:
        async with store.read() as uow:
            left = await uow.session.execute(select(Person).where(Person.name == NAME))
            assert left.first() is None
            events = (await uow.session.execute(select(PrivacyEvent))).scalars().all()
            for event in events:
                assert NAME not in json.dumps(event.detail) and PHONE not in json.dumps(
                    event.detail
                )
            return [(e.action, e.by) for e in events]

    assert _in_db(cli_dir / "cli.db", check) == [("erase", "cli")]
    # Once erased, the id is unknown: one line, exit 1, for both commands.
    assert main(["privacy", "erase", str(TG)]) == 1
    assert main(["privacy", "export", str(TG), str(cli_dir / "x.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err
    assert f"no person with Telegram id {TG}" in err
    assert not (cli_dir / "x.json").exists()


def test_an_unknown_id_is_one_line_and_exit_1(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["privacy", "erase", "424242"]) == 1
    err = capsys.readouterr().err
    assert err == "no person with Telegram id 424242 (never wrote to the bot, or erased)\n"


def test_staff_are_refused_until_their_role_is_revoked(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    assert main(["staff", "add", "5551234", "--role", "technician", "--name", "Wang Wei"]) == 0
    capsys.readouterr()
    assert main(["privacy", "erase", "5551234"]) == 1
    assert "holds a staff role" in capsys.readouterr().err
