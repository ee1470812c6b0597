#!/usr/bin/env bash
# Where the real server spends its time on the two benchmarked reads (see bench/README.md).
# Not part of the acceptance run: it measures cost per layer, counts SQL statements per
# request, shows the query plans of those statements, and repeats the reads after a
# manual ANALYZE to show what missing planner statistics cost.
#
#   bench/diagnose.sh                        # SQLite and PostgreSQL, about 4 minutes
#   BENCH_BACKENDS=sqlite bench/diagnose.sh
#
# Same knobs as run.sh: BENCH_ORGS, BENCH_CONNECTIONS, BENCH_SERVER_CPU, BENCH_LOAD_CPU,
# BENCH_PG, BENCH_BACKENDS, BENCH_KEEP; BENCH_DIAG_DURATION (seconds per load run, 5).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" diag

DURATION=${BENCH_DIAG_DURATION:-5}

for t in wrk taskset python3; do need "$t" || die "$t is required (see run.sh)"; done
(cd "$ROOT" && cargo build --release --quiet --bin vestibule --bin vestibule-bench-baseline)
PERF=
perf stat -e context-switches -- true >/dev/null 2>&1 && PERF=1
python3 "$BENCH/gen_seed.py" --count "$COUNT" --key "$KEY" --out "$WORK/seed.json" --ids "$WORK/ids.txt"
FIRST_ID=$(head -1 "$WORK/ids.txt")

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
  out=$(run_wrk "$url" "$ids" "$DURATION")
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

count_statements() { # count_statements PATH OUT: SQL statements run inside one request's span
  local log=$WORK/$CURRENT_BACKEND-q.err n
  curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$SURL$1"   # opens pool connections first
  sleep 0.2; n=$(wc -l <"$log")
  curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$SURL$1"
  sleep 0.2
  tail -n +"$((n + 1))" "$log" | python3 -c '
import json, sys
stmts = []
for line in sys.stdin:
    d = json.loads(line)
    if "db.statement" in d and (d.get("span") or {}).get("name") == "request" and not d.get("summary", "").startswith("PRAGMA"):
        stmts.append(" ".join(d["db.statement"].split()))
json.dump(stmts, open(sys.argv[2], "w"))
print(f"| `GET {sys.argv[1]}` | {len(stmts)} |")' "$1" "$2"
}

background_statements() { # statements per second the idle server runs outside any request
  local log=$WORK/$CURRENT_BACKEND-q.err n
  n=$(wc -l <"$log"); sleep 3
  tail -n +"$((n + 1))" "$log" | python3 -c '
import collections, json, sys
c = collections.Counter()
for line in sys.stdin:
    d = json.loads(line)
    if "db.statement" in d and not d.get("span"):
        c[d.get("summary", "?").split(" SET")[0]] += 1
print(", ".join(f"{k}: {v / 3:.1f}/s" for k, v in c.most_common()) or "none")'
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
  echo "SQL statements per request (sqlx statement log, inside the request's span; connection-setup PRAGMAs not counted):"
  echo
  echo "| request | statements |"
  echo "|---|---:|"
  VESTIBULE_LOG=info,sqlx=debug start "$backend-q" 30 "${server[@]}"
  count_statements "/organizations/$FIRST_ID" "$WORK/$backend-id.sql.json"
  count_statements "/organizations?limit=100" "$WORK/$backend-list.sql.json"
  echo
  echo "Statements the idle server runs in the background (pollers): $(background_statements)"
  stop "$SPID"

  start "$backend-base" 30 "$BASELINE" --key "$KEY" --orgs "$WORK/$backend-orgs.jsonl" --list "$WORK/$backend-list.json" --addr 127.0.0.1:0
  BASE_PID=$SPID; local base=$SURL
  log "$backend: cost per layer, database as the server leaves it"
  VESTIBULE_LOG=warn start "$backend-real" 30 "${server[@]}"
  echo
  echo "### Database as the server leaves it"
  layers "$SPID" "$SURL" "$base"
  stop "$SPID"
  echo
  echo "Query plans of the statements the two requests ran (from the statement log, parameters filled in):"
  echo
  echo '```'
  plans "$backend" "$db"
  echo '```'

  log "$backend: the same after a manual ANALYZE"
  case $backend in
    sqlite) python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('ANALYZE'); c.commit()" "$WORK/bench.db" ;;
    postgres) psql "$db" -qX -c ANALYZE ;;
  esac
  VESTIBULE_LOG=warn start "$backend-analyzed" 30 "${server[@]}"
  echo
  echo "### After a manual \`ANALYZE\` (what-if, for servers that do not gather statistics themselves)"
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

plans() { # plans BACKEND DB: EXPLAIN of the statements the requests ran, with real values
  python3 - "$1" "$2" "$WORK/bench.db" "$WORK/$1-id.sql.json" "$WORK/$1-list.sql.json" "$KEY" "$FIRST_ID" <<'EOF'
import hashlib, json, re, subprocess, sys
backend, db, path, id_sql, list_sql, key, first_id = sys.argv[1:]
digest = hashlib.sha256(key.encode()).hexdigest()
if backend == "sqlite":
    import sqlite3
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    query = lambda s: c.execute(s).fetchall()
    explain = lambda s: "; ".join(r[3] for r in query("EXPLAIN QUERY PLAN " + s)) + f"  (Python's SQLite {sqlite3.sqlite_version})"
    scalar = lambda s: query(s)[0][0]
    column = lambda s: [r[0] for r in query(s)]
else:
    run = lambda s: subprocess.run(["psql", db, "-XAt", "-c", s], capture_output=True, text=True, check=True).stdout
    def explain(s):
        lines = run("EXPLAIN ANALYZE " + s).splitlines()
        keep = [l.strip() for l in lines if "Scan" in l or ("Sort" in l and "Key" not in l) or "Execution" in l]
        return "\n    ".join(l[:150] for l in keep)
    scalar = lambda s: run(s).strip()
    column = lambda s: run(s).split()
env = scalar("SELECT environment_id FROM organizations LIMIT 1")
page = column("SELECT id FROM organizations ORDER BY id DESC LIMIT 101")

def fill(sql, ids):
    def value(m):
        n = int(m.group(1))
        if "FROM api_keys" in sql:
            return f"'{digest}'"
        return f"'{env}'" if n == 1 else f"'{ids[n - 2]}'"
    return re.sub(r"\$(\d+)", value, sql)

for label, f, ids in (("GET /organizations/{id}", id_sql, [first_id]), ("GET /organizations?limit=100", list_sql, page)):
    for sql in json.load(open(f)):
        if "FROM api_keys" in sql:
            continue
        short = re.sub(r"IN \(\$2(, \$\d+)*\)", lambda m: f"IN (…{m.group(0).count('$')} ids)", sql)
        short = re.sub(r"SELECT .*? FROM", "SELECT … FROM", short)
        print(f"{label}: {short}\n    {explain(fill(sql, ids))}")
EOF
}

log "work directory $WORK"
echo "# Vestibule diagnosis ($COUNT organizations; wrk -t1 -c$CONNS -d${DURATION}s; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU)"
echo
for b in $BACKENDS; do diagnose "$b"; done
