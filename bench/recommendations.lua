-- wrk script: GET /v1/users/{random simulated user}/recommendations with a read key.
-- Environment: PP_KEY (the API key), PP_USERS (users simulated, ids u000000 …).
local key = os.getenv("PP_KEY")
local users = tonumber(os.getenv("PP_USERS") or "20000")

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local path = string.format("/v1/users/u%06d/recommendations", math.random(0, users - 1))
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
end

function done(summary, latency, requests)
  io.write(string.format("bench=recommendations requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
