#!/usr/bin/env bash
# Fuzzes the parsers and planners with cargo-fuzz (libFuzzer); see
# docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS | --smoke] [--parallel N] [TARGET...]
#
# SECONDS per target (default 60); --smoke: a few seconds each, for CI.
# Every run first replays the committed crash inputs (fuzz/regressions/),
# then fuzzes from the committed seeds (fuzz/seeds/) and the corpus kept
# outside the clone. Prints per target: executions, libFuzzer's final
# coverage (cov: edges, ft: features), and crashes; exits 1 on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CARGO_FUZZ_VERSION=0.13.2
CACHE=${NIMBUS_FUZZ_CACHE:-$HOME/.cache/nimbus}
TARGET_DIR=$CACHE/fuzz-target
CORPUS_DIR=$CACHE/fuzz-corpus

seconds=60
parallel=1
targets=()
while [ $# -gt 0 ]; do
    case $1 in
        --smoke) seconds=5 ;;
        --parallel) parallel=$2; shift ;;
        [0-9]*) seconds=$1 ;;
        -*) die "unknown option $1" ;;
        *) targets+=("$1") ;;
    esac
    shift
done
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx nimbus-fuzz)
fi

# cargo-fuzz needs unstable compiler flags: the nightly toolchain where the
# machine has one, else the stable one with its unstable features unlocked.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    cargo=(cargo +nightly)
else
    say "no nightly toolchain: building with stable and RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    cargo=(cargo)
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# No sanitizer: the project has no unsafe code, and panics (including
# overflow and debug assertions, which cargo-fuzz turns on) are what the
# targets look for; ASan would halve the executions.
say "building the fuzz targets"
(cd fuzz && "${cargo[@]}" fuzz build --sanitizer none --target-dir "$TARGET_DIR")
binaries=$TARGET_DIR/x86_64-unknown-linux-gnu/release

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run_target() {
    local target=$1 log=$logs/$1 artifacts=$CACHE/fuzz-artifacts/$1/
    local inputs=(fuzz/regressions/"$target"/*)
    mkdir -p "$CORPUS_DIR/$target" "$artifacts" "fuzz/seeds/$target"
    if [ -e "${inputs[0]}" ]; then
        # Each file is run once; a regression that crashes again fails here.
        "$binaries/$target" "${inputs[@]}" >"$log.replay" 2>&1 || return 0
    fi
    "$binaries/$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts" "$CORPUS_DIR/$target" "fuzz/seeds/$target" \
        >"$log" 2>&1 || true
}

say "fuzzing ${#targets[@]} targets for ${seconds}s each, $parallel at a time"
for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
        wait -n || true
    done
    run_target "$target" &
done
wait

failed=0
printf '%-14s %12s %8s %8s %8s\n' target executions cov ft crashes
for target in "${targets[@]}"; do
    log=$logs/$target
    crashes=0
    if [ -e "$log.replay" ] && grep -q 'panicked\|ERROR: libFuzzer' "$log.replay"; then
        crashes=1
        say "$target: a regression input crashes again:"
        grep -m1 -A3 'panicked' "$log.replay" >&2 || true
    elif grep -q '^==[0-9]*== ERROR: libFuzzer\|panicked at' "$log"; then
        crashes=1
        say "$target crashed; the input is in $CACHE/fuzz-artifacts/$target/:"
        grep -m1 -A3 'panicked at' "$log" >&2 || tail -5 "$log" >&2
    fi
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
    printf '%-14s %12s %8s %8s %8s\n' "$target" "${executions:--}" "${cov:--}" "${ft:--}" "$crashes"
    [ "$crashes" -eq 0 ] || failed=1
done
exit "$failed"
