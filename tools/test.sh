#!/usr/bin/env bash
# Lint and type checks first (seconds), then the whole suite on SQLite and the storage-facing tests
# (-m db) again on PostgreSQL. Each pass has two phases (tests/conftest.py): the parallel-safe tests on
# pytest-xdist workers (TEST_WORKERS, default 5, for SQLite; TEST_PG_WORKERS, default 2, for
# PostgreSQL; most tests wait on real-time audio, sockets or subprocesses, so the two passes' parallel
# phases run side by side), then the timing-sensitive `serial` tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://root@127.0.0.1:5432/test}"
WORKERS="${TEST_WORKERS:-5}"
unset DATABASE_URL

PG_WORKERS="${TEST_PG_WORKERS:-2}"
PG_LOG="$(mktemp -t dialwise-pg-tests.XXXXXX)"
trap 'rm -f "$PG_LOG"' EXIT

# No phase may run away with CI's time: a phase that outlives PHASE_TIMEOUT_S (default 25 min; the
# longest takes about 9) is stopped and fails. A crashed xdist worker fails its phase at once and names
# its test (--max-worker-restart=0): pytest-xdist 3.8's loadgroup scheduler can hang after it replaces a
# crashed worker.
PHASE_TIMEOUT_S="${PHASE_TIMEOUT_S:-1500}"
say() { echo "==> [$(date -u +%H:%M:%S)] $*"; }  # each step with its start time

# The parallel phases run 7 workers on 2 cores. A numerical library's own thread pool (OpenBLAS under numpy,
# OpenMP) spins while its threads wait for a core, so beside the other workers it burns CPU for nothing: `bench nlu`
# took 30.9 s (17.0 s CPU) with its default threads and 15.9 s (7.8 s CPU) with one, next to three busy loops
# (session 12). The parallel phases' workers get one such thread each (`single_threaded`); code that sets its own
# thread count (CTranslate2's, onnxruntime's, torch.set_num_threads) keeps it. The serial phases keep the defaults.
single_threaded() { OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "$@"; }

# One pytest phase. Exit code 5 (nothing selected, e.g. when the arguments name only serial tests) is
# not a failure. Each phase lists its 15 slowest tests (where CI's time goes).
phase() {
  local rc=0
  timeout -k 30 "$PHASE_TIMEOUT_S" .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "a test phase ran over ${PHASE_TIMEOUT_S} s and was stopped (pytest $*)" >&2
  fi
  [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || return "$rc"
}

say "lint (ruff) and types (mypy on the library packages); settings in pyproject.toml"
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy

pg=0
if .venv/bin/python -c "import sqlalchemy as sa,sys; sa.create_engine(sys.argv[1]).connect().close()" "$PG_URL" 2>/dev/null; then
  pg=1
elif [ -n "${CI:-}" ]; then
  echo "PostgreSQL is not reachable at $PG_URL, and CI must test on it" >&2
  exit 1
else
  say "PostgreSQL not reachable at $PG_URL: storage tests run on SQLite only"
fi

# The parallel phases wait mostly on real time, so the PostgreSQL pass's parallel phase runs beside
# SQLite's (its output is printed when both are done); the serial phases then run one after the other.
pg_rc=0
if [ "$pg" = 1 ]; then
  say "storage tests on PostgreSQL, parallel phase ($PG_WORKERS workers, in the background)"
  DATABASE_URL="$PG_URL" single_threaded phase -n "$PG_WORKERS" --dist loadgroup --max-worker-restart=0 --phase parallel -m db -k "not sqlite" "$@" \
    >"$PG_LOG" 2>&1 &
  pg_pid=$!
fi
say "the suite on SQLite, parallel phase ($WORKERS workers)"
sqlite_rc=0
single_threaded phase -n "$WORKERS" --dist loadgroup --max-worker-restart=0 --phase parallel "$@" || sqlite_rc=$?
if [ "$pg" = 1 ]; then
  wait "$pg_pid" || pg_rc=$?
  say "storage tests on PostgreSQL, parallel phase: output"
  cat "$PG_LOG"
fi
[ "$sqlite_rc" -eq 0 ] || exit "$sqlite_rc"
[ "$pg_rc" -eq 0 ] || exit "$pg_rc"
# The serial phases collect only the modules that hold serial tests (tests/conftest.py's SERIAL), unless
# the arguments name what to run.
serial_args=("$@")
if [ $# -eq 0 ]; then
  mapfile -t serial_args < <(.venv/bin/python - <<'PY'
import ast
tree = ast.parse(open("tests/conftest.py", encoding="utf-8").read())
for node in tree.body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SERIAL" for t in node.targets):
        print("\n".join(sorted({entry.split("::", 1)[0] for entry in ast.literal_eval(node.value)})))
PY
)
  [ ${#serial_args[@]} -gt 0 ] || { echo "tests/conftest.py lists no SERIAL tests" >&2; exit 1; }
fi
say "the suite on SQLite, serial phase (timing-bound tests, alone)"
phase --phase serial "${serial_args[@]}"
if [ "$pg" = 1 ]; then
  say "storage tests on PostgreSQL, serial phase"
  DATABASE_URL="$PG_URL" phase --phase serial -m db -k "not sqlite" "${serial_args[@]}"
fi
say "done"
