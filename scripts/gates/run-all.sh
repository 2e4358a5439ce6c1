#!/usr/bin/env bash
# Runs every supply-chain gate and its self-test (planted bad case), cheapest first, and
# prints a timing table. Stops at the first failure. .ci/run calls this.
#
# Usage: scripts/gates/run-all.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

timings=()
run() { # run LABEL COMMAND...
    local label=$1 started=$SECONDS
    shift
    printf '\n--> gate: %s\n' "$label"
    if ! "$@"; then
        printf '\n[run-all] FAILED: %s\n' "$label" >&2
        exit 1
    fi
    timings+=("$(printf '%-44s %4d s' "$label" $((SECONDS - started)))")
}

run "workflows (zizmor, SHA pins)" "$here/workflows.sh"
run "workflows self-test (@v4 rejected)" "$here/workflows.sh" --self-test
run "secrets (detect-secrets)" "$here/secrets.sh"
run "secrets self-test (planted key found)" "$here/secrets.sh" --self-test
run "deny (advisories, licences, bans, sources)" "$here/deny.sh"
run "deny self-test (bad fixture rejected)" "$here/deny.sh" --self-test
run "sbom (CycloneDX)" "$here/sbom.sh"

printf '\n[run-all] all gates passed:\n'
printf '  %s\n' "${timings[@]}"
