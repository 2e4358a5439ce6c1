#!/usr/bin/env bash
# Progressive production rollout through Argo CD, with automatic rollback.
#
# The production Application has automated sync OFF (it is promoted by a reviewed GitOps pull
# request, then synced here). This script:
#   1. records the Application's current revision (what to roll back to);
#   2. syncs the Deployments in waves: the canary wave first (frontend), then the rest;
#      each Deployment rolls pod by pod (maxUnavailable 0) and must become Healthy;
#   3. verifies: Argo CD health and sync status, then the loadgen smoke Job (zero failures);
#   4. on any failure: `argocd app rollback` to the recorded revision, waits for health, and
#      exits 1 so the workflow reports the failure (and opens the revert pull request).
#
# Usage: scripts/deploy/rollout.sh APP NAMESPACE IMAGE
#   e.g. scripts/deploy/rollout.sh boutique-production boutique ghcr.io/boutique-shop/boutique:0.1.1
# Needs: argocd (logged in: ARGOCD_SERVER, ARGOCD_AUTH_TOKEN), kubectl for the smoke Job.
set -euo pipefail

app=${1:?usage: rollout.sh APP NAMESPACE IMAGE}
namespace=${2:?usage: rollout.sh APP NAMESPACE IMAGE}
image=${3:?usage: rollout.sh APP NAMESPACE IMAGE}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wait_s=${ROLLOUT_TIMEOUT:-600}
canary=(frontend)

log() { printf '[rollout] %s\n' "$*"; }

previous=$(argocd app get "$app" -o json | python3 -c \
    'import json,sys; h=json.load(sys.stdin).get("status",{}).get("history") or [{}]; print(h[-1].get("id",""))')
log "$app: current history id ${previous:-none} (rollback target)"

rollback() {
    log "verification FAILED: rolling $app back to history id $previous"
    if [[ -n $previous ]]; then
        argocd app rollback "$app" "$previous" --timeout "$wait_s" || log "rollback command failed"
        argocd app wait "$app" --health --timeout "$wait_s" || log "app not healthy after rollback"
    else
        log "no previous revision recorded: nothing to roll back to"
    fi
    exit 1
}
trap rollback ERR

# Everything but the Deployments first (config, services, policies), then the canary wave.
log "wave 0: non-Deployment resources"
argocd app sync "$app" --prune=false --timeout "$wait_s" \
    --resource '*:ConfigMap:*' --resource '*:Service:*' --resource '*:ServiceAccount:*' \
    --resource 'networking.k8s.io:NetworkPolicy:*' --resource 'policy:PodDisruptionBudget:*' \
    --resource 'autoscaling:HorizontalPodAutoscaler:*' || true
for name in "${canary[@]}"; do
    log "wave 1 (canary): $name"
    argocd app sync "$app" --timeout "$wait_s" --resource "apps:Deployment:$name"
    kubectl -n "$namespace" rollout status "deployment/$name" --timeout "${wait_s}s"
done
log "canary verification: smoke Job against the canary"
"$here/smoke.sh" "$namespace" "$image"

log "wave 2: everything else"
argocd app sync "$app" --timeout "$wait_s"
argocd app wait "$app" --health --sync --timeout "$wait_s"

log "post-deploy verification: Argo CD health, then the smoke Job"
health=$(argocd app get "$app" -o json | python3 -c \
    'import json,sys; s=json.load(sys.stdin)["status"]; print(s["health"]["status"], s["sync"]["status"])')
[[ $health == "Healthy Synced" ]] || { log "Argo CD says: $health"; false; }
"$here/smoke.sh" "$namespace" "$image"
trap - ERR
log "PASSED: $app rolled out $image and verified"
