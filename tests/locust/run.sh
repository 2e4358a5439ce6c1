#!/usr/bin/env bash
# Runs the upstream Locust shopper (locustfile.py) against `boutique all` on a
# free loopback port and fails on any failed request.
# Usage: tests/locust/run.sh [DURATION (default 60s)] [USERS (default 50)]
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=${1:-60s}
users=${2:-50}
boutique=${BOUTIQUE_BIN:-target/debug/boutique}
out=${LOCUST_OUT:-artifacts/locust}
mkdir -p "$out"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG_FORMAT=json LOG_LEVEL=warn "$boutique" all --memory --listen "127.0.0.1:$port" >"$out/boutique.log" 2>&1 &
shop=$!
trap 'kill -INT "$shop" 2>/dev/null || true' EXIT

for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/_healthz" >/dev/null && break
  kill -0 "$shop" 2>/dev/null || { echo "boutique all exited early:"; cat "$out/boutique.log"; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/_healthz" >/dev/null

echo "Locust: $users upstream shoppers for $duration against http://127.0.0.1:$port"
locust -f tests/locust/locustfile.py --headless -u "$users" -r 10 -t "$duration" \
  --host "http://127.0.0.1:$port" --only-summary --csv "$out/locust" --exit-code-on-error 1

# Requests made and failures, from Locust's own totals.
python3 - "$out/locust_stats.csv" <<'PY'
import csv, sys
rows = {row["Name"]: row for row in csv.DictReader(open(sys.argv[1]))}
total = rows["Aggregated"]
print(f"requests={total['Request Count']} failures={total['Failure Count']}")
assert int(total["Request Count"]) > 0, "Locust made no requests"
assert int(total["Failure Count"]) == 0, "some requests failed"
PY

kill -INT "$shop"
wait "$shop"
trap - EXIT
