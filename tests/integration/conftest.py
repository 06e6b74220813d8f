"""Fixtures of the integration tests, beside the store of tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

# 27 rooms: 25 in E1公寓 on floors 1 to 3, and a "圖書館" in each campus (the ambiguous name).
CSV = (
    "campus,building,floor,room,code\n"
    + "".join(f"東校區,E1公寓,{1 + n // 10},{101 + n},E1-{101 + n}\n" for n in range(25))
    + "西校區,圖書館,1,大廳,WLIB-1\n東校區,圖書館,1,大廳,ELIB-1\n"
)


@pytest.fixture
def cli_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory for `repairbot` commands: campus.csv (the 27 rooms above), no
    config.toml, and a SQLite database URL in the environment."""
    monkeypatch.chdir(tmp_path)
    for key in ("TOKEN", "BOT_USERNAME"):
        monkeypatch.delenv(f"REPAIRBOT_TELEGRAM__{key}", raising=False)
    monkeypatch.setenv("REPAIRBOT_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("REPAIRBOT_TELEGRAM__BOT_USERNAME", "campus_fix_bot")
    (tmp_path / "campus.csv").write_text(CSV, encoding="utf-8")
    return tmp_path
