#!/usr/bin/env bash
# The observability assets against the real thing: runs `boutique all`, drives shoppers through
# it with `boutique loadgen` (purchases included), scrapes the admin port, and checks that the
# exposition passes `promtool check metrics` and that every rule and dashboard expression names
# only metrics the shop really emits (deploy/observability/check.py).
#
# Needs: a built binary (BOUTIQUE_BIN, default target/debug/boutique), promtool (Debian
# `prometheus`), curl, and a Python with PyYAML (PY, default .venv/deploy/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BOUTIQUE_BIN:-target/debug/boutique}
PY=${PY:-.venv/deploy/bin/python}

out=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

LOG_FORMAT=json "$BIN" all --memory --listen 127.0.0.1:0 --admin 127.0.0.1:0 >"$out/log" 2>/dev/null &
pid=$!
# Ready when the "Boutique is ready." line names the shop and metrics URLs (30 s at most).
for _ in $(seq 300); do
  grep -q '"Boutique is ready."' "$out/log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$out/log" >&2; echo "boutique all exited" >&2; exit 1; }
  sleep 0.1
done
ready=$(grep '"Boutique is ready."' "$out/log") || { echo "boutique all never became ready" >&2; exit 1; }
url=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["url"])' "$ready")
metrics=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["metrics"])' "$ready")

"$BIN" loadgen --target "$url" --requests 300 --users 4 --think-time 0 --max-failure-ratio 0 --quiet
curl -sf "$metrics" >"$out/exposition.txt"
grep -q '^boutique_orders_placed_total{' "$out/exposition.txt" || { echo "no order was placed" >&2; exit 1; }
promtool check metrics <"$out/exposition.txt"
"$PY" deploy/observability/check.py --exposition "$out/exposition.txt"
echo "live exposition: $(grep -vc '^#' "$out/exposition.txt") samples, promtool clean, assets consistent"
