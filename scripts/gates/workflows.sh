#!/usr/bin/env bash
# Gate: the GitHub Actions workflows are safe and pinned.
#   1. zizmor --offline (pinned in requirements.txt): template injection, credential
#      persistence, excessive permissions, dangerous triggers, unpinned actions, ...
#   2. every `uses:` names a full 40-hex commit SHA (tags and branches move; a SHA does not),
#      followed by a `# vX.Y.Z` comment saying which release that commit is.
#      Local actions (`./...`) and `docker://...@sha256:` images are allowed.
#
# Usage: scripts/gates/workflows.sh [--self-test] [DIR]   (default DIR: .github/workflows)
#   --self-test  the pin check must reject tests/fixtures/workflows/unpinned.yml, and zizmor
#                must flag it too
GATE_NAME=workflows
# shellcheck source=scripts/gates/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

self_test=0
dir=""
for arg in "$@"; do
    case $arg in
        --self-test) self_test=1 ;;
        -*) fail "unknown option: $arg" ;;
        *) dir=$arg ;;
    esac
done

ensure_python_tools
cd "$REPO_ROOT"

# check_pins FILE...: prints each `uses:` that is not pinned by SHA; returns 1 if any.
check_pins() {
    local file bad=0 n=0 line ref rest
    local sha_re='^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$'
    for file in "$@"; do
        while IFS= read -r line; do
            n=$((n + 1))
            # `  - uses: owner/repo@ref # v1.2.3` -> ref part and the rest
            rest=${line#*uses:}
            rest=${rest#"${rest%%[![:space:]]*}"}
            ref=${rest%%[[:space:]]*}
            ref=${ref//\"/}
            ref=${ref//\'/}
            case $ref in
                ./*) continue ;;                                   # local action
                docker://*@sha256:*) continue ;;                   # image by digest
            esac
            if [[ ! $ref =~ $sha_re ]]; then
                printf '  %s: not pinned to a commit SHA: %s\n' "$file" "$ref" >&2
                bad=1
            elif [[ ! $rest =~ \#[[:space:]]*v?[0-9]+(\.[0-9]+)*([.-][A-Za-z0-9.]+)?([[:space:]]|$) ]]; then
                printf '  %s: %s has no "# vX.Y.Z" comment naming the release\n' "$file" "$ref" >&2
                bad=1
            fi
        done < <(grep -E '^[[:space:]]*(-[[:space:]]+)?uses:' "$file")
    done
    say "  checked $n uses: lines in $# files"
    return "$bad"
}

if ((self_test)); then
    fixture="$GATES_DIR/tests/fixtures/workflows/unpinned.yml"
    say "self-test: the pin check and zizmor must both reject $fixture"
    if check_pins "$fixture" 2>/dev/null; then
        fail "the pin check accepted a workflow using @v4"
    fi
    say "  caught by the pin check: $(check_pins "$fixture" 2>&1 >/dev/null | head -n1 | sed 's/^ *//')"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    set +e
    zizmor --offline --no-progress "$fixture" >"$tmp/zizmor.log" 2>&1
    rc=$?
    set -e
    if ((rc == 0)) || ! grep -q 'unpinned-uses' "$tmp/zizmor.log"; then
        cat "$tmp/zizmor.log" >&2
        fail "zizmor did not flag the unpinned action (exit $rc)"
    fi
    say "  caught by zizmor: unpinned-uses (exit $rc)"
    pass "self-test: an unpinned action fails the gate"
    exit 0
fi

dir=${dir:-.github/workflows}
mapfile -t files < <(find "$dir" -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
((${#files[@]} > 0)) || fail "no workflow files in $dir"
say "zizmor $(zizmor --version | awk '{print $2}') --offline on ${#files[@]} workflows in $dir"
zizmor --offline --no-progress "${files[@]}" || fail "zizmor found problems (above)"
say "every uses: pinned to a 40-hex commit SHA with a # vX.Y.Z comment"
check_pins "${files[@]}" || fail "unpinned actions (above): pin each to the commit of a release, e.g. actions/checkout@<40-hex sha> # v5.0.0"
pass "workflows: zizmor clean and every action pinned"
