#!/bin/sh
# Add an Alembic revision for the changes in store/models.py since the newest one.
# 0001 is deployed: never regenerate it; every schema change is a new revision.
# Usage: scripts/new_migration.sh 0003 "what changes"   (repository root, .venv set up)
# Review the generated file: autogenerate misses server defaults and data moves.
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 REV_ID MESSAGE" >&2; exit 2; }
PY="${PYTHON:-.venv/bin/python}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" - "$tmp/new.db" "$1" "$2" <<'PYEOF'
import sys

from alembic import command

from store.migrate import make_config, upgrade_sync

url = f"sqlite+aiosqlite:///{sys.argv[1]}"
upgrade_sync(url)
command.revision(make_config(url), message=sys.argv[3], autogenerate=True, rev_id=sys.argv[2])
PYEOF
ls store/migrations/versions/
