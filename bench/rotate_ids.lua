-- wrk script: GET /organizations/{id} over a random id from IDS_FILE per request,
-- and a one-line machine-readable summary (rps, latency percentiles, errors).
-- usage: IDS_FILE=ids.txt wrk -s rotate_ids.lua -H 'Authorization: Bearer …' URL
-- (also with wrk2 at a fixed rate: wrk2 -R RATE …; without IDS_FILE, URL itself)
local ids = {}
local paths = {}

function init(args)
  local file = os.getenv("IDS_FILE")
  if file and #file > 0 then
    for line in io.lines(file) do
      if #line > 0 then ids[#ids + 1] = line end
    end
  end
  for i, id in ipairs(ids) do
    paths[i] = "/organizations/" .. id
  end
  math.randomseed(12345)
end

function request()
  if #paths == 0 then
    return wrk.format(nil, nil)
  end
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
