#!/usr/bin/env bash
# Offline verification of the deploy kit: lint, render, validate and scan every manifest, with
# no cluster and no network (checkov runs under `unshare -n` when it can).
#
# Requirements (this script installs nothing):
#   apt:  kubectl (brings kustomize v5), util-linux (unshare; optional)
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
COMPONENTS=(redis-cart network-policies hpa-pdb istio gateway-api external-secrets loadgenerator)

step() { printf '\n--> %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

step "Tools"
for t in kubectl "$VENV/bin/yamllint" "$VENV/bin/kubernetes-validate" "$VENV/bin/checkov" "$VENV/bin/hadolint" "$PY"; do
  command -v "$t" >/dev/null || fail "missing tool: $t (see the requirements at the top of $0)"
done
"$PY" -c 'import helm_python, yaml' || fail "helm-python-sdk missing in $VENV"
NET=()
if unshare -n true 2>/dev/null; then NET=(unshare -n); echo "checkov and helm run without network (unshare -n)"; fi
echo "renders in $OUT"

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

step "kustomize: render the base with every combination of the ${#COMPONENTS[@]} components"
COMBO_DIR=$(mktemp -d "$ROOT/$KDIR/.combos.XXXXXX")
trap 'rm -rf "$COMBO_DIR"' EXIT
n=$(( 1 << ${#COMPONENTS[@]} ))
for (( mask = 0; mask < n; mask++ )); do
  name=combo; comps=""
  for i in "${!COMPONENTS[@]}"; do
    if (( mask >> i & 1 )); then name+="+${COMPONENTS[$i]}"; comps+="  - ../../components/${COMPONENTS[$i]}"$'\n'; fi
  done
  [ "$name" = combo ] && name=combo-base
  d=$COMBO_DIR/$mask; mkdir -p "$d"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: boutique-verify\nresources:\n  - ../../base\ncomponents:\n%s' "${comps:-  []}"$'\n' > "$d/kustomization.yaml"
  kubectl kustomize "$d" > "$OUT/$name.yaml" 2> "$OUT/$name.err" || { cat "$OUT/$name.err"; fail "kustomize $name"; }
done
echo "  $n combinations rendered"

step "Invariants on every render (images tagged, hardened pods, probes except the load generator)"
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
cases = {"helm-default": {}, "helm-full": yaml.safe_load(open(f"{chart}/ci/full-values.yaml"))}
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
scan+=("$all")
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

echo
echo "deploy/verify.sh: all checks passed"
