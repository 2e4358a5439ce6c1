#!/usr/bin/env bash
# Fuzzes the storefront's REST API with schemathesis against `boutique all --memory` on a
# free loopback port: requests generated from the served OpenAPI document
# (/api/v1/openapi.json), each answer checked for a 5xx (never allowed) and against the
# response schema the document declares. Protected operations are called as a signed-in
# account: the script signs one up first and passes its bearer token on every request;
# signing that token out (DELETE /api/v1/sessions/current) would turn the rest of the run
# into 401s, so that operation runs last, alone, with a token of its own. Bounded: at most
# $MAX_EXAMPLES cases per operation and a hard timeout for the whole run.
# Usage: scripts/api-fuzz.sh   (BOUTIQUE_BIN, MAX_EXAMPLES, FUZZ_TIMEOUT, SCHEMATHESIS to override)
set -euo pipefail
cd "$(dirname "$0")/.."

boutique=${BOUTIQUE_BIN:-target/debug/boutique}
max_examples=${MAX_EXAMPLES:-25}
fuzz_timeout=${FUZZ_TIMEOUT:-300}
schemathesis=${SCHEMATHESIS:-schemathesis}
out=${FUZZ_OUT:-artifacts/schemathesis}
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

# A bearer token for a new account (the password passes the accounts service's rules).
token() {
  curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\":\"fuzz-$1-$$@example.com\",\"password\":\"fuzzing passphrase one\"}" \
    "http://127.0.0.1:$port/api/v1/accounts" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

fuzz() {
  timeout --signal=INT --kill-after=10 "$fuzz_timeout" \
    "$schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --checks "${FUZZ_CHECKS:-not_a_server_error,response_schema_conformance}" \
    --seed "${FUZZ_SEED:-1}" \
    --generation-database none \
    --request-timeout 15 \
    --no-color \
    "$@"
}

echo "schemathesis: at most $max_examples cases per operation against http://127.0.0.1:$port (timeout ${fuzz_timeout}s each run)"
# Every operation but sign-out, as a signed-in account (guest operations accept the token too).
fuzz --max-examples "$max_examples" -H "Authorization: Bearer $(token main)" \
  --exclude-operation-id signOut \
  --report junit --report-dir "$out"
# Sign-out last, with a token of its own (the first case signs it out; the rest get 401s).
fuzz --max-examples 5 -H "Authorization: Bearer $(token signout)" \
  --include-operation-id signOut \
  --report junit --report-dir "$out/signout"

# The shop must still be up and must not have logged an error of its own.
curl -sf "http://127.0.0.1:$port/health" >/dev/null
kill -INT "$shop"
wait "$shop"
trap - EXIT
if grep -q '"severity":"ERROR"' "$out/boutique.log"; then
  echo "The shop logged errors during the fuzzing run:"
  grep '"severity":"ERROR"' "$out/boutique.log" | head -20
  exit 1
fi
