#!/usr/bin/env bash
# A three-master Redis Cluster and a three-node memcached pool, every node plain and then
# every node under libtmc: memory per node and in total once the data is cold, throughput
# and latency of a skewed load through a cluster-aware client, and every value checked.
#
# usage: bench/cluster.sh [--size 600M | --keys N] [--cold-age 10s] [--load-seconds 45]
#                         [--only redis|memcached] [--build-dir build] [--out bench/results]
#                         [--seed 1] [--procs 2] [--pipeline 16] [--reads 0.9] [--zipf 0.99]
#                         [--mem-mb 2048] [--settle-timeout 300]
#   --size SIZE        value bytes across the cluster (K/M/G; default 600M): the key count is
#                      SIZE / the mean value size of bench/datasets/records.py
#   --keys N           exactly N keys instead
#   --cold-age D       TMC_COLD_AGE of the libtmc runs (default 10s)
#   --load-seconds T   length of the timed load (default 45)
#   --only KIND        redis or memcached only (default both)
#   --build-dir DIR    where libtmc.so and tmcctl are (default build; not built here)
#   --out DIR          where cluster.md and cluster.csv go (default bench/results)
#   --seed S           dataset seed (default 1)
#   --procs P          client processes of the timed load and the full check (default 2)
#   --pipeline D       requests per batch in the timed load (default 16)
#   --reads R          share of reads in the timed load (default 0.9; the rest are writes)
#   --zipf S           key popularity of the timed load, Zipf exponent (default 0.99)
#   --mem-mb M         memcached -m per node (default 2048: nothing is evicted; checked)
#   --settle-timeout S longest wait for compression to settle, per run (default 300)
#
# The values (strings, hashes and lists of JSON records, text, series, session blobs) are
# generated once (bench/datasets/cluster_client.py gen) with a digest of each. Then, for
# Redis and for memcached, two runs, plain (no preload) and libtmc (every node under
# LD_PRELOAD=libtmc.so TMC_COLD_AGE=...), each:
#   1. three redis-server --cluster-enabled yes on 127.0.0.1 free ports (--save ''
#      --appendonly no --enable-debug-command local), joined by redis-cli --cluster create
#      (slots in node order, no replicas) and waited for until CLUSTER INFO says
#      cluster_state:ok on every node; or three memcached -m M
#   2. every key loaded through the cluster-aware client (redis-py RedisCluster pipelines,
#      pymemcache HashClient with rendezvous hashing over the nodes' positions): the sum of
#      DBSIZE / curr_items must equal the key count; Redis: DEBUG DIGEST of every node
#   3. plain: RSS (VmRSS) of every node after the load; libtmc: wait until compression has
#      settled on every node (evictions and RSS flat, or a timeout), then RSS and tmcctl
#      stats (pages compressed, pool bytes)
#   4. the timed load: Zipf-popular keys, reads and writes of new versions, every value
#      read checked against the version last written; ops/s, p50/p99 of a batch; RSS of
#      every node sampled each second, and RSS after
#   5. every key read back and compared with the version it must hold; Redis: the changed
#      keys written back to their loaded version and DEBUG DIGEST of every node, which must
#      equal its digest after the load, and the plain run's node for node (the slots are
#      the same); memcached: no item evicted
#   6. every node stopped; an exit status other than 0 (or SIGTERM's for memcached) or a
#      crash report in a log is a failure
# Writes cluster.md (command, commit, date, machine, load average, the tables) and
# cluster.csv (a row per node and one for the total of each run). A run that fails is
# reported with what it measured up to then; the next run goes on. Exit status: 0 when
# every run passed every check, 1 otherwise (the work directory is kept then).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/cluster.sh${*:+ $*}"
size=600M
keys=""
cold_age=10s
load_seconds=45
only=""
build_dir="$REPO/build"
out="$REPO/bench/results"
seed=1
procs=2
pipeline=16
reads=0.9
zipf=0.99
mem_mb=2048
settle_timeout=300
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --keys) keys="${2:?--keys needs a value}"; shift 2 ;;
    --cold-age) cold_age="${2:?}"; shift 2 ;;
    --load-seconds) load_seconds="${2:?}"; shift 2 ;;
    --only) only="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --seed) seed="${2:?}"; shift 2 ;;
    --procs) procs="${2:?}"; shift 2 ;;
    --pipeline) pipeline="${2:?}"; shift 2 ;;
    --reads) reads="${2:?}"; shift 2 ;;
    --zipf) zipf="${2:?}"; shift 2 ;;
    --mem-mb) mem_mb="${2:?}"; shift 2 ;;
    --settle-timeout) settle_timeout="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "cluster: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
