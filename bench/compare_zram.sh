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
#            [--tuned "TMC_COLD_AGE=10s TMC_CODEC=zstd"] [--limit BYTES]
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
# run), compare_runs/ (the loadgen JSON of every run), compare.meta.json and the plots
# compare_memory_throughput.png and compare_latency_cdf.png into --out.
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
  case "$s" in plain | tmc-default | tmc-tuned | zram | zswap) ;; *) die "unknown scenario '$s' (plain, tmc-default, tmc-tuned, zram, zswap)" ;; esac
done
[[ " ${scen_list[*]} " == *" plain "* ]] || die "--scenarios must include plain (the reference)"
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
for s in zram zswap; do
  [[ " ${scen_list[*]} " == *" $s "* ]] || continue
  w="$why"
  [[ -z $w && $s == zram ]] && w=$(zram_why_not)
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
  case "$1" in
    zram) echo $(($(cg_usage) + $(zram_used))) ;;
    zswap) if [[ $CG_VERSION == 2 ]]; then cg_usage; else echo $(($(cg_usage) + $(zswap_pool))); fi ;;
    *) rss_bytes "$SRV_PID" ;;
  esac
}
# sample_mem SCENARIO FILE: mem_cost every second into FILE until killed.
sample_mem() {
  while kill -0 "$SRV_PID" 2>/dev/null; do
    mem_cost "$1" >>"$2" 2>/dev/null || true
    sleep 1
  done
}
# swapins: pages read back from swap: block swap-ins (zram) plus zswap loads, which the
# kernel counts apart (zswpin) and not in pswpin.
swapins() { awk '/^(pswpin|zswpin) / {s += $2} END {print s + 0}' /proc/vmstat; }

