#!/usr/bin/env bash
# Vestibule read benchmark: the real server against a minimal axum baseline serving the
# same JSON from memory, on SQLite and on PostgreSQL. See bench/README.md.
#
#   bench/run.sh                       # everything, both backends (about 8 minutes)
#   BENCH_BACKENDS=sqlite bench/run.sh # one backend
#
# Knobs (environment): BENCH_ORGS (10000), BENCH_DURATION (seconds per load run, 10),
# BENCH_ROUNDS (3), BENCH_CONNECTIONS (16), BENCH_STARTUP_RUNS (10),
# BENCH_SERVER_CPU (0), BENCH_LOAD_CPU (1), BENCH_PG (postgres://postgres@127.0.0.1:5432),
# BENCH_BACKENDS ("sqlite postgres"), BENCH_KEEP=1 keeps the work directory,
# BENCH_SKIP_BUILD=1 measures the release binaries already built; BENCH_VESTIBULE=PATH
# measures another build of the server (an earlier commit, for an A/B run).
# Every load run is bounded in time and goes to 127.0.0.1 only.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" bench

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-10}
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# --- tools -------------------------------------------------------------------------
need taskset || die "taskset (util-linux) is required"
need python3 || die "python3 is required"
if ! need wrk; then
  log "installing wrk"; apt-get install -y wrk >/dev/null || die "install wrk: apt-get install -y wrk"
fi
if ! need wrk2; then
  # wrk2 holds a constant request rate and measures each request from the moment it was
  # due (no coordinated omission), in C on one thread: light enough that the load generator
  # is not what the tail shows. Built from source (make, gcc, OpenSSL and zlib headers).
  log "building wrk2 (https://github.com/giltene/wrk2)"
  for pkg in libssl-dev zlib1g-dev make git; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt-get install -y "$pkg" >/dev/null ||
      die "install $pkg"
  done
  git clone -q --depth 1 https://github.com/giltene/wrk2 "$WORK/wrk2" || die "clone wrk2"
  make -C "$WORK/wrk2" -j2 >/dev/null 2>&1 || die "build wrk2"
  install -m 0755 "$WORK/wrk2/wrk" /usr/local/bin/wrk2
fi
[[ $(nproc --all) -ge 2 ]] || die "needs two CPUs (server and load generator each pinned to one)"

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building release binaries"
  (cd "$ROOT" && cargo build --release --quiet --bin vestibule --bin vestibule-bench-baseline)
fi

python3 "$BENCH/gen_seed.py" --count "$COUNT" --key "$KEY" --out "$WORK/seed.json" --ids "$WORK/ids.txt"

rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# --- load --------------------------------------------------------------------------
# closed loop: wrk on the load CPU. load_wrk BACKEND ROUND CASE URL [IDS_FILE]
load_wrk() {
  local backend=$1 round=$2 case=$3 url=$4 ids=${5:-} dur=${6:-$DURATION}
  local out
  out=$(run_wrk "$url" "$ids" "$dur") || die "wrk failed on $case"
  local kv; declare -A r
  for kv in ${out#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  local errs=$((r[err_connect] + r[err_read] + r[err_write] + r[err_status] + r[err_timeout]))
  ((errs == 0)) || die "$case: $errs errors ($out)"
  [[ $round == warmup ]] && return 0
  printf 'wrk\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$case" "$round" "${r[rps]}" "${r[p50_us]}" "${r[p99_us]}" >>"$RESULTS"
  log "$backend $case round $round: ${r[rps]} req/s (closed loop p50 ${r[p50_us]} µs, p99 ${r[p99_us]} µs)"
}

# open loop at a fixed rate: wrk2 on the load CPU. load_rate BACKEND CASE RATE_LABEL RATE URL [IDS_FILE]
load_rate() {
  local backend=$1 case=$2 label=$3 rate=$4 url=$5 ids=${6:-}
  # wrk2 spends its first 10 s (plus 5 ms per connection) calibrating and then starts its
  # latency histogram afresh: a run must outlast that, or the histogram holds the start-up.
  local out all steal0
  steal0=$(steal_ms)
  all=$(IDS_FILE=$ids taskset -c "$LOAD_CPU" wrk2 -t1 -c"$CONNS" -d"$((DURATION + 11))s" -R"$rate" --timeout 5s \
    -s "$BENCH/rotate_ids.lua" -H "Authorization: Bearer $KEY" "$url") || die "wrk2 failed on $case"
  grep -q 'Thread calibration' <<<"$all" || die "wrk2 did not finish calibrating on $case"
  out=$(grep '^RESULT' <<<"$all") || die "wrk2 printed no result on $case"
  local kv; declare -A r
  for kv in ${out#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  local errs=$((r[err_connect] + r[err_read] + r[err_write] + r[err_status] + r[err_timeout]))
  ((errs == 0)) || die "$case at $rate/s: $errs errors ($out)"
  local stolen=$(($(steal_ms) - steal0))
  printf 'open\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$case" "$label" "$rate" "${r[rps]}" \
    "$(us_to_ms "${r[p50_us]}")" "$(us_to_ms "${r[p99_us]}")" "$(us_to_ms "${r[max_us]}")" "$stolen" >>"$RESULTS"
  log "$backend $case at $rate req/s: $(tail -1 "$RESULTS" | cut -f6-10 | tr '\t' ' ') (achieved rps, p50 ms, p99 ms, max ms, steal ms)"
}
# Time the hypervisor took from the server's and the load generator's CPUs so far (steal,
# from /proc/stat), in ms: a vCPU descheduled for a few ms at a time is a latency spike
# that neither program caused, so every open-loop run records how much there was.
steal_ms() {
  awk -v a="cpu$SERVER_CPU" -v b="cpu$LOAD_CPU" -v hz="$(getconf CLK_TCK)" \
    '$1 == a || $1 == b { t += $9 } END { printf "%d", t * 1000 / hz }' /proc/stat
}
us_to_ms() { python3 -c "print(round($1 / 1000, 3))"; }

median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# --- one backend ---------------------------------------------------------------------
bench_backend() {
  local backend=$1 db
  case $backend in
    sqlite) mkdir -p "$WORK/sqlite"; db=sqlite://$WORK/sqlite/bench.db ;;
    postgres)
      psql "$PG_BASE/postgres" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $PG_DB" >/dev/null
      PG_CREATED=1
      db=$PG_BASE/$PG_DB ;;
    *) die "unknown backend $backend" ;;
  esac
  local dir=$WORK/$backend; mkdir -p "$dir"
  local -a server=("$VESTIBULE" server --database "$db" --rate-limit 0)

  log "$backend: seeding $COUNT organizations"
  local t0=$SECONDS
  VESTIBULE_LOG=warn start "$backend-seed" 900 "${server[@]}" --addr 127.0.0.1:0 --seed "$WORK/seed.json"
  printf 'seed\t%s\t%s\n' "$backend" "$((SECONDS - t0))" >>"$RESULTS"
  python3 "$BENCH/capture.py" --base "$SURL" --key "$KEY" --ids "$WORK/ids.txt" \
    --orgs-out "$dir/orgs.jsonl" --list-out "$dir/list.json" >&2
  stop "$SPID"

  log "$backend: startup to /health, $STARTUP_RUNS runs, database holding $COUNT organizations"
  local s
  s=$(VESTIBULE_LOG=warn python3 "$BENCH/startup.py" --runs "$STARTUP_RUNS" --cpu "$SERVER_CPU" -- \
    "${server[@]}" --addr '127.0.0.1:{port}')
  printf 'startup\t%s\treal\t%s\n' "$backend" "$(echo "$s" | sed -n 's/^median_ms=\([0-9.]*\).*/\1/p')" >>"$RESULTS"
  log "$backend real startup: $(echo "$s" | tr '\n' ' ')"
  s=$(python3 "$BENCH/startup.py" --runs "$STARTUP_RUNS" --cpu "$SERVER_CPU" -- \
    "$BASELINE" --key "$KEY" --orgs "$dir/orgs.jsonl" --list "$dir/list.json" --addr '127.0.0.1:{port}')
  printf 'startup\t%s\tbaseline\t%s\n' "$backend" "$(echo "$s" | sed -n 's/^median_ms=\([0-9.]*\).*/\1/p')" >>"$RESULTS"
  log "$backend baseline startup: $(echo "$s" | tr '\n' ' ')"

  log "$backend: throughput, $ROUNDS rounds x 4 cases x ${DURATION}s, wrk -t1 -c$CONNS"
  VESTIBULE_LOG=warn start "$backend-real" 30 "${server[@]}" --addr 127.0.0.1:0
  local real_pid=$SPID real=$SURL
  start "$backend-baseline" 30 "$BASELINE" --key "$KEY" --orgs "$dir/orgs.jsonl" --list "$dir/list.json" --addr 127.0.0.1:0
  local base_pid=$SPID base=$SURL
  printf 'rss0\t%s\treal\t%s\n' "$backend" "$(rss_kb "$real_pid" VmRSS)" >>"$RESULTS"
  printf 'rss0\t%s\tbaseline\t%s\n' "$backend" "$(rss_kb "$base_pid" VmRSS)" >>"$RESULTS"

  local c
  for c in real base; do
    local u=$real; [[ $c == base ]] && u=$base
    load_wrk "$backend" warmup "$c-id" "$u/organizations/x" "$WORK/ids.txt" 2
    load_wrk "$backend" warmup "$c-list" "$u/organizations?limit=100" "" 2
  done
  local round
  for ((round = 1; round <= ROUNDS; round++)); do
    load_wrk "$backend" "$round" real-id "$real/organizations/x" "$WORK/ids.txt"
    load_wrk "$backend" "$round" base-id "$base/organizations/x" "$WORK/ids.txt"
    load_wrk "$backend" "$round" real-list "$real/organizations?limit=100"
    load_wrk "$backend" "$round" base-list "$base/organizations?limit=100"
  done

  # Open-loop latency at half the baseline's rate (the acceptance rate), and for
  # reference at half the real server's own rate and on the baseline itself.
  local ep
  for ep in id list; do
    local base_rps real_rps
    base_rps=$(median $(awk -v b="$backend" -v c="base-$ep" '$1=="wrk" && $2==b && $3==c {print $5}' "$RESULTS"))
    real_rps=$(median $(awk -v b="$backend" -v c="real-$ep" '$1=="wrk" && $2==b && $3==c {print $5}' "$RESULTS"))
    local half_base half_real
    half_base=$(python3 -c "print(max(1, int($base_rps / 2)))")
    half_real=$(python3 -c "print(max(1, int($real_rps / 2)))")
    local url ids=""
    if [[ $ep == id ]]; then ids=$WORK/ids.txt; url=organizations/x; else url="organizations?limit=100"; fi
    # The acceptance case in ROUNDS interleaved rounds against the baseline at the same
    # rate (a shared VM has stalls of its own: the report takes the median round).
    for ((round = 1; round <= ROUNDS; round++)); do
      load_rate "$backend" "real-$ep" half-baseline "$half_base" "$real/$url" "$ids"
      load_rate "$backend" "base-$ep" half-baseline "$half_base" "$base/$url" "$ids"
    done
    load_rate "$backend" "real-$ep" half-real "$half_real" "$real/$url" "$ids"
  done

  printf 'rss\t%s\treal\t%s\t%s\n' "$backend" "$(rss_kb "$real_pid" VmRSS)" "$(rss_kb "$real_pid" VmHWM)" >>"$RESULTS"
  printf 'rss\t%s\tbaseline\t%s\t%s\n' "$backend" "$(rss_kb "$base_pid" VmRSS)" "$(rss_kb "$base_pid" VmHWM)" >>"$RESULTS"
  stop "$real_pid"
  stop "$base_pid"
}

log "work directory $WORK; $COUNT organizations; server on CPU $SERVER_CPU, load on CPU $LOAD_CPU"
# The machine may be shared: record how much CPU other processes took meanwhile.
python3 "$BENCH/othercpu.py" --root $$ >"$WORK/othercpu.txt" &
OTHER_PID=$!
PIDS+=("$OTHER_PID")
for b in $BACKENDS; do bench_backend "$b"; done
stop "$OTHER_PID"
printf 'other\t%s\n' "$(cat "$WORK/othercpu.txt")" >>"$RESULTS"

python3 "$BENCH/report.py" "$RESULTS" --orgs "$COUNT" --duration "$DURATION" --connections "$CONNS" --rounds "$ROUNDS"
