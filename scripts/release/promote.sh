#!/usr/bin/env bash
# Promote a released image to an overlay through a GitOps pull request: resolve the tag to
# its digest, verify the keyless cosign signature made by release.yml for that tag, pin the
# overlay to tag + digest (set-image.sh), push a branch and open the pull request.
#
# Usage: scripts/release/promote.sh OVERLAY       (OVERLAY: staging or production)
# Environment: VERSION (X.Y.Z), REPO (owner/name), GH_TOKEN (contents+pull-requests write),
#              IMAGE (default ghcr.io/<owner>/boutique); needs docker buildx, cosign, gh, git.
set -euo pipefail

overlay=${1:?usage: promote.sh staging|production}
: "${VERSION:?VERSION=X.Y.Z}" "${REPO:?REPO=owner/name}" "${GH_TOKEN:?GH_TOKEN}"
image=${IMAGE:-ghcr.io/${REPO%%/*}/boutique}
dir="deploy/kubernetes/overlays/$overlay"
log() { printf '[promote] %s\n' "$*"; }

[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "FAILED: '$VERSION' is not X.Y.Z"; exit 1; }
[[ -d $dir ]] || { log "FAILED: no overlay $dir"; exit 1; }

digest=$(docker buildx imagetools inspect "$image:$VERSION" --format '{{json .Manifest}}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
log "$image:$VERSION is $digest"

# Only an image signed by our release workflow, for this very tag, may be promoted.
cosign verify "$image@$digest" \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com \
    --certificate-identity "https://github.com/$REPO/.github/workflows/release.yml@refs/tags/v$VERSION" \
    >/dev/null
log "cosign signature verified (release.yml@refs/tags/v$VERSION)"

git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
branch="gitops/$overlay-$VERSION"
git switch -c "$branch"
"$(dirname "${BASH_SOURCE[0]}")/set-image.sh" "$dir" "$VERSION" "$digest"
git commit -am "$overlay: boutique $VERSION"
git push "https://x-access-token:${GH_TOKEN}@github.com/${REPO}.git" "HEAD:refs/heads/$branch"
gh pr create --base main --head "$branch" --title "$overlay: boutique $VERSION" \
    --body "Promotes \`$image:$VERSION@$digest\` (cosign-verified) to $overlay. Approved in the \`$overlay\` environment; merging lets Argo CD sync it, and deploy.yml rolls it out progressively."
log "pull request opened for $overlay"