KEEP_WORK_ON_FAIL=1
CLIENT="$DATASETS_DIR/cluster_client.py"
[[ -z "$keys" || "$keys" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive integer"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed needs a non-negative integer"
for v in procs pipeline mem_mb settle_timeout load_seconds; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v//_/-} needs a positive integer"
done
[[ "$reads" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]] || die "--reads needs a share between 0 and 1"
[[ "$zipf" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--zipf needs a non-negative number"
case "$only" in "") kinds=(redis memcached) ;; redis | memcached) kinds=("$only") ;; *) die "--only takes redis or memcached" ;; esac
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
[[ -x "$TMCCTL" ]] || die "tmcctl not found at $TMCCTL (build it: cmake --build BUILD_DIR)"
need_bin redis-server redis-cli memcached
cold_s=$(duration_s "$cold_age") || die "--cold-age: not a duration: $cold_age"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# The client libraries: Debian's python3-redis (redis.cluster) and python3-pymemcache.
need_py() {
  "$PY" -c "import $1" 2>/dev/null && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing $2 (apt-get)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; } ||
      die "could not install $2"
  fi
  "$PY" -c "import $1" 2>/dev/null || die "python module $1 is missing: install Debian's $2 (scripts/install_deps.sh)"
}
need_py redis.cluster python3-redis
need_py pymemcache.client.hash python3-pymemcache

