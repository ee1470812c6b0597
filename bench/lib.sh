# Shared by bench/run.sh and bench/diagnose.sh, which source it right after `set -euo
# pipefail` with one argument, the tag of their log lines and work directory:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" bench
#
# It reads the knobs both scripts take (BENCH_ORGS, BENCH_CONNECTIONS, BENCH_SERVER_CPU,
# BENCH_LOAD_CPU, BENCH_PG, BENCH_BACKENDS, BENCH_KEEP, BENCH_VESTIBULE), makes the work directory
# /tmp/vestibule-TAG.XXXXXX (removed at exit unless BENCH_KEEP=1, with every process
# started here and the PostgreSQL database, if one was created), and defines log, die,
# need, start, stop and run_wrk.

TAG=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
COUNT=${BENCH_ORGS:-10000}
CONNS=${BENCH_CONNECTIONS:-16}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
KEY=sk_test_bench_0123456789abcdefghijklmnopqrstuvwxyzABCDEF
PG_DB=vestibule_bench_$$
VESTIBULE=${BENCH_VESTIBULE:-$ROOT/target/release/vestibule}
BASELINE=$ROOT/target/release/vestibule-bench-baseline

WORK=$(mktemp -d "/tmp/vestibule-$TAG.XXXXXX")
PIDS=()
PG_CREATED=

log() { printf '[%s %s] %s\n' "$TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [[ -n $PG_CREATED ]]; then
    psql "$PG_BASE/postgres" -qX -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $PG_DB"
  fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null 2>&1; }

# start NAME TIMEOUT_SECONDS CMD...: runs CMD pinned to the server CPU and waits for its
# "listening on http://…" line; sets SPID and SURL. Output goes to $WORK/NAME.out and .err.
start() {
  local name=$1 timeout=$2; shift 2
  local out=$WORK/$name.out err=$WORK/$name.err
  taskset -c "$SERVER_CPU" "$@" >"$out" 2>"$err" &
  SPID=$!
  PIDS+=("$SPID")
  local deadline=$((SECONDS + timeout))
  until SURL=$(grep -o 'listening on http://[0-9.:]*' "$out" 2>/dev/null | head -1 | sed 's/listening on //') && [[ -n $SURL ]]; do
    if ! kill -0 "$SPID" 2>/dev/null; then tail -5 "$err" >&2; die "$name exited during start"; fi
    ((SECONDS < deadline)) || die "$name did not start within ${timeout}s"
    sleep 0.05
  done
}

# stop PID: ends a process started here and waits for it.
stop() {
  local pid=$1
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local i
  for i in "${!PIDS[@]}"; do [[ ${PIDS[$i]} == "$pid" ]] && unset 'PIDS[i]'; done
  return 0
}

# run_wrk URL IDS_FILE SECONDS: one closed-loop wrk run (one thread, CONNS connections) on
# the load CPU with rotate_ids.lua (a random id of IDS_FILE per request when it is set);
# prints the script's RESULT line and fails when wrk does or prints none.
run_wrk() {
  IDS_FILE=$2 taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$3s" --timeout 5s \
    -s "$BENCH/rotate_ids.lua" -H "Authorization: Bearer $KEY" "$1" | grep '^RESULT'
}
