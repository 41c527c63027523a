#!/usr/bin/env bash
# Lint and type checks first (seconds), then the whole suite on SQLite, then the storage-facing tests
# again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://root@127.0.0.1:5432/test}"
unset DATABASE_URL
echo "==> lint (ruff) and types (mypy on the library packages); settings in pyproject.toml"
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
if .venv/bin/python -c "import sqlalchemy as sa,sys; sa.create_engine(sys.argv[1]).connect().close()" "$PG_URL" 2>/dev/null; then
  echo "==> storage tests on PostgreSQL"
  DATABASE_URL="$PG_URL" .venv/bin/python -m pytest -q -p no:cacheprovider -m db -k "not sqlite"
elif [ -n "${CI:-}" ]; then
  echo "PostgreSQL is not reachable at $PG_URL, and CI must test on it" >&2
  exit 1
else
  echo "==> PostgreSQL not reachable at $PG_URL: storage tests ran on SQLite only"
fi
