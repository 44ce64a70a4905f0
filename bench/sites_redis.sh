#!/usr/bin/env bash
# The allocation-site profile (TMC_SITES, `tmcctl sites`) and hot/cold segregation by call
# site (TMC_SEGREGATE) on Debian's redis-server under a skewed load.
#
# usage: bench/sites_redis.sh [--build-dir DIR] [--out DIR] [--seconds S]
#   --build-dir DIR  where libtmc.so, tmcctl and bench/tmc_loadgen are (default build; not
#                    built by this script)
#   --out DIR        where sites_redis.md and the raw outputs (sites_redis/) go (default
#                    bench/results)
#   --seconds S      length of the timed load (default 90; at least 20)
#
# Two runs, one server at a time: TMC_SEGREGATE=0, then TMC_SEGREGATE=1, both with
# TMC_CODEC=zstd TMC_COLD_AGE=30s and every other option at its default (TMC_* variables of
# the calling shell are removed). Each run:
#   1. starts redis-server under libtmc on 127.0.0.1 (a free port; --save "" --appendonly no
#      --enable-debug-command local), loads about 512 MiB of realistic values (tmc_loadgen
#      --load: JSON records, text, numbers, session blobs as strings, hashes and lists),
#      takes DEBUG DIGEST, and waits until compression settles (wait_settled of
#      bench/datasets/compress_lib.sh);
#      then takes `tmcctl sites` (table and --json) of the idle server;
#   2. runs a Zipf 0.99 load, 90% reads, every value read checked (tmc_loadgen --verify),
#      for --seconds, RSS sampled every second; 30 s into it (half-way when --seconds < 40)
#      captures `tmcctl sites PID --top 15`, `tmcctl sites PID --sort faults --top 10
#      --interval 2` (with `tmcctl stats` before and after it: the process's own fault rate),
#      `tmcctl sites PID --json` and `tmcctl stats PID --json`;
#   3. at the end records RSS, ops/s and p99 of the load, and libtmc's statistics (site_*,
#      segregated_callers, segregation_changes, cold_arena_bytes, evictions, faults);
#   4. checks the data: tmc_loadgen --check-all --reset (every key read back, then the loaded
#      values written back), and DEBUG DIGEST must equal the one taken before the load.
# Writes OUT/sites_redis.md (command, date, machine, revision, the TMC_SEGREGATE=0 run's two
# site tables, the immediate callers of malloc segregation decides on, a table of both runs
# and what segregation changed) and keeps every raw output in OUT/sites_redis/ (runs.csv: the
# numbers of both runs).
# Exit status: 0 when both runs passed every check, 1 otherwise (the report is still
# written, with the reason; the work directory with the logs is kept).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/sites_redis.sh${*:+ $*}"
build_dir="$REPO/build"
out="$REPO/bench/results"
seconds=90
SIZE=512M
COLD_AGE=30s
CODEC=zstd
SETTLE_TIMEOUT=300
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "sites_redis: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] && ((seconds >= 20)) || die "--seconds needs a whole number of seconds, at least 20"
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
LOADGEN="$build_dir/bench/tmc_loadgen"
[[ -x "$TMCCTL" ]] || die "tmcctl not found at $TMCCTL (cmake --build $build_dir --target tmcctl)"
[[ -x "$LOADGEN" ]] || die "tmc_loadgen not found at $LOADGEN (cmake --build $build_dir --target tmc_loadgen)"
grep -q 'tmcctl sites' <<<"$("$TMCCTL" 2>&1 || true)" || die "$TMCCTL has no 'sites' command: rebuild it"
need_bin redis-server redis-cli
KEEP_WORK_ON_FAIL=1  # from here on a failure keeps the work directory
mkdir -p "$out"
out="$(cd "$out" && pwd)"
RAW="$out/sites_redis"
mkdir -p "$RAW"
rm -f "$RAW"/seg[01].* "$RAW"/runs.csv "$RAW"/meta.json
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
# The revision as the run starts, and whether libtmc.so can be from it: sources newer than
# the library mean it was built from an earlier state of the tree.
GIT_START="$(git_desc "$REPO") (HEAD committed $(TZ=UTC git -C "$REPO" log -1 --format=%cd --date=format-local:'%Y-%m-%d %H:%M:%S' 2>/dev/null) UTC)"
STALE_SOURCES=$(find "$REPO/src" "$REPO/preload" "$REPO/include" -type f -newer "$TMC_LIB" 2>/dev/null | wc -l)
((STALE_SOURCES == 0)) || log "note: $STALE_SOURCES source files under src/, preload/, include/ are newer than $TMC_LIB"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
cold_s=$(duration_s "$COLD_AGE")
capture_at=30
((seconds >= 40)) || capture_at=$((seconds / 2))
# libtmc's options: only the ones this benchmark sets; TMC_* of the calling shell removed.
BASE_ENV=(env -u LD_PRELOAD)
while IFS= read -r v; do BASE_ENV+=(-u "$v"); done < <(compgen -e | grep '^TMC_' || true)

