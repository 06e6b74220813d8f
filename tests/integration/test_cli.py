"""The `repairbot` command in-process, on a temporary SQLite database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.cli import main
from store.db import create_engine
from store.deeplink import parse_room_payload
from store.directory import invites
from store.directory.staff import GrantView
from store.lifecycle import Role
from store.migrate import head_revision
from store.models import Room
from store.uow import Store
from tests.support.databases import truncate

TOKEN = "123456:" + "FAKE-test-secret-" + "0123456789" * 2  # built, not a credential
LINK = re.compile(r"^https://t\.me/\w+\?start=[A-Za-z0-9_-]{1,64}$")


def _room_count(path: Path) -> int:
    async def count() -> int:
        store = Store(create_engine(f"sqlite+aiosqlite:///{path}"))
        try:
            async with store.uow() as uow:
                stmt = select(func.count()).select_from(Room)
                return int((await uow.session.execute(stmt)).scalar_one())
        finally:
            await store.dispose()

    return asyncio.run(count())


def test_run_without_a_real_token_exits_2_and_says_how(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2
    assert "REPAIRBOT_TELEGRAM__TOKEN" in capsys.readouterr().err
    placeholder = "123:change-me-0123456789abcdef"
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__TOKEN", placeholder)
    assert main(["run"]) == 2
    out, err = capsys.readouterr()
    assert "REPAIRBOT_TELEGRAM__TOKEN" in err and "Traceback" not in err
    assert "0123456789abcdef" not in out + err


def test_locations_import_prints_counts_and_is_idempotent(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    assert "rooms created: 27" in capsys.readouterr().out
    assert main(["locations", "import", "campus.csv"]) == 0
    out = capsys.readouterr().out
    assert "rooms created: 0" in out and "unchanged: 27" in out
    assert _room_count(cli_dir / "cli.db") == 27


def test_locations_import_with_errors_exits_1_and_imports_nothing(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    broken = cli_dir / "broken.csv"
    extra = "東校區,E3公寓,1,101,E3-101\n東校區,E2公寓,1\n東校區,E2公寓,1,101,E1-101\n"
    broken.write_text(
        (cli_dir / "campus.csv").read_text(encoding="utf-8") + extra, encoding="utf-8"
    )
    assert main(["locations", "import", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "line 30: expected 5 columns, got 3" in err
    assert "line 31: code E1-101" in err
    assert "nothing imported" in err
    assert _room_count(cli_dir / "cli.db") == 27  # not even the good new row E3-101
    assert main(["locations", "import", "missing.csv"]) == 1
    assert "cannot read missing.csv" in capsys.readouterr().err


def test_qr_room_prints_a_deep_link_to_the_room(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    capsys.readouterr()
    assert main(["qr", "--room", "E1-101"]) == 0
    link = capsys.readouterr().out.strip()
    assert LINK.match(link), link
    assert parse_room_payload(link.split("start=", 1)[1]) == "E1-101"
    assert main(["qr", "--room", "NOPE-1"]) == 1
    assert "no room with code 'NOPE-1'" in capsys.readouterr().err
    monkeypatch.delenv("REPAIRBOT_TELEGRAM__BOT_USERNAME")
    assert main(["qr", "--room", "E1-101"]) == 2
    assert "REPAIRBOT_TELEGRAM__BOT_USERNAME" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", ["pdf", "png"])
def test_qr_building_writes_a_printable_sheet(
    cli_dir: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    out = cli_dir / f"e1.{suffix}"
    assert main(["qr", "--building", "E1公寓", "--out", str(out)]) == 0
    assert "25 rooms" in capsys.readouterr().out
    data = out.read_bytes()
    if suffix == "pdf":
        assert data.startswith(b"%PDF")
        assert len(re.findall(rb"/Type\s*/Page\b", data)) == 2  # 20 codes a page
    else:
        assert data.startswith(b"\x89PNG") and (cli_dir / "e1-2.png").stat().st_size > 1000
    assert main(["qr", "--building", "圖書館", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "東校區" in err and "西校區" in err
    assert main(["qr", "--building", "圖書館", "--campus", "西校區", "--out", str(out)]) == 0


def test_staff_add_then_list(cli_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    args = ["staff", "add", "5551234", "--role", "technician", "--name", "Wang Wei"]
    assert main([*args, "--building", "E1公寓"]) == 0
    capsys.readouterr()
    assert main([*args, "--building", "E1公寓"]) == 0  # idempotent, and says so
    assert "unchanged: already holds technician there" in capsys.readouterr().out
    assert main(["staff", "add", "5550000", "--role", "supervisor", "--campus", "西校區"]) == 0
    assert main(["staff", "add", "5550001", "--role", "admin", "--building", "圖書館"]) == 1
    assert "name the campus" in capsys.readouterr().err
    assert main(["staff", "list"]) == 0
    listing = capsys.readouterr().out
    # One line per person: id, name, then every grant with its scope.
    assert "5551234\tWang Wei\ttechnician (東校區/E1公寓)\n" in listing
    assert "5550000\t(no name)\tsupervisor (西校區)\n" in listing
    assert "5550001" not in listing


def test_building_options_take_the_short_code_printed_on_room_stickers(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    assert main(["staff", "add", "5551235", "--role", "technician", "--building", "e1"]) == 0
    assert main(["qr", "--building", "WLIB", "--out", str(cli_dir / "lib.png")]) == 0
    out = capsys.readouterr().out
    assert "5551235\t(no name)\ttechnician (東校區/E1公寓)" in out
    assert f"1 room -> {cli_dir / 'lib.png'}" in out
    assert main(["qr", "--building", "E9", "--out", str(cli_dir / "x.png")]) == 1
    assert "no building named or coded 'E9'" in capsys.readouterr().err


def test_staff_invite_prints_a_redeemable_link(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    assert main(["staff", "invite", "--role", "technician"]) == 2  # invites need the token
    assert "REPAIRBOT_TELEGRAM__TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__TOKEN", TOKEN)
    args = ["staff", "invite", "--role", "technician", "--building", "E1公寓", "--hours", "2"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    link = out.strip()
    assert LINK.match(link) and "?start=inv_" in link and "2 hours" in err
    token = link.split("start=inv_", 1)[1]

    async def redeem() -> GrantView:
        store = Store(create_engine(f"sqlite+aiosqlite:///{cli_dir / 'cli.db'}"))
        try:
            return await invites.redeem_invite(
                store.uow(),
                token,
                telegram_id=42,
                name="Zhao",
                language=None,
                secret=invites.derive_invite_secret(TOKEN),
            )
        finally:
            await store.dispose()

    grant = asyncio.run(redeem())
    assert (grant.role, grant.buildings) == (Role.TECHNICIAN, ("E1公寓",))
    monkeypatch.delenv("REPAIRBOT_TELEGRAM__BOT_USERNAME")
    assert main(["staff", "invite", "--role", "inspector"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("inv_") and "bot_username" in err


def test_db_upgrade_and_current(cli_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 1  # a fresh database is not migrated yet
    assert "current: (none)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"at revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0


def test_bad_config_file_exits_2(cli_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", "nowhere.toml", "staff", "list"]) == 2
    assert "nowhere.toml not found" in capsys.readouterr().err
    (cli_dir / "config.toml").write_text(
        '[service]\ntimezone = "Mars/Olympus"\n', encoding="utf-8"
    )
    assert main(["staff", "list"]) == 2  # ./config.toml is picked up by default
    assert "unknown time zone" in capsys.readouterr().err


def test_run_in_webhook_mode_without_a_url_or_with_an_unknown_mode_exits_2_and_says_how(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__TOKEN", TOKEN)
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__MODE", "webhook")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "REPAIRBOT_TELEGRAM__WEBHOOK_URL" in err and "Traceback" not in err
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__MODE", "pollin")  # a typo
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "mode" in err and "polling" in err and "Traceback" not in err
    assert TOKEN not in err


def test_staff_grants_have_one_meaning_and_remove_takes_them_away(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    tech = ["staff", "add", "5551234", "--role", "technician", "--name", "Wang Wei"]
    assert main(tech) == 0  # everywhere
    capsys.readouterr()
    assert main([*tech, "--building", "E1公寓"]) == 1
    assert "already holds technician for all, which covers 東校區/E1公寓; nothing changed" in (
        capsys.readouterr().err
    )
    assert main([*tech, "--building", "E1公寓", "--replace"]) == 0
    out = capsys.readouterr().out
    assert "replaced: technician (all)" in out
    assert "5551234\tWang Wei\ttechnician (東校區/E1公寓)\n" in out
    assert main(["staff", "add", "5550000", "--role", "supervisor", "--campus", "西校區"]) == 0
    capsys.readouterr()
    assert main(["staff", "list", "--role", "supervisor"]) == 0
    assert capsys.readouterr().out == "5550000\t(no name)\tsupervisor (西校區)\n"
    assert main(["staff", "list", "--building", "E1"]) == 0
    assert capsys.readouterr().out == "5551234\tWang Wei\ttechnician (東校區/E1公寓)\n"

    assert main(["staff", "remove", "5551234", "--role", "technician"]) == 0
    out = capsys.readouterr().out
    assert "removed: technician (東校區/E1公寓)\n" in out
    assert "5551234\tWang Wei\tno staff role\n" in out
    assert main(["staff", "remove", "5551234"]) == 1
    assert "Wang Wei holds no staff role; nothing changed" in capsys.readouterr().err
    assert main(["staff", "remove", "5550000", "--building", "WLIB"]) == 1
    assert "wider than the scope asked; nothing changed" in capsys.readouterr().err
    assert main(["staff", "remove", "9999"]) == 1
    assert "nobody with Telegram id 9999 is known" in capsys.readouterr().err


def test_staff_import_is_all_or_nothing_and_idempotent(
    cli_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "import", "campus.csv"]) == 0
    good = (
        "telegram_id,name,role,campus,building\n"
        "5551234,Wang Wei,technician,東校區,E1公寓\n"
        "5550000,Li Na,supervisor,西校區,\n"
    )
    (cli_dir / "staff.csv").write_text(good + "5550001,Max,admin,,圖書館\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["staff", "import", "staff.csv"]) == 1
    err = capsys.readouterr().err
    assert "line 4: building '圖書館' is in several campuses; name the campus" in err
    assert "1 error(s); nothing imported" in err
    assert main(["staff", "list"]) == 0
    assert "no staff yet" in capsys.readouterr().out
    (cli_dir / "staff.csv").write_text(good, encoding="utf-8")
    assert main(["staff", "import", "staff.csv"]) == 0
    assert capsys.readouterr().out == (
        "people added: 2, grants added: 2, grants widened: 0, unchanged: 0\n"
    )
    assert main(["staff", "import", "staff.csv"]) == 0
    assert capsys.readouterr().out == (
        "people added: 0, grants added: 0, grants widened: 0, unchanged: 2\n"
    )


def test_locations_import_refuses_a_silent_move_and_prints_each_move_with_move(
    cli_dir: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: LA-101 is North / Lab A; a line puts it at South / Lab C."""
    if not db_url.startswith("sqlite"):
        asyncio.run(truncate(db_url))
    monkeypatch.setenv("REPAIRBOT_DATABASE__URL", db_url)
    header = "campus,building,floor,room,code\n"
    (cli_dir / "first.csv").write_text(header + "North,Lab A,1,101,LA-101\n", encoding="utf-8")
    (cli_dir / "moved.csv").write_text(
        header + "South,Lab D,1,1,LD-1\nSouth,Lab C,1,101,LA-101\n", encoding="utf-8"
    )
    assert main(["locations", "import", "first.csv"]) == 0
    capsys.readouterr()
    assert main(["locations", "import", "moved.csv"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "line 3: would move room LA-101: North / Lab A floor 1 -> South / Lab C floor 1",
        "1 room(s) would move to another campus, building or floor; nothing imported. Check "
        "their codes, or run again with --move to move them (their tickets go with them).",
    ]
    assert main(["qr", "--room", "LD-1"]) == 1  # nothing imported, not even the new room
    capsys.readouterr()
    assert main(["locations", "import", "moved.csv", "--move"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        "line 3: moved LA-101: North / Lab A floor 1 -> South / Lab C floor 1"
    )
    assert "rooms created: 1, rooms updated: 1" in out
