#!/usr/bin/env bash
# Where the real server spends its time on the two benchmarked reads (see bench/README.md).
# Not part of the acceptance run: it measures cost per layer, counts SQL statements per
# request, and repeats the reads after ANALYZE to show what the query plans cost.
#
#   bench/diagnose.sh                        # SQLite and PostgreSQL, about 4 minutes
#   BENCH_BACKENDS=sqlite bench/diagnose.sh
#
# Same knobs as run.sh: BENCH_ORGS, BENCH_CONNECTIONS, BENCH_SERVER_CPU, BENCH_LOAD_CPU,
# BENCH_PG, BENCH_BACKENDS, BENCH_KEEP; BENCH_DIAG_DURATION (seconds per load run, 5).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
COUNT=${BENCH_ORGS:-10000}
DURATION=${BENCH_DIAG_DURATION:-5}
CONNS=${BENCH_CONNECTIONS:-16}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
PG_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
KEY=sk_test_bench_0123456789abcdefghijklmnopqrstuvwxyzABCDEF
PG_DB=vestibule_bench_$$

WORK=$(mktemp -d /tmp/vestibule-diag.XXXXXX)
PIDS=()
PG_CREATED=

log() { printf '[diag %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [[ -n $PG_CREATED ]] && { psql "$PG_BASE/postgres" -qX -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $PG_DB"; }
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in wrk taskset python3; do command -v $t >/dev/null || die "$t is required (see run.sh)"; done
(cd "$ROOT" && cargo build --release --quiet --bin vestibule --bin vestibule-bench-baseline)
PERF=
perf stat -e context-switches -- true >/dev/null 2>&1 && PERF=1
VESTIBULE=$ROOT/target/release/vestibule
BASELINE=$ROOT/target/release/vestibule-bench-baseline
python3 "$BENCH/gen_seed.py" --count "$COUNT" --key "$KEY" --out "$WORK/seed.json" --ids "$WORK/ids.txt"
FIRST_ID=$(head -1 "$WORK/ids.txt")

start() { # start NAME TIMEOUT CMD... -> SPID, SURL
  local name=$1 timeout=$2; shift 2
  taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.out" 2>>"$WORK/$name.err" &
  SPID=$!; PIDS+=("$SPID")
  local deadline=$((SECONDS + timeout))
  until SURL=$(grep -o 'listening on http://[0-9.:]*' "$WORK/$name.out" 2>/dev/null | head -1 | sed 's/listening on //') && [[ -n $SURL ]]; do
    kill -0 "$SPID" 2>/dev/null || { tail -5 "$WORK/$name.err" >&2; die "$name exited"; }
    ((SECONDS < deadline)) || die "$name did not start"
    sleep 0.05
  done
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() { local t=0 p; for p in $(pgrep -x postgres); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

# measure LABEL PID URL [IDS_FILE]: one wrk run; prints a table row with req/s, server CPU
# µs per request (from /proc), context switches per request (perf stat, when perf works)
# and, on PostgreSQL, the CPU µs per request of all postgres processes.
measure() {
  local label=$1 pid=$2 url=$3 ids=${4:-}
  kill -0 "$pid" 2>/dev/null || die "server $pid is gone before: $label"
  local c0 p0 out perfpid=
  c0=$(cpu_ticks "$pid"); p0=$(pg_ticks)
  if [[ -n $PERF ]]; then
    perf stat -x, -e context-switches -p "$pid" -o "$WORK/perf.csv" -- sleep "$DURATION" 2>/dev/null &
    perfpid=$!
  fi
  out=$(IDS_FILE=$ids taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s \
    -s "$BENCH/rotate_ids.lua" -H "Authorization: Bearer $KEY" "$url" | grep '^RESULT')
  [[ -n $perfpid ]] && wait "$perfpid" 2>/dev/null || true
  kill -0 "$pid" 2>/dev/null || die "server $pid exited during: $label (logs in $WORK)"
  local c1 p1 ctx=-; c1=$(cpu_ticks "$pid"); p1=$(pg_ticks)
  [[ -n $perfpid ]] && ctx=$(awk -F, '/context-switches/ {print $1}' "$WORK/perf.csv")
  python3 - "$label" "$out" "$((c1 - c0))" "$ctx" "$((p1 - p0))" "$(getconf CLK_TCK)" "$CURRENT_BACKEND" "$DURATION" <<'EOF'
import sys
label, out, cpu, ctx, pg, hz, backend, duration = sys.argv[1:]
r = dict(kv.split("=") for kv in out.split()[1:])
n = int(r["requests"])
rps = float(r["rps"])
cpu_us = int(cpu) / int(hz) * 1e6 / n
pg_us = int(pg) / int(hz) * 1e6 / n
# perf counted for exactly `duration` seconds; wrk's count covers about the same window
ctx_col = f"{int(ctx) / (rps * float(duration)):.1f}" if ctx.isdigit() else "n/a"
non2xx = int(r["err_status"])
pgcol = f"{pg_us:.0f}" if backend == "postgres" else "-"
print(f"| {label} | {rps:.0f} | {cpu_us:.0f} | {ctx_col} | {pgcol} | {'all (expected)' if non2xx == n else non2xx} |")
EOF
}

header() {
  echo
  echo "| request | req/s | server CPU µs/req | context switches/req | PostgreSQL CPU µs/req | non-2xx |"
  echo "|---|---:|---:|---:|---:|---|"
}

count_statements() { # count_statements PATH: SQL statements the server runs for one request
  local before after
  curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$SURL$1"   # opens pool connections first
  sleep 0.2; before=$(grep '"db.statement"' "$WORK/$CURRENT_BACKEND-q.err" | grep -vc '"summary":"PRAGMA' || true)
  curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$SURL$1"
  sleep 0.2; after=$(grep '"db.statement"' "$WORK/$CURRENT_BACKEND-q.err" | grep -vc '"summary":"PRAGMA' || true)
  echo "| \`GET $1\` | $((after - before)) |"
}

layers() { # layers PID URL BASE_URL
  header
  measure "baseline \`GET /health\`" "$BASE_PID" "$3/health"
  measure "baseline \`GET /organizations/{id}\`" "$BASE_PID" "$3/organizations/x" "$WORK/ids.txt"
  measure "real \`GET /health\` (middleware only, no SQL)" "$1" "$2/health"
  measure "real \`GET /organizations/not-an-id\` (1 statement: API key)" "$1" "$2/organizations/not-an-id"
  measure "real \`GET /organizations/org_MISSING\` (2: API key, organization)" "$1" "$2/organizations/org_MISSING"
  measure "real \`GET /organizations/{id}\` (3: API key, organization, domains)" "$1" "$2/organizations/x" "$WORK/ids.txt"
  measure "real \`GET /organizations?limit=100\` (3: API key, page, domains)" "$1" "$2/organizations?limit=100"
}

diagnose() {
  local backend=$1 db
  CURRENT_BACKEND=$backend
  case $backend in
    sqlite) db=sqlite://$WORK/bench.db ;;
    postgres) psql "$PG_BASE/postgres" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null; PG_CREATED=1; db=$PG_BASE/$PG_DB ;;
  esac
  local -a server=("$VESTIBULE" server --database "$db" --rate-limit 0 --addr 127.0.0.1:0)
  log "$backend: seeding $COUNT organizations"
  VESTIBULE_LOG=warn start "$backend-seed" 900 "${server[@]}" --seed "$WORK/seed.json"
  python3 "$BENCH/capture.py" --base "$SURL" --key "$KEY" --ids "$WORK/ids.txt" --orgs-out "$WORK/$backend-orgs.jsonl" --list-out "$WORK/$backend-list.json" >&2
  stop "$SPID"

  echo "## $backend"
  echo
  echo "SQL statements per request (sqlx statement log; connection-setup PRAGMAs not counted):"
  echo
  echo "| request | statements |"
  echo "|---|---:|"
  VESTIBULE_LOG=warn,sqlx=debug start "$backend-q" 30 "${server[@]}"
  count_statements "/organizations/$FIRST_ID"
  count_statements "/organizations?limit=100"
  stop "$SPID"

  start "$backend-base" 30 "$BASELINE" --key "$KEY" --orgs "$WORK/$backend-orgs.jsonl" --list "$WORK/$backend-list.json" --addr 127.0.0.1:0
  BASE_PID=$SPID; local base=$SURL
  log "$backend: cost per layer, database as the server leaves it"
  VESTIBULE_LOG=warn start "$backend-real" 30 "${server[@]}"
  echo
  echo "### Database as the server leaves it (no ANALYZE)"
  layers "$SPID" "$SURL" "$base"
  stop "$SPID"
  echo
  echo "Query plans of the domains lookup (\`attach_domains\`) and the list page, as written:"
  echo
  echo '```'
  plans "$backend" "$db"
  echo '```'

  log "$backend: the same after ANALYZE (a what-if: the server does not run ANALYZE)"
  case $backend in
    sqlite) python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('ANALYZE'); c.commit()" "$WORK/bench.db" ;;
    postgres) psql "$db" -qX -c ANALYZE ;;
  esac
  VESTIBULE_LOG=warn start "$backend-analyzed" 30 "${server[@]}"
  echo
  echo "### After \`ANALYZE\` (what-if)"
  header
  measure "real \`GET /organizations/{id}\`" "$SPID" "$SURL/organizations/x" "$WORK/ids.txt"
  measure "real \`GET /organizations?limit=100\`" "$SPID" "$SURL/organizations?limit=100"
  stop "$SPID"
  echo
  echo '```'
  plans "$backend" "$db"
  echo '```'
  stop "$BASE_PID"
  if [[ $backend == postgres ]]; then
    echo
    echo "PostgreSQL settings: autovacuum=$(psql "$db" -XAtc 'show autovacuum'), server_version=$(psql "$db" -XAtc 'show server_version')"
  fi
  echo
}

