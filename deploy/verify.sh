#!/usr/bin/env bash
# Offline verification of the deploy kit: lint, render, validate and scan every manifest, with
# no cluster and no network (checkov runs under `unshare -n` when it can).
#
# Requirements (this script installs nothing):
#   apt:  kubectl (brings kustomize v5), util-linux (unshare; optional),
#         prometheus (promtool, for deploy/observability/check.py; the daemon is not needed),
#         prometheus-alertmanager (amtool, and the alertmanager binary that
#         deploy/check_alerting.py --live runs on 127.0.0.1 for a few seconds)
#   pip:  deploy/requirements.txt (exact pins), in a venv:
#           python3 -m venv .venv/deploy && .venv/deploy/bin/pip install -r deploy/requirements.txt
#         A separate venv because checkov pins `packaging<24`, which pytest 9 cannot use.
#         Point DEPLOY_VENV elsewhere to use another venv (default: .venv/deploy).
# Usage:   deploy/verify.sh            (from anywhere; exits non-zero on the first failure)
# Output:  rendered files are kept in $VERIFY_OUT (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${DEPLOY_VENV:-$ROOT/.venv/deploy}
PY=$VENV/bin/python
K8S_VERSION=1.30.0
OUT=${VERIFY_OUT:-$(mktemp -d)}
mkdir -p "$OUT"
KDIR=deploy/kubernetes
# In this order in every render: istio and observability patch the workloads of the components
# listed before them (sidecars, tracing), so they come after those that add workloads.
COMPONENTS=(redis-cart network-policies hpa-pdb loadgenerator gateway-api external-secrets istio observability)
# The observability component is rendered with every subset of the components it interacts with
# (the Deployments and policies it patches or relies on) and with all components at once, not
# with all 128 subsets of the others: hpa-pdb and gateway-api touch nothing it touches, and
# 256 renders would double this script's longest steps (kubernetes-validate, check_renders).
OBS_WITH=(redis-cart network-policies istio external-secrets loadgenerator)

