#!/usr/bin/env bash
# Redis under a skewed load with an RSS target: how well libtmc holds TMC_TARGET, and what
# it costs in throughput and tail latency against the plain server, in the same script.
#
# For each repetition (interleaved): a plain redis-server, then one under libtmc with
# TMC_TARGET set to --target-share (default 50%) of the plain run's RSS after the load. Each
# loads the same dataset (build/bench/tmc_loadgen --load), libtmc's waits until its RSS is
# within 5% of the target (at most --settle-timeout), then both run each load for
# --duration: Zipf(0.99) and a hot set (10% of keys take 90% of requests), 90% reads, every
# value read checked. RSS is sampled every second during the runs.
#
# usage: bench/redis_target.sh [--keys 600000] [--duration 60s] [--reps 2]
#                              [--target-share 50] [--settle-timeout 180]
#                              [--env TMC_VAR=VALUE]... [--name redis_target]
#                              [--build-dir build] [--out bench/results]
#   --env     more libtmc options for its runs (repeatable), e.g. TMC_CODEC=zstd
#   --name    the report's file name in --out, without .md
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/redis_target.sh${*:+ $*}"
keys=600000
duration=60s
reps=2
share=50
settle_timeout=180
build_dir="$REPO/build"
out="$REPO/bench/results"
name=redis_target
extra_env=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keys) keys="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --reps) reps="${2:?}"; shift 2 ;;
    --target-share) share="${2:?}"; shift 2 ;;
    --settle-timeout) settle_timeout="${2:?}"; shift 2 ;;
    --env) [[ "${2:-}" == TMC_*=* ]] || { echo "redis_target: --env needs TMC_VAR=VALUE" >&2; exit 2; }
      extra_env+=("$2"); shift 2 ;;
    --name) name="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "redis_target: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
