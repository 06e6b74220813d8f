#!/bin/sh
# Until the first release there is one initial revision: rebuild it from store/models.py.
# Usage: scripts/regen_migration.sh   (from the repository root, with .venv set up)
set -eu
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -f store/migrations/versions/*.py
"$PY" - "$tmp/regen.db" <<'PYEOF'
import sys

from alembic import command

from store.migrate import make_config

config = make_config(f"sqlite+aiosqlite:///{sys.argv[1]}")
command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
PYEOF
ls store/migrations/versions/