# ---------------------------------------------------------------- dataset
step "dataset"
"$LOADGEN" --ratio --keys 1000000 --json - >"$RAW/ratio.json"
read -r MEAN_VALUE R_ZSTD R_ZSTD_4K < <(jget "$RAW/ratio.json" mean_value_bytes zstd1_whole zstd1_4k | paste -sd' ')
KEYS=$(keys_for_size "$SIZE" "$MEAN_VALUE")
log "$KEYS keys of $MEAN_VALUE B on average ($SIZE of values; zstd -1 ${R_ZSTD}x whole, ${R_ZSTD_4K}x per 4 KiB)"
LG=("$LOADGEN" --server redis --keys "$KEYS" --seed 1 --quiet)

# ---------------------------------------------------------------- one run
REDIS_PID=""
REDIS_PORT=""
rcli() { timeout 600 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
info_field() { rcli INFO "$1" | tr -d '\r' | sed -n "s/^$2://p"; }
alive() { kill -0 "$REDIS_PID" 2>/dev/null || die "$1: redis-server died (log: $RAW/$NAME.redis.log)"; }

# one_run SEG: one run with TMC_SEGREGATE=SEG, recorded in $ROW (run under run_guarded).
one_run() {
  local seg="$1" name="seg$1"
  NAME="$name"
  local state="$WORK/$name.state" logf="$RAW/$name.redis.log"
  : >"$logf"
  start_on_free_port "$logf" "${BASE_ENV[@]}" LD_PRELOAD="$TMC_LIB" TMC_CODEC="$CODEC" TMC_COLD_AGE="$COLD_AGE" \
    TMC_SEGREGATE="$seg" redis-server --port @PORT@ --bind 127.0.0.1 --save "" --appendonly no \
    --enable-debug-command local --daemonize no --logfile "" || die "$name: redis-server did not start"
  REDIS_PID=$STARTED_PID
  REDIS_PORT=$STARTED_PORT
  SERVER_PID=$REDIS_PID
  is_preloaded "$REDIS_PID" || die "$name: libtmc.so is not mapped into redis-server"
  put pid "$REDIS_PID"

  # 1. load, digest, settle
  local t0
  t0=$(date +%s.%N)
  "${LG[@]}" --port "$REDIS_PORT" --load --state "$state" --json "$RAW/$name.load.json" || die "$name: the load failed"
  put load_s "$(secs_since "$t0")"
  alive "$name: after the load"
  [[ "$(rcli DBSIZE)" == "$KEYS" ]] || die "$name: DBSIZE $(rcli DBSIZE), expected $KEYS"
  local hwm
  hwm=$(hwm_bytes "$REDIS_PID")
  put rss_loaded "$(rss_bytes "$REDIS_PID")"; put rss_peak "$hwm"; put used_memory "$(info_field memory used_memory)"
  DIGEST_BEFORE=$(rcli DEBUG DIGEST) || die "$name: DEBUG DIGEST failed"
  put digest_before "$DIGEST_BEFORE"
  log "  loaded $KEYS keys in $(secs_since "$t0")s: RSS $(mib "$(rss_bytes "$REDIS_PID")") MiB, digest $DIGEST_BEFORE"
  log "  waiting until compression settles (cold age $COLD_AGE, at most ${SETTLE_TIMEOUT}s)..."
  wait_settled "$REDIS_PID" "$cold_s" "$SETTLE_TIMEOUT" "$hwm" "$RAW/$name.settle-samples"
  put settled "$SETTLED"; put settle_s "$SETTLE_S"; put rss_settled "$(rss_bytes "$REDIS_PID")"
  tmc_stats "$REDIS_PID" "$RAW/$name.stats-settled.json" || die "$name: tmcctl stats failed"
  # The profile before the load (the server idle, its data cold): what segregation saw then.
  timeout 60 "$TMCCTL" sites "$REDIS_PID" --top 15 --interval 0 >"$RAW/$name.sites-settled.txt" 2>&1 ||
    die "$name: tmcctl sites failed: $(cat "$RAW/$name.sites-settled.txt")"
  timeout 60 "$TMCCTL" sites "$REDIS_PID" --json --interval 0 >"$RAW/$name.sites-settled.json" || die "$name: tmcctl sites --json failed"

  # 2. the timed load; the profile 30 s into it
  : >"$RAW/$name.rss"
  (while kill -0 "$REDIS_PID" 2>/dev/null; do
    echo "$(date +%s.%N) $(rss_bytes "$REDIS_PID" 2>/dev/null || echo 0) $(cut -d' ' -f1 /proc/loadavg)" >>"$RAW/$name.rss"
    sleep 1
  done) &
  local sampler=$!
  local lg_rc=0
  "${LG[@]}" --port "$REDIS_PORT" --duration "${seconds}s" --warmup 5s --dist zipf:0.99 --reads 0.9 --verify \
    --state "$state" --json "$RAW/$name.loadgen.json" &
  local lg=$!
  sleep "$capture_at"
  alive "$name: ${capture_at}s into the load"
  kill -0 "$lg" 2>/dev/null || log "  WARNING: the load generator ended before the profile was taken"
  log "  ${capture_at}s into the load: tmcctl sites and stats"
  timeout 60 "$TMCCTL" sites "$REDIS_PID" --top 15 >"$RAW/$name.sites-bytes.txt" 2>&1 ||
    die "$name: tmcctl sites failed: $(cat "$RAW/$name.sites-bytes.txt")"
  # The process's own fault rate over the same seconds as the faults table (stats before and after it).
  local ta tb
  ta=$(date +%s.%N)
  timeout 60 "$TMCCTL" stats "$REDIS_PID" --json >"$RAW/$name.stats-before-faults.json" || die "$name: tmcctl stats failed"
  timeout 60 "$TMCCTL" sites "$REDIS_PID" --sort faults --top 10 --interval 2 >"$RAW/$name.sites-faults.txt" 2>&1 ||
    die "$name: tmcctl sites --sort faults failed: $(cat "$RAW/$name.sites-faults.txt")"
  timeout 60 "$TMCCTL" stats "$REDIS_PID" --json >"$RAW/$name.stats-during.json" || die "$name: tmcctl stats failed"
  tb=$(date +%s.%N)
  put proc_faults_per_s "$(awk -v a="$(jget "$RAW/$name.stats-before-faults.json" faults)" -v b="$(jget "$RAW/$name.stats-during.json" faults)" \
    -v ta="$ta" -v tb="$tb" 'BEGIN {printf "%.0f", (b - a) / (tb - ta)}')"
  put segregated_callers_during "$(jget "$RAW/$name.stats-during.json" segregated_callers)"
  put cold_arena_bytes_during "$(jget "$RAW/$name.stats-during.json" cold_arena_bytes)"
  timeout 60 "$TMCCTL" sites "$REDIS_PID" --json --interval 0 >"$RAW/$name.sites.json" || die "$name: tmcctl sites --json failed"
  put rss_capture "$(rss_bytes "$REDIS_PID")"
  wait "$lg" || lg_rc=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  alive "$name: after the timed load"

  # 3. what the load measured, and libtmc's statistics at its end
  put rss_end "$(rss_bytes "$REDIS_PID")"; put loadavg_end "$(cut -d' ' -f1 /proc/loadavg)"
  tmc_stats "$REDIS_PID" "$RAW/$name.stats-end.json" || die "$name: tmcctl stats failed"
  [[ -s "$RAW/$name.loadgen.json" ]] || die "$name: the timed load wrote no report (exit status $lg_rc)"
  local ops p50 p99 p999 rp99 wp99 nops chk mis cpu secs
  read -r ops p50 p99 p999 rp99 wp99 nops chk mis cpu secs < <(loadgen_run_summary "$RAW/$name.loadgen.json")
  put ops_per_s "$ops"; put p50_us "$p50"; put p99_us "$p99"; put p999_us "$p999"; put run_ops "$nops"
  put checked "$chk"; put mismatches "$mis"; put loadgen_rc "$lg_rc"
  local f
  for f in site_samples site_live_samples site_stacks site_dropped site_table_bytes segregated_callers \
    segregation_changes cold_arena_bytes evictions faults compressed_pages orig_bytes compr_bytes pool_bytes \
    self_faults verify_failures; do
    put "$f" "$(jget "$RAW/$name.stats-end.json" "$f")"
  done
  put segregated_callers_settled "$(jget "$RAW/$name.stats-settled.json" segregated_callers)"
  put segregation_changes_settled "$(jget "$RAW/$name.stats-settled.json" segregation_changes)"
  put faults_run "$(($(jget "$RAW/$name.stats-end.json" faults) - $(jget "$RAW/$name.stats-settled.json" faults)))"
  local rmean rmax lmean
  read -r rmean rmax lmean < <(awk '$2 > 0 {s += $2; l += $3; n++; if ($2 > m) m = $2} END {if (n) printf "%d %d %.1f\n", s / n, m, l / n; else print "0 0 0"}' "$RAW/$name.rss")
  put rss_run_mean "$rmean"; put rss_run_max "$rmax"; put loadavg_run "$lmean"
  log "  $(printf '%.0f' "$ops") ops/s, p99 ${p99} us; RSS during the load $(mib "$rmean") MiB (max $(mib "$rmax")); $chk values checked, $mis mismatches"
  log "  segregated_callers $(jget "$RAW/$name.stats-end.json" segregated_callers), segregation_changes $(jget "$RAW/$name.stats-end.json" segregation_changes), cold_arena_bytes $(jget "$RAW/$name.stats-end.json" cold_arena_bytes)"
  ((lg_rc == 0)) || die "$name: the timed load failed (exit status $lg_rc; $mis mismatches)"

  # 4. the data: every key, the loaded values written back, the digest from before the load
  if "${LG[@]}" --port "$REDIS_PORT" --check-all --reset --state "$state" --json "$RAW/$name.check.json"; then
    put check_all_ok yes
  else
    put check_all_ok no
    alive "$name: --check-all"
    die "$name: --check-all found values that differ (or failed)"
  fi
  local after
  after=$(rcli DEBUG DIGEST) || die "$name: DEBUG DIGEST failed"
  put digest_after "$after"
  if [[ "$after" == "$DIGEST_BEFORE" ]]; then put digest_ok yes; else put digest_ok no; die "$name: DEBUG DIGEST $after after the load differs from $DIGEST_BEFORE before it"; fi
  log "  data: every key read back equal; DEBUG DIGEST after --reset equals the one before the load"
  rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  local rc=0
  stop_pid "$REDIS_PID" 30 || rc=$?
  SERVER_PID=""
  ((rc == 0)) || die "$name: redis-server exited with status $rc"
  no_crash_report "$logf" || die "$name: crash report in the redis log"
  ! grep -q 'libtmc: bug' "$logf" || die "$name: libtmc reported a bug of its own (log: $logf)"
}

COLUMNS=(mode status pid load_s used_memory rss_loaded rss_peak settled settle_s rss_settled rss_capture
  rss_run_mean rss_run_max rss_end ops_per_s p50_us p99_us p999_us run_ops checked mismatches loadgen_rc
  check_all_ok digest_before digest_after digest_ok site_samples site_live_samples site_stacks site_dropped
  site_table_bytes segregated_callers segregation_changes cold_arena_bytes evictions faults faults_run
  compressed_pages orig_bytes compr_bytes pool_bytes self_faults verify_failures loadavg_run loadavg_end
  segregated_callers_settled segregation_changes_settled segregated_callers_during cold_arena_bytes_during proc_faults_per_s)
CSV="$RAW/runs.csv"
(IFS=,; echo "${COLUMNS[*]}") >"$CSV"
failures=0
for seg in 0 1; do
  step "redis-server under libtmc, TMC_SEGREGATE=$seg TMC_CODEC=$CODEC TMC_COLD_AGE=$COLD_AGE"
  ROW="$WORK/seg$seg.row"
  : >"$ROW"
  put mode "TMC_SEGREGATE=$seg"
  if run_guarded "seg$seg" one_run "$seg"; then
    put status ok
  else
    failures=$((failures + 1))
    put status "FAILED: $(cat "$WORK/seg$seg.fail" 2>/dev/null || echo "see the log")"
  fi
  row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
done

# ---------------------------------------------------------------- report
step "report"
"$PY" - "$RAW/meta.json" <<PY
import json, sys
json.dump({"command": """$ORIG_CMD""", "date": "$STARTED_DATE", "machine": """$(machine_desc)""",
    "libtmc": """$GIT_START; $TMC_LIB built $(date -u -r "$TMC_LIB" '+%Y-%m-%d %H:%M:%S UTC')$( ((STALE_SOURCES == 0)) ||
      echo ", before $STALE_SOURCES source files under src/, preload/, include/ last changed: built from an earlier state of the tree than this revision")""",
    "redis": """$(redis-server --version | head -1)""", "keys": $KEYS, "size": "$SIZE",
    "mean_value_bytes": $MEAN_VALUE, "zstd_whole": $R_ZSTD, "zstd_4k": $R_ZSTD_4K, "seconds": $seconds,
    "capture_at": $capture_at, "cold_age": "$COLD_AGE", "codec": "$CODEC", "loadavg_start": "$LOADAVG_START",
    "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)", "duration_s": $(($(date +%s) - STARTED_AT))},
    open(sys.argv[1], "w"), indent=1)
PY
"$PY" - "$RAW" "$out/sites_redis.md" <<'PY'
import csv, json, os, sys
raw, md = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(raw, "meta.json")))
rows = {r["mode"]: r for r in csv.DictReader(open(os.path.join(raw, "runs.csv")))}
MODES = ("TMC_SEGREGATE=0", "TMC_SEGREGATE=1")
r0, r1 = rows.get(MODES[0], {}), rows.get(MODES[1], {})

