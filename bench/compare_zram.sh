#!/usr/bin/env bash
# Redis and memcached side by side: plain, under libtmc (default and tuned), and in a
# memory cgroup with the kernel's zram (lz4) or zswap as swap — what users would pick
# instead of libtmc. Memory each one really costs, throughput and latency of a skewed
# read-mostly load (bench/loadgen), and the data checked after every run.
#
# usage: bench/compare_zram.sh [--servers redis,memcached] [--size 512M | --keys N] [--reps 3]
#            [--duration 30s] [--warmup 5s] [--dist zipf:0.99] [--reads 0.9]
#            [--threads 1] [--conns 4] [--pipeline 8]
#            [--scenarios plain,tmc-default,tmc-tuned,zram,zswap]
#            [--tuned "TMC_COLD_AGE=10s TMC_CODEC=zstd"] [--limit BYTES] [--steady MAX]
#            [--settle-timeout 600] [--swap-dir /var/tmp] [--build-dir build] [--out bench/results]
#            [--quick]
#   --size SIZE     value bytes to load (default 512M); the key count is SIZE / the mean value
#                   size of the generator (tmc_loadgen, values 100-4096 B log-uniform)
#   --reps N        repetitions; each runs every scenario once, in turn (interleaved)
#   --duration D    the timed load of each run; --warmup D of it is left out of the numbers
#   --scenarios     plain        the server alone
#                   tmc-default  LD_PRELOAD=libtmc.so, no TMC_* set (cold age 2m: the run
#                                waits for it before the timed load)
#                   tmc-tuned    LD_PRELOAD=libtmc.so with --tuned's variables
#                   zram         the plain server in a memory cgroup limited to the memory
#                                tmc-default used once cold in the same repetition (or
#                                tmc-tuned's, or --limit), swapping to a zram device (lz4)
#                   zswap        the same over a swap file with zswap in front (lz4 when the
#                                kernel has it, else lzo-rle; no shrinker: pages stay in RAM)
#                   tmc@P        the frontier: LD_PRELOAD=libtmc.so with --tuned's variables,
#                                and after the load `tmcctl target` at P% of the memory plain
#                                used during its load in the same repetition (plain runs first)
#                   zram@P       the plain server in a memory cgroup swapping to zram (lz4),
#                                its limit steered each second after the load so that what it
#                                costs (charge plus zram's pool) is P% of plain's, as tmc@P
#                   e.g. --scenarios plain,tmc@40,zram@40,tmc@60,zram@60,tmc@80,zram@80
#   --steady MAX    warm up until the load is flat before the timed load: rounds of 15 s of
#                   the same load until ops/s moved by less than 5% and memory by less than
#                   1% against the round before (at least 2 rounds, at most MAX, e.g. 300s);
#                   the timed load then counts from its first second (--warmup ignored)
#   --limit BYTES   the cgroup limit of zram/zswap instead of libtmc's measured memory
#   --quick         CI smoke run: 16M of data, 1 rep, 4 s load, tmc-default skipped (its cold
#                   age is 2m), tmc-tuned with TMC_COLD_AGE=2s; zram/zswap skipped (and
#                   said) where the machine cannot run them. Never writes bench/results
#                   unless --out says so.
# Every run: start the server on 127.0.0.1 (its own port), load every key (tmc_loadgen
# --load), let the data go cold (libtmc: until `tmcctl stats` shows compression settled,
# bench/datasets/compress_lib.sh; cgroup runs: 10 s after the load), memory once cold, the
# timed load (--dist, --reads, every value read checked) with memory sampled each second,
# then every key read back and compared (--check-all) and, for Redis, the dataset put back
# to the loaded state (--reset) and DEBUG DIGEST compared with the plain run's.
# Memory: VmRSS for plain and libtmc; the cgroup's charge plus zram's mem_used_total
# (mm_stat) for zram; the charge plus the zswap pool (/proc/meminfo Zswap; on cgroup v2 the
# pool is charged to the cgroup already) for zswap.
# The machine is left as found: zswap's parameters restored, our swap devices off, our
# zram device reset and removed, our cgroup removed (trap EXIT).
# Writes compare.md (scripts/compare_report.py: medians and ratios), compare.csv (one row per
# run), compare_runs/ (the loadgen JSON of every run and NAME.series.csv: ops/s and memory
# each second, warm-up included), compare.meta.json and the plots
# compare_memory_throughput.png and compare_latency_cdf.png into --out; with tmc@P / zram@P
# scenarios also the frontier's table in compare.md and its plot compare_frontier.png.
# Exit status: 0 when every run passed its checks, 1 otherwise.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/compare_zram.sh${*:+ $*}"
servers=redis
size=512M
keys=""
reps=3
duration=30s
warmup=5s
dist=zipf:0.99
reads=0.9
threads=1
conns=4
pipeline=8
scenarios=plain,tmc-default,tmc-tuned,zram,zswap
tuned="TMC_COLD_AGE=10s TMC_CODEC=zstd"
limit=""
steady=""
settle_timeout=600
SWAP_DIR=/var/tmp
build_dir="$REPO/build"
out=""
quick=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --servers) servers="${2:?--servers needs a value}"; shift 2 ;;
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --keys) keys="${2:?--keys needs a value}"; shift 2 ;;
    --reps) reps="${2:?--reps needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --dist) dist="${2:?--dist needs a value}"; shift 2 ;;
    --reads) reads="${2:?--reads needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --conns) conns="${2:?--conns needs a value}"; shift 2 ;;
    --pipeline) pipeline="${2:?--pipeline needs a value}"; shift 2 ;;
    --scenarios) scenarios="${2:?--scenarios needs a value}"; shift 2 ;;
    --tuned) tuned="${2?--tuned needs a value}"; shift 2 ;;
    --limit) limit="${2:?--limit needs a value}"; shift 2 ;;
    --steady) steady="${2:?--steady needs a value}"; shift 2 ;;
    --settle-timeout) settle_timeout="${2:?--settle-timeout needs a value}"; shift 2 ;;
    --swap-dir) SWAP_DIR="${2:?--swap-dir needs a value}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare_zram: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
