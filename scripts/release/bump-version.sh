#!/usr/bin/env bash
# Semantic-version bump of the workspace version ([workspace.package] version in Cargo.toml),
# the one version every crate and the image share. Also updates Cargo.lock's entries for our
# crates (cargo, offline) and opens the next "Unreleased" section in CHANGELOG.md.
#
# Usage: scripts/release/bump-version.sh [patch|minor|major] [REPO_DIR]   (default: patch .)
# Prints the new version on stdout (everything else goes to stderr), so CI can do:
#   next=$(scripts/release/bump-version.sh patch)
set -euo pipefail

part=${1:-patch}
repo=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
manifest="$repo/Cargo.toml"
log() { printf '[bump-version] %s\n' "$*" >&2; }
die() { printf '[bump-version] FAILED: %s\n' "$*" >&2; exit 1; }

[[ -f $manifest ]] || die "no Cargo.toml in $repo"

# The version line inside [workspace.package], and only that one.
current=$(awk '
    /^\[/ { in_pkg = ($0 == "[workspace.package]") }
    in_pkg && /^version[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); print; exit }
' "$manifest")
[[ -n $current ]] || die "no version in [workspace.package] of $manifest"
[[ $current =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] \
    || die "version '$current' is not MAJOR.MINOR.PATCH (pre-release versions are bumped by hand)"
major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} patch=${BASH_REMATCH[3]}
case $part in
    patch) patch=$((patch + 1)) ;;
    minor) minor=$((minor + 1)) patch=0 ;;
    major) major=$((major + 1)) minor=0 patch=0 ;;
    *) die "unknown part '$part' (patch, minor or major)" ;;
esac
next="$major.$minor.$patch"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk -v next_version="$next" '
    /^\[/ { in_pkg = ($0 == "[workspace.package]") }
    in_pkg && !done && /^version[[:space:]]*=/ { sub(/"[^"]*"/, "\"" next_version "\""); done = 1 }
    { print }
' "$manifest" >"$tmp"
cat "$tmp" >"$manifest"
log "Cargo.toml: $current -> $next"

# Our crates' entries in Cargo.lock follow; nothing else may change (offline, no upgrades).
if [[ -f $repo/Cargo.lock ]]; then
    (cd "$repo" && cargo update --workspace --offline --quiet) \
        || die "cargo update --workspace --offline failed; Cargo.lock not updated"
    log "Cargo.lock: workspace crates now at $next"
fi

# CHANGELOG.md: the released notes move under their version, a fresh Unreleased opens.
changelog="$repo/CHANGELOG.md"
if [[ -f $changelog ]] && grep -q '^## \[Unreleased\]' "$changelog" \
    && ! grep -q "^## \[$current\]" "$changelog"; then
    today=$(date -u +%Y-%m-%d)
    awk -v v="$current" -v d="$today" '
        !done && /^## \[Unreleased\]/ { print; print ""; print "## [" v "] - " d; done = 1; next }
        { print }
    ' "$changelog" >"$tmp"
    cat "$tmp" >"$changelog"
    log "CHANGELOG.md: Unreleased notes filed under [$current] - $today"
fi

printf '%s\n' "$next"
