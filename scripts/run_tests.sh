#!/usr/bin/env bash
# Runs every libtmc test on a fresh machine: installs the Debian packages, builds, checks
# that generated docs are current, then runs ctest (unit tests, preload hazard tests,
# real programs under the preload, the benchmark harness smoke run).
#
#   scripts/run_tests.sh [--build-dir DIR] [ctest arguments...]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
if [ "${1:-}" = "--build-dir" ]; then
  build="$2"
  shift 2
fi

"$root/scripts/install_deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"
python3 "$root/scripts/gen_docs.py" --check
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