[[ "$keys" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive integer"
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer"
[[ "$share" =~ ^[1-9][0-9]?$ ]] || die "--target-share needs a percentage 1..99"
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
LOADGEN="$build_dir/bench/tmc_loadgen"
[[ -x "$LOADGEN" ]] || die "$LOADGEN is not built (cmake --build $build_dir --target tmc_loadgen)"
need_bin redis-server redis-cli
mkdir -p "$out"
out="$(cd "$out" && pwd)"
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
LOADS=("zipf:0.99" "hotset:10:90")

SRV_PID=""
SRV_PORT=""
start_redis() {
  local logf="$1"
  shift
  start_on_free_port "$logf" "$@" redis-server --port @PORT@ --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --logfile "" || die "redis-server did not start (log: $logf)"
  SRV_PORT=$STARTED_PORT
  SRV_PID=$STARTED_PID
}
stop_redis() {
  redis-cli -h 127.0.0.1 -p "$SRV_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$SRV_PID" 30 || true
}
loadgen() { "$LOADGEN" --server redis --port "$SRV_PORT" --keys "$keys" --seed 1 --quiet "$@"; }

# run_loads NAME: the timed loads against the running server, one JSON and one RSS sample
# file per load; a rows line per load into $WORK/rows.
run_loads() {
  local name="$1" dist tag
  for dist in "${LOADS[@]}"; do
    tag="${dist%%:*}"
    : >"$WORK/$name-$tag.rss"
    (while kill -0 "$SRV_PID" 2>/dev/null; do rss_bytes "$SRV_PID" >>"$WORK/$name-$tag.rss"; sleep 1; done) &
    local sampler=$!
    loadgen --dist "$dist" --reads 0.9 --duration "$duration" --warmup 5s --verify \
      --state "$WORK/$name.state" --json "$WORK/$name-$tag.json" ||
      die "$name: tmc_loadgen $dist failed (mismatches or server errors)"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    echo "$name $tag $WORK/$name-$tag.json $WORK/$name-$tag.rss" >>"$WORK/rows"
  done
}

: >"$WORK/rows"
: >"$WORK/settle"
for rep in $(seq 1 "$reps"); do
  step "rep $rep: plain redis-server"
  start_redis "$WORK/plain-$rep.log" env -u LD_PRELOAD
  loadgen --load --state "$WORK/plain-$rep.state"
  plain_rss=$(rss_bytes "$SRV_PID")
  log "  loaded $keys keys: RSS $(mib "$plain_rss") MiB"
  run_loads "plain-$rep"
  stop_redis
  target=$((plain_rss / 100 * share))

  step "rep $rep: redis-server under libtmc, TMC_TARGET=$target ($share% of $(mib "$plain_rss") MiB)"
  start_redis "$WORK/tmc-$rep.log" env LD_PRELOAD="$build_dir/libtmc.so" TMC_TARGET="$target" "${extra_env[@]}"
  loadgen --load --state "$WORK/tmc-$rep.state"
  t0=$(date +%s)
  while :; do
    rss=$(rss_bytes "$SRV_PID")
    ((rss <= target + target / 20)) && break
    (($(date +%s) - t0 >= settle_timeout)) && break
    sleep 1
  done
  settle=$(($(date +%s) - t0))
  tmc_stats "$SRV_PID" "$WORK/tmc-$rep.settled.json"
  log "  RSS $(mib "$rss") MiB after ${settle}s (target $(mib "$target") MiB)"
  echo "$rep $plain_rss $target $rss $settle" >>"$WORK/settle"
  run_loads "tmc-$rep"
  tmc_stats "$SRV_PID" "$WORK/tmc-$rep.end.json"
  loadgen --check-all --state "$WORK/tmc-$rep.state" || die "libtmc run $rep: --check-all found mismatches"
  stop_redis
done

step "report"
"$PY" - "$WORK" "$out/$name.md" "$ORIG_CMD" "$STARTED_DATE" "$(machine_desc)" \
  "$(git_desc "$REPO")" "$share" "$duration" "$keys" "${extra_env[*]:-none}" <<'PY'
import json, statistics, sys
work, out, cmd, date, machine, git, share, duration, keys, extra = sys.argv[1:]
rows = [l.split() for l in open(f"{work}/rows")]
settle = {l.split()[0]: l.split()[1:] for l in open(f"{work}/settle")}

res = {}
for name, tag, jf, rf in rows:
    kind, rep = name.split("-")
    j = json.load(open(jf))
    run = j["phases"]["run"]
    rss = [int(x) for x in open(rf) if x.strip()]
    res.setdefault((kind, tag), []).append({
        "ops": run["ops_per_s"], "p50": run["latency_us"]["p50"], "p99": run["latency_us"]["p99"],
        "p999": run["latency_us"]["p999"], "mism": run.get("mismatches", 0),
        "rss_med": statistics.median(rss) if rss else 0, "rss_max": max(rss) if rss else 0, "rep": rep})

def med(xs):
    return statistics.median(xs)

L = []
L.append("# Redis under a skewed load with an RSS target")
L.append("")
L.append("Produced by:")
L.append("")
L.append("```")
L.append(cmd)
L.append("```")
L.append("")
L.append(f"- Date: {date}; machine: {machine}; libtmc: {git}")
L.append(f"- {keys} keys from `tmc_loadgen --load` (strings, hashes, lists; 100 B - 4 KiB realistic values), "
         f"each timed load {duration} (first 5 s left out), 90% reads, every value read checked against what was written")
L.append(f"- libtmc: `TMC_TARGET` = {share}% of the plain run's RSS after the load of the same repetition; other options given: {extra}; the rest at their defaults (`TMC_COLD_AGE=2m`)")
L.append("")
L.append("## Target")
L.append("")
L.append("| rep | plain RSS after load | target | libtmc RSS before the loads | reached after |")
L.append("| --- | --- | --- | --- | --- |")
for rep, (plain, target, rss, secs) in sorted(settle.items()):
    L.append(f"| {rep} | {int(plain)/2**20:.1f} MiB | {int(target)/2**20:.1f} MiB | {int(rss)/2**20:.1f} MiB | {secs} s |")
L.append("")
L.append("## Loads (medians over repetitions)")
L.append("")
L.append("| load | run | ops/s | p50 | p99 | p99.9 | RSS during the run (median / max) | RSS vs target | ops/s vs plain | p99 vs plain | mismatches |")
L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
targets = [int(v[1]) for v in settle.values()]
tgt = med(targets)
for tag in ("zipf", "hotset"):
    p = res.get(("plain", tag), [])
    t = res.get(("tmc", tag), [])
    for kind, rs in (("plain", p), ("libtmc", t)):
        if not rs:
            continue
        ops, p50, p99, p999 = (med([r[k] for r in rs]) for k in ("ops", "p50", "p99", "p999"))
        rmed, rmax = med([r["rss_med"] for r in rs]), med([r["rss_max"] for r in rs])
        vs_t = f"{rmax / tgt * 100:.0f}% (max)" if kind == "libtmc" else "—"
        vs_ops = f"{ops / med([r['ops'] for r in p]):.2f}" if kind == "libtmc" and p else "—"
        vs_p99 = f"{p99 / med([r['p99'] for r in p]):.2f}" if kind == "libtmc" and p else "—"
        mism = sum(r["mism"] for r in rs)
        name = {"zipf": "Zipf 0.99", "hotset": "hot set 10% / 90%"}[tag]
        L.append(f"| {name} | {kind} | {ops:,.0f} | {p50:.0f} µs | {p99:.0f} µs | {p999:.0f} µs | "
                 f"{rmed/2**20:.0f} / {rmax/2**20:.0f} MiB | {vs_t} | {vs_ops} | {vs_p99} | {mism} |")
L.append("")
L.append("## libtmc at the end of each repetition")
L.append("")
L.append("| rep | faults | refaults | backoff_pages | age_threshold | refault distance p50 | pressure | libtmc CPU |")
L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
for rep in sorted(settle):
    try:
        e = json.load(open(f"{work}/tmc-{rep}.end.json"))
    except OSError:
        continue
    L.append(f"| {rep} | {e.get('faults')} | {e.get('refaults')} | {e.get('backoff_pages')} | {e.get('age_threshold_ms', 0)/1000:.0f} s | "
             f"{e.get('refault_distance_p50_ms', 0)} ms | {e.get('pressure')} | {e.get('cpu_ns_background', 0)/1e9:.1f} s |")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
log "wrote $out/$name.md"
