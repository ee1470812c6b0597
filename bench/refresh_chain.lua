-- wrk/wrk2 script for the sign-in benchmark: POST the refresh_token grant, each request with
-- a token that has not been used yet. Refresh tokens are single use, so the script keeps a
-- queue: it starts with the tokens in $TOKENS_FILE (one per line, more than the number of
-- connections) and every answer puts its successor at the back. Any answer but 200 is
-- counted and printed at the end (the benchmark refuses a run with errors).
local queue, head, tail = {}, 1, 0
local client_id = os.getenv("CLIENT_ID") or "client_test_default"
local secret = os.getenv("CLIENT_SECRET") or "sk_test_default"
failures = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

for line in io.lines(os.getenv("TOKENS_FILE")) do
  if #line > 0 then
    tail = tail + 1
    queue[tail] = line
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  local token = "exhausted"
  if head <= tail then
    token = queue[head]
    queue[head] = nil
    head = head + 1
  end
  -- An empty queue means refused answers put nothing back: this request is refused too,
  -- and counted.
  local body = '{"grant_type":"refresh_token","client_id":"' .. client_id .. '","client_secret":"' .. secret
    .. '","refresh_token":"' .. token .. '"}'
  return wrk.format(nil, nil, nil, body)
end

response = function(status, headers, body)
  local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if status ~= 200 or token == nil then
    failures = failures + 1
    return
  end
  tail = tail + 1
  queue[tail] = token
end

done = function(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + (t:get("failures") or 0)
  end
  io.write(string.format("refresh failures: %d\n", total))
end
