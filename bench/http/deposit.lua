-- wrk script for estoria-bank: POST /accounts/{id}/balance {"amount": 1}.
--   wrk -c32 -d10s --latency -s bench/http/deposit.lua http://127.0.0.1:8080 -- ACCOUNTS
-- ACCOUNTS (default 1) accounts with fixed ids; each request picks one at
-- random (1 = one hot account). Prints the status counts at the end.
local accounts = 1
local ids = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  accounts = tonumber(args[1] or "1") or 1
  for i = 1, accounts do
    ids[i] = string.format("00000000-0000-4000-8000-%012d", i)
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  wrk.method = "POST"
  wrk.body = '{"amount": 1}'
  wrk.headers["Content-Type"] = "application/json"
  statuses = {}
end

function request()
  local id = ids[math.random(1, accounts)]
  return wrk.format(nil, "/accounts/" .. id .. "/balance")
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local line = "statuses:"
  for status, n in pairs(totals) do
    line = line .. string.format(" %d=%d", status, n)
  end
  print(line)
  print(string.format("commands/s (204 only): %.0f", (totals[204] or 0) / (summary.duration / 1e6)))
  print(string.format("p50 %.2f ms, p99 %.2f ms, max %.2f ms", latency:percentile(50) / 1000,
                      latency:percentile(99) / 1000, latency.max / 1000))
end
