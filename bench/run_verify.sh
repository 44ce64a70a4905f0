#!/usr/bin/env bash
# Cost of TMC_VERIFY (a page hash at eviction, checked when the page comes back): the fault
# path (placement 0: service thread on the faulting CPU) and the eviction path of
# bench/micro/fault_bench.cc, with TMC_VERIFY=0 and =1 interleaved, lz4, medians of the
# repetitions. Writes bench/results/verify.md.
#
#   bench/run_verify.sh [--build-dir DIR] [--reps N]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
build="$REPO/build"
reps=3
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --reps) reps="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_verify: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
bin="$build/bench/bench_fault"
lib="$build/libtmc.so"
[ -x "$bin" ] && [ -f "$lib" ] || { echo "run_verify: build first: cmake --build $build --target tmc bench_fault" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$reps"); do
  for v in 0 1; do
    echo "== repetition $r, TMC_VERIFY=$v" >&2
    env -u LD_PRELOAD TMC_COLD_AGE=1s TMC_CODEC=lz4 TMC_VERIFY=$v LD_PRELOAD="$lib" "$bin" \
      --benchmark_filter='^evict|^fault/tmc/placement:0' \
      --benchmark_out="$tmp/v${v}_r${r}.json" --benchmark_out_format=json >/dev/null 2>&1
  done
done
python3 - "$tmp" "$reps" "bench/run_verify.sh $*" >"$REPO/bench/results/verify.md" <<'PY'
import json, statistics, sys, glob, os
tmp, reps, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def runs(v, name, field):
    out = []
    for f in sorted(glob.glob(os.path.join(tmp, f"v{v}_r*.json"))):
        for b in json.load(open(f))["benchmarks"]:
            if b.get("run_type") == "iteration" and b["name"].startswith(name) and field in b:
                out.append(float(b[field]))
    return out
rows = [("fault p50 (ns), lz4, same CPU", "fault/tmc/placement:0", "p50_ns"),
        ("eviction CPU per page (ns), lz4", "evict", "cpu_ns_per_page")]
print("# TMC_VERIFY: cost on the fault and eviction paths\n")
print(f"`{cmd}` ({reps} interleaved repetitions of each; medians of every repetition's samples).\n")
print("| path | TMC_VERIFY=0 | TMC_VERIFY=1 | ratio |")
print("| --- | ---: | ---: | ---: |")
for label, name, field in rows:
    a, b = runs(0, name, field), runs(1, name, field)
    if not a or not b:
        print(f"| {label} | n/a | n/a | n/a |"); continue
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {label} | {ma:.0f} | {mb:.0f} | {mb/ma:.3f} |")
PY
cat "$REPO/bench/results/verify.md"
