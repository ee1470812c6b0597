#!/usr/bin/env bash
# CLI benchmark (issue 7): `vestibule organizations list --all --jsonl` over N organizations
# (default 100,000) — wall time and peak RSS — against curl + jq paging through the same
# API in a shell loop. Server and clients on 127.0.0.1; everything bounded by N.
#
#   bench/cli_bench.sh            # N=100000
#   BENCH_ORGS=20000 bench/cli_bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="${BENCH_ORGS:-100000}"
BIN="${VESTIBULE_BIN:-target/release/vestibule}"
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null
[[ -x "$BIN" ]] || cargo build --release --bin vestibule
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$N" "$work/seed.json" <<'PY'
import json, sys
n = int(sys.argv[1])
json.dump({"organizations": [{"id": f"org_cli{i:07d}", "name": f"Org {i}"} for i in range(n)]}, open(sys.argv[2], "w"))
PY
t0=$(date +%s.%N)
VESTIBULE_LOG=warn "$BIN" server --dev --database "sqlite://$work/cli.db" --addr 127.0.0.1:0 --rate-limit 0 \
  --seed "$work/seed.json" >"$work/server.out" 2>/dev/null &
server=$!
until grep -q "listening on" "$work/server.out" 2>/dev/null; do
  kill -0 "$server" || { echo "server died" >&2; exit 1; }
  sleep 0.2
done
base="$(grep -o 'http://[0-9.:]*' "$work/server.out")"
echo "seeded $N organizations in $(echo "$(date +%s.%N) - $t0" | bc) s"
export WORKOS_API_KEY=sk_test_default WORKOS_BASE_URL="$base"

/usr/bin/time -f "%e %M" -o "$work/cli.time" "$BIN" organizations list --all --jsonl >"$work/cli.jsonl"
read -r cli_s cli_kb <"$work/cli.time"
cli_rows=$(wc -l <"$work/cli.jsonl")
cli_unique=$(jq -r .id "$work/cli.jsonl" | sort -u | wc -l)

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
t1=$(date +%s.%N)
curl_loop
curl_s=$(echo "$(date +%s.%N) - $t1" | bc)
curl_rows=$(wc -l <"$work/curl.jsonl")

printf '| client | rows | unique ids | wall s | peak RSS MB |\n|---|---:|---:|---:|---:|\n'
printf '| vestibule organizations list --all --jsonl | %s | %s | %s | %.1f |\n' "$cli_rows" "$cli_unique" "$cli_s" "$(echo "$cli_kb / 1024" | bc -l)"
printf '| curl + jq shell loop (limit=100) | %s | | %.2f | |\n' "$curl_rows" "$curl_s"
