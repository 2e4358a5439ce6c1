# shellcheck shell=bash
# Helpers shared by the gates in scripts/gates/. Source it; do not run it.
# Every gate prints what it checks, and fails loudly (a FAILED line, non-zero exit).

set -euo pipefail

GATES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$GATES_DIR/../.." && pwd)"
export GATES_DIR REPO_ROOT

# Tool versions the gates install when a tool is missing. Bump them here, in one place.
export CARGO_DENY_VERSION="0.20.2"
export CARGO_CYCLONEDX_VERSION="0.5.9"

gate_started=$SECONDS

say() { printf '[%s] %s\n' "${GATE_NAME:-gate}" "$*"; }

fail() {
    printf '[%s] FAILED: %s\n' "${GATE_NAME:-gate}" "$*" >&2
    exit 1
}

pass() {
    say "PASSED: $* ($((SECONDS - gate_started)) s)"
}

# ensure_cargo_tool BINARY CRATE VERSION: install a cargo tool from crates.io (--locked,
# pinned version) unless it is already on PATH; says how long the install took.
ensure_cargo_tool() {
    local bin=$1 crate=$2 version=$3 started
    if command -v "$bin" >/dev/null 2>&1; then
        say "using $(cargo "${bin#cargo-}" --version 2>/dev/null | head -n1) from $(command -v "$bin")"
        return 0
    fi
    say "$bin not on PATH: cargo install --locked $crate@$version (minutes on 2 cores)"
    started=$SECONDS
    cargo install --locked --quiet "$crate@$version" || fail "could not install $crate@$version"
    say "installed $crate@$version in $((SECONDS - started)) s"
}

# The Python tools the gates use (zizmor, detect-secrets), pinned in requirements.txt.
# Uses them from PATH when present (e.g. .ci/run's .venv), otherwise from a venv kept in
# target/gates-venv (git-ignored), created on first use.
ensure_python_tools() {
    local venv="$REPO_ROOT/target/gates-venv"
    if command -v zizmor >/dev/null 2>&1 && command -v detect-secrets-hook >/dev/null 2>&1; then
        return 0
    fi
    if [[ ! -x "$venv/bin/zizmor" || ! -x "$venv/bin/detect-secrets-hook" ]]; then
        say "installing $GATES_DIR/requirements.txt into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$GATES_DIR/requirements.txt" \
            || fail "pip install -r scripts/gates/requirements.txt"
    fi
    PATH="$venv/bin:$PATH"
    export PATH
}