def num(r, k, default=None):
    try:
        return float(r.get(k, ""))
    except (TypeError, ValueError):
        return default
def mib(b):
    try:
        return f"{float(b) / 2**20:.0f} MiB"
    except (TypeError, ValueError):
        return "-"
def val(r, k):
    v = r.get(k, "")
    return v if v not in ("", None) else "-"
def text(name):
    try:
        return open(os.path.join(raw, name)).read().rstrip("\n")
    except OSError:
        return "(not captured)"
def pct(a, b):
    return f"{100 * a / b:.0f}%" if b else "-"

# Immediate callers of malloc (frames[0]: the return address segregation decides on) in a
# `tmcctl sites --json` profile, with segregation.h's rule applied to all live samples (the
# library counts only samples older than twice the cold age, which tmcctl does not show):
# cold when >= 8 samples and >= 80% of the bytes on evicted pages, at least 30 points above
# the rest of the sampled heap (which must hold a tenth of it), unless mixed (a stack holding
# >= 10% of the caller's bytes under 50% evicted, or two such stacks going on to different
# functions).
def callers(name):
    try:
        j = json.load(open(os.path.join(raw, name)))
    except (OSError, ValueError):
        return None, 0
    by = {}
    for s in j["listed"]:
        fr = s["frames"][0] if s["frames"] else {"function": "", "module": "(no stack)", "offset": 0}
        key = f"{fr['function'] or fr.get('module') or '?'}+{fr['offset']:#x}"
        c = by.setdefault(key, {"key": key, "bytes": 0, "evicted": 0, "samples": 0, "sites": []})
        c["bytes"] += s["bytes"]; c["evicted"] += s["evicted_bytes"]; c["samples"] += s["live_samples"]; c["sites"].append(s)
    all_bytes = sum(c["bytes"] for c in by.values())
    all_evicted = sum(c["evicted"] for c in by.values())
    for c in by.values():
        big = [s for s in c["sites"] if s["bytes"] > 0 and s["bytes"] >= 0.1 * c["bytes"]]
        hot = [s for s in big if s["evicted_bytes"] < 0.5 * s["bytes"]]
        nexts = {(s["frames"][1]["address"] if len(s["frames"]) > 1 else "") for s in big}
        c["mixed"], c["hot_bytes"] = bool(hot) or len(nexts) > 1, sum(s["bytes"] for s in hot)
        c["share_evicted"] = c["evicted"] / c["bytes"] if c["bytes"] else 0
        rest = all_bytes - c["bytes"]
        c["contrast"] = c["share_evicted"] - ((all_evicted - c["evicted"]) / rest if rest > 0 else 1)
        c["cold"] = (c["samples"] >= 8 and c["share_evicted"] >= 0.8 and not c["mixed"] and rest >= 0.1 * all_bytes
                     and c["contrast"] >= 0.3)
    return sorted(by.values(), key=lambda c: -c["bytes"]), j["total"]["bytes"]

