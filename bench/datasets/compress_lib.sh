# Shared by bench/redis_compress.sh and bench/memcached_compress.sh (and scripts/redis_demo.sh):
# memory readings, libtmc statistics, waiting until compression has settled, a description
# of the machine. Source it after tests/programs/lib.sh (which gives $PY, $WORK, log/die,
# on_exit, stop_pid, free_port, wait_port).

DATASETS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RECORDS="$DATASETS_DIR/records.py"

# rss_bytes PID / hwm_bytes PID: VmRSS / VmHWM (peak resident set) of PID, in bytes.
rss_bytes() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
hwm_bytes() { awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$1/status"; }
# pss_bytes PID: proportional set size of PID (/proc/PID/smaps_rollup), in bytes: a page
# mapped N times counts 1/N, so pages KSM merged count once in all, where VmRSS counts them
# once per mapping.
pss_bytes() { awk '/^Pss:/ {print $2 * 1024}' "/proc/$1/smaps_rollup"; }

# tmc_stats PID FILE: libtmc's statistics of PID as JSON into FILE.
tmc_stats() { timeout 30 "$TMCCTL" stats "$1" --json >"$2"; }

# jget FILE FIELD...: the fields of a flat JSON object, one per line ("-" for a field the
# object does not have, e.g. a statistic an older libtmc does not report).
jget() {
  "$PY" - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for f in sys.argv[2:]:
    print(d.get(f, "-"))
PY
}

# duration_s DURATION: TMC_COLD_AGE-style duration (500ms, 10s, 2m, 1h, bare = s) in seconds.
duration_s() {
  "$PY" - "$1" <<'PY'
import re, sys
m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s|m|h)?\s*", sys.argv[1])
if not m:
    sys.exit("not a duration: %r" % sys.argv[1])
print(float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)])
PY
}

# mib BYTES: "1234.5" (MiB, one decimal).
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
# secs_since T0: seconds (one decimal) since T0, a `date +%s.%N` reading.
secs_since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN {printf "%.1f", a - b}'; }

# keys_for_size SIZE MEAN: how many values of MEAN bytes make SIZE (K/M/G suffixes), at least 1.
keys_for_size() {
  "$PY" - "$1" "$2" <<'PY'
import re, sys
m = re.fullmatch(r"([0-9.]+)([KMG]?)", sys.argv[1].upper())
if not m:
    sys.exit("--size: not a size: " + sys.argv[1])
print(max(1, int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)] / float(sys.argv[2]))))
PY
}

# loadgen_run_summary FILE: the timed run of a tmc_loadgen --json report, on one line:
# ops_per_s p50 p99 p999 read_p99 write_p99 (us) ops checked mismatches client_cpu_s seconds.
loadgen_run_summary() {
  "$PY" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["phases"].get("run", {})
l, rl, wl = r.get("latency_us", {}), r.get("read_latency_us", {}), r.get("write_latency_us", {})
print(r.get("ops_per_s", 0), l.get("p50", 0), l.get("p99", 0), l.get("p999", 0), rl.get("p99", 0), wl.get("p99", 0),
      r.get("ops", 0), d["checked"], d["mismatches"], r.get("client_cpu_s", 0), r.get("seconds", 1))
PY
}

