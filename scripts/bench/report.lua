-- wrk done() hook: one machine-readable line, "WRKJSON {...}" (latencies in ms).
-- run.sh prepends this file to every wrk script it runs. A percentile of 0 (wrk 4.1 can lose
-- its latency maximum when threads race, and then reports 0) is written as null.
local function pct(latency, p)
  local v = latency:percentile(p)
  if v == 0 then return "null" end
  return string.format("%.3f", v / 1000)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.6f,"req_per_s":%.2f,"bytes_per_req":%.1f,'
      .. '"errors":%d,"non_2xx_3xx":%d,"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"max_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.bytes / math.max(summary.requests, 1), errors, summary.errors.status,
    pct(latency, 50), pct(latency, 90), pct(latency, 99), latency.max / 1000))
end