def callers_table(name, title):
    cs, total = callers(name)
    L = [title, ""]
    if not cs:
        return L + ["(not captured)", ""]
    L.append("| immediate caller | sampled bytes | share | live samples | stacks | on evicted pages | mixed | cold by the rule |")
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for c in cs[:8]:
        mixed = ("no" if not c["mixed"] else f"yes ({pct(c['hot_bytes'], c['bytes'])} of its bytes in mostly resident stacks)" if c["hot_bytes"] else "yes (its stacks go on to different functions)")
        L.append(f"| `{c['key']}` | {c['bytes'] / 2**20:.1f} MiB | {pct(c['bytes'], total)} | {c['samples']} | {len(c['sites'])} | "
                 f"{100 * c['share_evicted']:.0f}% | {mixed} | {'yes' if c['cold'] else 'no'} |")
    if len(cs) > 8:
        rest = cs[8:]
        L.append(f"| ({len(rest)} more) | {sum(c['bytes'] for c in rest) / 2**20:.1f} MiB | {pct(sum(c['bytes'] for c in rest), total)} | | | | | |")
    return L + [""]

# The faults table's FAULTS/S column, summed over the listed sites.
def faults_column_sum(name):
    total, in_table = 0.0, False
    for line in text(name).splitlines():
        if line.lstrip().startswith("BYTES"):
            in_table = True
            continue
        f = line.split()
        if in_table and len(f) >= 7 and not line.rstrip().endswith("sites)"):
            try:
                total += float(f[4])
            except ValueError:
                pass
    return total

