#!/usr/bin/env bash
# GitOps bump: point a kustomize overlay at a released image, by tag and (when given) digest,
# by editing the `newTag:` (and `digest:`) of its ghcr.io/boutique-shop/boutique entry.
# Used by release.yml (staging) and by the production promotion.
#
# Usage: scripts/release/set-image.sh OVERLAY_DIR VERSION [sha256:DIGEST]
#   e.g. scripts/release/set-image.sh deploy/kubernetes/overlays/staging 0.1.1 sha256:ab12...
set -euo pipefail

overlay=${1:?usage: set-image.sh OVERLAY_DIR VERSION [sha256:DIGEST]}
version=${2:?usage: set-image.sh OVERLAY_DIR VERSION [sha256:DIGEST]}
digest=${3:-}
file="$overlay/kustomization.yaml"
die() { printf '[set-image] FAILED: %s\n' "$*" >&2; exit 1; }

[[ -f $file ]] || die "no $file"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "'$version' is not a semantic version"
[[ -z $digest || $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "'$digest' is not sha256:<64 hex>"
grep -q 'name: ghcr.io/boutique-shop/boutique' "$file" || die "$file has no images: entry for ghcr.io/boutique-shop/boutique"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Within the image entry: replace newTag, replace or drop digest, add digest after newTag.
awk -v tag="$version" -v digest="$digest" '
    /name: ghcr.io\/boutique-shop\/boutique/ { in_img = 1; print; next }
    in_img && /^[[:space:]]*newTag:/ {
        indent = $0; sub(/newTag:.*/, "", indent)
        print indent "newTag: \"" tag "\""
        if (digest != "") print indent "digest: " digest
        next
    }
    in_img && /^[[:space:]]*digest:/ { next }
    in_img && (/^[[:space:]]*- / || /^[^[:space:]]/) { in_img = 0 }
    { print }
' "$file" >"$tmp"
grep -q "newTag: \"$version\"" "$tmp" || die "could not set newTag in $file"
cat "$tmp" >"$file"
printf '[set-image] %s: ghcr.io/boutique-shop/boutique -> %s%s\n' "$file" "$version" "${digest:+@$digest}" >&2
