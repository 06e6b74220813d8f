"""Start-up imports only what the first update needs (issue 28): the heavy modules of the
QR sheets, the exports, the digest chart, the board and the migrations are imported where
they are used, so `repairbot run` answers sooner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("matplotlib", "openpyxl", "segno", "jinja2", "alembic", "aiohttp", "bot.export")


def test_importing_the_bot_leaves_the_heavy_modules_out() -> None:
    code = (
        "import json, sys; import bot.app, bot.cli; "
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_building_the_bot_as_run_does_reads_no_migration_script(tmp_path: Path) -> None:
    # `repairbot run` builds the application with the ops listener (on by default), whose
    # /readyz compares the database with the code's schema head: read from the scripts'
    # text, so neither Alembic nor its script directory is loaded before the first answer.
    code = (
        "import json, sys; from bot.app import build_application; "
        "from bot.settings import load_settings; s = load_settings(); "
        "app = build_application(s, s.store(), serve_ops=True); "
        "assert app.bot_data.ops is not None and app.bot_data.ops.head; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic')))"
    )
    env = {
        **os.environ,
        "REPAIRBOT_TELEGRAM__TOKEN": "123456:FAKE-startup-imports",
        "REPAIRBOT_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