L = ["# Allocation sites and hot/cold segregation: Redis under a Zipf load", ""]
L += ["Produced by:", "", "```", meta["command"], "```", ""]
L.append(f"- Date: {meta['date']}; machine: {meta['machine']}")
L.append(f"- libtmc: {meta['libtmc']}; server: {meta['redis']}")
L.append(f"- Dataset: {meta['keys']} keys written by `tmc_loadgen --load` ({meta['size'].rstrip('M')} MiB of realistic values, "
         f"{meta['mean_value_bytes']} B on average, 100 B - 4 KiB log-uniform; strings 65%, hashes 20%, lists 15%; "
         f"zstd -1 {meta['zstd_whole']}x whole, {meta['zstd_4k']}x per 4 KiB)")
L.append(f"- Each run, one server at a time: redis-server under libtmc with `TMC_CODEC={meta['codec']} TMC_COLD_AGE={meta['cold_age']}` "
         f"and `TMC_SEGREGATE=0` or `1`, every other option at its default (`TMC_SITES=1`, `TMC_SITE_SAMPLE=1M`); the load; "
         f"`DEBUG DIGEST`; a wait until compression settles (RSS and evictions quiet); a {meta['seconds']} s Zipf 0.99 load, 90% reads, "
         f"one client thread with 4 connections, pipeline 8, every value read checked (ops/s and latency leave the first 5 s out); "
         f"`tmcctl sites` and `tmcctl stats` {meta['capture_at']} s into it; then every key read back (`--check-all`), the loaded values "
         f"written back (`--reset`) and `DEBUG DIGEST` compared with the one before the load")
