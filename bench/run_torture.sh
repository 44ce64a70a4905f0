#!/usr/bin/env bash
# The torture harness for as long as asked: each configuration of tests/torture/run_config.sh
# (the torture program under libtmc in each environment, Redis and memcached under a moving
# RSS target; `tests/torture/run_config.sh --help` lists them) for SECONDS each, one after the
# other, and a report of what each survived: operations, bytes verified, forks and children
# verified, libtmc's evictions and faults, target changes, and every mismatch, failure or hang
# with the seed that replays it.
#
#   bench/run_torture.sh [--duration SECONDS] [--configs a,b,...] [--seed N] [--hazards SPEC[;SPEC...]]
#                        [--watchdog S] [--child-timeout S] [--out FILE] [--logs DIR]
#                        [--build-dir DIR] [--no-build]
#
# --hazards takes the torture program's class list (`all`, `all,-nss`, `io,fork`; see
# tests/torture/torture --list-hazards); several, separated by ';', run each program
# configuration once per list (the servers run once), e.g. 'all;all,-nss,-stdio' to see
# whether what fails with every class on passes without some.
#
# Writes bench/results/torture.md (or --out), headed by the command line that made it. Each
# configuration's whole output goes to --logs (default: a new directory under /tmp, named in
# the report). The exit status is 0 when every configuration passed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DURATION=60 CONFIGS="" SEED="" HAZARDS=all WATCHDOG=90 CHILD_TIMEOUT=30
OUT="$ROOT/bench/results/torture.md" LOGS="" BUILD="$ROOT/build" NO_BUILD=0
COMMAND="bench/run_torture.sh $*"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --hazards) HAZARDS="$2"; shift 2 ;;
    --watchdog) WATCHDOG="$2"; shift 2 ;;
    --child-timeout) CHILD_TIMEOUT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --logs) LOGS="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_torture.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done

RUN_CONFIG="$ROOT/tests/torture/run_config.sh"
[[ -n "$CONFIGS" ]] || CONFIGS="$("$RUN_CONFIG" --list | paste -sd, -)"
if [[ $NO_BUILD -eq 0 ]]; then
  [[ -f "$BUILD/CMakeCache.txt" ]] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j2 --target tmc tmcctl tmc_torture >/dev/null
fi
[[ -n "$LOGS" ]] || LOGS="$(mktemp -d /tmp/tmc-torture-logs.XXXXXX)"
mkdir -p "$LOGS"

STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
FAILED=0
IFS=, read -r -a LIST <<<"$CONFIGS"
IFS=';' read -r -a SETS <<<"$HAZARDS"
RUNS=()  # log names: CONFIG, or CONFIG@N for the Nth hazard list
for config in "${LIST[@]}"; do
  n=0
  for set in "${SETS[@]}"; do
    n=$((n + 1))
    name="$config"
    [[ ${#SETS[@]} -gt 1 ]] && name="$config@$n"
    if [[ "$config" == redis || "$config" == memcached ]]; then
      [[ $n -gt 1 ]] && continue
      name="$config"
    fi
    RUNS+=("$name")
    echo "== $config, hazards $set (${DURATION}s) -> $LOGS/$name.log"
    args=(--config "$config" --duration "$DURATION" --hazards "$set" --watchdog "$WATCHDOG"
          --child-timeout "$CHILD_TIMEOUT" --lib "$BUILD/libtmc.so" --tmcctl "$BUILD/tmcctl"
          --torture "$BUILD/tests/torture/torture" --summary "$LOGS/$name.summary")
    [[ -n "$SEED" ]] && args+=(--seed "$SEED")
    rm -f "$LOGS/$name.summary"
    rc=0
    "$RUN_CONFIG" "${args[@]}" >"$LOGS/$name.log" 2>&1 || rc=$?
    [[ -s "$LOGS/$name.summary" ]] || echo "config=$config result=FAIL exit=$rc (no summary line)" >"$LOGS/$name.summary"
    echo "   $(cut -c1-200 "$LOGS/$name.summary")"
    [[ $rc -eq 0 || $rc -eq 77 ]] || FAILED=1
  done
done

python3 - "$OUT" "$LOGS" "$COMMAND" "$STARTED" "$ROOT" "${RUNS[@]}" <<'PY'
import os, platform, re, subprocess, sys
out, logs, command, started, root, configs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]

def fields(path):
    try:
        line = open(path).read().strip().splitlines()[-1]
    except (OSError, IndexError):
        return {}
    f = {}
    for word in line.split():
        if "=" in word:
            k, v = word.split("=", 1)
            f[k] = v
    return f

def num(f, k):
    v = f.get(k, "")
    try:
        return int(v)
    except ValueError:
        return None

def big(v):
    if v is None:
        return "?"
    if v < 0:
        return "n/a"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return "%.1f%s" % (v / div, unit)
    return str(v)

def gib(v):
    return "?" if v is None else "%.1f GiB" % (v / 2**30)

try:
    commit = subprocess.check_output(["git", "-C", root, "log", "-1", "--format=%h"], text=True).strip()
    dirty = subprocess.run(["git", "-C", root, "diff", "--quiet", "HEAD", "--", "src", "preload"]).returncode != 0
except (OSError, subprocess.CalledProcessError):
    commit, dirty = "?", False
cpu = "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
load = open("/proc/loadavg").read().split()[:3]

L = []
L.append("# Torture runs")
L.append("")
L.append("`%s`" % command)
L.append("")
L.append("Started %s; libtmc at `%s`%s; Linux %s, %s, %d CPUs, load average at the end %s. "
         "Logs: `%s` (not committed)." % (started, commit, " (src/ or preload/ modified)" if dirty else "",
                                          platform.release(), cpu, os.cpu_count(), " ".join(load), logs))
L.append("")
L.append("Each configuration ran for the time asked (`duration`, seconds); `seconds` is the whole program "
         "run including its final checks and waiting for its children. Bytes verified count the parent's "
         "checks and its children's. A failing run's first reports are below the tables; its seed replays it "
         "(`tests/torture/run_config.sh --config NAME --seed SEED`, or the torture program's own replay line).")
L.append("")
prog = [c for c in configs if c not in ("redis", "memcached")]
if prog:
    L.append("| configuration | environment | hazards | result | duration | seconds | operations | bytes verified | forks | "
             "children verified | slowest child | evictions | faults | held faults | target changes | mismatches | "
             "failures | seed |")
    L.append("|" + " --- |" * 18)
    for c in prog:
        f = fields(os.path.join(logs, c + ".summary"))
        verified = (num(f, "bytes_verified") or 0) + (num(f, "child_bytes_verified") or 0)
        L.append("| %s | %s | %s | **%s** | %s | %s | %s | %s | %s | %s | %s s | %s | %s | %s | %s | %s | %s | %s |" % (
            c.split("@")[0], f.get("env", "?").replace(",", " "), f.get("hazards", "?").replace(",", " "), f.get("result", "?"), f.get("duration", "?"), f.get("seconds", "?"),
            big(num(f, "ops")), gib(verified), f.get("forks", "?"), f.get("children_verified", "?"),
            f.get("child_max_s", "?"), big(num(f, "evictions")), big(num(f, "faults")), big(num(f, "held_faults")),
            f.get("target_changes", "-"), f.get("mismatches", "?"), f.get("failures", "?"), f.get("seed", "?")))
    L.append("")
servers = [c for c in configs if c in ("redis", "memcached")]
if servers:
    L.append("| server | environment | result | duration | keys | rounds | checks (failed) | target changes | "
             "evictions | faults | held faults | seed |")
    L.append("|" + " --- |" * 12)
    for c in servers:
        f = fields(os.path.join(logs, c + ".summary"))
        rounds = f.get("serve_rounds", f.get("rounds", "?"))
        L.append("| %s | %s | **%s** | %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s |" % (
            c, f.get("env", "?").replace(",", " "), f.get("result", "?"), f.get("duration", "?"), f.get("keys", "?"),
            rounds, f.get("checks", "?"), f.get("failed", "?"), f.get("target_changes", "?"),
            big(num(f, "evictions")), big(num(f, "faults")), big(num(f, "held_faults")), f.get("seed", "?")))
    L.append("")
    L.append("Redis: sampled reads checked against the generator while serving, and DEBUG DIGEST after the load, "
             "each serving round, the updates, BGSAVE + restart and DEBUG RELOAD equal to a plain redis-server's. "
             "memcached: every value read back and compared in every round, digests equal to a plain memcached's.")
    L.append("")

interesting = re.compile(r"^(MISMATCH|FAIL|HANG|libtmc: internal|tmcctl target failed|\[torture\.\S+\] FAIL|torture: replay)")
bad = [c for c in configs if fields(os.path.join(logs, c + ".summary")).get("result") not in ("PASS", "SKIP")]
if bad:
    L.append("## What failed")
    L.append("")
    for c in bad:
        f = fields(os.path.join(logs, c + ".summary"))
        L.append("### %s, hazards %s: %s" % (c.split("@")[0], f.get("hazards", "-"), f.get("result", "?")))
        L.append("")
        L.append("```")
        shown = 0
        try:
            lines = open(os.path.join(logs, c + ".log"), errors="replace").read().splitlines()
        except OSError:
            lines = []
        for i, line in enumerate(lines):
            if interesting.match(line):
                L.append(line[:300])
                # The first lines of a report (where and what), not the whole history or stack.
                for extra in ([] if line.startswith("torture: replay") else lines[i + 1:i + 5]):
                    if not extra.startswith("  "):
                        break
                    L.append(extra[:300])
                shown += 1
                if shown >= 8:
                    L.append("... (more in %s)" % os.path.join(logs, c + ".log"))
                    break
        L.append("```")
        L.append("")
open(out, "w").write("\n".join(L))
print("wrote", out)
PY
exit $FAILED
