#!/usr/bin/env bash
# Smoke test of a deployed shop: runs `boutique loadgen` as a Kubernetes Job in the shop's
# namespace, waits for it, prints its report and fails unless the Job succeeded (loadgen
# exits non-zero when any request fails, see LOADGEN_ARGS).
#
# Usage: scripts/deploy/smoke.sh NAMESPACE IMAGE     (kubectl must point at the cluster)
#   e.g. scripts/deploy/smoke.sh boutique-staging ghcr.io/boutique-shop/boutique:0.1.1
# Environment:
#   LOADGEN_ARGS    arguments after `boutique loadgen` (default: a bounded, zero-failure run)
#   SMOKE_TIMEOUT   seconds to wait for the Job (default 300)
#   DRY_RUN=1       print the Job manifest and stop
set -euo pipefail

namespace=${1:?usage: smoke.sh NAMESPACE IMAGE}
image=${2:?usage: smoke.sh NAMESPACE IMAGE}
# Contract with `boutique loadgen` (issue 5): FRONTEND_ADDR like upstream's load generator,
# a bounded run, non-zero exit when the failure ratio exceeds the threshold (0 here).
read -r -a loadgen_args <<<"${LOADGEN_ARGS:---users 5 --duration 60s --max-failure-ratio 0}"
timeout=${SMOKE_TIMEOUT:-300}
job="smoke-$(date -u +%Y%m%d%H%M%S)"

args_yaml=""
for a in loadgen "${loadgen_args[@]}"; do
    args_yaml+="\"${a//\"/\\\"}\", "
done
manifest=$(cat <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: $job
  namespace: $namespace
  labels: {app: loadgenerator, app.kubernetes.io/component: smoke-test}
spec:
  backoffLimit: 0
  activeDeadlineSeconds: $timeout
  ttlSecondsAfterFinished: 3600
  template:
    metadata:
      # The load generator's network policy lets it reach the frontend (and DNS) only.
      labels: {app: loadgenerator, app.kubernetes.io/component: smoke-test}
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: loadgen
          image: $image
          args: [${args_yaml%, }]
          env:
            - {name: FRONTEND_ADDR, value: "frontend:80"}
            - {name: LOG_FORMAT, value: "text"}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {cpu: 500m, memory: 256Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: ["ALL"]}
YAML
)

if [[ ${DRY_RUN:-0} == 1 ]]; then
    printf '%s\n' "$manifest"
    exit 0
fi

echo "[smoke] $namespace: boutique loadgen ${loadgen_args[*]} as Job $job ($image)"
printf '%s\n' "$manifest" | kubectl apply -f -
# Wait for either outcome; `kubectl wait` takes one condition, so poll both.
deadline=$((SECONDS + timeout + 30))
status=""
while ((SECONDS < deadline)); do
    status=$(kubectl -n "$namespace" get job "$job" \
        -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
    [[ $status == *Complete* || $status == *Failed* ]] && break
    sleep 5
done
echo "[smoke] loadgen report:"
kubectl -n "$namespace" logs "job/$job" --tail=200 || true
if [[ $status == *Complete* ]]; then
    echo "[smoke] PASSED: loadgen finished with zero failures"
else
    kubectl -n "$namespace" describe job "$job" | tail -n 20 || true
    echo "[smoke] FAILED: Job $job did not complete (conditions: ${status:-none})" >&2
    exit 1
fi
