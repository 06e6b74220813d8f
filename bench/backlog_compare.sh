#!/bin/sh
# Old vs new on the same seeded office, one after the other (issue 28 item 3):
#   bench/backlog_compare.sh OLD_TREE N BACKLOG DB KEEP_DIR [RUNS [scale.py options...]]
# OLD_TREE is a checkout of the tree before (git worktree add --detach ../base main);
# it runs this tree's bench/scale.py (copied in as bench/scale_backlog.py) over its own
# store code. The kept database (seeded on first use) is taken back to migration 0011
# first, so the old code finds the schema it knows; the new run upgrades it again.
set -eu
old=$1 n=$2 backlog=$3 db=$4 keep=$5 runs=${6:-20}
shift 5; [ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
py="$here/.venv/bin/python"
cp "$here/bench/scale.py" "$old/bench/scale_backlog.py"
if [ "$backlog" = none ]; then tag=""; else tag="-$backlog"; fi
if [ "$db" = sqlite ]; then
    url="sqlite+aiosqlite:///$keep/scale-$n$tag.db"
    test -f "$keep/scale-$n$tag.db" || url=""
else
    url="postgresql+asyncpg://postgres@127.0.0.1:5432/repairbot_scale_$n$(echo "$tag" | tr - _)"
    "$py" -c "import asyncpg,asyncio,sys
async def m():
    c = await asyncpg.connect('postgresql://postgres@127.0.0.1:5432/postgres')
    ok = await c.fetchval('SELECT 1 FROM pg_database WHERE datname=\$1', sys.argv[1])
    await c.close(); sys.exit(0 if ok else 1)
asyncio.run(m())" "repairbot_scale_$n$(echo "$tag" | tr - _)" || url=""
fi
if [ -n "$url" ]; then
    (cd "$here" && "$py" -c "import asyncio,sys; from store.migrate import downgrade
asyncio.run(downgrade(sys.argv[1], '0011'))" "$url")
fi
echo "== old ($old), load $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$old" && "$py" bench/scale_backlog.py --tickets "$n" --db "$db" --backlog "$backlog" \
    --runs "$runs" --keep "$keep" "$@")
echo "== new ($here), load $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$here" && "$py" bench/scale.py --tickets "$n" --db "$db" --backlog "$backlog" \
    --runs "$runs" --keep "$keep" "$@")