# wait_settled PID COLD_AGE_S TIMEOUT_S PEAK_BYTES SAMPLES_FILE
# Polls every 5 s (RSS, and libtmc's evictions and faults) until compression has settled,
# at least COLD_AGE_S + 10 s after the call: over the last 20 s RSS moved (down or up) by
# less than max(4 MiB, 0.5% of PEAK_BYTES), and evictions and faults each grew by less than
# max(256, 1% of the pages held compressed); or RSS has not moved like that for 60 s while
# pages keep cycling (something in the program keeps touching cold pages: evicted, faulted
# back, evicted again). A burst of faults (memcached's LRU crawler walks every item about a
# minute after start) is not settled: its pages are evicted again a cold age later. Sets SETTLED (quiet | cycling | timeout) and SETTLE_S. One sample per line in
# SAMPLES_FILE: seconds rss evictions faults compressed_pages.
# Optional, set by the caller (bench/run_dedup.sh): SETTLE_MEM, a function printing the
# bytes of PID to watch instead of RSS (pss_bytes), and SETTLE_MEM_NAME its name in the
# log; SETTLE_NO_TMC=1 for a process without libtmc (no tmcctl; evictions and faults count
# as 0); SETTLE_UNTIL, a command that must succeed before the wait may end (ksmd has done
# enough full scans); SETTLE_POLL, the seconds between samples (5; the windows above are 4
# and 12 samples).
wait_settled() {
  local pid="$1" cold="$2" timeout="$3" peak="$4" samples="$5"
  local start now t rss ev fa cp
  local memfn="${SETTLE_MEM:-rss_bytes}" memname="${SETTLE_MEM_NAME:-RSS}" poll="${SETTLE_POLL:-5}"
  local -a T=() R=() E=() F=()
  start=$(date +%s.%N)
  : >"$samples"
  local thr_rss
  thr_rss=$(awk -v p="$peak" 'BEGIN {t = p * 0.005; if (t < 4194304) t = 4194304; printf "%d", t}')
  local last_print=-30
  SETTLED=timeout
  while :; do
    kill -0 "$pid" 2>/dev/null || die "process $pid died while compression was settling"
    if [[ -n "${SETTLE_NO_TMC:-}" ]]; then
      ev=0 fa=0 cp=0
    else
      tmc_stats "$pid" "$WORK/settle.json" || die "tmcctl stats $pid failed"
      read -r ev fa cp < <(jget "$WORK/settle.json" evictions faults compressed_pages | paste -sd' ')
    fi
    rss=$("$memfn" "$pid")
    now=$(date +%s.%N)
    t=$(awk -v a="$now" -v b="$start" 'BEGIN {printf "%.1f", a - b}')
    echo "$t $rss $ev $fa $cp" >>"$samples"
    T+=("$t"); R+=("$rss"); E+=("$ev"); F+=("$fa")
    if awk -v t="$t" -v p="$last_print" 'BEGIN {exit !(t - p >= 30)}'; then
      log "  +${t}s: $memname $(mib "$rss") MiB, $cp pages compressed, evictions $ev, faults $fa"
      last_print=$t
    fi
    local n=${#T[@]}
    if awk -v t="$t" -v c="$cold" 'BEGIN {exit !(t >= c + 10)}' && ((n >= 5)) &&
      { [[ -z "${SETTLE_UNTIL:-}" ]] || $SETTLE_UNTIL; }; then
      local r4=${R[$((n - 5))]} e4=${E[$((n - 5))]} f4=${F[$((n - 5))]}
      local quiet_rss=0 quiet_ev=0
      ((r4 - rss < thr_rss && rss - r4 < thr_rss)) && quiet_rss=1
      awk -v d="$((ev - e4))" -v f="$((fa - f4))" -v c="$cp" \
        'BEGIN {m = c * 0.01; if (m < 256) m = 256; exit !(d < m && f < m)}' && quiet_ev=1
      if ((quiet_rss && quiet_ev)); then SETTLED=quiet; break; fi
      if ((quiet_rss && n >= 13)); then
        local r12=${R[$((n - 13))]}
        if ((r12 - rss < thr_rss && rss - r12 < thr_rss)); then SETTLED=cycling; break; fi
      fi
    fi
    if awk -v t="$t" -v m="$timeout" 'BEGIN {exit !(t >= m)}'; then SETTLED=timeout; break; fi
    sleep "$poll"
  done
  SETTLE_S=$t
  log "  settled ($SETTLED) after ${SETTLE_S}s: $memname $(mib "$rss") MiB, $cp pages compressed, evictions $ev, faults $fa"
}

# machine_desc: one line: CPUs, memory, kernel.
machine_desc() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  printf '%s, nproc %s, %s MiB memory, Linux %s (%s)' "${cpu:-unknown CPU}" "$(nproc)" \
    "$(awk '/^MemTotal:/ {printf "%d", $2 / 1024}' /proc/meminfo)" "$(uname -r)" "$(uname -m)"
}

# git_desc DIR: "git abc1234" plus ", with uncommitted changes" when a tracked file differs
# from HEAD. Untracked files (the results of an earlier run) do not count: the build takes
# its sources from lists in tracked files.
git_desc() {
  local rev dirty=""
  rev=$(git -C "$1" rev-parse --short HEAD 2>/dev/null) || { echo "not a git checkout"; return; }
  [[ -n "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null)" ]] && dirty=", with uncommitted changes"
  echo "git $rev$dirty"
}

# need_tools: lz4 and zstd for the dataset's compressibility, python3, tmcctl.
need_compress_tools() {
  local b
  for b in lz4 zstd; do
    command -v "$b" >/dev/null 2>&1 || die "'$b' is not installed (scripts/install_deps.sh installs it)"
  done
  [[ -x "$TMCCTL" ]] || die "tmcctl not found at $TMCCTL (build it: cmake --build BUILD_DIR)"
}

# ---------------------------------------------------------------- result rows
# A run's results are collected as KEY=VALUE lines in a row file as they are measured, so
# that a run that fails half-way still reports what it measured and where it failed.
# put KEY VALUE: appends to $ROW (commas become ';', newlines spaces: the CSV stays flat).
put() {
  local v="${2//,/;}"
  v="${v//$'\n'/ }"
  printf '%s=%s\n' "$1" "$v" >>"$ROW"
}
# row_csv FILE COLUMN...: the row file's values in COLUMN order, as one CSV line (the last
# value of a key wins).
row_csv() {
  local file="$1"
  shift
  declare -A vals=()
  local k v
  while IFS='=' read -r k v; do vals[$k]="$v"; done <"$file"
  local out="" first=1 c
  for c in "$@"; do
    if ((first)); then out="${vals[$c]:-}"; first=0; else out+=",${vals[$c]:-}"; fi
  done
  echo "$out"
}
# run_guarded NAME FUNCTION ARGS...: runs FUNCTION in a subshell whose `die` records the
# reason in $WORK/NAME.fail instead of ending the whole benchmark, and whose exit stops
# the server it started (SERVER_PID) and any child of it (a stuck BGSAVE child, say).
# Returns the subshell's status.
run_guarded() {
  local name="$1"
  shift
  local rc=0
  set +e
  (
    set -e
    FAIL_FILE="$WORK/$name.fail"
    SERVER_PID=""
    die() {
      printf '%s\n' "$*" >"$FAIL_FILE"
      printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
      exit 1
    }
    _guard_cleanup() {
      local p c
      p="$SERVER_PID"
      [[ -n "$p" ]] || return 0
      for c in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
      stop_pid "$p" 20 >/dev/null 2>&1 || true
    }
    trap _guard_cleanup EXIT
    trap 'exit 130' INT TERM
    "$@"
  )
  rc=$?
  set -e
  return $rc
}

