#!/usr/bin/env bash
# Gate: cargo-deny over the workspace's dependency graph with the policy in deny.toml:
# RustSec advisories, licence allow-list, bans (wildcards, duplicates, banned crates) and
# sources (crates.io only).
#
# Usage: scripts/gates/deny.sh [--self-test] [--online]
#   (no flag)    check the workspace; advisories from the offline RustSec snapshot
#   --online     fetch the live RustSec database instead (needs GitHub; used in GitHub Actions)
#   --self-test  run cargo-deny on the planted bad fixture and require it to FAIL on each plant
#
# Advisories, offline: the snapshot is the git bundle ../shared/data/rustsec-advisory-db.bundle
# (override with RUSTSEC_BUNDLE=path). It is cloned into a temporary directory and cargo-deny
# runs with --offline, so nothing is fetched; the date of the newest advisory commit is printed.
# Without the bundle the run says ADVISORIES NOT CHECKED and checks the rest; set
# REQUIRE_ADVISORIES=1 to make that an error.
GATE_NAME=deny
# shellcheck source=scripts/gates/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=check
online=0
for arg in "$@"; do
    case $arg in
        --self-test) mode=self-test ;;
        --online) online=1 ;;
        *) fail "unknown argument: $arg (usage: deny.sh [--self-test] [--online])" ;;
    esac
done

ensure_cargo_tool cargo-deny cargo-deny "$CARGO_DENY_VERSION"

bundle=${RUSTSEC_BUNDLE:-$REPO_ROOT/../shared/data/rustsec-advisory-db.bundle}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

checks=(advisories bans licenses sources)
deny_flags=(--locked)
if ((online)); then
    # deny.toml's db-path defaults to ~/.cargo/advisory-dbs; cargo-deny fetches into it.
    say "advisories checked against the LIVE RustSec database (fetched now)"
elif [[ -f $bundle ]]; then
    # cargo-deny keeps each database in <db-path>/<name>-<hash of its URL>; this is the
    # directory it expects for deny.toml's db-urls (https://github.com/rustsec/advisory-db).
    db_dir="$tmp/advisory-dbs/advisory-db-3157b0e258782691"
    git clone --quiet "$bundle" "$db_dir" 2>/dev/null || fail "cannot clone the RustSec bundle $bundle"
    snapshot=$(git -C "$db_dir" log -1 --format=%cs)
    export BOUTIQUE_ADVISORY_DB="$tmp/advisory-dbs"
    deny_flags=(--offline --locked)
    say "advisories checked against the offline snapshot of $snapshot ($(basename "$bundle"))"
else
    if [[ ${REQUIRE_ADVISORIES:-0} == 1 ]]; then
        fail "REQUIRE_ADVISORIES=1 but the RustSec bundle is missing: $bundle"
    fi
    printf '\n[deny] !!! ADVISORIES NOT CHECKED: no RustSec bundle at %s and --online not given !!!\n\n' "$bundle" >&2
    checks=(bans licenses sources)
fi

# cargo-deny's --offline also stops cargo from downloading crates; fetch them first when
# the registry is reachable (a no-op when they are cached), so a fresh clone works too.
fetch_crates() {
    cargo fetch --locked --manifest-path "$1" >/dev/null 2>&1 || true
}

if [[ $mode == check ]]; then
    say "checking ${checks[*]} for the workspace against deny.toml"
    fetch_crates "$REPO_ROOT/Cargo.toml"
    cd "$REPO_ROOT"
    if ! cargo deny "${deny_flags[@]}" --color never check "${checks[@]}"; then
        fail "cargo-deny found problems (above); fix them or, with a reason, change deny.toml"
    fi
    pass "cargo-deny: ${checks[*]}"
    exit 0
fi

# Self-test: the fixture plants an advisory-listed crate (smallvec 1.6.0, RUSTSEC-2021-0003),
# a crate under a licence we do not allow (option-ext, MPL-2.0) and a wildcard requirement.
fixture="$GATES_DIR/tests/fixtures/deny-bad"
say "self-test: cargo-deny with deny.toml must reject the planted fixture $fixture"
fetch_crates "$fixture/Cargo.toml"
out="$tmp/self-test.log"
set +e
(cd "$fixture" && cargo deny "${deny_flags[@]}" --color never --config "$REPO_ROOT/deny.toml" \
    check "${checks[@]}") >"$out" 2>&1
rc=$?
set -e
if ((rc == 0)); then
    cat "$out" >&2
    fail "cargo-deny PASSED the planted bad fixture; the gate would not catch anything"
fi
expect() { # expect PATTERN WHAT
    if grep -Eq "$1" "$out"; then
        say "  caught: $2"
    else
        cat "$out" >&2
        fail "cargo-deny did not report $2"
    fi
}
if [[ " ${checks[*]} " == *" advisories "* ]]; then
    expect 'RUSTSEC-2021-0003' "the advisory-listed crate (smallvec 1.6.0, RUSTSEC-2021-0003)"
fi
expect 'option-ext' "the disallowed licence (option-ext 0.2.0, MPL-2.0)"
expect 'MPL-2.0' "the licence name MPL-2.0"
expect 'error\[wildcard\]' "the wildcard version requirement (itoa = \"*\")"
pass "self-test: cargo-deny failed (exit $rc) on every planted case"