plans() { # plans BACKEND DB: EXPLAIN of the statements the store runs, with real values
  python3 - "$1" "$2" "$WORK/bench.db" <<'EOF'
import subprocess, sys
backend, db, path = sys.argv[1:]
OC = "id, name, allow_profiles_outside_organization, metadata, external_id, stripe_customer_id, created_at, updated_at, version"
DC = "id, organization_id, domain, state, verification_strategy, verification_token, verification_prefix, created_at, updated_at"
if backend == "sqlite":
    import sqlite3
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    q = lambda s, a=(): c.execute(s, a).fetchall()
    env = q("SELECT environment_id FROM organizations LIMIT 1")[0][0]
    ids = [r[0] for r in q("SELECT id FROM organizations ORDER BY id DESC LIMIT 101")]
    for name, sql, args in [
        ("domains of 1 organization", f"SELECT {DC} FROM organization_domains WHERE environment_id = ? AND organization_id IN (?) ORDER BY id", (env, ids[0])),
        ("domains of 101 organizations", f"SELECT {DC} FROM organization_domains WHERE environment_id = ? AND organization_id IN ({','.join('?' * 101)}) ORDER BY id", (env, *ids)),
        ("list page", f"SELECT {OC} FROM organizations WHERE environment_id = ? ORDER BY id DESC LIMIT 101", (env,)),
    ]:
        print(f"{name}: " + "; ".join(r[3] for r in q("EXPLAIN QUERY PLAN " + sql, args)) + f"  (Python's SQLite {sqlite3.sqlite_version})")
else:
    run = lambda s: subprocess.run(["psql", db, "-XAt", "-c", s], capture_output=True, text=True, check=True).stdout
    env = run("SELECT environment_id FROM organizations LIMIT 1").strip()
    ids = run("SELECT id FROM organizations ORDER BY id DESC LIMIT 101").split()
    lit = ", ".join(f"'{i}'" for i in ids)
    for name, sql in [
        ("domains of 101 organizations", f"SELECT {DC} FROM organization_domains WHERE environment_id = '{env}' AND organization_id IN ({lit}) ORDER BY id"),
        ("list page", f"SELECT {OC} FROM organizations WHERE environment_id = '{env}' ORDER BY id DESC LIMIT 101"),
    ]:
        lines = run("EXPLAIN ANALYZE " + sql).splitlines()
        keep = [l.strip() for l in lines if "Scan" in l or "Sort" in l and "Key" not in l or "Execution" in l]
        print(f"{name}:\n  " + "\n  ".join(l[:160] for l in keep))
EOF
}

log "work directory $WORK"
echo "# Vestibule diagnosis ($COUNT organizations; wrk -t1 -c$CONNS -d${DURATION}s; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
echo
for b in $BACKENDS; do diagnose "$b"; done