L.append(f"- Machine load: other benchmarks ran on the same 2 cores (load average {meta['loadavg_start']} at the start, "
         f"{meta['loadavg_end']} at the end; per run below): ops/s and p99 of the two runs are not comparable to better than that")
L.append("- Raw outputs in `sites_redis/`: per run (`seg0.*`, `seg1.*`) the `tmcctl sites` tables and JSON once settled and during the load, "
         "`tmcctl stats --json` once settled, around the faults table and at the end, the load generator's JSON, RSS and load average "
         "per second (`.rss`), the settle samples, the server log; `runs.csv` has every number below")
L.append("")

L += [f"## `tmcctl sites` {meta['capture_at']} s into the load, TMC_SEGREGATE=0", ""]
L += ["```", "$ tmcctl sites PID --top 15", text("seg0.sites-bytes.txt"), "```", ""]
L += ["```", "$ tmcctl sites PID --sort faults --top 10 --interval 2", text("seg0.sites-faults.txt"), "```", ""]
fsum = faults_column_sum("seg0.sites-faults.txt")
pf = num(r0, "proc_faults_per_s")
if pf is not None:
    L.append(f"FAULTS/S is an estimate, not a count: each fault on a sampled object's page counts 1/p (p: that object's "
             f"chance of being sampled, about its size / 1 MiB), i.e. the faults the site's objects would take if each sat "
             f"alone on its page like the sampled one does. The listed sites add up to {fsum:,.0f}/s, while the process "
             f"took {pf:,.0f} faults/s over the same seconds (`tmcctl stats`, `faults`); a site of small objects "
             f"(a dictEntry, some tens of bytes: p about 1/30000) shows tens of thousands per second from one fault.")
    L.append("")