COLUMNS=(server scenario rep status keys limit load_s settled settle_s mem_cold mem_run_mean mem_run_max
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
  case "$scen" in
    tmc-default) wrap=(env LD_PRELOAD="$TMC_LIB") ;;
    tmc-tuned) wrap=(env LD_PRELOAD="$TMC_LIB" $tuned) ;;
    zram | zswap)
      local lim="$limit"
      [[ -n $lim ]] || lim=$(cat "$WORK/tmc-mem.$server-$rep" 2>/dev/null || true)
      [[ -n $lim ]] || die "no cgroup limit: run tmc-default or tmc-tuned before $scen, or give --limit"
      put limit "$lim"
      # Swap space for every page of the dataset, uncompressed, and some.
      local swap_bytes=$(((keys * ${mean_value%.*} * 2 + (256 << 20)) / 4096 * 4096))
      if [[ $scen == zram ]]; then zswap_off; zram_setup "$swap_bytes"; else zswap_setup "$swap_bytes"; fi
      cg_create "$lim"
      # The shell moves itself into the cgroup and execs the server: $! is the server.
      wrap=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_DIR")
      ;;
  esac
  put env "$(case $scen in tmc-default) echo "LD_PRELOAD=libtmc.so" ;; tmc-tuned) echo "LD_PRELOAD=libtmc.so $tuned" ;;
    zram) echo "memory limit $(mib "$lim") MiB; zram lz4" ;; zswap) echo "memory limit $(mib "$lim") MiB; zswap $(zswap_compressor)" ;; *) echo "-" ;; esac)"
  start_server "$server" "$logf" "${wrap[@]}"
  if [[ $scen == tmc-* ]]; then is_preloaded "$SRV_PID" || die "libtmc.so is not mapped into the server"; else not_preloaded "$SRV_PID" || die "libtmc.so is mapped into the $scen server"; fi

  local t0=$(date +%s.%N)
  "${LG[@]}" --server "$server" --port "$SRV_PORT" --load --load-pipeline 64 --state "$state" ||
    die "$name: the load failed (exit status $?)"
  put load_s "$(secs_since "$t0")"
  alive "$name: after the load"
  if [[ $server == redis && $scen == plain ]]; then
    redis-cli -h 127.0.0.1 -p "$SRV_PORT" DEBUG DIGEST >"$WORK/ref-digest.$rep"
  fi

  # Cold: libtmc until compression settles; the cgroup runs a little after the load.
  if [[ $scen == tmc-* ]]; then
    local cold_age=2m v
    for v in $tuned; do [[ $scen == tmc-tuned && $v == TMC_COLD_AGE=* ]] && cold_age=${v#TMC_COLD_AGE=}; done
    local cold_s
    cold_s=$(duration_s "$cold_age")
    log "  waiting until compression settles (cold age $cold_age)..."
    wait_settled "$SRV_PID" "$cold_s" "$settle_timeout" "$(hwm_bytes "$SRV_PID")" "$WORK/$name.samples"
    put settled "$SETTLED"; put settle_s "$SETTLE_S"
    tmc_stats "$SRV_PID" "$WORK/$name.stats-cold.json" || die "tmcctl stats failed"
  else
    sleep $((quick ? 2 : 10))
  fi
  local cold
  cold=$(mem_cost "$scen")
  put mem_cold "$cold"; put rss_cold "$(rss_bytes "$SRV_PID")"
  [[ $scen == zram ]] && put swap_orig "$(zram_orig)"
  [[ $scen == zswap ]] && put swap_orig "$(zswap_stored)"
  # The cgroup runs' limit: what libtmc (default; tuned when there is no default run) used.
  if [[ $scen == tmc-default || ($scen == tmc-tuned && ! -s $WORK/tmc-mem.$server-$rep) ]]; then
    echo "$cold" >"$WORK/tmc-mem.$server-$rep"
  fi
  log "  memory once cold: $(mib "$cold") MiB"

  # The timed load, memory sampled each second.
  local si0 mem_file="$WORK/$name.mem"
  : >"$mem_file"
  si0=$(swapins)
  sample_mem "$scen" "$mem_file" &
  local sampler=$!
  local rc=0
  "${LG[@]}" --server "$server" --port "$SRV_PORT" --duration "$duration" --warmup "$warmup" --dist "$dist" \
    --reads "$reads" --pipeline "$pipeline" --verify --state "$state" --json "$j" || rc=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  alive "$name: after the timed load"
  put swapins_run "$(($(swapins) - si0))"
  put loadavg "$(cut -d' ' -f1 /proc/loadavg)"
  put mem_after "$(mem_cost "$scen")"
  read -r mmean mmax < <(awk '{s += $1; if ($1 > m) m = $1} END {if (NR) printf "%d %d\n", s / NR, m; else print "0 0"}' "$mem_file")
  put mem_run_mean "$mmean"; put mem_run_max "$mmax"
  [[ -s $j ]] || die "$name: the timed load wrote no report (exit status $rc)"
  local ops p50 p99 p999 rp99 wp99 nops chk mis cpu secs
  read -r ops p50 p99 p999 rp99 wp99 nops chk mis cpu secs < <(loadgen_run_summary "$j")
  put ops_per_s "$ops"; put p50_us "$p50"; put p99_us "$p99"; put p999_us "$p999"; put read_p99_us "$rp99"
  put write_p99_us "$wp99"; put run_ops "$nops"; put checked "$chk"; put mismatches "$mis"
  put client_cpu_pct "$(awk -v c="$cpu" -v s="$secs" 'BEGIN {printf "%.0f", 100 * c / (s > 0 ? s : 1)}')"
  if [[ $scen == tmc-* ]]; then
    tmc_stats "$SRV_PID" "$WORK/$name.stats-run.json" || die "tmcctl stats failed"
    put faults_run "$(($(jget "$WORK/$name.stats-run.json" faults) - $(jget "$WORK/$name.stats-cold.json" faults)))"
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
  if [[ $scen == zram || $scen == zswap ]]; then
    cg_remove
    if [[ $scen == zram ]]; then zram_teardown; else zswap_teardown; fi
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
        put status ok
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
    "conns": $conns, "pipeline": $pipeline, "reps": $reps, "tuned": "$tuned", "quick": $quick,
    "cgroup": "$(cg_find 2>/dev/null | cut -d' ' -f1 | sed 's/^/v/')", "zswap_compressor": "$(zswap_compressor)",
    "duration_s": $(($(date +%s) - STARTED_AT)), "skipped": $(for k in "${!SKIP[@]}"; do printf '%s=%s\n' "$k" "${SKIP[$k]}"; done | "$PY" -c 'import json, sys; print(json.dumps(dict(l.rstrip("\n").split("=", 1) for l in sys.stdin if l.strip())))')})
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY
"$PY" "$REPO/scripts/compare_report.py" "$out" || die "scripts/compare_report.py failed"
log "wrote $out/compare.md, compare.csv, compare_runs/, compare_memory_throughput.png, compare_latency_cdf.png"
((failures == 0)) || die "$failures run(s) failed (see the status column; logs in $WORK)"
