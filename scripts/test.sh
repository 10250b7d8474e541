#!/usr/bin/env bash
# Builds and runs every test: the debug build (and its Debian package), then the ASan+UBSan build.
# Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
for preset in debug asan; do
  echo "=== $preset build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset tests"
  ctest --preset "$preset" -j "$jobs"
  if [ "$preset" = debug ]; then
    echo "=== package"
    scripts/check-package.sh build/debug
    # The package under a booted systemd (Debian 12 in systemd-nspawn); says SKIPPED and why when
    # this machine cannot (not root, no nspawn, no boot).
    echo "=== systemd"
    scripts/test-systemd.sh build/debug
    # Every fuzz target for a bounded time under clang + libFuzzer (PHOENIX_FUZZ_SECONDS=0 skips this).
    # It runs before the ASan suite so that ctest's summary is the last thing CI prints.
    fuzz_seconds=${PHOENIX_FUZZ_SECONDS:-30}
    if [ "$fuzz_seconds" -gt 0 ]; then
      echo "=== fuzz"
      scripts/fuzz.sh "$fuzz_seconds"
    fi
  fi
done
