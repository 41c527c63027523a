#!/usr/bin/env bash
# Lint and type checks first (seconds), then the whole suite on SQLite, then the storage-facing tests
# again on PostgreSQL. Each pass has two phases (tests/conftest.py): the parallel-safe tests on
# TEST_WORKERS pytest-xdist workers (default 4: most tests wait on real-time audio, sockets or
# subprocesses, so 2 cores keep 4 workers busy), then the timing-sensitive `serial` tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://root@127.0.0.1:5432/test}"
WORKERS="${TEST_WORKERS:-4}"
unset DATABASE_URL

# pytest twice: the parallel phase, then the serial one. Exit code 5 (nothing selected, e.g. when the
# arguments name only serial tests) is not a failure of a phase.
suite() {
  local rc=0
  .venv/bin/python -m pytest -q -p no:cacheprovider -n "$WORKERS" --dist loadgroup --phase parallel "$@" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || return "$rc"
  rc=0
  .venv/bin/python -m pytest -q -p no:cacheprovider --phase serial "$@" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || return "$rc"
}

echo "==> lint (ruff) and types (mypy on the library packages); settings in pyproject.toml"
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
echo "==> the suite on SQLite ($WORKERS workers, then the serial tests)"
suite "$@"
if .venv/bin/python -c "import sqlalchemy as sa,sys; sa.create_engine(sys.argv[1]).connect().close()" "$PG_URL" 2>/dev/null; then
  echo "==> storage tests on PostgreSQL"
  DATABASE_URL="$PG_URL" suite -m db -k "not sqlite"
elif [ -n "${CI:-}" ]; then
  echo "PostgreSQL is not reachable at $PG_URL, and CI must test on it" >&2
  exit 1
else
  echo "==> PostgreSQL not reachable at $PG_URL: storage tests ran on SQLite only"
fi
