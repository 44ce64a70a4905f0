#!/usr/bin/env bash
# How much a compression dictionary gains on a real server heap: loads the generated records
# into a plain Debian redis-server, copies its heap pages (every non-zero page of its large
# anonymous mappings, from /proc/PID/mem) into a file, and runs build/bench/bench_dict_ratio
# on them (libtmc's own codec and dictionary code), with the dictionary filled the way the
# reclaimer fills it and, for comparison, from the middle of the heap; then
# build/bench/bench_deep_ratio (straight libzstd) on the same pages: higher zstd levels and
# larger dictionaries, what recompressing long-idle pages could gain.
#
# usage: bench/dictionary_ratio.sh [--keys 250000] [--seed 1] [--build-dir build] [--out bench/results]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/dictionary_ratio.sh${*:+ $*}"
keys=250000
seed=1
build_dir="$REPO/build"
out="$REPO/bench/results"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) keys="${2:?--keys needs a value}"; shift 2 ;;
    --seed) seed="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "dictionary_ratio: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
[[ "$keys" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive integer"
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
tool="$build_dir/bench/bench_dict_ratio"
deep_tool="$build_dir/bench/bench_deep_ratio"
[[ -x "$tool" ]] || die "$tool is not built (cmake --build $build_dir --target bench_dict_ratio)"
[[ -x "$deep_tool" ]] || die "$deep_tool is not built (cmake --build $build_dir --target bench_deep_ratio)"
need_bin redis-server redis-cli
mkdir -p "$out"

step "dataset: $keys keys (seed $seed) into a plain redis-server"
"$PY" "$RECORDS" resp --keys "$keys" --seed "$seed" >"$WORK/data.resp"
port="$(free_port)"
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "" >"$WORK/redis.log" 2>&1 &
pid=$!
on_exit "stop_pid $pid 30"
wait_port "$port" 30 || die "redis-server did not start"
redis-cli -p "$port" --pipe <"$WORK/data.resp" | tail -1
redis_version="$(redis-server --version | head -1)"

step "heap pages of redis-server $pid"
"$PY" - "$pid" "$WORK/heap.pages" <<'PY'
import sys
pid, path = sys.argv[1], sys.argv[2]
n = 0
with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem, open(path, "wb") as out:
    for line in open(f"/proc/{pid}/maps"):
        f = line.split()
        # Writable private anonymous mappings of 1 MiB or more (jemalloc's extents), and [heap].
        if not f[1].startswith("rw") or (len(f) > 5 and f[5] != "[heap]"):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if hi - lo < 1 << 20:
            continue
        for a in range(lo, hi, 4096):
            try:
                mem.seek(a)
                p = mem.read(4096)
            except OSError:
                continue
            if len(p) == 4096 and p.count(0) != 4096:
                out.write(p)
                n += 1
print(f"{n} non-zero pages ({n * 4096 / 1048576:.1f} MiB)")
PY

step "ratios"
"$tool" "$WORK/heap.pages" >"$WORK/start.md"
"$tool" "$WORK/heap.pages" --from-middle --stride 1 >"$WORK/middle.md"
"$deep_tool" "$WORK/heap.pages" --step 16 --levels 1,3,6,9 --dicts 128,512,2048 >"$WORK/deep.md"
{
  echo "# Compression dictionary: per-page ratio on a Redis heap"
  echo
  echo "Produced by:"
  echo
  echo '```'
  echo "$ORIG_CMD"
  echo '```'
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(machine_desc)"
  echo "- Server: $redis_version, plain (not under libtmc), $keys keys of \`bench/datasets/records.py\` (seed $seed)"
  echo "- Pages: every non-zero page of its heap mappings; same-filled pages are left out of the ratios"
  echo "- Code: libtmc's PageCodec and Dictionary (\`bench/micro/dict_ratio.cc\`); times are one thread, on whatever else ran on the machine"
  echo
  echo "## Dictionary filled as the reclaimer fills it (one compressible page in 16, from the first pages)"
  echo
  cat "$WORK/start.md"
  echo
  echo "## Dictionary from 32 consecutive pages in the middle of the heap"
  echo
  cat "$WORK/middle.md"
  echo
  echo "## Deeper: higher zstd levels and larger dictionaries (bench/micro/deep_ratio.cc)"
  echo
  echo "Raw-content dictionaries of pages taken evenly over the heap (no training); every 16th page"
  echo "compressed alone, dictionary pages left out; straight libzstd, one thread. What recompressing"
  echo "long-idle blobs could gain, and what each page would cost."
  echo
  cat "$WORK/deep.md"
} >"$out/dictionary.md"
log "wrote $out/dictionary.md"
cat "$out/dictionary.md"