# diagnose_stuck PID: what a process that stopped making progress is doing (threads,
# kernel wait channel and stack, and a user-space backtrace when gdb is installed).
diagnose_stuck() {
  local pid="$1" t
  echo "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | tr -s ' ' | sed 's/ $//')), $(ls "/proc/$pid/task" 2>/dev/null | wc -l) thread(s):"
  for t in /proc/"$pid"/task/*; do
    [[ -d "$t" ]] || continue
    echo "  task $(basename "$t") '$(cat "$t/comm" 2>/dev/null)' state $(awk '/^State/ {print $2}' "$t/status" 2>/dev/null) wchan $(cat "$t/wchan" 2>/dev/null)"
    sed 's/^/      /' "$t/stack" 2>/dev/null | head -8
  done
  if command -v gdb >/dev/null 2>&1; then
    echo "  user-space backtrace (gdb):"
    timeout 60 gdb -p "$pid" -batch -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^(#|Thread)' | sed 's/^/    /' | head -40
  fi
}

# record_cold PID RUN HWM GOAL COLD_AGE COLD_S SETTLE_TIMEOUT: waits until compression settles,
# then records RSS once cold, its share of the peak (HWM) and of the plain run (PLAIN_RSS), the
# goal verdict and the engine's stats (put), and logs them. Sets COLD_FAULTS (faults so far).
record_cold() {
  local pid="$1" run="$2" hwm="$3" goal="$4" cold_age="$5" cold_s="$6" settle_timeout="$7"
  log "waiting until compression settles (cold age $cold_age, at most ${settle_timeout}s)..."
  wait_settled "$pid" "$cold_s" "$settle_timeout" "$hwm" "$WORK/$run.samples"
  local rss_after orig compr pool cpages zp sp ev fa rf p50 p99 cpu pct_peak pct_plain met=no
  rss_after=$(rss_bytes "$pid")
  put rss_peak_run "$(hwm_bytes "$pid")"
  tmc_stats "$pid" "$WORK/$run.stats-cold.json" || die "$run: tmcctl stats failed"
  read -r orig compr pool cpages zp sp ev fa rf p50 p99 cpu < <(jget "$WORK/$run.stats-cold.json" \
    orig_bytes compr_bytes pool_bytes compressed_pages zero_pages same_pages evictions faults refaults \
    fault_ns_p50 fault_ns_p99 cpu_ns_background | paste -sd' ')
  pct_peak=$(awk -v a="$rss_after" -v p="$hwm" 'BEGIN {printf "%.1f", 100 * a / p}')
  pct_plain=$(awk -v a="$rss_after" -v p="$PLAIN_RSS" 'BEGIN {printf "%.1f", 100 * a / p}')
  awk -v x="$pct_peak" -v g="$goal" 'BEGIN {exit !(x <= g)}' && met=yes
  put rss_after "$rss_after"; put after_peak_pct "$pct_peak"; put after_plain_pct "$pct_plain"; put goal_met "$met"
  put orig_bytes "$orig"; put compr_bytes "$compr"; put pool_bytes "$pool"; put compressed_pages "$cpages"
  put zero_pages "$zp"; put same_pages "$sp"; put evictions "$ev"; put faults "$fa"; put refaults "$rf"
  put fault_ns_p50 "$p50"; put fault_ns_p99 "$p99"; put cpu_ns_background "$cpu"
  put settled "$SETTLED"; put settle_s "$SETTLE_S"
  local selff
  selff=$(jget "$WORK/$run.stats-cold.json" self_faults)
  put self_faults "$selff"
  [[ "$selff" == 0 || "$selff" == - ]] || log "  WARNING: self_faults = $selff (libtmc's own threads faulted on managed memory: a libtmc bug)"
  log "  RSS once cold $(mib "$rss_after") MiB = ${pct_peak}% of the peak after the load, ${pct_plain}% of plain; goal <= ${goal}%: $met"
  log "  compressed: $cpages pages, $(mib "$orig") MiB -> $(mib "$compr") MiB of blobs, pool $(mib "$pool") MiB; $fa faults so far"
  COLD_FAULTS="$fa"
}