step() { printf '\n--> %s (at %d s)\n' "$*" "$SECONDS"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

step "Tools"
for t in kubectl promtool amtool prometheus-alertmanager "$VENV/bin/yamllint" "$VENV/bin/kubernetes-validate" "$VENV/bin/checkov" "$VENV/bin/hadolint" "$PY"; do
  command -v "$t" >/dev/null || fail "missing tool: $t (see the requirements at the top of $0)"
done
"$PY" -c 'import helm_python, yaml' || fail "helm-python-sdk missing in $VENV"
NET=()
if unshare -n true 2>/dev/null; then NET=(unshare -n); echo "checkov and helm run without network (unshare -n)"; fi
echo "renders in $OUT"

step "Generated observability copies (PrometheusRule, dashboards, chart files) match deploy/observability"
"$PY" deploy/sync_observability.py --check || fail "drift: run deploy/sync_observability.py"

step "yamllint (config: .yamllint)"
"$VENV/bin/yamllint" -s -c .yamllint deploy/ compose.yaml .yamllint

step "kustomize: render the overlays"
renders=()
for o in "$KDIR"/overlays/*/; do
  name=overlay-$(basename "$o")
  kubectl kustomize "$o" > "$OUT/$name.yaml" || fail "kustomize $o"
  echo "  $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects"
  renders+=("$name")
done

step "kustomize: render the log collector (deploy/kubernetes/log-collector, its own namespace)"
kubectl kustomize "$KDIR/log-collector" > "$OUT/log-collector.yaml" || fail "kustomize log-collector"
echo "  log-collector: $(grep -c '^kind:' "$OUT/log-collector.yaml") objects"
renders+=(log-collector)

step "kustomize: render the base with every combination of the other components, and observability with ${OBS_WITH[*]}"
COMBO_DIR=$(mktemp -d "$ROOT/$KDIR/.combos.XXXXXX")
trap 'rm -rf "$COMBO_DIR"' EXIT
n=$(( 1 << ${#COMPONENTS[@]} ))
obs_bit=0; obs_allowed=0
for i in "${!COMPONENTS[@]}"; do
  [ "${COMPONENTS[$i]}" = observability ] && obs_bit=$(( 1 << i ))
  for c in "${OBS_WITH[@]}"; do [ "${COMPONENTS[$i]}" = "$c" ] && obs_allowed=$(( obs_allowed | 1 << i )); done
done
(( obs_bit )) || fail "observability is not in COMPONENTS"
rendered=0
for (( mask = 0; mask < n; mask++ )); do
  if (( mask & obs_bit && mask != n - 1 && mask & ~(obs_bit | obs_allowed) )); then continue; fi
  rendered=$((rendered + 1))
  name=combo; comps=""
  for i in "${!COMPONENTS[@]}"; do
    if (( mask >> i & 1 )); then name+="+${COMPONENTS[$i]}"; comps+="  - ../../components/${COMPONENTS[$i]}"$'\n'; fi
  done
  [ "$name" = combo ] && name=combo-base
  d=$COMBO_DIR/$mask; mkdir -p "$d"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: boutique-verify\nresources:\n  - ../../base\ncomponents:\n%s' "${comps:-  []}"$'\n' > "$d/kustomization.yaml"
  kubectl kustomize "$d" > "$OUT/$name.yaml" 2> "$OUT/$name.err" || { cat "$OUT/$name.err"; fail "kustomize $name"; }
done
echo "  $rendered of the $n combinations rendered"

# PostgreSQL and RabbitMQ: the components that wire the services to them (postgres, rabbitmq)
# with managed servers or with the in-cluster ones, rendered with every subset of the components
# they interact with (policies for their edges, sidecars for their workloads, the secrets of
# their URLs, scraping and tracing of dispatch), and each backend alone; then everything at once.
# Not with all 256 subsets: the others touch nothing of theirs.
declare -A BACKENDS=(
  [managed]="postgres rabbitmq"
  [in-cluster]="postgres postgres/in-cluster rabbitmq rabbitmq/in-cluster"
  [postgres-only]="postgres postgres/in-cluster"
  [rabbitmq-only]="rabbitmq rabbitmq/in-cluster"
)
BACKEND_WITH=(network-policies istio external-secrets observability)
step "kustomize: PostgreSQL and RabbitMQ (managed, in-cluster, each alone) with subsets of ${BACKEND_WITH[*]}, and with every component"
backend_render() { # backend_render NAME COMPONENT...
  local name=$1 d comps="" c; shift
  for c in "$@"; do comps+="  - ../../components/$c"$'\n'; done
  d=$COMBO_DIR/$name; mkdir -p "$d"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: boutique-verify\nresources:\n  - ../../base\ncomponents:\n%s' "$comps" > "$d/kustomization.yaml"
  kubectl kustomize "$d" > "$OUT/$name.yaml" 2> "$OUT/$name.err" || { cat "$OUT/$name.err"; fail "kustomize $name"; }
}
brendered=0
for b in "${!BACKENDS[@]}"; do
  read -r -a bcomps <<< "${BACKENDS[$b]}"
  for (( mask = 0; mask < 1 << ${#BACKEND_WITH[@]}; mask++ )); do
    # Each backend alone: bare, and with all four.
    if [[ $b == *-only ]] && (( mask != 0 && mask != (1 << ${#BACKEND_WITH[@]}) - 1 )); then continue; fi
    name=backends-$b; with=()
    for i in "${!BACKEND_WITH[@]}"; do
      if (( mask >> i & 1 )); then name+="+${BACKEND_WITH[$i]}"; with+=("${BACKEND_WITH[$i]}"); fi
    done
    backend_render "$name" "${bcomps[@]}" "${with[@]}"
    brendered=$((brendered + 1))
  done
done
for b in managed in-cluster; do
  read -r -a bcomps <<< "${BACKENDS[$b]}"
  backend_render "backends-$b+all" redis-cart "${bcomps[@]}" network-policies hpa-pdb hpa-pdb/orders-dispatch hpa-pdb/accounts-ratings \
    loadgenerator flags gateway-api external-secrets istio observability
  brendered=$((brendered + 1))
done
echo "  $brendered renders with the backends"
# The failure flags (a ConfigMap, and its mount on every Boutique workload) alone and with the
# components that add workloads it patches; the two renders above hold it with everything.
backend_render flags flags
backend_render flags+network-policies+loadgenerator+rabbitmq network-policies loadgenerator rabbitmq flags
for f in flags flags+network-policies+loadgenerator+rabbitmq backends-managed+all; do
  "$PY" - "$OUT/$f.yaml" <<'PY' || fail "$f: a Boutique Deployment lacks the flag file"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "Deployment"]
ours = [(d["metadata"]["name"], c) for d in docs for c in d["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith("ghcr.io/boutique-shop/boutique")]
missing = [name for name, c in ours
           if {"name": "FLAGD_OFFLINE_FLAG_SOURCE_PATH", "value": "/etc/boutique/flags/boutique.flagd.json"} not in c.get("env", [])
           or not any(m["mountPath"] == "/etc/boutique/flags" for m in c.get("volumeMounts", []))]
assert ours and not missing, missing
PY
done
echo "  the flags component reaches every Boutique container"
# The flags from a flagd server instead (FLAGD_HOST on every Boutique container, no file), alone
# and with the network policies that must let them reach flagd (check_renders checks that).
backend_render flags-flagd flags-flagd
backend_render flags-flagd+network-policies+loadgenerator+rabbitmq network-policies loadgenerator rabbitmq flags-flagd
for f in flags-flagd flags-flagd+network-policies+loadgenerator+rabbitmq; do
  "$PY" - "$OUT/$f.yaml" <<'PY' || fail "$f: a Boutique Deployment does not follow flagd"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "Deployment"]
ours = [(d["metadata"]["name"], c) for d in docs for c in d["spec"]["template"]["spec"]["containers"]
        if c["image"].startswith("ghcr.io/boutique-shop/boutique")]
env = lambda c: {e["name"]: e.get("value") for e in c.get("env", [])}
missing = [name for name, c in ours
           if env(c).get("FLAGD_HOST") != "flagd" or env(c).get("FLAGD_RESOLVER") != "in-process"
           or "FLAGD_OFFLINE_FLAG_SOURCE_PATH" in env(c)]
assert ours and not missing, missing
PY
done
echo "  the flags-flagd component reaches every Boutique container"

step "kustomize: external-secrets with each store sub-component, and the ClusterSecretStore examples"
for store in vault aws-secrets-manager; do
  d=$COMBO_DIR/store-$store; mkdir -p "$d"
  name=combo+network-policies+external-secrets+store-$store
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: boutique-verify\nresources:\n  - ../../base\ncomponents:\n  - ../../components/network-policies\n  - ../../components/external-secrets\n  - ../../components/external-secrets/%s\n' "$store" > "$d/kustomization.yaml"
  kubectl kustomize "$d" > "$OUT/$name.yaml" || fail "kustomize $name"
  grep -q '^kind: SecretStore' "$OUT/$name.yaml" || fail "$name: no SecretStore"
  if grep -q 'kind: ClusterSecretStore' "$OUT/$name.yaml"; then fail "$name: an ExternalSecret still names the ClusterSecretStore"; fi
  echo "  $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects"
  cp "$KDIR/components/external-secrets/cluster-stores/$store.yaml" "$OUT/cluster-store-$store.yaml"
done

step "Invariants on every render (images tagged, hardened pods, probes, admin port, monitoring objects; promtool on PrometheusRule specs)"
"$PY" deploy/check_renders.py "$OUT"/*.yaml

step "kubernetes-validate --strict -k $K8S_VERSION on every render (CRD kinds are listed, then checked by check_renders)"
"$VENV/bin/kubernetes-validate" --strict -k "$K8S_VERSION" --quiet "$OUT"/*.yaml > "$OUT/validate.log" 2>&1 \
  || { grep -v '^WARN' "$OUT/validate.log" | head -40; fail "kubernetes-validate"; }
echo "  $(find "$OUT" -maxdepth 1 -name "*.yaml" | wc -l) files valid; kinds without a bundled schema:"
grep -o "kind [A-Za-z]* with api version [^ ]*" "$OUT/validate.log" | sort | uniq -c | sed 's/^/   /' || true

step "Helm: lint, render default and feature-complete values (helm-python-sdk, Helm SDK v4)"
"${NET[@]}" "$PY" - "$OUT" <<'PY'
import sys, yaml, helm_python as helm
out = sys.argv[1]
chart = "deploy/helm/boutique"
res = helm.lint(chart)
for m in res["messages"]:
    print(f"  lint severity={m['severity']} {m['path']}: {m['error']}")
if res["errors"] or any(m["severity"] >= 2 for m in res["messages"]):
    sys.exit("helm lint failed")
full = yaml.safe_load(open(f"{chart}/ci/full-values.yaml"))
# The full values scrape with a PodMonitor; the same with a ServiceMonitor instead.
svcmon = yaml.safe_load(open(f"{chart}/ci/full-values.yaml"))
svcmon["monitoring"]["podMonitor"]["enabled"] = False
svcmon["monitoring"]["serviceMonitor"] = {"enabled": True}
# The full values create a Vault SecretStore; the same with AWS Secrets Manager (IRSA).
aws = yaml.safe_load(open(f"{chart}/ci/full-values.yaml"))
aws["externalSecrets"]["store"].update(provider="aws", serviceAccount={
    "name": "boutique-secrets", "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/boutique"}})
# PostgreSQL and RabbitMQ from URLs in the values (the chart makes the Secrets), with autoscaling
# and Istio, the accounts token keys from an existing Secret; and autoscaling on SQLite (orders,
# accounts and ratings stay at one replica, without an HPA).
urls = {"database": {"enabled": True, "url": "postgres://boutique@db.example.internal:5432/boutique"},
        "amqp": {"enabled": True, "url": "amqps://boutique@mq.example.internal:5671/%2f"},
        "autoscaling": {"enabled": True}, "istio": {"enabled": True},
        "services": {"accounts": {"tokenKeys": {"existingSecret": "accounts-keys"}}}}  # pragma: allowlist secret
# The flags from a flagd server instead of the chart's file, with network policies.
flagd = yaml.safe_load(open(f"{chart}/ci/full-values.yaml"))
flagd["flags"] = {"enabled": True, "set": {}, "flagd": {"host": "flagd.flagd.svc", "port": 8015,
                  "selector": "flagSetId=boutique", "egress": {"to": []}}}
cases = {"helm-default": {}, "helm-full": full, "helm-full-servicemonitor": svcmon, "helm-full-aws-store": aws,
         "helm-backends-urls": urls, "helm-sqlite-autoscaling": {"autoscaling": {"enabled": True}},
         "helm-full-flagd": flagd}
with helm.Chart.load(chart) as c:
    for name, values in cases.items():
        docs = c.render(values, name="boutique", namespace="boutique")
        with open(f"{out}/{name}.yaml", "w") as f:
            for src, text in sorted(docs.items()):
                if src.endswith("NOTES.txt"):
                    print(f"  {name} NOTES.txt renders ({len(text.splitlines())} lines)")
                elif text.strip():
                    f.write(f"---\n# Source: {src}\n{text.strip()}\n")
        print(f"  {name}: {sum(1 for d in yaml.safe_load_all(open(f'{out}/{name}.yaml')) if d)} objects")
    try:
        c.render({"cart": {"backend": "postgres"}}, name="b", namespace="b")
        sys.exit("values.schema.json accepted cart.backend=postgres")
    except helm.HelmError:
        print("  values.schema.json rejects an unknown cart backend")
    both = yaml.safe_load(open(f"{chart}/ci/full-values.yaml"))
    both["monitoring"]["serviceMonitor"] = {"enabled": True}
    try:
        c.render(both, name="b", namespace="b")
        sys.exit("the chart rendered a PodMonitor and a ServiceMonitor together")
    except helm.HelmError:
        print("  the chart refuses a PodMonitor and a ServiceMonitor together")
    for what, values in {
            "a SecretStore while secretStoreRef names a ClusterSecretStore": {"externalSecrets": {
                "enabled": True, "store": {"create": True}}},
            "an IRSA store whose ServiceAccount names no IAM role": {"externalSecrets": {
                "enabled": True, "secretStoreRef": {"kind": "SecretStore", "name": "s"},
                "store": {"create": True, "provider": "aws"}}}}.items():
        try:
            c.render(values, name="b", namespace="b")
            sys.exit(f"the chart rendered {what}")
        except helm.HelmError:
            print(f"  the chart refuses {what}")
    for what, values in {
            "more than one orders replica on SQLite": {"services": {"orders": {"replicas": 2}}},
            "more than one accounts replica on SQLite": {"services": {"accounts": {"replicas": 2}}},
            "more than one ratings replica on SQLite": {"services": {"ratings": {"replicas": 2}}},
            "more than one accounts replica without a token key Secret": {
                "database": {"enabled": True, "url": "postgres://db"}, "services": {"accounts": {"replicas": 2}}},
            "database.enabled without a URL, an existing Secret or external secrets": {"database": {"enabled": True}},
            "amqp.url next to amqp.existingSecret": {"amqp": {"enabled": True, "url": "amqp://mq", "existingSecret": "s"}}}.items():
        try:
            c.render(values, name="b", namespace="b")
            sys.exit(f"the chart rendered {what}")
        except helm.HelmError:
            print(f"  the chart refuses {what}")
    try:
        c.render({"monitoring": {"tracing": {"collectorAddress": "no-port"}}}, name="b", namespace="b")
        sys.exit("values.schema.json accepted monitoring.tracing.collectorAddress=no-port")
    except helm.HelmError:
        print("  values.schema.json rejects a collector address without a port")
PY
"$PY" deploy/check_renders.py "$OUT"/helm-*.yaml
"$VENV/bin/kubernetes-validate" --strict -k "$K8S_VERSION" --quiet "$OUT"/helm-*.yaml > "$OUT/validate-helm.log" 2>&1 \
  || { grep -v '^WARN' "$OUT/validate-helm.log" | head -40; fail "kubernetes-validate (helm)"; }
echo "  helm renders valid"

step "checkov (--skip-download) on the overlays, every component next to network-policies, all components, and the Helm renders"
scan=("${renders[@]}" helm-default helm-full)
for f in "$OUT"/combo*+network-policies*.yaml; do
  b=$(basename "$f" .yaml)
  # network-policies plus at most one other component, and everything on
  [ "$(tr -cd + <<<"$b" | wc -c)" -le 2 ] && scan+=("$b")
done
all=combo; for c in "${COMPONENTS[@]}"; do all+="+$c"; done
scan+=("$all" flags+network-policies+loadgenerator+rabbitmq flags-flagd+network-policies+loadgenerator+rabbitmq backends-managed+network-policies backends-in-cluster+network-policies backends-managed+all backends-in-cluster+all)
reports=()
for name in "${scan[@]}"; do
  "${NET[@]}" "$VENV/bin/checkov" -f "$OUT/$name.yaml" --framework kubernetes --skip-download --quiet --compact \
     -o json > "$OUT/checkov-$name.json" 2> "$OUT/checkov-$name.err" || true
  [ -s "$OUT/checkov-$name.json" ] || { cat "$OUT/checkov-$name.err"; fail "checkov produced no report for $name"; }
  reports+=("$OUT/checkov-$name.json")
  echo "  scanned $name"
done

step "hadolint + checkov on the Dockerfile"
"$VENV/bin/hadolint" --failure-threshold style Dockerfile
"${NET[@]}" "$VENV/bin/checkov" -f Dockerfile --framework dockerfile --skip-download --quiet --compact -o json \
  > "$OUT/checkov-dockerfile.json" 2> "$OUT/checkov-dockerfile.err" || true
reports+=("$OUT/checkov-dockerfile.json")

step "checkov findings against deploy/checkov-waivers.yaml"
"$PY" deploy/checkov_gate.py deploy/checkov-waivers.yaml "${reports[@]}" || fail "checkov"

step "compose.yaml and Argo CD structure"
"$PY" deploy/check_compose_argocd.py

step "Observability: promtool rules, rule tests and config, dashboard queries, metric names (against the sample scrape)"
"$PY" deploy/observability/check.py --self-test
"$PY" deploy/observability/check.py --exposition deploy/observability/testdata/sample-exposition.txt

step "Logs: the collector and Fluent Bit configurations and the Loki datasource, applied to real Boutique log lines"
"$PY" deploy/observability/check_logs.py --self-test

step "Alertmanager: check-config, a tested route for every alert (source, compose copy, every rendered AlertmanagerConfig), a live run"
mapfile -t amc < <(grep -l '^kind: AlertmanagerConfig' "$OUT"/*.yaml)
(( ${#amc[@]} )) || fail "no render holds an AlertmanagerConfig"
"$PY" deploy/check_alerting.py --self-test --live --renders "${amc[@]}"

echo
echo "deploy/verify.sh: all checks passed"
