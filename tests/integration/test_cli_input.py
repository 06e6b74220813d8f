"""Command-line values are checked before use: a bad one gets one clear line and exit 2,
never a traceback, and never a file outside the folder or a secret on the screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main, sheet_name
from store.db import create_engine
from store.models import Building, Campus, Room
from store.uow import Store

CSV = "campus,building,floor,room,code\n東校區,E1公寓,1,101,E1-101\n"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("-5", "-5 is not a Telegram user id"),
        ("0", "0 is not a Telegram user id"),
        ("99999999999999999999", "99999999999999999999 is not a Telegram user id"),
        (str(2**53), f"{2**53} is not a Telegram user id"),
        ("12abc", "'12abc' is not a number"),
    ],
)
def test_staff_add_refuses_ids_telegram_cannot_have(
    cli_dir: Path,
    capsys: pytest.CaptureFixture[str],
    value: str,
    says: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["staff", "add", "--role", "admin", "--", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert says in err.splitlines()[-1] and "Traceback" not in err


def test_the_largest_telegram_id_is_accepted(
    cli_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["staff", "add", str(2**53 - 1), "--role", "admin", "--name", "Max"]) == 0
    assert f"{2**53 - 1}\tMax\tadmin (all)" in capsys.readouterr().out


def test_config_option_works_before_and_after_the_command(
    cli_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (cli_dir / "other.toml").write_text('[telegram]\nbot_username = "from_file_bot"\n')
    (cli_dir / "campus.csv").write_text(CSV, encoding="utf-8")
    assert main(["locations", "import", "campus.csv"]) == 0
    capsys.readouterr()
    for argv in (
        ["-c", "other.toml", "qr", "--room", "E1-101"],
        ["qr", "-c", "other.toml", "--room", "E1-101"],
        ["qr", "--room", "E1-101", "--config", "other.toml"],
    ):
        # The environment beats the file, so the username has to come from the file alone.
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("REPAIRBOT_TELEGRAM__BOT_USERNAME")
            assert main(argv) == 0, argv
        assert capsys.readouterr().out.startswith("https://t.me/from_file_bot?start="), argv
    assert main(["staff", "list", "-c", "missing.toml"]) == 2
    assert "missing.toml not found" in capsys.readouterr().err


def test_locations_import_names_each_bad_room_code_by_line(
    cli_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = (
        "campus,building,floor,room,code\n"
        "東校區,E1公寓,1,101,E1-101\n"
        "東校區,E1公寓,1,102,../etc\n"
        "東校區,E1公寓,1,103,E1/103\n"
        "東校區,E1公寓,1,104,.hidden\n"
        "東校區,E1公寓,1,105,E1 105\n"
        "東校區,E1公寓,1,106,東一-106_b.2\n"
    )
    (cli_dir / "bad.csv").write_text(bad, encoding="utf-8")
    assert main(["locations", "import", "bad.csv"]) == 1
    err = capsys.readouterr().err.splitlines()
    flagged = [line.split(":")[0] for line in err if "may hold only letters" in line]
    assert flagged == ["line 3", "line 4", "line 5", "line 6"], err
    assert err[-1] == "4 error(s); nothing imported"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("E1-101", "qr-E1.pdf"),
        ("../../etc/passwd-1", "qr-etc_passwd.pdf"),
        ("/abs/olute-1", "qr-abs_olute.pdf"),
        ("..-1", "qr-rooms.pdf"),
        ("東一-101", "qr-東一.pdf"),
    ],
)
def test_qr_sheet_names_stay_in_the_folder(code: str, name: str) -> None:
    assert sheet_name(code) == name
    assert Path(name).name == name and not name.startswith(".")


def test_qr_of_a_building_with_an_old_unsafe_code_writes_into_the_current_folder(
    cli_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A code imported before codes were checked ("../x-1") still yields a file here."""

    async def seed() -> None:
        store = Store(create_engine(f"sqlite+aiosqlite:///{cli_dir / 'cli.db'}"))
        try:
            async with store.uow() as uow:
                campus = Campus(name="C")
                uow.session.add(campus)
                await uow.flush()
                building = Building(campus_id=campus.id or 0, name="Old")
                uow.session.add(building)
                await uow.flush()
                uow.session.add(
                    Room(building_id=building.id or 0, floor="1", name="1", code="../x-1")
                )
                await uow.commit()
        finally:
            await store.dispose()

    assert main(["staff", "list"]) == 0  # creates and migrates the database
    asyncio.run(seed())
    capsys.readouterr()
    assert main(["qr", "--building", "Old"]) == 0
    assert (cli_dir / "qr-x.pdf").is_file()
    assert not (cli_dir.parent / "x.pdf").exists() and not list(cli_dir.parent.glob("qr-*"))