L += callers_table("seg0.sites.json", f"## Immediate callers of malloc, TMC_SEGREGATE=0, {meta['capture_at']} s into the load")[:2]
L.append("What TMC_SEGREGATE decides on: the sampled live bytes grouped by the first frame of their stacks, the return address "
         "into the function that called malloc. A caller becomes cold when it has 8 live samples or more and 80% of their "
         "bytes are on evicted pages, at least 30 points above the rest of the sampled heap (a tenth of it at least), "
         "unless it is mixed: a stack through it holding 10% or more of its bytes is under 50% evicted, or two such "
         "stacks go on to different functions; it becomes ordinary again under 50%. The library counts only samples older than twice the cold age "
         "(60 s here), which `tmcctl sites` does not show: the last column applies the rule to all live samples. In Redis "
         "the callers are zmalloc's entry points (`ztrymalloc_usable_internal` is inlined into each).")
L.append("")
L += callers_table("seg0.sites.json", "")[2:]
L += callers_table("seg1.sites-settled.json", "The same for the TMC_SEGREGATE=1 run once compression had settled, just before the load (the server idle for a minute or more):")

L += ["## Both runs", ""]
L.append("| mode | status | RSS settled | RSS during the load (mean / max) | ops/s | p99 | load average during the load | "
         "segregated_callers (settled / during / end) | segregation_changes (end) | cold_arena_bytes (during / end) |")
L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for mode in MODES:
    r = rows.get(mode)
    if not r:
        continue
    ops, p99 = num(r, "ops_per_s"), num(r, "p99_us")
    L.append(f"| {mode} | {r['status']} | {mib(r.get('rss_settled'))} | {mib(r.get('rss_run_mean'))} / {mib(r.get('rss_run_max'))} | "
             f"{f'{ops:,.0f}' if ops is not None else '-'} | {f'{p99:,.0f} µs' if p99 is not None else '-'} | {val(r, 'loadavg_run')} | "
             f"{val(r, 'segregated_callers_settled')} / {val(r, 'segregated_callers_during')} / {val(r, 'segregated_callers')} | "
             f"{val(r, 'segregation_changes')} | {mib(r.get('cold_arena_bytes_during'))} / {mib(r.get('cold_arena_bytes'))} |")
L.append("")
L.append("| mode | faults in the load | site_samples | site_live_samples | site_stacks | site_dropped | site_table_bytes | values checked | mismatches | --check-all | DEBUG DIGEST after = before |")
L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for mode in MODES:
    r = rows.get(mode)
    if not r:
        continue
    L.append(f"| {mode} | {val(r, 'faults_run')} | {val(r, 'site_samples')} | {val(r, 'site_live_samples')} | {val(r, 'site_stacks')} | "
             f"{val(r, 'site_dropped')} | {mib(r.get('site_table_bytes'))} | {val(r, 'checked')} | {val(r, 'mismatches')} | "
             f"{val(r, 'check_all_ok')} | {val(r, 'digest_ok')} |")
