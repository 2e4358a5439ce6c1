#!/usr/bin/env bash
# Build the Boutique image with podman and check it in containers, on loopback only:
#   1. bases: localhost/debian:bookworm-slim (debootstrap; reused when present) and, for a
#      full build, localhost/rust:1.95-bookworm (deploy/container/rust-builder.Containerfile);
#   2. the image (Dockerfile): by default the `runtime-prebuilt` stage with a host-built release
#      binary (VERIFY_IMAGE_BUILD=full: the whole multi-stage build, compiling in the builder);
#   3. image user 65532; one container with --read-only --cap-drop=ALL no-new-privileges on the
#      host network answers `podman healthcheck run` and /metrics on its admin port, runs as uid
#      65532 and cannot write to /;
#   4. the whole shop, one container per service (host network, own service port and own admin
#      port (ADMIN_PORT) on 127.0.0.1, wired through *_SERVICE_ADDR), and a 20 s `boutique
#      loadgen` in a container: zero failures; then every admin port serves /metrics, with the
#      traffic counted (grpc_server_handled_total, http_server_requests_total);
#   5. `podman kube play` of the rendered kustomize base (Deployments, hostNetwork, loopback
#      ports; deploy/container/kube_play.py), until the storefront answers /_healthz and its
#      admin port /metrics; kube down.
# Every container and pod it starts is removed on exit, by name, also on failure.
#
# Requirements (this script installs nothing; run as root, like .ci/run):
#   apt:  podman runc catatonit debootstrap kubectl curl (python3 with PyYAML: python3-yaml, or
#         the deploy venv, see deploy/verify.sh)
#   podman settings come from deploy/container/containers.conf through CONTAINERS_CONF
#   (runc, cgroupfs, ulimits for this VM); /etc/containers is not touched.
# Environment:
#   VERIFY_IMAGE_BUILD=prebuilt|full  (default prebuilt; `full` copies the host's toolchain
#                                      (RUSTUP_TOOLCHAIN_DIR) and cargo registry cache into a
#                                      local builder base, builds offline, takes much longer)
#   VERIFY_IMAGE_TAG                  (default localhost/boutique:ci)
#   DEBIAN_MIRROR                     (default: the first URIs: of /etc/apt/sources.list.d/debian.sources)
# Usage: deploy/verify-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/deploy/container/containers.conf}
MODE=${VERIFY_IMAGE_BUILD:-prebuilt}
IMAGE=${VERIFY_IMAGE_TAG:-localhost/boutique:ci}
BASE=localhost/debian:bookworm-slim
BUILDER=localhost/rust:1.95-bookworm
TOOLCHAIN=${RUSTUP_TOOLCHAIN_DIR:-${RUSTUP_HOME:-$HOME/.rustup}/toolchains/1.95.0-x86_64-unknown-linux-gnu}
PY=python3
if [ -x "${DEPLOY_VENV:-$ROOT/.venv/deploy}/bin/python" ]; then PY=${DEPLOY_VENV:-$ROOT/.venv/deploy}/bin/python; fi
RUN=bvi$$                                   # prefix of every container and pod this run makes
WORK=$(mktemp -d /tmp/verify-image.XXXXXX)
CONTAINERS=()
KUBE_FILE=""
TIMINGS=()
started=$SECONDS

