-- wrk script for bench/audit_logs_bench.py. BENCH_MODE=health: GET /health with the key.
-- BENCH_MODE=event: POST /audit_logs/events, a distinct event per request.
-- Prints one line `RESULT {json}` with the 200s, other statuses and socket errors.
local key = os.getenv("BENCH_KEY")
local mode = os.getenv("BENCH_MODE")
local org = os.getenv("BENCH_ORG")
local at = os.getenv("BENCH_OCCURRED_AT")
local round = os.getenv("BENCH_ROUND") or "0"
local n = 0
local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }

local event = '{"organization_id":"%s","event":{"action":"document.updated","occurred_at":"%s",'
  .. '"actor":{"id":"user_%d","type":"user","name":"User %d"},'
  .. '"targets":[{"id":"doc_%s_%d","type":"document"},{"id":"team_1","type":"team"}],'
  .. '"context":{"location":"203.0.113.7","user_agent":"audit-logs-bench/1"},'
  .. '"metadata":{"field":"title","request":"%s-%d"}}}'

local health = wrk.format("GET", "/health", { ["Authorization"] = "Bearer " .. key })

request = function()
  if mode == "health" then
    return health
  end
  n = n + 1
  local body = string.format(event, org, at, n % 500, n % 500, round, n, round, n)
  return wrk.format("POST", "/audit_logs/events", headers, body)
end

-- Counted per thread (globals, read back with thread:get in the main state).
ok, other = 0, 0
response = function(status, _, _)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, _, _)
  local e = summary.errors
  local oks, others = 0, 0
  for _, t in ipairs(threads) do
    oks = oks + t:get("ok")
    others = others + t:get("other")
  end
  io.write(string.format('RESULT {"ok":%d,"other_status":%d,"socket_errors":%d,"seconds":%f}\n',
    oks, others, e.connect + e.read + e.write + e.timeout, summary.duration / 1e6))
end