# Servers started inside a guarded run are listed here too, so that the main shell's exit
# stops any a run left behind.
PIDS_FILE="$WORK/server.pids"
: >"$PIDS_FILE"
stop_leftovers() {
  local p
  while read -r p; do
    [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null || continue
    grep -qaE '^(redis-server|memcached|/usr/bin/redis-server|/usr/bin/memcached)' "/proc/$p/cmdline" 2>/dev/null || continue
    stop_pid "$p" 20 || true
  done <"$PIDS_FILE"
}
on_exit stop_leftovers

# ---------------------------------------------------------------- the dataset
step "dataset"
if [[ -z "$keys" ]]; then
  keys=$("$PY" "$RECORDS" keys --size "$size" --seed "$seed")
else
  size=""
fi
DS="$WORK/dataset"
log "generating $keys keys (seed $seed)..."
"$PY" "$CLIENT" gen --keys "$keys" --seed "$seed" --dir "$DS" --procs "$procs" | sed 's/^/  /'
log "  $(mib "$(du -sb "$DS" | cut -f1)") MiB of values on disk"

# ---------------------------------------------------------------- result rows
COLUMNS=(system mode node port slots status keys load_s rss_load rss_peak rss_cold rss_run_mean rss_run_max
  rss_after orig_bytes compr_bytes pool_bytes compressed_pages evictions faults_cold faults_run refaults_run
  settled settle_s self_faults bug_lines digest_load digest_reset digest_plain_ok ops ops_per_s p50_ms
  p99_ms p999_ms reads writes mismatches missing keys_written check_equal check_wrong check_missing
  mc_evictions loadavg)
CSV="$WORK/cluster.csv"
(IFS=,; echo "${COLUMNS[*]}") >"$CSV"
# row N: the row file of node N (1..3) or of the total (0) of the current run.
row() { ROW="$WORK/$RUN.row$1"; }

# ---------------------------------------------------------------- nodes
NODE_PIDS=()
NODE_PORTS=()
# start_node KIND I ENV...: node I (1..3) of the current run.
start_node() {
  local kind="$1" i="$2" attempt bus
  shift 2
  local logf="$WORK/$RUN.n$i.log"
  for attempt in 1 2 3; do
    if [[ $kind == redis ]]; then
      local dir="$WORK/$RUN/n$i"
      mkdir -p "$dir"
      bus=$(free_port)
      start_on_free_port "$logf" "$@" redis-server --port @PORT@ --cluster-port "$bus" --bind 127.0.0.1 \
        --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 60000 \
        --save "" --appendonly no --dir "$dir" --enable-debug-command local --daemonize no --logfile "" && break
    else
      start_on_free_port "$logf" "$@" memcached -p @PORT@ -l 127.0.0.1 -U 0 -m "$mem_mb" -c 1024 \
        -u "$(id -un)" && break
    fi
    echo "$STARTED_PID" >>"$PIDS_FILE"
    ((attempt < 3)) || die "$RUN: node $i did not start"
  done
  echo "$STARTED_PID" >>"$PIDS_FILE"
  NODE_PIDS[$i]=$STARTED_PID
  NODE_PORTS[$i]=$STARTED_PORT
}
rc_node() { timeout 900 redis-cli -h 127.0.0.1 -p "${NODE_PORTS[$1]}" "${@:2}"; }
node_list() { local i s=""; for i in 1 2 3; do s+="${s:+,}127.0.0.1:${NODE_PORTS[$i]}"; done; echo "$s"; }
stop_nodes() {
  local i p
  for i in 1 2 3; do
    p="${NODE_PIDS[$i]:-}"
    [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && stop_pid "$p" 20 >/dev/null 2>&1
  done
  return 0
}
# mc_stat I FIELD...: memcached `stats` values of node I, one per line.
mc_stat() {
  "$PY" - "${NODE_PORTS[$1]}" "${@:2}" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"stats\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    c = s.recv(65536)
    if not c:
        sys.exit("memcached closed the connection")
    buf += c
st = dict(l.split()[1:3] for l in buf.decode().splitlines() if l.startswith("STAT "))
for f in sys.argv[2:]:
    print(st.get(f, ""))
PY
}
jval() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d.get(sys.argv[2], ""))' "$1" "$2"; }

# wait_all_settled: compress_lib's wait_settled for the three nodes at once.
wait_all_settled() {
  local i pids=()
  for i in 1 2 3; do
    (
      WORK="$WORK/settle-$RUN-n$i"
      mkdir -p "$WORK"
      TEST_NAME="cluster n$i"
      wait_settled "${NODE_PIDS[$i]}" "$cold_s" "$settle_timeout" "$(hwm_bytes "${NODE_PIDS[$i]}")" "$WORK/samples"
      echo "$SETTLED $SETTLE_S" >"$WORK/result"
    ) &
    pids+=($!)
  done
  for i in 1 2 3; do wait "${pids[$((i - 1))]}" || die "$RUN: node $i: waiting for compression failed"; done
}

# sample_rss OUT: VmRSS of every node each second into OUT ("n1 n2 n3" per line) until killed.
sample_rss() {
  while :; do
    echo "$(rss_bytes "${NODE_PIDS[1]}") $(rss_bytes "${NODE_PIDS[2]}") $(rss_bytes "${NODE_PIDS[3]}")" >>"$1"
    sleep 1
  done
}

# ---------------------------------------------------------------- one run
# one_run KIND MODE: the whole run, recorded in the row files as it goes (under guarded).
one_run() {
  local kind="$1" mode="$2" i env=("${PLAIN_ENV[@]}")
  [[ $mode == libtmc ]] && env=(env LD_PRELOAD="$TMC_LIB" TMC_COLD_AGE="$cold_age")
  for i in 1 2 3; do start_node "$kind" "$i" "${env[@]}"; done
  for i in 1 2 3; do
    if [[ $mode == libtmc ]]; then
      is_preloaded "${NODE_PIDS[$i]}" || die "$RUN: libtmc.so is not mapped into node $i"
    else
      not_preloaded "${NODE_PIDS[$i]}" || die "$RUN: libtmc.so is mapped into plain node $i"
    fi
    row "$i"; put port "${NODE_PORTS[$i]}"
  done
  log "nodes on ports ${NODE_PORTS[*]:1} (pids ${NODE_PIDS[*]:1})"

  if [[ $kind == redis ]]; then
    for i in 1 2 3; do [[ "$(rc_node "$i" PING)" == PONG ]] || die "$RUN: node $i does not answer PING"; done
    timeout 120 redis-cli --cluster create $(for i in 1 2 3; do echo "127.0.0.1:${NODE_PORTS[$i]}"; done) \
      --cluster-replicas 0 --cluster-yes >"$WORK/$RUN.create" 2>&1 ||
      { cat "$WORK/$RUN.create" >&2; die "$RUN: redis-cli --cluster create failed"; }
    local ok t
    for ((t = 0; t < 600; t++)); do
      ok=0
      for i in 1 2 3; do rc_node "$i" CLUSTER INFO | tr -d '\r' | grep -qx 'cluster_state:ok' && ok=$((ok + 1)); done
      ((ok == 3)) && break
      sleep 0.1
    done
    ((ok == 3)) || die "$RUN: cluster_state is not ok on every node after 60 s"
    for i in 1 2 3; do
      row "$i"
      put slots "$(rc_node "$i" CLUSTER NODES | tr -d '\r' | awk '$3 ~ /myself/ {s = ""; for (f = 9; f <= NF; f++) s = s (s ? " " : "") $f; print s}')"
    done
    log "cluster_state:ok on every node"
  fi

  # ---- load
  log "loading $keys keys through the cluster-aware client..."
  local lj="$WORK/$RUN.load.json"
  if [[ $kind == redis ]]; then
    timeout 3600 "$PY" "$CLIENT" redis-load --nodes "$(node_list)" --dir "$DS" --json "$lj" >/dev/null ||
      die "$RUN: loading failed"
  else
    timeout 3600 "$PY" "$CLIENT" mc-load --servers "$(node_list)" --dir "$DS" --json "$lj" >/dev/null ||
      die "$RUN: loading failed"
  fi
  local load_s
  load_s=$(jval "$lj" seconds)
  row 0; put load_s "$load_s"; put keys "$keys"
  for i in 1 2 3; do
    row "$i"
    if [[ $kind == redis ]]; then put keys "$(rc_node "$i" DBSIZE)"; else put keys "$(mc_stat "$i" curr_items)"; fi
  done
  log "  loaded in ${load_s}s; keys per node $(for i in 1 2 3; do row "$i"; grep '^keys=' "$ROW" | tail -1 | cut -d= -f2; done | paste -sd/)"
  if [[ $kind == redis ]]; then
    for i in 1 2 3; do row "$i"; put digest_load "$(rc_node "$i" DEBUG DIGEST)"; done
  fi
  local tot_load=0 tot_peak=0
  for i in 1 2 3; do
    row "$i"
    local r h
    r=$(rss_bytes "${NODE_PIDS[$i]}"); h=$(hwm_bytes "${NODE_PIDS[$i]}")
    put rss_load "$r"; put rss_peak "$h"
    tot_load=$((tot_load + r)); tot_peak=$((tot_peak + h))
  done
  row 0; put rss_load "$tot_load"; put rss_peak "$tot_peak"

  # ---- cold
  if [[ $mode == libtmc ]]; then
    log "waiting until compression settles on every node (cold age $cold_age, at most ${settle_timeout}s)..."
    wait_all_settled
  else
    sleep 2
  fi
  local tot_cold=0 tot_orig=0 tot_compr=0 tot_pool=0 tot_pages=0 tot_ev=0 tot_fa=0 st s
  for i in 1 2 3; do
    row "$i"
    local r
    r=$(rss_bytes "${NODE_PIDS[$i]}")
    put rss_cold "$r"
    tot_cold=$((tot_cold + r))
    if [[ $mode == libtmc ]]; then
      read -r st s <"$WORK/settle-$RUN-n$i/result"
      put settled "$st"; put settle_s "$s"
      tmc_stats "${NODE_PIDS[$i]}" "$WORK/$RUN.n$i.cold.json" || die "$RUN: tmcctl stats of node $i failed"
      local orig compr pool pages ev fa sf
      read -r orig compr pool pages ev fa sf < <(jget "$WORK/$RUN.n$i.cold.json" orig_bytes compr_bytes pool_bytes \
        compressed_pages evictions faults self_faults | paste -sd' ')
      put orig_bytes "$orig"; put compr_bytes "$compr"; put pool_bytes "$pool"; put compressed_pages "$pages"
      put evictions "$ev"; put faults_cold "$fa"; put self_faults "$sf"
      tot_orig=$((tot_orig + orig)); tot_compr=$((tot_compr + compr)); tot_pool=$((tot_pool + pool))
      tot_pages=$((tot_pages + pages)); tot_ev=$((tot_ev + ev)); tot_fa=$((tot_fa + fa))
      log "  node $i: RSS $(mib "$r") MiB (peak $(mib "$(hwm_bytes "${NODE_PIDS[$i]}")") MiB), $pages pages compressed, $(mib "$orig") -> $(mib "$compr") MiB, pool $(mib "$pool") MiB ($st after ${s}s)"
    else
      log "  node $i: RSS $(mib "$r") MiB"
    fi
  done
  row 0; put rss_cold "$tot_cold"
  if [[ $mode == libtmc ]]; then
    put orig_bytes "$tot_orig"; put compr_bytes "$tot_compr"; put pool_bytes "$tot_pool"
    put compressed_pages "$tot_pages"; put evictions "$tot_ev"; put faults_cold "$tot_fa"
  fi
  log "  total RSS $(mib "$tot_cold") MiB"

  # ---- the timed load
  log "timed load: ${load_seconds}s, Zipf $zipf, $reads reads, $procs client processes, batches of $pipeline..."
  local rj="$WORK/$RUN.run.json" rc=0 sampler
  sample_rss "$WORK/$RUN.rss" &
  sampler=$!
  timeout $((load_seconds + 900)) "$PY" "$CLIENT" "$([[ $kind == redis ]] && echo redis || echo mc)-run" \
    $([[ $kind == redis ]] && echo --nodes || echo --servers) "$(node_list)" --dir "$DS" \
    --seconds "$load_seconds" --reads "$reads" --zipf "$zipf" --procs "$procs" --pipeline "$pipeline" \
    --state "$WORK/$RUN.state.json" --json "$rj" >/dev/null 2>"$WORK/$RUN.run.err" || rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  row 0; put loadavg "$(cut -d' ' -f1 /proc/loadavg)"
  [[ -s "$rj" ]] || { cat "$WORK/$RUN.run.err" >&2; die "$RUN: the timed load failed (client status $rc)"; }
  local f
  for f in ops ops_per_s p50_ms p99_ms p999_ms reads writes mismatches missing keys_written; do put "$f" "$(jval "$rj" "$f")"; done
  log "  $(jval "$rj" ops_per_s) ops/s, p50 $(jval "$rj" p50_ms) ms, p99 $(jval "$rj" p99_ms) ms; $(jval "$rj" mismatches) wrong and $(jval "$rj" missing) missing of $(jval "$rj" reads) reads; $(jval "$rj" writes) writes"
  if [[ $rc -ne 0 ]]; then
    head -20 "$WORK/$RUN.run.err" >&2
    die "$RUN: the timed load read values that differ from what was written"
  fi
  local tot_after=0 tot_mean=0 tot_max=0 tot_far=0 tot_rf=0
  for i in 1 2 3; do
    row "$i"
    local r mean mx
    r=$(rss_bytes "${NODE_PIDS[$i]}")
    read -r mean mx < <(awk -v c="$i" '{s += $c; if ($c > m) m = $c; n++} END {printf "%d %d\n", n ? s / n : 0, m}' "$WORK/$RUN.rss")
    put rss_after "$r"; put rss_run_mean "$mean"; put rss_run_max "$mx"
    tot_after=$((tot_after + r)); tot_mean=$((tot_mean + mean)); tot_max=$((tot_max + mx))
    if [[ $mode == libtmc ]]; then
      tmc_stats "${NODE_PIDS[$i]}" "$WORK/$RUN.n$i.after.json" || die "$RUN: tmcctl stats of node $i failed"
      local fa rf
      read -r fa rf < <(jget "$WORK/$RUN.n$i.after.json" faults refaults | paste -sd' ')
      put faults_run "$((fa - $(jget "$WORK/$RUN.n$i.cold.json" faults)))"
      put refaults_run "$((rf - $(jget "$WORK/$RUN.n$i.cold.json" refaults)))"
      tot_far=$((tot_far + fa - $(jget "$WORK/$RUN.n$i.cold.json" faults)))
      tot_rf=$((tot_rf + rf - $(jget "$WORK/$RUN.n$i.cold.json" refaults)))
    fi
  done
  row 0; put rss_after "$tot_after"; put rss_run_mean "$tot_mean"; put rss_run_max "$tot_max"
  [[ $mode == libtmc ]] && { put faults_run "$tot_far"; put refaults_run "$tot_rf"; }
  log "  RSS after the load: total $(mib "$tot_after") MiB (mean during it $(mib "$tot_mean") MiB)"

  # ---- every key
  log "reading every key back..."
  local cj="$WORK/$RUN.check.json"
  rc=0
  timeout 3600 "$PY" "$CLIENT" "$([[ $kind == redis ]] && echo redis || echo mc)-check" \
    $([[ $kind == redis ]] && echo --nodes || echo --servers) "$(node_list)" --dir "$DS" --procs "$procs" \
    --state "$WORK/$RUN.state.json" $([[ $kind == redis ]] && echo --reset) --json "$cj" >/dev/null 2>"$WORK/$RUN.check.err" || rc=$?
  [[ -s "$cj" ]] || { cat "$WORK/$RUN.check.err" >&2; die "$RUN: the full check failed (client status $rc)"; }
  row 0; put check_equal "$(jval "$cj" equal)"; put check_wrong "$(jval "$cj" wrong)"; put check_missing "$(jval "$cj" missing)"
  log "  $(jval "$cj" equal) equal, $(jval "$cj" wrong) wrong, $(jval "$cj" missing) missing of $keys ($(jval "$cj" seconds)s)"
  if [[ $rc -ne 0 ]]; then
    head -20 "$WORK/$RUN.check.err" >&2
    die "$RUN: values read back differ from what was written"
  fi
  if [[ $kind == redis ]]; then
    local bad=0 d dl pd
    for i in 1 2 3; do
      row "$i"
      d=$(rc_node "$i" DEBUG DIGEST)
      put digest_reset "$d"
      dl=$(grep '^digest_load=' "$ROW" | tail -1 | cut -d= -f2)
      [[ "$d" == "$dl" ]] || { bad=1; log "  node $i: DEBUG DIGEST $d after the reset differs from $dl after the load"; }
      if [[ $mode == libtmc && -f "$WORK/redis-plain.row$i" ]]; then
        pd=$(grep '^digest_load=' "$WORK/redis-plain.row$i" | tail -1 | cut -d= -f2)
        if [[ "$(grep '^slots=' "$WORK/redis-plain.row$i" | tail -1)" != "$(grep '^slots=' "$ROW" | tail -1)" ]]; then
          put digest_plain_ok "slots differ"
        elif [[ -n "$pd" && "$d" == "$pd" && "$dl" == "$pd" ]]; then
          put digest_plain_ok yes
        else
          put digest_plain_ok no; bad=1
          log "  node $i: DEBUG DIGEST $dl (load) / $d (reset) differs from the plain node's $pd"
        fi
      fi
    done
    ((bad == 0)) || die "$RUN: DEBUG DIGEST differs"
    log "  DEBUG DIGEST of every node equal after the load and after writing the changed keys back$([[ $mode == libtmc ]] && echo ", and equal to the plain cluster's")"
  else
    local ev tot=0
    for i in 1 2 3; do row "$i"; ev=$(mc_stat "$i" evictions); put mc_evictions "$ev"; tot=$((tot + ev)); done
    row 0; put mc_evictions "$tot"
    ((tot == 0)) || die "$RUN: memcached evicted $tot items (raise --mem-mb)"
  fi

  # ---- stop
  local ec
  for i in 1 2 3; do
    ec=0
    if [[ $kind == redis ]]; then
      rc_node "$i" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
      local t
      for ((t = 0; t < 600; t++)); do kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
      wait "${NODE_PIDS[$i]}" || ec=$?
      [[ $ec -eq 0 ]] || die "$RUN: node $i exited with status $ec"
    else
      stop_pid "${NODE_PIDS[$i]}" 30 || ec=$?
      [[ $ec -eq 0 || $ec -eq 143 ]] || die "$RUN: node $i exited with status $ec"
    fi
    no_crash_report "$WORK/$RUN.n$i.log" || die "$RUN: crash report in node $i's log"
  done
}

# guarded KIND MODE: one_run in a subshell whose `die` records the reason and whose exit
# stops its nodes; returns its status.
guarded() {
  local rc=0
  set +e
  (
    set -e
    die() {
      printf '%s\n' "$*" >"$WORK/$RUN.fail"
      printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
      exit 1
    }
    trap stop_nodes EXIT
    trap 'exit 130' INT TERM
    one_run "$@"
  )
  rc=$?
  set -e
  return $rc
}

failures=0
for kind in "${kinds[@]}"; do
  for mode in plain libtmc; do
    RUN="$kind-$mode"
    step "$kind, $mode$([[ $mode == libtmc ]] && echo " (every node under LD_PRELOAD=libtmc.so TMC_COLD_AGE=$cold_age)")"
    for i in 0 1 2 3; do row "$i"; : >"$ROW"; put system "$kind"; put mode "$mode"; put node "$([[ $i == 0 ]] && echo total || echo "n$i")"; done
    if guarded "$kind" "$mode"; then
      status=ok
    else
      failures=$((failures + 1))
      status="FAILED: $(cat "$WORK/$RUN.fail" 2>/dev/null || echo "exit status $?")"
    fi
    for i in 0 1 2 3; do
      row "$i"; put status "$status"
      if ((i > 0)); then
        put bug_lines "$(grep -c 'libtmc: bug' "$WORK/$RUN.n$i.log" 2>/dev/null || true)"
      fi
      row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
    done
  done
done

# ---------------------------------------------------------------- report
step "report"
cp "$CSV" "$out/cluster.csv"
"$PY" "$DATASETS_DIR/cluster_report.py" "$out/cluster.csv" "$out/cluster.md" \
  command="$ORIG_CMD" date="$STARTED_DATE" commit="$(git_desc "$REPO")" machine="$(machine_desc)" \
  loadavg_start="$LOAD_START" loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)" duration_s="$(($(date +%s) - STARTED_AT))" \
  keys="$keys" size="$size" seed="$seed" cold_age="$cold_age" load_seconds="$load_seconds" procs="$procs" \
  pipeline="$pipeline" reads="$reads" zipf="$zipf" mem_mb="$mem_mb" \
  redis="$(redis-server --version | head -1)" memcached="$(memcached -V)" \
  clients="python3-redis $("$PY" -c 'import redis; print(redis.__version__)'), python3-pymemcache $("$PY" -c 'import pymemcache; print(pymemcache.__version__)')" \
  libtmc="$TMC_LIB (sha256 $(sha256sum "$TMC_LIB" | cut -c1-16), built $(date -u -r "$TMC_LIB" '+%Y-%m-%d %H:%M:%S UTC'))"
log "wrote $out/cluster.md and $out/cluster.csv"
if ((failures > 0)); then
  die "$failures run(s) failed (see the status column; logs in $WORK)"
fi
