#!/usr/bin/env bash
# Gate: secret scan with detect-secrets (Yelp, pinned in requirements.txt), fully offline.
#
# Usage: scripts/gates/secrets.sh [--self-test | --update-baseline | --staged | FILE...]
#   (no argument)      scan every file git knows (tracked, plus untracked files that are
#                      not ignored), less the excluded paths below
#   FILE...            scan just these files (the pre-commit hook passes the staged ones)
#   --staged           scan the files staged in the git index
#   --self-test        the planted fixture (tests/fixtures/secrets/) MUST be flagged
#   --update-baseline  rescan and rewrite the baseline; then audit what it added with
#                      `detect-secrets audit scripts/gates/secrets-baseline.json` and commit it
#
# Known false positives live in scripts/gates/secrets-baseline.json (by file and hash of
# the string, so moving a line does not matter). Or mark one line in place with a
# `pragma: allowlist secret` comment.
GATE_NAME=secrets
# shellcheck source=scripts/gates/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

baseline="scripts/gates/secrets-baseline.json"
# Never scanned by the real run: the planted fixtures (only --self-test scans them), and
# lockfiles, which are nothing but registry checksums.
exclude_re='^scripts/gates/tests/fixtures/|(^|/)Cargo\.lock$|^scripts/gates/secrets-baseline\.json$'

ensure_python_tools
cd "$REPO_ROOT"

candidate_files() { # the files git knows, less the exclusions, that exist now
    git ls-files --cached --others --exclude-standard | grep -Ev "$exclude_re" \
        | while IFS= read -r f; do [[ -f $f ]] && printf '%s\n' "$f"; done
}

scan() { # scan FILE...: detect-secrets-hook with our baseline; fails on anything new
    (($# > 0)) || { say "no files to scan"; return 0; }
    # The hook rewrites the baseline when known entries merely moved (and exits 3): give it
    # a scratch copy, so the gate never edits the tree and a moved line is not a failure.
    local scratch rc=0
    scratch=$(mktemp)
    cp "$baseline" "$scratch"
    # Called directly, not through xargs: xargs would turn the hook's exit code 3
    # ("only line numbers of known entries moved") into 123, a failure.
    detect-secrets-hook --baseline "$scratch" "$@" || rc=$?
    rm -f "$scratch"
    case $rc in
        0 | 3) return 0 ;; # 3: no new secret, only line numbers of known ones changed
        *) return 1 ;;
    esac
}

case ${1:-} in
    --self-test)
        tmp=$(mktemp -d)
        trap 'rm -rf "$tmp"' EXIT
        cp "$GATES_DIR/tests/fixtures/secrets/planted.env" "$tmp/planted.env"
        say "self-test: the scanner, with our baseline and settings, must flag the planted fixture"
        set +e
        detect-secrets-hook --baseline "$baseline" "$tmp/planted.env" >"$tmp/out" 2>&1
        rc=$?
        set -e
        if ((rc == 0)); then
            cat "$tmp/out" >&2
            fail "detect-secrets found nothing in the planted fixture"
        fi
        for kind in "AWS Access Key" "Private Key" "Secret Keyword"; do
            grep -q "Secret Type: $kind" "$tmp/out" || { cat "$tmp/out" >&2; fail "planted '$kind' not detected"; }
            say "  caught: $kind"
        done
        # ... and the real scan must not see the fixture.
        if candidate_files | grep -q '^scripts/gates/tests/fixtures/'; then
            fail "the fixtures are not excluded from the real scan"
        fi
        say "  the fixtures are excluded from the real scan"
        pass "self-test: planted secrets detected (exit $rc)"
        ;;
    --update-baseline)
        mapfile -t files < <(candidate_files)
        say "rescanning ${#files[@]} files into $baseline"
        if [[ -f $baseline ]]; then # keeps the audit marks of entries already there
            detect-secrets scan --baseline "$baseline" --exclude-files "$exclude_re" "${files[@]}"
        else
            detect-secrets scan --exclude-files "$exclude_re" "${files[@]}" >"$baseline"
        fi
        say "now audit the new entries: detect-secrets audit $baseline"
        ;;
    --staged)
        mapfile -t files < <(git diff --cached --name-only --diff-filter=ACMR | grep -Ev "$exclude_re" || true)
        say "scanning ${#files[@]} staged files for secrets (baseline: $baseline)"
        scan "${files[@]}" || fail "possible secrets in staged files (above): remove them, or if they are false positives add a 'pragma: allowlist secret' comment or run secrets.sh --update-baseline and audit"
        pass "no new secrets in staged files"
        ;;
    "")
        mapfile -t files < <(candidate_files)
        say "scanning ${#files[@]} git-known files for secrets (detect-secrets $(detect-secrets --version); baseline: $baseline)"
        scan "${files[@]}" || fail "possible secrets (above): remove them, or if they are false positives add a 'pragma: allowlist secret' comment or run secrets.sh --update-baseline and audit"
        pass "no secrets beyond the audited baseline"
        ;;
    -*) fail "unknown option: $1" ;;
    *)
        say "scanning $# files for secrets (baseline: $baseline)"
        scan "$@" || fail "possible secrets in the files above"
        pass "no new secrets in $# files"
        ;;
esac