step() { printf '\n--> %s (at %d s)\n' "$*" "$((SECONDS - started))"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
# timed LABEL CMD...: run CMD, remember how long it took.
timed() {
  local label=$1 t0=$SECONDS; shift
  "$@"
  TIMINGS+=("$(printf '%-44s %4d s' "$label" "$((SECONDS - t0))")")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$KUBE_FILE" ]; then podman kube down "$KUBE_FILE" >/dev/null 2>&1 || true; fi
  if [ ${#CONTAINERS[@]} -gt 0 ]; then
    if [ "$rc" -ne 0 ]; then
      for c in "${CONTAINERS[@]}"; do
        podman container exists "$c" 2>/dev/null || continue
        echo "--- last log lines of $c"; podman logs --tail 15 "$c" 2>&1 || true
      done
    fi
    podman rm -f -i -t 2 "${CONTAINERS[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  if [ ${#TIMINGS[@]} -gt 0 ]; then
    printf '\nTimings:\n'; printf '  %s\n' "${TIMINGS[@]}"
  fi
  printf 'total %d s\n' "$((SECONDS - started))"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_ports N: N distinct free TCP ports on 127.0.0.1.
free_ports() {
  "$PY" - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# wait_healthy NAME SECONDS: poll `podman healthcheck run` (podman 4.3 runs no timers here).
wait_healthy() {
  local end=$((SECONDS + $2))
  until podman healthcheck run "$1" >/dev/null 2>&1; do
    [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || fail "$1 exited"
    [ $SECONDS -lt $end ] || fail "$1 not healthy after $2 s"
    sleep 0.5
  done
}

# metrics_has PORT METRIC...: GET 127.0.0.1:PORT/metrics answers and names every METRIC.
metrics_has() {
  local port=$1 body m; shift
  body=$(curl -sf --max-time 5 "http://127.0.0.1:$port/metrics") || fail "GET 127.0.0.1:$port/metrics"
  for m in "$@"; do
    grep -q "^$m" <<< "$body" || fail "127.0.0.1:$port/metrics has no $m"
  done
}

# Hardening flags for every container started here.
# --read-only-tmpfs=false: no writable /tmp, /run either, as readOnlyRootFilesystem in Kubernetes.
HARDENED=(--init --network host --read-only --read-only-tmpfs=false --cap-drop=ALL --security-opt=no-new-privileges
          --health-interval=disable --log-driver k8s-file)

step "Tools"
for t in podman runc debootstrap kubectl curl "$PY"; do
  command -v "$t" >/dev/null || fail "missing tool: $t (see the requirements at the top of $0)"
done
"$PY" -c 'import yaml' || fail "PyYAML missing for $PY"
podman --version
echo "CONTAINERS_CONF=$CONTAINERS_CONF; build mode: $MODE; image: $IMAGE"

step "Base image $BASE (debootstrap; no image registry is reachable here)"
build_base() {
  if podman image exists "$BASE"; then echo "  reusing $BASE"; return; fi
  local mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)}
  mirror=${mirror:-http://deb.debian.org/debian}
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" > "$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  tar -C "$WORK/rootfs" -c . | podman import --quiet - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
}
timed "base: debootstrap + import (0 if cached)" build_base

BUILD=(podman build --pull=never --format docker --layers
       --build-arg RUNTIME_IMAGE="$BASE" --build-arg VERSION=ci)
if [ "$MODE" = full ]; then
  step "Builder base $BUILDER (Debian gcc + the host's Rust toolchain)"
  build_builder() {
    if podman image exists "$BUILDER"; then echo "  reusing $BUILDER"; return; fi
    [ -x "$TOOLCHAIN/bin/cargo" ] || fail "no Rust toolchain at $TOOLCHAIN (set RUSTUP_TOOLCHAIN_DIR)"
    cargo fetch --locked
    podman build --pull=never --build-arg BASE_IMAGE="$BASE" --build-context toolchain="$TOOLCHAIN" \
      --build-context cargo_registry="${CARGO_HOME:-$HOME/.cargo}/registry" \
      -t "$BUILDER" -f deploy/container/rust-builder.Containerfile deploy/container
  }
  timed "builder base: apt gcc + toolchain copy" build_builder
  step "Image $IMAGE: the full multi-stage build"
  timed "image: multi-stage build (cargo in container)" \
    "${BUILD[@]}" --build-arg RUST_IMAGE="$BUILDER" --target runtime -t "$IMAGE" .
elif [ "$MODE" = prebuilt ]; then
  step "Host release binary (cargo build --release --locked -p boutique)"
  timed "host: cargo build --release" cargo build --release --locked -p boutique
  mkdir -p "$WORK/prebuilt"
  cp target/release/boutique "$WORK/prebuilt/boutique"
  step "Image $IMAGE: stage runtime-prebuilt (host binary, same runtime stage)"
  # RUST_IMAGE only names the skipped builder stages; it is never pulled (--pull=never, skipped stages).
  timed "image: build --target runtime-prebuilt" \
    "${BUILD[@]}" --build-arg RUST_IMAGE="$BASE" --build-context prebuilt="$WORK/prebuilt" \
      --target runtime-prebuilt -t "$IMAGE" .
else
  fail "VERIFY_IMAGE_BUILD must be prebuilt or full, not $MODE"
fi
podman image inspect --format '  size {{.Size}} bytes, created {{.Created}}' "$IMAGE"

step "Image metadata: user 65532, healthcheck, entrypoint, OCI labels"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[ "${user%%:*}" = 65532 ] || fail "image user is '$user', not 65532"
hc=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
[[ $hc == *healthcheck* ]] || fail "image has no HEALTHCHECK ($hc)"
[ "$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.title"}}' "$IMAGE")" = boutique ] \
  || fail "OCI title label missing"
echo "  user=$user healthcheck=$hc"

step "One container (boutique all), read-only, no capabilities, host network on 127.0.0.1"
single() {
  local port admin c=$RUN-all
  read -r port admin <<< "$(free_ports 2)"
  CONTAINERS+=("$c")
  podman run -d --name "$c" "${HARDENED[@]}" -e PORT="$port" -e ADMIN_PORT="$admin" -e LISTEN_ADDR=127.0.0.1 \
    "$IMAGE" >/dev/null
  wait_healthy "$c" 60
  echo "  podman healthcheck run: healthy (storefront on 127.0.0.1:$port)"
  curl -sf --max-time 5 "http://127.0.0.1:$port/_healthz" >/dev/null || fail "GET /_healthz"
  metrics_has "$admin" boutique_build_info
  echo "  /metrics on the admin port 127.0.0.1:$admin (boutique_build_info)"
  [ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$c")" = true ] || fail "root filesystem not read-only"
  # `podman top` needs nothing in the image (distroless has no `id`); the host uid too (no userns).
  podman top "$c" user huser args
  local uids
  uids=$(podman top "$c" user huser | tail -n +2 | awk '{print $1, $2}' | sort -u)
  [ "$uids" = "65532 65532" ] || fail "processes not all uid 65532: $uids"
  if podman exec "$c" test -x /bin/sh 2>/dev/null; then     # the local Debian base has a shell
    [ "$(podman exec "$c" id -u)" = 65532 ] || fail "id -u is not 65532"
    if podman exec "$c" sh -c 'echo x > /usr/local/bin/x' 2>/dev/null; then fail "wrote to the root filesystem"; fi
    if podman exec "$c" sh -c 'echo x > /tmp/x' 2>/dev/null; then fail "wrote to /tmp"; fi
    echo "  id -u = 65532; writes to / and /tmp fail"
  fi
  podman rm -f -t 5 "$c" >/dev/null
  CONTAINERS=()
}
timed "single container: start to healthy + checks" single

step "The whole shop: one container per service, host network, distinct ports on 127.0.0.1"
# name  subcommand  env var that points at it
SERVICES=(
  "productcatalogservice catalog PRODUCT_CATALOG_SERVICE_ADDR"
  "currencyservice currency CURRENCY_SERVICE_ADDR"
  "paymentservice payment PAYMENT_SERVICE_ADDR"
  "shippingservice shipping SHIPPING_SERVICE_ADDR"
  "emailservice email EMAIL_SERVICE_ADDR"
  "cartservice cart CART_SERVICE_ADDR"
  "recommendationservice recommendation RECOMMENDATION_SERVICE_ADDR"
  "adservice ad AD_SERVICE_ADDR"
  "orders orders ORDERS_SERVICE_ADDR"
  "accounts accounts ACCOUNTS_SERVICE_ADDR"
  "ratings ratings RATINGS_SERVICE_ADDR"
  "checkoutservice checkout CHECKOUT_SERVICE_ADDR"
  "frontend frontend -"
)
# Two free ports per service: its own (PORT) and its admin port (ADMIN_PORT, /metrics); on one
# host network the default admin port 9464 would be taken by the first service only.
read -r -a ALLPORTS <<< "$(free_ports $(( 2 * ${#SERVICES[@]} )))"
PORTS=("${ALLPORTS[@]:0:${#SERVICES[@]}}")
ADMIN_PORTS=("${ALLPORTS[@]:${#SERVICES[@]}}")
WIRING=()
for i in "${!SERVICES[@]}"; do
  read -r _ _ var <<< "${SERVICES[$i]}"
  [ "$var" = - ] || WIRING+=(-e "$var=127.0.0.1:${PORTS[$i]}")
done
FRONTEND_PORT=${PORTS[$(( ${#SERVICES[@]} - 1 ))]}
shop_up() {
  local i name cmd hc
  for i in "${!SERVICES[@]}"; do
    read -r name cmd _ <<< "${SERVICES[$i]}"
    hc='["/usr/local/bin/boutique", "healthcheck"]'
    [ "$cmd" = frontend ] && hc='["/usr/local/bin/boutique", "healthcheck", "--http"]'
    # The root filesystem is read-only: orders, accounts and ratings keep their databases in
    # memory here.
    local own=()
    case $cmd in orders | accounts | ratings) own=(-e DATABASE_URL=sqlite::memory:) ;; esac
    CONTAINERS+=("$RUN-$name")
    podman run -d --name "$RUN-$name" "${HARDENED[@]}" --health-cmd "$hc" \
      -e PORT="${PORTS[$i]}" -e ADMIN_PORT="${ADMIN_PORTS[$i]}" -e LISTEN_ADDR=127.0.0.1 \
      "${own[@]}" "${WIRING[@]}" "$IMAGE" "$cmd" >/dev/null
  done
  for i in "${!SERVICES[@]}"; do
    read -r name cmd _ <<< "${SERVICES[$i]}"
    wait_healthy "$RUN-$name" 60
    printf '  %-22s %-15s 127.0.0.1:%s healthy, admin port %s\n' "$name" "$cmd" "${PORTS[$i]}" "${ADMIN_PORTS[$i]}"
  done
}
timed "shop: ${#SERVICES[@]} containers up and healthy" shop_up

step "boutique loadgen (container, host network): 5 users, 20 s, zero failures allowed"
loadgen() {
  CONTAINERS+=("$RUN-loadgen")
  timeout 120 podman run --name "$RUN-loadgen" "${HARDENED[@]}" "$IMAGE" loadgen \
    --target "127.0.0.1:$FRONTEND_PORT" --users 5 --duration 20s --think-time 0 --max-failure-ratio 0 \
    || fail "loadgen reported failures (or did not finish in 120 s)"
  for c in "${CONTAINERS[@]}"; do
    [ "$c" = "$RUN-loadgen" ] && continue
    [ "$(podman inspect --format '{{.State.Running}}' "$c")" = true ] || fail "$c stopped during the load run"
  done
}
timed "loadgen: 20 s run" loadgen

step "Metrics: every service's admin port serves /metrics, with the load run counted"
shop_metrics() {
  local i name cmd
  for i in "${!SERVICES[@]}"; do
    read -r name cmd _ <<< "${SERVICES[$i]}"
    if [ "$cmd" = frontend ]; then
      metrics_has "${ADMIN_PORTS[$i]}" boutique_build_info http_server_requests_total grpc_client_handled_total
    else
      metrics_has "${ADMIN_PORTS[$i]}" boutique_build_info process_resident_memory_bytes
    fi
    if [ "$cmd" = cart ]; then
      metrics_has "${ADMIN_PORTS[$i]}" grpc_server_handled_total boutique_cart_additions_total
    fi
  done
  echo "  ${#SERVICES[@]} admin ports answer; cart counts grpc_server_handled_total, frontend http_server_requests_total"
}
timed "metrics: ${#SERVICES[@]} admin ports" shop_metrics

step "Stop the shop"
timed "shop: stop and remove" podman rm -f -i -t 15 "${CONTAINERS[@]}" >/dev/null
CONTAINERS=()

step "podman kube play of the rendered base (Deployments only, hostNetwork, loopback ports)"
kube() {
  local i names=() json="{" pods p KALL
  kubectl kustomize deploy/kubernetes/base > "$WORK/base.yaml"
  # Own PORT and ADMIN_PORT per pod (the rendered ADMIN_PORT 9464 would collide on the host network).
  read -r -a KALL <<< "$(free_ports $(( 2 * ${#SERVICES[@]} )))"
  KPORTS=("${KALL[@]:0:${#SERVICES[@]}}")
  KADMIN=("${KALL[@]:${#SERVICES[@]}}")
  for i in "${!SERVICES[@]}"; do
    read -r name _ _ <<< "${SERVICES[$i]}"
    names+=("$name")
    json+="\"$name\": {\"port\": ${KPORTS[$i]}, \"admin\": ${KADMIN[$i]}},"
  done
  printf '%s}\n' "${json%,}" > "$WORK/ports.json"
  "$PY" deploy/container/kube_play.py "$WORK/base.yaml" "$IMAGE" "$RUN" "$WORK/ports.json" > "$WORK/play.yaml"
  echo "  $(grep -c '^kind: Deployment' "$WORK/play.yaml") Deployments from $(grep -c '^kind:' "$WORK/base.yaml") rendered objects"
  KUBE_FILE=$WORK/play.yaml
  podman kube play --quiet "$KUBE_FILE" >/dev/null
  local fport=${KPORTS[$(( ${#SERVICES[@]} - 1 ))]} end=$((SECONDS + 60))
  until curl -sf --max-time 2 "http://127.0.0.1:$fport/_healthz" >/dev/null; do
    [ $SECONDS -lt $end ] || { podman pod ps --filter "name=$RUN" ; fail "kube play: storefront not answering /_healthz"; }
    sleep 0.5
  done
  echo "  storefront answers http://127.0.0.1:$fport/_healthz"
  curl -sf --max-time 10 "http://127.0.0.1:$fport/" >/dev/null || fail "kube play: GET / (calls every backend)"
  echo "  GET / renders (catalog, currency, ads, recommendations, cart)"
  metrics_has "${KADMIN[$(( ${#SERVICES[@]} - 1 ))]}" http_server_requests_total
  metrics_has "${KADMIN[0]}" grpc_server_handled_total
  echo "  /metrics on the admin ports: frontend counts GET /, catalog its RPCs"
  pods=$(podman pod ps --filter "name=$RUN-" --format '{{.Name}} {{.Status}}')
  while IFS= read -r p; do echo "  $p"; done <<< "$pods"
  [ "$(grep -c Running <<< "$pods")" = "${#SERVICES[@]}" ] || fail "kube play: not every pod is running"
  local servers n=0 sec
  servers=$(podman ps --filter "name=^$RUN-.*-server\$" --format '{{.Names}}')
  for p in $servers; do
    sec=$(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "$p")
    [[ $sec == "65532"*" true "* ]] || fail "kube play: $p: user, read-only root, dropped caps = $sec"
    n=$((n + 1))
  done
  [ "$n" = "${#SERVICES[@]}" ] || fail "kube play: $n server containers, expected ${#SERVICES[@]}"
  echo "  every server container: $sec (user, read-only root, dropped capabilities)"
  podman kube down "$KUBE_FILE" >/dev/null
  KUBE_FILE=""
}
timed "kube play: play, healthy, down" kube

echo
echo "deploy/verify-image.sh: all checks passed"
