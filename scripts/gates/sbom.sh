#!/usr/bin/env bash
# Gate: a CycloneDX 1.5 SBOM of what goes into the `boutique` binary (runtime dependencies:
# no dev- or build-only crates), made with cargo-cyclonedx from Cargo.lock, then checked:
# well-formed JSON, CycloneDX, the binary as the subject, the crates we know are there
# (tonic, tokio, our own), the build- and test-only ones are not, every crate has a purl
# and a licence.
#
# Usage: scripts/gates/sbom.sh [TARGET]    (default: the host, e.g. x86_64-unknown-linux-gnu)
# Output: artifacts/sbom/boutique-<TARGET>.cdx.json  (release.yml attaches it to the release)
GATE_NAME=sbom
# shellcheck source=scripts/gates/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=${1:-$(rustc -vV | sed -n 's/^host: //p')}
out_dir="$REPO_ROOT/artifacts/sbom"
out="$out_dir/boutique-$target.cdx.json"
manifest_dir="$REPO_ROOT/crates/boutique"

ensure_cargo_tool cargo-cyclonedx cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION"
cd "$REPO_ROOT"

# cargo-cyclonedx reads `cargo metadata`; make sure that reads the committed lockfile as is.
cargo metadata --locked --format-version 1 >/dev/null \
    || fail "Cargo.lock is not up to date with the manifests (cargo metadata --locked)"

# Reproducible timestamp: the last commit's, not the wall clock.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

say "CycloneDX SBOM of the boutique binary for $target (runtime dependencies only)"
mkdir -p "$out_dir"
# It writes next to the crate's manifest; move the file out of the source tree at once.
rm -f "$manifest_dir"/*.cdx.json
cargo cyclonedx --manifest-path "$manifest_dir/Cargo.toml" --format json --describe binaries \
    --no-build-deps --spec-version 1.5 --target "$target" --quiet \
    || fail "cargo cyclonedx failed"
produced=("$manifest_dir"/*.cdx.json)
[[ -f ${produced[0]} ]] || fail "cargo cyclonedx wrote no *.cdx.json in $manifest_dir"
mv "${produced[0]}" "$out"
rm -f "$manifest_dir"/*.cdx.json

python3 - "$out" <<'PY' || fail "the SBOM at $out is not what we expect (above)"
import json, sys

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    bom = json.load(f)  # well-formed JSON, or this raises

problems = []
if bom.get("bomFormat") != "CycloneDX":
    problems.append(f"bomFormat is {bom.get('bomFormat')!r}, not 'CycloneDX'")
if bom.get("specVersion") != "1.5":
    problems.append(f"specVersion is {bom.get('specVersion')!r}, not '1.5'")
subject = bom.get("metadata", {}).get("component", {})
if subject.get("name") != "boutique":
    problems.append(f"the SBOM describes {subject.get('name')!r}, not the boutique binary")

components = bom.get("components", [])
names = {c.get("name") for c in components}
for needed in ("tonic", "tokio", "prost", "rustls", "boutique-platform", "boutique-cart"):
    if needed not in names:
        problems.append(f"runtime crate {needed} missing")
for unwanted in ("proptest", "tempfile", "prost-build", "protox"):
    if unwanted in names:
        problems.append(f"test- or build-only crate {unwanted} listed as a runtime dependency")
for c in components:
    if not c.get("purl", "").startswith("pkg:cargo/"):
        problems.append(f"{c.get('name')}: no cargo purl")
    if not c.get("licenses"):
        problems.append(f"{c.get('name')}: no licence")

if problems:
    print("\n".join(f"  - {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"[sbom]   {len(components)} components, CycloneDX {bom['specVersion']}, "
      f"tonic {next(c['version'] for c in components if c['name'] == 'tonic')}, "
      f"tokio {next(c['version'] for c in components if c['name'] == 'tokio')}")
PY
pass "SBOM written to ${out#"$REPO_ROOT"/}"
