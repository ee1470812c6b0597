#!/usr/bin/env bash
# CLI benchmark (issue 7): `vestibule organizations list --all --jsonl` over N organizations
# (default 100,000) — wall time and peak RSS (/usr/bin/time -v) — against curl + jq paging
# through the same API (limit=100, following list_metadata.after) in a bash loop.
#
# Seeding: a first `server --dev` start on a fresh SQLite file creates the schema and the
# dev environment; the server stops; N organizations (ids `org_` + a 26-character ULID, as
# the server makes them) are inserted with Python's sqlite3 in one transaction, matching
# crates/store/migrations/0001_foundation.sql; the server starts again.
# Server pinned to CPU 0, clients to CPU 1; rounds alternate CLI and curl; medians.
#
#   bench/cli_bench.sh                                  # N=100000, 3 rounds
#   BENCH_ORGS=20000 BENCH_ROUNDS=1 bench/cli_bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="${BENCH_ORGS:-100000}"
ROUNDS="${BENCH_ROUNDS:-3}"
BIN="$(realpath "${VESTIBULE_BIN:-target/release/vestibule}")"
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[[ -x "$BIN" ]] || cargo build --release --bin vestibule
work="$(mktemp -d)"
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

start_server() {
  : >"$work/server.out"
  VESTIBULE_LOG=warn taskset -c 0 "$BIN" server --dev --database "sqlite://$work/cli.db" --addr 127.0.0.1:0 --rate-limit 0 \
    >"$work/server.out" 2>/dev/null &
  server=$!
  until grep -q "listening on" "$work/server.out" 2>/dev/null; do
    kill -0 "$server" || { echo "server died" >&2; exit 1; }
    sleep 0.05
  done
  base="$(grep -o 'http://[0-9.:]*' "$work/server.out")"
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

start_server
stop_server
t0=$(date +%s.%N)
python3 - "$work/cli.db" "$N" <<'PY'
import random, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
def ulid(ms):
    v = (ms << 80) | random.getrandbits(80)
    return "".join(B32[(v >> s) & 31] for s in range(125, -5, -5))
con = sqlite3.connect(db)
(env,) = con.execute("SELECT id FROM environments").fetchone()  # --dev has exactly one
now = int(time.time() * 1000) - n
with con:
    con.executemany(
        "INSERT INTO organizations (environment_id, id, name, allow_profiles_outside_organization, metadata, external_id, "
        "stripe_customer_id, created_at, updated_at, version) VALUES (?, ?, ?, 0, '{}', NULL, NULL, ?, ?, 1)",
        ((env, "org_" + ulid(now + i), f"Org {i}", now + i, now + i) for i in range(n)))
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
seed_s=$(echo "$(date +%s.%N) - $t0" | bc)
start_server
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "seeded $N organizations in $seed_s s; server $base" >&2
export WORKOS_API_KEY=sk_test_default WORKOS_BASE_URL="$base"

curl_loop() {
  local after="" page
  : >"$work/curl.jsonl"
  while :; do
    page="$(curl -sf -H "Authorization: Bearer $WORKOS_API_KEY" "$base/organizations?limit=100&after=$after")"
    jq -c '.data[]' <<<"$page" >>"$work/curl.jsonl"
    after="$(jq -r '.list_metadata.after // empty' <<<"$page")"
    [[ -n "$after" ]] || break
  done
}
export -f curl_loop
export base work

# /usr/bin/time -v: "Elapsed (wall clock)" and "Maximum resident set size" (kB; for the
# curl loop, the largest single process of the loop: bash, curl or jq).
parse_time() { # file -> "seconds kb"
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=(n==3)?a[1]*3600+a[2]*60+a[3]:a[1]*60+a[2]}
              /Maximum resident set size/ {kb=$2} END {print s, kb}' "$1"
}
: >"$work/results.tsv"
for r in $(seq 1 "$ROUNDS"); do
  taskset -c 1 /usr/bin/time -v -o "$work/cli.time" "$BIN" organizations list --all --jsonl >"$work/cli.jsonl"
  read -r s kb < <(parse_time "$work/cli.time")
  rows=$(wc -l <"$work/cli.jsonl"); uniq=$(jq -r .id "$work/cli.jsonl" | sort -u | wc -l)
  printf 'cli\t%s\t%s\t%s\t%s\n' "$r" "$s" "$kb" "$rows/$uniq" | tee -a "$work/results.tsv" >&2
  taskset -c 1 /usr/bin/time -v -o "$work/curl.time" bash -c curl_loop
  read -r s kb < <(parse_time "$work/curl.time")
  rows=$(wc -l <"$work/curl.jsonl"); uniq=$(jq -r .id "$work/curl.jsonl" | sort -u | wc -l)
  printf 'curl\t%s\t%s\t%s\t%s\n' "$r" "$s" "$kb" "$rows/$uniq" | tee -a "$work/results.tsv" >&2
done
server_hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")

python3 - "$work/results.tsv" "$N" "$server_hwm" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
n, hwm = int(sys.argv[2]), int(sys.argv[3])
def of(c): return [r for r in rows if r[0] == c]
print("| client | rows/unique ids (every round) | wall s (median) | rounds s | peak RSS MB (max of rounds) | objects/s |")
print("|---|---|---:|---|---:|---:|")
for c, label in [("cli", "vestibule organizations list --all --jsonl"), ("curl", "curl + jq bash loop, limit=100")]:
    rs = of(c)
    s = statistics.median(float(r[2]) for r in rs)
    print(f"| {label} | {', '.join(sorted(set(r[4] for r in rs)))} | {s:.2f} | {', '.join(r[2] for r in rs)} | "
          f"{max(int(r[3]) for r in rs) / 1024:.1f} | {n / s:,.0f} |")
cli = statistics.median(float(r[2]) for r in of("cli")); curl = statistics.median(float(r[2]) for r in of("curl"))
print(f"\ncurl loop / CLI wall time: {curl / cli:.2f}x; server VmHWM {hwm / 1024:.1f} MB")
PY
