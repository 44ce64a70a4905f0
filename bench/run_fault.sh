#!/usr/bin/env bash
# Fault and eviction paths of libtmc next to their floors (bench/micro/fault_bench.cc), for
# each codec, in one run each, and the report bench/results/fault.md with the ratios the
# goals are stated in:
#   fault p50 / (bare userfaultfd round trip p50 + decompress)   goal <= 1.3, per placement
#   eviction pages per CPU-second / raw compress pages per second  goal >= 0.70
#
#   bench/run_fault.sh [--build-dir DIR] [--out DIR] [--codecs lz4,zstd]
#
# --out defaults to bench/results (fault.md, fault_<codec>.json).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
build="$REPO/build"
out="$REPO/bench/results"
codecs="lz4,zstd"
orig_args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --codecs) codecs="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_fault: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
bin="$build/bench/bench_fault"
lib="$build/libtmc.so"
[ -x "$bin" ] && [ -f "$lib" ] || { echo "run_fault: build first: cmake --build $build --target tmc bench_fault" >&2; exit 1; }
mkdir -p "$out"
IFS=, read -r -a codec_list <<<"$codecs"
for c in "${codec_list[@]}"; do
  echo "== bench_fault, TMC_CODEC=$c" >&2
  env -u LD_PRELOAD TMC_COLD_AGE=1s TMC_CODEC="$c" LD_PRELOAD="$lib" "$bin" \
    --benchmark_out="$out/fault_$c.json" --benchmark_out_format=json >&2
done
python3 "$REPO/scripts/bench_fault_report.py" --command "bench/run_fault.sh ${orig_args[*]}" \
  $(for c in "${codec_list[@]}"; do printf "%s " "$out/fault_$c.json"; done) >"$out/fault.md"
echo "run_fault: wrote $out/fault.md" >&2
cat "$out/fault.md"