L.append("")

# What segregation changed, from the numbers above.
L += ["## What segregation changed", ""]
if r0.get("status") == "ok" and r1.get("status") == "ok":
    g = lambda r, k: int(num(r, k, 0))
    d = lambda k: f"{100 * (num(r1, k) / num(r0, k) - 1):+.1f}%" if num(r0, k) else "-"
    diffs = (f"RSS during the load {mib(r0['rss_run_mean'])} without segregation and {mib(r1['rss_run_mean'])} with it ({d('rss_run_mean')}), "
             f"ops/s {d('ops_per_s')}, p99 {d('p99_us')}, faults in the load {d('faults_run')} (load average "
             f"{val(r0, 'loadavg_run')} and {val(r1, 'loadavg_run')} during the two loads; one run each)")
    changes = g(r1, "segregation_changes")
    if changes == 0:
        s = (f"Nothing: with `TMC_SEGREGATE=1` no caller was ever moved to the cold arena (segregation_changes 0, cold_arena_bytes "
             f"{mib(r1.get('cold_arena_bytes'))}), so both runs placed their objects alike; the differences are those of two runs on a "
             f"shared machine: {diffs}.")
    elif g(r1, "segregated_callers_settled") == 0:
        s = (f"With `TMC_SEGREGATE=1` callers were moved during the load only: segregated_callers "
             f"{val(r1, 'segregated_callers_during')} {meta['capture_at']} s in and {val(r1, 'segregated_callers')} at the end, "
             f"{changes} changes in all, cold arena {mib(r1.get('cold_arena_bytes_during'))} {meta['capture_at']} s in and "
             f"{mib(r1.get('cold_arena_bytes'))} at the end. Measured effect: {diffs}.")
    else:
        cs, _ = callers("seg1.sites-settled.json")
        cold_now = [c for c in (cs or []) if c["cold"]]
        held = sum(c["bytes"] for c in cold_now) / max(sum(c["bytes"] for c in cs or []), 1)
        tot_b = sum(c["bytes"] for c in cs or [])
        settled_share = sum(c["evicted"] for c in cs or []) / max(tot_b, 1)
        n_mixed = sum(1 for c in cs or [] if c["mixed"] and c["samples"] >= 8)
        during_shares = ", ".join("%.0f%%" % (100 * c["share_evicted"]) for c in (callers("seg0.sites.json")[0] or [])[:3])
        s = (f"Segregation did act, though not as a split of hot from cold callers. While the server sat idle waiting for "
             f"compression to settle, "
             + ((f"{100 * settled_share:.0f}% of the sampled bytes were on evicted pages and "
                 f"{'no caller with 8 samples or more had a mostly resident stack (none mixed)' if n_mixed == 0 else f'{n_mixed} caller(s) with 8 samples or more looked mixed'}, so ")
                if cs else "")
             + f"{val(r1, 'segregated_callers_settled')} caller(s) were cold before the load began"
             + (f" (by the rule on all live samples: {', '.join('`' + c['key'] + '`' for c in cold_now)}, the callers of "
                f"{100 * held:.0f}% of the sampled bytes)" if cold_now else "")
             + f". Once the load started, new allocations from them (nearly all of Redis's allocations, whatever they are for: the values the load rewrites "
             f"included) went to the cold arena "
             f"({mib(r1.get('cold_arena_bytes_during'))} {meta['capture_at']} s in, {val(r1, 'segregated_callers_during')} callers still cold); "
             f"as the Zipf load faulted their samples back the callers became ordinary again ({val(r1, 'segregated_callers')} cold at the end, "
             f"{changes} changes in all), leaving {mib(r1.get('cold_arena_bytes'))} in the cold arena. The per-caller decision cannot separate "
             f"Redis's hot and cold data, which all comes from the same few zmalloc entry points: during the load those callers sit at "
             f"{during_shares} of their bytes on evicted pages "
             f"(TMC_SEGREGATE=0 run, table above), neither cold nor hot. Measured effect: {diffs}.")
    L.append(s)
else:
    L.append("A run failed (status above): no comparison.")
L.append("")
open(md, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
log "wrote $out/sites_redis.md and $RAW/"
((failures == 0)) || die "$failures run(s) failed (see the status column; logs in $RAW and $WORK)"