COMMANDS = [
    ["run"],
    ["check"],
    ["db", "upgrade"],
    ["db", "current"],
    ["staff", "list"],
    ["staff", "add", "1001", "--role", "admin"],
    ["staff", "invite", "--role", "admin"],
    ["locations", "import", "campus.csv"],
    ["qr", "--room", "E1-101"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv))
def test_a_misspelt_setting_stops_every_command_and_touches_nothing(
    cli_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """The issue's case: `[databse] url` must not leave the bot on ./repairbot.db."""
    monkeypatch.delenv("REPAIRBOT_DATABASE__URL")
    (cli_dir / "config.toml").write_text(
        '[databse]\nurl = "postgresql+asyncpg://bot@127.0.0.1/repairbot"\n', encoding="utf-8"
    )
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        "config: unknown setting databse.url in config.toml — did you mean database.url?"
    ]
    (cli_dir / "config.toml").unlink()
    monkeypatch.setenv("REPAIRBOT_SERVICE__TIMEZON", "Asia/Taipei")
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        "config: unknown setting REPAIRBOT_SERVICE__TIMEZON in the environment — did you "
        "mean REPAIRBOT_SERVICE__TIMEZONE?"
    ]
    assert sorted(p.name for p in cli_dir.iterdir()) == ["campus.csv"]  # no repairbot.db


def test_a_plain_postgresql_url_is_used_as_asyncpg(
    cli_dir: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It used to end in a 46-line traceback (No module named 'psycopg')."""
    for scheme in ("postgresql", "postgresql+psycopg"):
        plain = postgres_url.replace("postgresql+asyncpg", scheme, 1)
        monkeypatch.setenv("REPAIRBOT_DATABASE__URL", plain)
        assert main(["db", "current"]) == 0
        assert capsys.readouterr().out.startswith("current: ")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "postgres://bot:hunter22@127.0.0.1/rb",
            "config: database.url: the driver 'postgres' is not supported; use "
            "postgresql+asyncpg://bot:***@127.0.0.1/rb",
        ),
        (
            "mysql://bot:hunter22@127.0.0.1/rb",
            "config: database.url: 'mysql' databases are not supported; use "
            "sqlite+aiosqlite:///repairbot.db, or postgresql+asyncpg://user:password@host:5432/name",
        ),
    ],
)
def test_an_unsupported_database_url_is_one_line(
    cli_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    says: str,
) -> None:
    monkeypatch.setenv("REPAIRBOT_DATABASE__URL", url)
    assert main(["staff", "list"]) == 2
    assert capsys.readouterr().err.splitlines() == [says]


def test_broken_toml_is_one_line(cli_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (cli_dir / "config.toml").write_text("[telegram\n", encoding="utf-8")
    assert main(["staff", "list"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "config: config.toml is not valid TOML: line 1, column 10: Expected ']' at the end "
        "of a table declaration"
    ]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["staff", "invite", "--role", "admin", "--hours", "1e9"],
            "repairbot staff invite: argument --hours: 1e9 is not between 1 and 720 (see "
            "repairbot staff invite --help)",
        ),
        (
            ["staff", "invite", "--role", "admin", "--hours", "nan"],
            "repairbot staff invite: argument --hours: nan is not between 1 and 720 (see "
            "repairbot staff invite --help)",
        ),
        (
            ["staff", "invite", "--role", "admin", "--hours", "0.5"],
            "repairbot staff invite: argument --hours: 0.5 is not between 1 and 720 (see "
            "repairbot staff invite --help)",
        ),
        (
            ["demo", "--port", "65536"],
            "repairbot demo: argument --port: 65536 is not between 0 and 65535 (see "
            "repairbot demo --help)",
        ),
        (
            ["demo", "--port", "80.5"],
            "repairbot demo: argument --port: '80.5' is not a whole number (see repairbot "
            "demo --help)",
        ),
    ],
)
def test_numeric_options_are_range_checked_in_one_line(
    cli_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [says]


def test_an_invite_for_720_hours_is_made(
    cli_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__TOKEN", "123456:" + "FAKE-test-secret-" + "0" * 20)
    assert main(["staff", "invite", "--role", "admin", "--hours", "720"]) == 0
    assert "valid for 720 hours" in capsys.readouterr().err
