#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (preset "fuzz") and runs each for a bounded time.
# Usage: scripts/fuzz.sh [seconds per target, default 30] [target ...]
# New corpus entries go to a temporary directory (the committed seed corpus is only read); a crash
# leaves its input there and fails the script: copy it to tests/fuzz/regressions/<target>/ with the fix.
# The mutation seed is fixed (PHOENIX_FUZZ_SEED, default 1) so a CI run repeats what a developer ran
# before pushing: the same seed for longer covers the same inputs and more. Pick other seeds to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
seed=${PHOENIX_FUZZ_SEED:-1}
shift || true
targets=("$@")
# Default: every target, one per tests/fuzz/fuzz_<target>.cpp.
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls tests/fuzz/fuzz_*.cpp | sed 's|.*/fuzz_||; s|\.cpp$||')
scripts/deps.sh clang libclang-rt-dev
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" >/dev/null
work=$(mktemp -d /tmp/phoenix-fuzz-XXXXXX)
status=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  echo "=== fuzz $t for ${seconds}s, seed $seed"
  if ! build/fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -seed="$seed" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$work/$t/" "$work/$t" "tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
    echo "fuzz $t: FAILED (input and log in $work)"
    tail -40 "$work/$t.log"
    status=1
    continue
  fi
  grep -E "^#[0-9]+[[:space:]]+DONE" "$work/$t.log" | tail -1 || true
done
[ $status -ne 0 ] || rm -rf "$work"
exit $status
