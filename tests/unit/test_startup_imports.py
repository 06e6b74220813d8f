"""Start-up imports only what the first update needs (issue 28): the heavy modules of the
QR sheets, the exports, the digest chart, the board and the migrations are imported where
they are used, so `repairbot run` answers sooner."""

from __future__ import annotations

import json
import subprocess
import sys

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
