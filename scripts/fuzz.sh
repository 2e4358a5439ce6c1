#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz) and runs each for a bounded time,
# starting from its committed seeds (fuzz/corpus/<target>). Fails if any target
# crashes (a panic, a failed property, a timeout or running out of memory); the
# input that did it is kept in artifacts/fuzz/<target>/, with the reproduce
# command in the log.
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS (60) each
#   scripts/fuzz.sh money api_json  only these
#
# FUZZ_SECONDS   seconds per target (default 60)
# FUZZ_SANITIZER none (default) or address. The shop forbids unsafe code, so
#                coverage-guided fuzzing without a sanitizer finds what matters
#                here (panics, overflows: debug assertions and overflow checks
#                are on) at about twice the speed. cargo-fuzz asks rustc for a
#                sanitizer with -Zsanitizer, which a stable rustc takes only
#                with RUSTC_BOOTSTRAP=1: this script sets it in that case only.
# CARGO_TARGET_DIR  where to build (default fuzz/target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked --version 0.13.2`) and a
# C++ compiler (libFuzzer is built from source). Works on the stable toolchain
# of rust-toolchain.toml: no nightly needed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-none}
out=artifacts/fuzz
mkdir -p "$out"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked --version 0.13.2" >&2
  exit 1
fi
if [ "$sanitizer" != none ]; then
  export RUSTC_BOOTSTRAP=1
fi
# Compiler warnings in the targets and the shop's crates are errors here too
# (registry crates are capped, as always). Clippy on the targets:
# cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-Dwarnings"

cd fuzz
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

started=$SECONDS
cargo fuzz build --sanitizer "$sanitizer"
build_seconds=$((SECONDS - started))
echo "fuzz: built ${#targets[@]} targets in ${build_seconds} s"

failed=()
summary=()
for target in "${targets[@]}"; do
  work="../$out/corpus/$target"
  crashes="../$out/$target/"
  mkdir -p "$work" "$crashes"
  log="../$out/$target.log"
  begun=$SECONDS
  # The first corpus directory gets what the run finds; the committed seeds
  # are only read.
  if cargo fuzz run --sanitizer "$sanitizer" "$target" "$work" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes" >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$target")
  fi
  runs=$(grep -Eo '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
  summary+=("$(printf '%-20s %-5s %4d s  %10s runs' "$target" "$status" "$((SECONDS - begun))" "$runs")")
  if [ "$status" = CRASH ]; then
    echo "fuzz: $target crashed; its log:" >&2
    grep -Ev '^#[0-9]+' "$log" | tail -n 60 >&2
  fi
done

echo "fuzz: build ${build_seconds} s, then ${seconds} s per target (sanitizer: $sanitizer)"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]}; inputs in $out/<target>/, logs in $out/<target>.log" >&2
  echo "fuzz: reproduce with: cd fuzz && cargo fuzz run --sanitizer $sanitizer <target> ../$out/<target>/<crash file>" >&2
fi
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