source "$REPO/bench/compare/swap_lib.sh"
on_exit swap_restore_all
[[ $(id -u) == 0 ]] && zswap_save  # the state the EXIT trap restores, recorded before any run

if ((quick)); then
  size=16M reps=1 duration=4s warmup=1s
  tuned="TMC_COLD_AGE=2s TMC_CODEC=zstd"
  scenarios=${scenarios/tmc-default,/}
  [[ -n $out ]] || out="$WORK/results"
fi
[[ -n $out ]] || out="$REPO/bench/results"
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer"
[[ -z "$keys" || "$keys" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive integer"
[[ -z "$limit" || "$limit" =~ ^[1-9][0-9]*$ ]] || die "--limit needs a byte count"
IFS=, read -r -a server_list <<<"$servers"
for s in "${server_list[@]}"; do [[ $s == redis || $s == memcached ]] || die "unknown server '$s' (redis, memcached)"; done
IFS=, read -r -a scen_list <<<"$scenarios"
for s in "${scen_list[@]}"; do
  case "$s" in
    plain | tmc-default | tmc-tuned | zram | zswap) ;;
    tmc@* | zram@*) [[ ${s#*@} =~ ^[1-9][0-9]?$ ]] || die "scenario '$s': the share of plain's memory must be 1-99 (e.g. tmc@50)" ;;
    *) die "unknown scenario '$s' (plain, tmc-default, tmc-tuned, zram, zswap, tmc@P, zram@P)" ;;
  esac
done
[[ " ${scen_list[*]} " == *" plain "* ]] || die "--scenarios must include plain (the reference)"
[[ ${scen_list[0]} == plain || " ${scen_list[*]} " != *@* ]] || die "--scenarios: plain must come first (tmc@P and zram@P take their memory from it)"
steady_s=""
if [[ -n $steady ]]; then steady_s=$(duration_s "$steady") || die "--steady: not a duration: $steady"; fi
for v in $tuned; do [[ $v =~ ^TMC_[A-Z_]+=.+$ ]] || die "--tuned takes TMC_NAME=VALUE words, not '$v'"; done
duration_s=$(duration_s "$duration") || die "--duration: not a duration: $duration"
# On a fresh machine: the Debian packages and a build, so that this one command is enough.
if [[ ! -f "$build_dir/libtmc.so" || ! -x "$build_dir/bench/tmc_loadgen" || ! -x "$build_dir/tmcctl" ]]; then
  log "no libtmc build in $build_dir: installing the packages and building it"
  "$REPO/scripts/install_deps.sh" >&2
  cmake -S "$REPO" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  cmake --build "$build_dir" -j"$(nproc)" --target tmc tmcctl tmc_loadgen >&2
fi
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
LOADGEN="$build_dir/bench/tmc_loadgen"
[[ -x $LOADGEN ]] || die "tmc_loadgen not found at $LOADGEN (cmake --build $build_dir --target tmc_loadgen)"
[[ -x $TMCCTL ]] || die "tmcctl not found at $TMCCTL"
# The load's options, checked by the load generator itself before any server starts.
"$LOADGEN" --dist "$dist" --reads "$reads" --threads "$threads" --conns "$conns" --pipeline "$pipeline" \
  --sample /dev/null --sample-bytes 4096 --keys 10 >/dev/null || die "bad load options (above)"
warmup_s=$(duration_s "$warmup") || die "--warmup: not a duration: $warmup"
awk -v w="$warmup_s" -v d="$duration_s" 'BEGIN {exit !(w < d)}' || die "--warmup must be shorter than --duration"
for s in "${server_list[@]}"; do
  if [[ $s == redis ]]; then need_bin redis-server redis-cli; else need_bin memcached; fi
done
KEEP_WORK_ON_FAIL=1  # from here on a failure keeps the servers' logs
mkdir -p "$out/compare_runs"
out="$(cd "$out" && pwd)"
rm -f "$out"/compare_runs/*.json
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"

# Which cgroup scenarios can run here, and why not.
declare -A SKIP=()
why=$(swap_why_not)
for s in "${scen_list[@]}"; do
  [[ ${s%@*} == zram || ${s%@*} == zswap ]] || continue
  w="$why"
  [[ -z $w && ${s%@*} == zram ]] && w=$(zram_why_not)
  [[ -z $w && $s == zswap ]] && w=$(zswap_why_not)
  if [[ -n $w ]]; then
    SKIP[$s]="$w"
    log "scenario $s skipped: $w"
  fi
done
if [[ -n "$(swapon --noheadings --show=NAME 2>/dev/null)" ]]; then
  log "note: swap already active ($(swapon --noheadings --show=NAME | paste -sd' ')): our devices get the highest priority"
fi

# ---------------------------------------------------------------- dataset
step "dataset"
"$LOADGEN" --ratio --keys 1000000 --json - >"$WORK/ratio.json"
read -r mean_value r_lz4 r_lz4_4k r_zstd r_zstd_4k < <(jget "$WORK/ratio.json" mean_value_bytes lz4_whole lz4_4k zstd1_whole zstd1_4k | paste -sd' ')
if [[ -z $keys ]]; then
  keys=$(keys_for_size "$size" "$mean_value") || die "--size: not a size: $size"
else
  size=""
fi
log "$keys keys, values of $mean_value B on average (100-4096 B: JSON records, text, numbers, session blobs)"
log "compressibility of the values (16 MiB sample): lz4 ${r_lz4}x whole, ${r_lz4_4k}x per 4 KiB; zstd -1 ${r_zstd}x whole, ${r_zstd_4k}x per 4 KiB"
LG=("$LOADGEN" --keys "$keys" --seed 1 --threads "$threads" --conns "$conns" --quiet)

# ---------------------------------------------------------------- servers
SRV_PID=""
SRV_PORT=""
# start_server SERVER LOG WRAPPER...: the server on a free port, under WRAPPER (env ... or
# cg_run), and waits until it listens.
start_server() {
  local server="$1" logf="$2"
  shift 2
  if [[ $server == redis ]]; then
    start_on_free_port "$logf" "$@" redis-server --port @PORT@ --bind 127.0.0.1 --save "" --appendonly no \
      --daemonize no --enable-debug-command local --logfile "" || die "$server did not start (log: $logf)"
  else
    # -m: enough for the whole dataset, so memcached never evicts (that would be a mismatch)
    start_on_free_port "$logf" "$@" memcached -u "$(id -un)" -l 127.0.0.1 -p @PORT@ -U 0 \
      -m $((keys * 6 / 1024 + 256)) || die "$server did not start (log: $logf)"
  fi
  SRV_PORT=$STARTED_PORT
  SRV_PID=$STARTED_PID
}
# alive NAME: fails the run when the server has died, saying so when the OOM killer of the
# cgroup killed it (the kernel logs the pid).
alive() {
  kill -0 "$SRV_PID" 2>/dev/null && return 0
  local why=""
  dmesg 2>/dev/null | grep -q "Killed process $SRV_PID " && why=" (killed by the OOM killer of the memory cgroup: dmesg)"
  die "$1: the server died$why"
}
stop_server() {
  local server="$1"
  [[ $server == redis ]] && redis-cli -h 127.0.0.1 -p "$SRV_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$SRV_PID" 30 || true
  SRV_PID=""
}

# mem_cost SCENARIO: bytes the scenario costs right now (see the header).
mem_cost() {
  case "${1%@*}" in
    zram) echo $(($(cg_usage) + $(zram_used))) ;;
    zswap) if [[ $CG_VERSION == 2 ]]; then cg_usage; else echo $(($(cg_usage) + $(zswap_pool))); fi ;;
    *) rss_bytes "$SRV_PID" ;;
  esac
}
# sample_mem SCENARIO FILE: "EPOCH_SECONDS BYTES" (mem_cost) every second into FILE until
# killed.
sample_mem() {
  local b
  while kill -0 "$SRV_PID" 2>/dev/null; do
    b=$(mem_cost "$1" 2>/dev/null) && echo "$(date +%s) $b" >>"$2"
    sleep 1
  done
}
# mem_since FILE EPOCH: "MEAN MAX" of the samples FILE took from EPOCH on.
mem_since() {
  awk -v t="$2" '$1 >= t {s += $2; n++; if ($2 > m) m = $2} END {if (n) printf "%d %d\n", s / n, m; else print "0 0"}' "$1"
}
CG_FLOOR=$((32 << 20))  # the lowest limit steer_cgroup sets
# steer_cgroup GOAL LOG: holds what the zram@P scenario costs (the cgroup's charge plus
# zram's pool) at GOAL bytes by moving the cgroup's limit each second, from the charge at
# the start: the pool grows as the limit pushes pages out, so the limit that gives GOAL is
# found by feedback. It stops at a floor of 32 MiB (then GOAL is out of zram's reach: the
# pool alone is above it) and logs "EPOCH COST LIMIT" lines. Runs until the server exits.
steer_cgroup() {
  local goal="$1" logf="$2" lim cost next
  lim=$(cg_usage)
  while kill -0 "$SRV_PID" 2>/dev/null && [[ -d $CG_DIR ]]; do
    cost=$(($(cg_usage) + $(zram_used)))
    next=$((lim + (goal - cost) * 7 / 10))
    ((next >= CG_FLOOR)) || next=$CG_FLOOR
    ((next <= 4 * goal)) || next=$((4 * goal))
    cg_set_limit "$next" 2>/dev/null && lim=$next
    echo "$(date +%s) $cost $lim" >>"$logf"
    sleep 1
  done
}
# wait_goal SCENARIO GOAL LIMIT_LOG: waits (at most --settle-timeout, or 300 s) until what the
# scenario costs is within 2% of GOAL (libtmc: at most 2% above it) for 3 seconds in a row.
# It stops early when the cost has not gone down by 0.5% for 30 s (libtmc has compressed what
# it can), or when a zram@P run's limit sat at the floor for 10 s (zram's pool alone is above
# GOAL: UNREACHABLE is set). Sets SETTLED (yes / no: why) and SETTLE_S.
wait_goal() {
  local scen="$1" goal="$2" limlog="$3" t0 ok=0 floor=0 cost lim low="" t_low
  t0=$(date +%s) t_low=$t0
  SETTLED="no: not reached in time" UNREACHABLE=""
  while (($(date +%s) - t0 < (settle_timeout < 300 ? settle_timeout : 300))); do
    alive "$scen: while the target was being reached"
    cost=$(mem_cost "$scen")
    if [[ -z $low ]] || ((cost < low - low / 200)); then low=$cost t_low=$(date +%s); fi
    if (($(date +%s) - t_low >= 30)); then
      SETTLED="no: held $(mib "$low") MiB at the lowest, no lower for 30 s"
      break
    fi
    if awk -v c="$cost" -v g="$goal" -v z="${scen%@*}" 'BEGIN {exit !(c <= 1.02 * g && (z != "zram" || c >= 0.98 * g))}'; then
      ok=$((ok + 1))
      ((ok < 3)) || { SETTLED=yes; break; }
    else
      ok=0
    fi
    if [[ $scen == zram@* ]]; then
      lim=$(tail -1 "$limlog" 2>/dev/null | awk '{print $3}')
      if [[ $lim == "$CG_FLOOR" ]]; then floor=$((floor + 1)); else floor=0; fi
      if ((floor >= 10)); then
        UNREACHABLE="out of reach: zram's pool alone is above the target (its lowest cost $(mib "$low") MiB, limit at the 32 MiB floor)"
        SETTLED="no: $UNREACHABLE"
        break
      fi
    fi
    sleep 1
  done
  SETTLE_S=$(($(date +%s) - t0))
}
# write_series PHASES MEM_FILE OUT: the run's per-second series as CSV (second from the start
# of the warm-up, phase, ops/s, memory MiB): ops from each phase's loadgen report, memory
# from the sampler's line of the same second (the one before when a second has none).
write_series() {
  "$PY" - "$@" <<'PY'
import bisect, json, sys
phases, mem_file, out = sys.argv[1:]
mem = sorted((int(t), int(b)) for t, b in (l.split() for l in open(mem_file) if l.strip()))
times = [t for t, _ in mem]
rows, t0 = [], None
for line in open(phases):
    phase, ts, path = line.split()
    ts = int(ts)
    t0 = ts if t0 is None else t0
    run = json.load(open(path))["phases"]["run"]
    # The last entry is a partial second when the phase ended between two.
    for k, ops in enumerate(run.get("per_second", [])[:int(run.get("seconds", 0) + 0.5)]):
        i = bisect.bisect_right(times, ts + k) - 1
        rows.append("%d,%s,%d,%s" % (ts + k - t0, phase, ops, "%.1f" % (mem[i][1] / 2**20) if i >= 0 else ""))
open(out, "w").write("second,phase,ops,mem_mib\n" + "".join(r + "\n" for r in rows))
PY
}
# steady_warmup NAME SCENARIO MEM_FILE PHASES: the --steady warm-up (see the header): rounds
# of 15 s of the timed load's mix, every value read checked; each round's start and report
# are added to PHASES ("warm-up EPOCH JSON").
steady_warmup() {
  local name="$1" scen="$2" mem_file="$3" phases="$4" i=0 t0 ts j ops mem prev_ops="" prev_mem="" flat=no
  t0=$(date +%s)
  while :; do
    i=$((i + 1))
    j="$WORK/$name.warm$i.json"
    ts=$(date +%s)
    "${LG[@]}" --server "$server" --port "$SRV_PORT" --duration 15s --dist "$dist" --reads "$reads" \
      --pipeline "$pipeline" --verify --state "$state" --json "$j" || die "$name: warm-up round $i failed (exit status $?)"
    alive "$name: in the warm-up"
    echo "warm-up $ts $j" >>"$phases"
    read -r ops _ < <(loadgen_run_summary "$j")
    read -r mem _ < <(mem_since "$mem_file" "$ts")
    log "  warm-up round $i: $(printf '%.0f' "$ops") ops/s, memory $(mib "$mem") MiB"
    if [[ -n $prev_ops ]] && awk -v o="$ops" -v po="$prev_ops" -v m="$mem" -v pm="$prev_mem" \
      'function abs(x) {return x < 0 ? -x : x} BEGIN {exit !(abs(o - po) < 0.05 * po && abs(m - pm) < 0.01 * pm)}'; then
      flat=yes
      break
    fi
    awk -v e="$(($(date +%s) - t0))" -v m="$steady_s" 'BEGIN {exit !(e < m)}' || break
    prev_ops=$ops prev_mem=$mem
  done
  put warmup_s "$(($(date +%s) - t0))"; put steady "$flat ($i rounds)"
}
# swapins: pages read back from swap: block swap-ins (zram) plus zswap loads, which the
# kernel counts apart (zswpin) and not in pswpin.
swapins() { awk '/^(pswpin|zswpin) / {s += $2} END {print s + 0}' /proc/vmstat; }

COLUMNS=(server scenario rep status keys limit target load_s settled settle_s warmup_s steady mem_cold mem_run_mean mem_run_max
  mem_after rss_cold swap_orig ops_per_s p50_us p99_us p999_us read_p99_us write_p99_us run_ops
  checked mismatches check_all_ok digest_ok faults_run swapins_run client_cpu_pct loadavg env)
CSV="$WORK/rows.csv"
(IFS=,; echo "${COLUMNS[*]}") >"$CSV"

# one_run SERVER SCENARIO REP: one run, recorded in $ROW (run under run_guarded).
one_run() {
  local server="$1" scen="$2" rep="$3" name="$1-$2-$3"
  local logf="$WORK/$name.log" state="$WORK/$name.state" j="$out/compare_runs/$name.json"
  local -a wrap=(env -u LD_PRELOAD)
  rm -f "$state"
  local goal=""
  if [[ $scen == *@* ]]; then
    goal=$(cat "$WORK/plain-mem.$server-$rep" 2>/dev/null) || die "no memory of the plain run in repetition $rep to take ${scen#*@}% of"
    goal=$((goal * ${scen#*@} / 100))
    put target "$goal"
  fi
  case "$scen" in
    tmc-default) wrap=(env LD_PRELOAD="$TMC_LIB") ;;
    tmc-tuned | tmc@*) wrap=(env LD_PRELOAD="$TMC_LIB" $tuned) ;;
    zram | zswap | zram@*)
      local lim="$limit"
      # zram@P: no limit that matters during the load (libtmc's target, too, is set after
      # it); steer_cgroup takes over once the data is in.
      [[ $scen != zram@* ]] || lim=$((goal * 4))
      [[ -n $lim ]] || lim=$(cat "$WORK/tmc-mem.$server-$rep" 2>/dev/null || true)
      [[ -n $lim ]] || die "no cgroup limit: run tmc-default or tmc-tuned before $scen, or give --limit"
      put limit "$lim"
      # Swap space for every page of the dataset, uncompressed, and some.
      local swap_bytes=$(((keys * ${mean_value%.*} * 2 + (256 << 20)) / 4096 * 4096))
      if [[ ${scen%@*} == zram ]]; then zswap_off; zram_setup "$swap_bytes"; else zswap_setup "$swap_bytes"; fi
      cg_create "$lim"
      # The shell moves itself into the cgroup and execs the server: $! is the server.
      wrap=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_DIR")
      ;;
  esac
  put env "$(case $scen in tmc-default) echo "LD_PRELOAD=libtmc.so" ;; tmc-tuned) echo "LD_PRELOAD=libtmc.so $tuned" ;;
    tmc@*) echo "LD_PRELOAD=libtmc.so $tuned; tmcctl target $((goal >> 20))M after the load" ;;
    zram@*) echo "zram lz4; cgroup limit steered to hold charge + pool at $(mib "$goal") MiB" ;;
    zram) echo "memory limit $(mib "$lim") MiB; zram lz4" ;; zswap) echo "memory limit $(mib "$lim") MiB; zswap $(zswap_compressor)" ;; *) echo "-" ;; esac)"
  start_server "$server" "$logf" "${wrap[@]}"
  if [[ $scen == tmc* ]]; then is_preloaded "$SRV_PID" || die "libtmc.so is not mapped into the server"; else not_preloaded "$SRV_PID" || die "libtmc.so is mapped into the $scen server"; fi

  local t0=$(date +%s.%N)
  "${LG[@]}" --server "$server" --port "$SRV_PORT" --load --load-pipeline 64 --state "$state" ||
    die "$name: the load failed (exit status $?)"
  put load_s "$(secs_since "$t0")"
  alive "$name: after the load"
  if [[ $server == redis && $scen == plain ]]; then
    redis-cli -h 127.0.0.1 -p "$SRV_PORT" DEBUG DIGEST >"$WORK/ref-digest.$rep"
  fi

  # Cold: libtmc until compression settles; the cgroup runs a little after the load; the
  # frontier's runs until they hold their share of plain's memory.
  local limlog="$WORK/$name.limit"
  if [[ $scen == *@* ]]; then
    if [[ $scen == tmc@* ]]; then
      timeout 30 "$TMCCTL" target "$SRV_PID" "$((goal >> 20))M" >/dev/null || die "$name: tmcctl target failed"
    else
      steer_cgroup "$goal" "$limlog" &
    fi
    log "  waiting until it holds $(mib "$goal") MiB (${scen#*@}% of plain's)..."
    wait_goal "$scen" "$goal" "$limlog"
    put settled "$SETTLED"; put settle_s "$SETTLE_S"
    log "  $SETTLED after ${SETTLE_S}s"
    if [[ -n $UNREACHABLE ]]; then
      # Not a failure: the point is outside what this set-up can hold; the load is not run.
      echo "$UNREACHABLE" >"$WORK/$name.unreachable"
      stop_server "$server"
      cg_remove
      zram_teardown
      return 0
    fi
  elif [[ $scen == tmc-* ]]; then
    local cold_age=2m v
    for v in $tuned; do [[ $scen == tmc-tuned && $v == TMC_COLD_AGE=* ]] && cold_age=${v#TMC_COLD_AGE=}; done
    local cold_s
    cold_s=$(duration_s "$cold_age")
    log "  waiting until compression settles (cold age $cold_age)..."
    wait_settled "$SRV_PID" "$cold_s" "$settle_timeout" "$(hwm_bytes "$SRV_PID")" "$WORK/$name.samples"
    put settled "$SETTLED"; put settle_s "$SETTLE_S"
  else
    sleep $((quick ? 2 : 10))
  fi
  local cold
  cold=$(mem_cost "$scen")
  put mem_cold "$cold"; put rss_cold "$(rss_bytes "$SRV_PID")"
  [[ ${scen%@*} == zram ]] && put swap_orig "$(zram_orig)"
  [[ $scen == zswap ]] && put swap_orig "$(zswap_stored)"
  # The cgroup runs' limit: what libtmc (default; tuned when there is no default run) used.
  if [[ $scen == tmc-default || ($scen == tmc-tuned && ! -s $WORK/tmc-mem.$server-$rep) ]]; then
    echo "$cold" >"$WORK/tmc-mem.$server-$rep"
  fi
  log "  memory once cold: $(mib "$cold") MiB"

  # The timed load (after the --steady warm-up), memory sampled each second.
  local si0 mem_file="$WORK/$name.mem" phases="$WORK/$name.phases" t_run
  : >"$mem_file"
  : >"$phases"
  sample_mem "$scen" "$mem_file" &
  local sampler=$!
  local run_warmup="$warmup"
  if [[ -n $steady_s ]]; then
    steady_warmup "$name" "$scen" "$mem_file" "$phases"
    run_warmup=0s
  fi
  # libtmc's counters right before the timed load: faults_run counts that load alone.
  [[ $scen != tmc* ]] || tmc_stats "$SRV_PID" "$WORK/$name.stats-before.json" || die "tmcctl stats failed"
  local rc=0
  si0=$(swapins)
  t_run=$(date +%s)
  "${LG[@]}" --server "$server" --port "$SRV_PORT" --duration "$duration" --warmup "$run_warmup" --dist "$dist" \
    --reads "$reads" --pipeline "$pipeline" --verify --state "$state" --json "$j" || rc=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  alive "$name: after the timed load"
  echo "run $t_run $j" >>"$phases"
  put swapins_run "$(($(swapins) - si0))"
  put loadavg "$(cut -d' ' -f1 /proc/loadavg)"
  put mem_after "$(mem_cost "$scen")"
  [[ $scen != zram@* ]] || put limit "$(tail -1 "$limlog" | awk '{print $3}')"
  write_series "$phases" "$mem_file" "$out/compare_runs/$name.series.csv"
  # The memory of the timed load: what the warm-up got to, not the way there.
  read -r mmean mmax < <(mem_since "$mem_file" "$t_run")
  put mem_run_mean "$mmean"; put mem_run_max "$mmax"
  [[ $scen != plain ]] || echo "$mmean" >"$WORK/plain-mem.$server-$rep"
  [[ -s $j ]] || die "$name: the timed load wrote no report (exit status $rc)"
  local ops p50 p99 p999 rp99 wp99 nops chk mis cpu secs
  read -r ops p50 p99 p999 rp99 wp99 nops chk mis cpu secs < <(loadgen_run_summary "$j")
  put ops_per_s "$ops"; put p50_us "$p50"; put p99_us "$p99"; put p999_us "$p999"; put read_p99_us "$rp99"
  put write_p99_us "$wp99"; put run_ops "$nops"; put checked "$chk"; put mismatches "$mis"
  put client_cpu_pct "$(awk -v c="$cpu" -v s="$secs" 'BEGIN {printf "%.0f", 100 * c / (s > 0 ? s : 1)}')"
  if [[ $scen == tmc* ]]; then
    tmc_stats "$SRV_PID" "$WORK/$name.stats-run.json" || die "tmcctl stats failed"
    put faults_run "$(($(jget "$WORK/$name.stats-run.json" faults) - $(jget "$WORK/$name.stats-before.json" faults)))"
  fi
  log "  $(printf '%.0f' "$ops") ops/s, p50 ${p50} us, p99 ${p99} us, p99.9 ${p999} us; memory during the load $(mib "$mmean") MiB (max $(mib "$mmax")); $chk values checked, $mis mismatches"
  ((rc == 0)) || die "$name: the timed load failed (exit status $rc; mismatches $mis)"

  # Integrity: every key, then (Redis) the loaded state back and its digest.
  local -a integ=(--check-all)
  [[ $server == redis ]] && integ+=(--reset)
  if "${LG[@]}" --server "$server" --port "$SRV_PORT" "${integ[@]}" --state "$state" --json "$WORK/$name.check.json"; then
    put check_all_ok yes
  else
    put check_all_ok no
    alive "$name: --check-all"
    die "$name: --check-all found values that differ (or failed)"
  fi
  if [[ $server == redis ]]; then
    local dg
    dg=$(redis-cli -h 127.0.0.1 -p "$SRV_PORT" DEBUG DIGEST) || true
    alive "$name: DEBUG DIGEST (it reads every key)"
    local ref
    ref=$(cat "$WORK/ref-digest.$rep")
    if [[ $dg == "$ref" ]]; then put digest_ok yes; else put digest_ok no; die "$name: DEBUG DIGEST $dg differs from the plain run's $ref"; fi
  fi
  log "  integrity: every key read back equal$([[ $server == redis ]] && echo ", DEBUG DIGEST equal to the plain run's")"
  stop_server "$server"
  no_crash_report "$logf" || die "$name: crash report in the server log"
  ! grep -q 'libtmc: bug' "$logf" || die "$name: libtmc reported a bug of its own (log: $logf)"
  if [[ ${scen%@*} == zram || $scen == zswap ]]; then
    cg_remove
    if [[ ${scen%@*} == zram ]]; then zram_teardown; else zswap_teardown; fi
  fi
}
# guarded_run: one_run, and on any exit the server stopped (run_guarded's cleanup) before
# its cgroup and swap device are taken down.
guarded_run() {
  trap '_guard_cleanup; swap_restore_all' EXIT
  one_run "$@"
}

failures=0
for ((rep = 1; rep <= reps; rep++)); do
  for server in "${server_list[@]}"; do
    for scen in "${scen_list[@]}"; do
      ROW="$WORK/$server-$scen-$rep.row"
      : >"$ROW"
      put server "$server"; put scenario "$scen"; put rep "$rep"; put keys "$keys"
      if [[ -n ${SKIP[$scen]:-} ]]; then
        put status "skipped: ${SKIP[$scen]}"
        row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
        continue
      fi
      step "$server, $scen, repetition $rep of $reps"
      if run_guarded "$server-$scen-$rep" guarded_run "$server" "$scen" "$rep"; then
        put status "$(cat "$WORK/$server-$scen-$rep.unreachable" 2>/dev/null || echo ok)"
      else
        failures=$((failures + 1))
        put status "FAILED: $(cat "$WORK/$server-$scen-$rep.fail" 2>/dev/null || echo "exit status $?")"
      fi
      row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
    done
  done
done

# ---------------------------------------------------------------- report
step "report"
cp "$CSV" "$out/compare.csv"
"$PY" - "$out/compare.meta.json" "$WORK/ratio.json" <<PY
import json, sys
meta = json.load(open(sys.argv[2]))
meta.update({"command": """$ORIG_CMD""", "date": "$STARTED_DATE", "machine": """$(machine_desc)""",
    "libtmc": """$(git_desc "$REPO")""", "redis": """$(redis-server --version 2>/dev/null | head -1)""",
    "memcached": """$(memcached -V 2>/dev/null | head -1)""", "keys": $keys, "size": "$size",
    "duration": "$duration", "warmup": "$warmup", "dist": "$dist", "reads": "$reads", "threads": $threads,
    "conns": $conns, "pipeline": $pipeline, "reps": $reps, "steady": "$steady", "tuned": "$tuned", "quick": $quick,
    "cgroup": "$(cg_find 2>/dev/null | cut -d' ' -f1 | sed 's/^/v/')", "zswap_compressor": "$(zswap_compressor)",
    "duration_s": $(($(date +%s) - STARTED_AT)), "skipped": $(for k in "${!SKIP[@]}"; do printf '%s=%s\n' "$k" "${SKIP[$k]}"; done | "$PY" -c 'import json, sys; print(json.dumps(dict(l.rstrip("\n").split("=", 1) for l in sys.stdin if l.strip())))')})
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
"$PY" "$REPO/scripts/compare_report.py" "$out" || die "scripts/compare_report.py failed"
log "wrote $out/compare.md, compare.csv, compare_runs/, compare_memory_throughput.png, compare_latency_cdf.png"
((failures == 0)) || die "$failures run(s) failed (see the status column; logs in $WORK)"
