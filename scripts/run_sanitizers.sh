#!/usr/bin/env bash
# The tests under AddressSanitizer and UndefinedBehaviorSanitizer (docs/sanitizers.md):
# builds a second tree with -DTMC_SANITIZER=address,undefined (libtmc.so itself plain) and
# runs the tests labelled "sanitize": the unit tests with ASan+UBSan+LSan, the preload
# tests, the runtime tests, the benchmark smoke run and tmcctl's test with UBSan programs
# under the preload, tmc_loadgen with ASan+UBSan against Redis and memcached, plain and
# under libtmc. Fails when a test fails or when any process wrote a sanitizer report, even
# one whose failure a test expected.
#
#   scripts/run_sanitizers.sh [--build-dir DIR] [--sanitizers LIST] [ctest arguments...]
#     --build-dir DIR     the sanitized tree (default build-sanitize)
#     --sanitizers LIST   TMC_SANITIZER (default address,undefined)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-sanitize"
sanitizers=address,undefined
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="${2:?--build-dir needs a value}"; shift 2 ;;
    --sanitizers) sanitizers="${2:?--sanitizers needs a value}"; shift 2 ;;
    *) break ;;
  esac
done

"$root/scripts/install_deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTMC_SANITIZER="$sanitizers"
cmake --build "$build" -j"$(nproc)"

# Every report goes to a file of its own (log_path.PID), wherever the process ran: a report
# from a program whose exit status a test expected to be non-zero, or whose output a script
# kept to itself, is still seen here.
reports="$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1"

rc=0
(cd "$build" && ctest -L sanitize --output-on-failure -j"$(nproc)" "$@") || rc=$?

shopt -s nullglob
found=("$reports"/*)
if [[ ${#found[@]} -gt 0 ]]; then
  for f in "${found[@]}"; do
    printf '\n==== %s\n' "$f"
    cat "$f"
  done
  echo "run_sanitizers: ${#found[@]} sanitizer report(s), above" >&2
  rc=1
fi
[[ $rc -eq 0 ]] && echo "run_sanitizers: no sanitizer report"
exit "$rc"
