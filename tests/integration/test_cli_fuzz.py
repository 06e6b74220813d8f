"""No traceback from any `repairbot` command on bad input or bad settings: random argument
lists, settings files (random sections, keys, values, broken fragments) and REPAIRBOT_
variables end in an exit code, and a refusal (exit 2) is exactly one line on stderr."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.settings import Settings

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Words the parser knows, so random lists reach the commands and their options.
WORDS = [
    "run", "check", "db", "upgrade", "current", "locations", "import", "qr", "staff", "add",
    "list", "invite", "--role", "admin", "technician", "--hours", "--building", "--campus",
    "--room", "--out", "--name", "--move", "-c", "--config", "--", "campus.csv", "E1-101",
    "E1公寓", "nan", "inf", "-1", "0", "1e9", "99999999999999999999", "12abc", "", "-",
]  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "-inf", "1e309", "0x10", "1_000", " 5", "٣"]),
)
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    """stderr (and a silenced stdout) of one in-process run."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        yield err


def run(argv: list[str]) -> tuple[int, str]:
    """`repairbot ARGV` in-process: its exit code and stderr. Anything but an exit code
    (an exception escaping main) fails the test with the exception."""
    with captured() as err:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help (0) or a bad argument (2)
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


def assert_one_line_if_refused(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].strip(), err


@FUZZ
@given(
    argv=st.lists(st.one_of(st.sampled_from(WORDS), NUMBERS, TEXT), min_size=0, max_size=7).filter(
        lambda argv: "demo" not in argv and "-h" not in argv and "--help" not in argv
    )
)
def test_random_arguments_end_in_an_exit_code_never_a_traceback(
    cli_dir: Path, argv: list[str]
) -> None:
    code, err = run(argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert_one_line_if_refused(code, err)


@pytest.mark.parametrize("typed", ["\x1e", "1\x85", "a\u2028b", "\x1c\x1d"])
def test_control_characters_in_arguments_are_quoted_on_one_line(cli_dir: Path, typed: str) -> None:
    # splitlines() breaks at these too; the answer escapes them instead.
    for argv in (["run", typed], [typed], ["staff", "remove", typed]):
        code, err = run(argv)
        assert code in (1, 2), (argv, err)  # int() reads "1\x85" as 1: nobody with id 1
        assert len(err.splitlines()) == 1, err
        if code == 2:
            assert repr(typed[-1])[1:-1] in err, err


@FUZZ
@given(hours=NUMBERS, port=NUMBERS)
def test_numeric_options_out_of_range_are_one_line(cli_dir: Path, hours: str, port: str) -> None:
    with pytest.MonkeyPatch.context() as mp:  # a token: a valid --hours makes an invite
        mp.setenv("REPAIRBOT_TELEGRAM__TOKEN", "123456:" + "FAKE-test-secret-" + "0" * 20)
        code, err = run(["staff", "invite", "--role", "admin", f"--hours={hours}"])
    try:
        ok = 1 <= float(hours) <= 720 and math.isfinite(float(hours))
    except ValueError:
        ok = False
    if not ok:
        assert code == 2 and "--hours" in err, (hours, err)
    assert_one_line_if_refused(code, err)
    try:
        port_ok = 0 <= int(port) <= 65535
    except ValueError:
        port_ok = False
    if not port_ok:  # a valid port would start the demo: only refusals here
        code, err = run(["demo", "--once", f"--port={port}"])
        assert code == 2 and "--port" in err, (port, err)
        assert_one_line_if_refused(code, err)


# --- settings files and variables -----------------------------------------------------------

SECTIONS = [*Settings.model_fields, "databse", "ops", "logging", "", "a b", "service.x"]
KEYS = [
    "url", "token", "port", "listen", "timezone", "timezon", "mode", "webhook_url",
    "public_url", "languages", "term_starts", "digest_time", "accept_minutes", "water",
    "invite_ttl_hours", "urge_cooldown_minutes", "reopen_window_days", "comment_max",
    "description_max", "enabled", "echo", "sqlite_synchronous", "claim_ttl_days", "",
]  # fmt: skip
SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    TEXT,
    st.dates(),
    st.sampled_from(
        ["Mars/Olympus", "../../etc/passwd", "a" * 300, "25:99", "webhook", "https://x"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)


def toml_value(value: object) -> str:
    """`value` as TOML (a lone surrogate or the like makes a broken file: also fine)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else f"{'-' if value < 0 else ''}inf"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    return json.dumps(str(value))


TABLES = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), TEXT), VALUES, max_size=4),
    max_size=4,
)
FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "[telegram",
            "]",
            "=",
            'x = "',
            "[[board]]",
            "port = 1\nport = 2",
            "\x00",
            "[a.b]\n[a]\nb = 1",
            "'''",
        ]
    ),
    max_size=3,
)
ENV_NAMES = st.one_of(
    st.sampled_from(
        [
            "REPAIRBOT_DATABSE__URL", "REPAIRBOT_DATABASE_URL", "REPAIRBOT_BOARD__PORT",
            "REPAIRBOT_SERVICE__TIMEZONE", "REPAIRBOT_TELEGRAM__MODE", "REPAIRBOT_BOARD",
            "REPAIRBOT_CATEGORIES", "REPAIRBOT_CATEGORIES__WATER__ACCEPT_MINUTES",
            "REPAIRBOT_SERVICE__LANGUAGES", "REPAIRBOT_TELEGRAM__", "REPAIRBOT_X__Y__Z",
        ]
    ),
    st.from_regex(r"REPAIRBOT_[A-Z_]{1,20}", fullmatch=True),
)  # fmt: skip
ENV_VALUES = st.one_of(TEXT, NUMBERS, st.sampled_from(["{", "[]", '{"port": "x"}', "{}", "null"]))


@FUZZ
@given(
    tables=TABLES,
    fragments=FRAGMENTS,
    env=st.dictionaries(ENV_NAMES, ENV_VALUES, max_size=3),
    command=st.sampled_from([["db", "current"], ["staff", "list"], ["run"]]),
)
def test_random_settings_end_in_an_exit_code_never_a_traceback(
    cli_dir: Path,
    tables: dict[str, dict[str, object]],
    fragments: list[str],
    env: dict[str, str],
    command: list[str],
) -> None:
    lines = []
    for section, keys in tables.items():
        lines.append(f"[{json.dumps(section)}]")
        lines += [f"{json.dumps(key)} = {toml_value(value)}" for key, value in keys.items()]
    lines += fragments
    path = cli_dir / "fuzz.toml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            if "\x00" not in value:
                mp.setenv(name, value)
        # No token (so `run` stops before Telegram), and the test database stays.
        mp.delenv("REPAIRBOT_TELEGRAM__TOKEN", raising=False)
        mp.setenv("REPAIRBOT_DATABASE__URL", f"sqlite+aiosqlite:///{cli_dir / 'cli.db'}")
        code, err = run(["-c", str(path), *command])
    assert code in (0, 1, 2), (code, err)
    assert_one_line_if_refused(code, err)
