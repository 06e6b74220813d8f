"""A migration is history: each revision carries the code it needs and imports only Alembic,
SQLAlchemy, SQLModel and the standard library. Were it to import today's store, bot or
scheduler, a later change there would change what an old revision does to a database."""

from __future__ import annotations

import ast
import sys

from store.migrate import MIGRATIONS_DIR

ALLOWED = frozenset({"alembic", "sqlalchemy", "sqlmodel"})


def imports_not_allowed(source: str) -> list[str]:
    """Every import in `source` (at any depth) of something other than ALLOWED or the
    standard library; relative imports count as the project's."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "", node.level)]
        else:
            continue
        for name, level in names:
            top = name.split(".")[0]
            if level or not (top in ALLOWED or top in sys.stdlib_module_names):
                found.append(f"line {node.lineno}: {'.' * level}{name}")
    return found


def test_every_revision_imports_only_alembic_sqlalchemy_sqlmodel_and_the_stdlib() -> None:
    revisions = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    assert len(revisions) >= 7  # 0001 ... 0007 at least: the folder was found
    offending = {
        path.name: found
        for path in revisions
        if (found := imports_not_allowed(path.read_text(encoding="utf-8")))
    }
    assert offending == {}


def test_the_check_sees_the_live_code_wherever_it_is_imported() -> None:
    source = (
        "import json\n"
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        "from store.reporting.tally import Tally\n"
        "def upgrade():\n"
        "    import bot.app\n"
        "    from scheduler import jobs\n"
        "    from . import helpers\n"
    )
    assert imports_not_allowed(source) == [
        "line 4: store.reporting.tally",
        "line 6: bot.app",
        "line 7: scheduler",
        "line 8: .",
    ]
