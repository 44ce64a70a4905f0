#!/usr/bin/env bash
# tmcctl metrics and tmcctl top against a real process: a python3 process under libtmc
# (TMC_COLD_AGE=0) holds ~24 MB of compressible objects and reads some of them again and
# again, so pages are evicted and fault back. Its command name (/proc/PID/comm) holds a
# quote and a backslash, which the metrics must escape.
#  - `tmcctl top --iterations 2` (not a terminal) prints two plain tables with a row for
#    the process: compression ratio above 1, faults/s and CPU% measured; on a terminal
#    (script(1)) each refresh clears the screen.
#  - `tmcctl metrics`, once the process is idle, passes check_metrics.py (the text format,
#    the families of stats.def, every value equal to `tmcctl stats PID --json`) and, when
#    installed, `promtool check metrics`.
#  - packaging/prometheus/libtmc-metrics.sh writes libtmc.prom through a temporary file,
#    and keeps the last file when tmcctl fails.
#  - `--pid` keeps one process; a pid without libtmc fails with a message.
#  - A control socket whose process has exited (a listener on @tmc.DEADPID) is skipped,
#    not an error; a process that does not answer (stopped) is reported as libtmc_up 0.
#
# usage: tmcctl_metrics_test.sh /path/to/libtmc.so /path/to/tmcctl
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_tmcctl "${2:-}"
need_bin "$PY"
watchdog "${TMC_TEST_WATCHDOG:-110}"

ctl() { timeout 30 "$TMCCTL" "$@"; }
json_field() { ctl stats "$1" --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)['$2'])"; }

# Reads a slice of its objects every 20 ms while the file argv[1] exists (faults on evicted
# pages); then only sleeps, so that its statistics hold still.
WORKER='import os, sys, time
busy, name = sys.argv[1], sys.argv[2]
data = [bytes([i % 256]) * 3000 + str(i).encode() * 100 for i in range(8000)]
with open("/proc/self/comm", "w") as f:
    f.write(name)
print("ready", flush=True)
i = 0
deadline = time.time() + 100
while time.time() < deadline:
    if os.path.exists(busy):
        sum(d[5] for d in data[i:i + 200])
        i = (i + 200) % len(data)
        time.sleep(0.02)
    else:
        time.sleep(0.5)'
COMM='tmc"esc\ape'

step "a python3 process under libtmc that evicts and faults"
touch "$WORK/busy"
"${TMC_ENV[@]}" TMC_COLD_AGE=0 "$PY" -c "$WORKER" "$WORK/busy" "$COMM" >"$WORK/worker.out" 2>"$WORK/worker.log" &
PID=$!
on_exit "stop_pid $PID 5"
wait_ready "$WORK/worker.out" "$PID" "$WORK/worker.log" "the worker"
EVICTIONS=0 FAULTS=0
for ((i = 0; i < 150; i++)); do
  EVICTIONS="$(json_field "$PID" evictions 2>/dev/null || echo 0)"
  FAULTS="$(json_field "$PID" faults 2>/dev/null || echo 0)"
  ((EVICTIONS >= 2000 && FAULTS >= 100)) && break
  sleep 0.2
done
log "pid $PID: $EVICTIONS evictions, $FAULTS faults"
check "the worker evicts pages (>= 2000)" test "$EVICTIONS" -ge 2000
check "the worker faults pages back (>= 100)" test "$FAULTS" -ge 100

step "tmcctl top --iterations 2 (not a terminal)"
rc=0
ctl top --iterations 2 --interval 0.5 >"$WORK/top.txt" 2>"$WORK/top.err" || rc=$?
sed 's/^/    /' "$WORK/top.txt" "$WORK/top.err"
check_eq "tmcctl top exit status" 0 "$rc"
check_eq "two tables" 2 "$(grep -c '^tmcctl top - ' "$WORK/top.txt" || true)"
check "no escape sequences when stdout is not a terminal" bash -c "! grep -q $'\x1b' '$WORK/top.txt'"
rc=0
"$PY" - "$WORK/top.txt" "$PID" <<'PY' || rc=$?
import re, sys
path, pid = sys.argv[1], sys.argv[2]
tables = open(path).read().split("tmcctl top - ")[1:]
bad = []
header = ["PID", "COMMAND", "RSS", "SAVED", "SAVED%", "RATIO", "FAULTS/s", "EVICTS/s", "CPU%"]
for n, table in enumerate(tables, 1):
    lines = table.splitlines()
    if len(lines) < 2 or lines[1].split() != header:
        bad.append("table %d: column header %r" % (n, lines[1] if len(lines) > 1 else None))
        continue
    rows = [l.split() for l in lines[2:] if l.split()[:1] == [pid]]
    if len(rows) != 1:
        bad.append("table %d: %d rows for pid %s" % (n, len(rows), pid))
        continue
    # pid, command, RSS (number unit), SAVED (number unit), SAVED%, RATIO, FAULTS/s, EVICTS/s, CPU%
    f = rows[0]
    if len(f) != 11:
        bad.append("table %d: row %r has %d fields, want 11" % (n, f, len(f)))
        continue
    if f[1] != 'tmc"esc\\ape':
        bad.append("table %d: command %r" % (n, f[1]))
    try:
        saved_pct, ratio, faults, evicts, cpu = (float(x) for x in f[6:11])
    except ValueError:
        bad.append("table %d: a number column is not a number (no rates?): %r" % (n, f))
        continue
    if not (f[3] in ("B", "KiB", "MiB", "GiB") and f[5] in ("B", "KiB", "MiB", "GiB")):
        bad.append("table %d: sizes %r %r" % (n, f[2:4], f[4:6]))
    if not 0 < saved_pct < 100: bad.append("table %d: SAVED%% %s, want within (0, 100)" % (n, saved_pct))
    if not ratio > 1: bad.append("table %d: RATIO %s, want > 1 (the data compresses)" % (n, ratio))
    if not faults > 0: bad.append("table %d: FAULTS/s %s, want > 0 (the worker reads evicted pages)" % (n, faults))
    if not 0 <= cpu <= 200: bad.append("table %d: CPU%% %s" % (n, cpu))
    print("    table %d: saved %s%%, ratio %s, %s faults/s, %s evictions/s, cpu %s%%" % (n, saved_pct, ratio, faults, evicts, cpu))
for b in bad:
    print("    problem: " + b)
sys.exit(1 if bad or len(tables) != 2 else 0)
PY
check_eq "both tables have a full row for pid $PID with measured rates" 0 "$rc"

step "tmcctl top on a terminal clears the screen"
rc=0
script -qec "timeout 30 '$TMCCTL' top --iterations 1 --interval 0.2" /dev/null >"$WORK/top.tty" 2>&1 || rc=$?
check_eq "tmcctl top under script(1): exit status" 0 "$rc"
check "the refresh starts with cursor home and clear screen" grep -qF $'\x1b[H\x1b[2J' "$WORK/top.tty"
check "... and then prints the table" grep -q "^ *$PID " "$WORK/top.tty"

step "tmcctl metrics, the process idle"
rm -f "$WORK/busy"
sleep 1  # the last reads are over and their pages evicted again (TMC_COLD_AGE=0)
rc=0
"$PY" "$PROGRAMS_DIR/check_metrics.py" --tmcctl "$TMCCTL" --pid "$PID" --save "$WORK/metrics.prom" || rc=$?
check_eq "check_metrics.py: format, families of stats.def, values equal to stats --json" 0 "$rc"
grep -E "^libtmc_(up|evictions_total|faults_total|cpu_background_seconds_total|fault_p99_seconds)\{pid=\"$PID\"" \
  "$WORK/metrics.prom" | sed 's/^/    /'
check "the command label is escaped" grep -qF "libtmc_up{pid=\"$PID\",command=\"tmc\\\"esc\\\\ape\"} 1" "$WORK/metrics.prom"
if command -v promtool >/dev/null 2>&1; then
  rc=0
  promtool check metrics <"$WORK/metrics.prom" >"$WORK/promtool.out" 2>&1 || rc=$?
  sed 's/^/    promtool: /' "$WORK/promtool.out"
  check_eq "promtool check metrics" 0 "$rc"
else
  log "promtool is not installed (Debian package prometheus, scripts/install_deps.sh): its check is left out"
fi

step "packaging/prometheus/libtmc-metrics.sh: the file node_exporter reads"
SCRIPT="$PROGRAMS_DIR/../../packaging/prometheus/libtmc-metrics.sh"
mkdir "$WORK/textfile"
rc=0
TMCCTL="$TMCCTL" sh "$SCRIPT" "$WORK/textfile" || rc=$?
check_eq "libtmc-metrics.sh exit status" 0 "$rc"
check "it wrote libtmc.prom with the process in it" grep -q "^libtmc_up{pid=\"$PID\",.*} 1$" "$WORK/textfile/libtmc.prom"
check_eq "no temporary file is left" "libtmc.prom" "$(ls "$WORK/textfile")"
rc=0
TMCCTL=false sh "$SCRIPT" "$WORK/textfile" || rc=$?
check_eq "libtmc-metrics.sh with a failing tmcctl: exit status" 1 "$rc"
check "... the last complete file stays" grep -q "^libtmc_up{pid=\"$PID\",.*} 1$" "$WORK/textfile/libtmc.prom"
check_eq "... and no temporary file is left" "libtmc.prom" "$(ls "$WORK/textfile")"

step "tmcctl metrics --pid"
rc=0
ctl metrics --pid "$PID" >"$WORK/one.prom" 2>&1 || rc=$?
check_eq "tmcctl metrics --pid $PID exit status" 0 "$rc"
check_eq "every sample is of pid $PID" "" "$(grep -v '^#' "$WORK/one.prom" | grep -v "{pid=\"$PID\"," || true)"
check "... and there are samples" grep -q "^libtmc_faults_total{pid=\"$PID\"" "$WORK/one.prom"
sleep 30 &
PLAIN_PID=$!
on_exit "kill $PLAIN_PID"
rc=0
ctl metrics --pid "$PLAIN_PID" >"$WORK/plain.prom" 2>"$WORK/plain.err" || rc=$?
check_eq "tmcctl metrics --pid of a process without libtmc: exit status" 1 "$rc"
check "... with a message" grep -q "not running libtmc" "$WORK/plain.err"
rc=0
ctl metrics --bogus >/dev/null 2>&1 || rc=$?
check_eq "tmcctl metrics --bogus: usage" 2 "$rc"
rc=0
ctl top --iterations 0 >/dev/null 2>&1 || rc=$?
check_eq "tmcctl top --iterations 0: refused" 2 "$rc"

step "a control socket whose process has exited is skipped"
true &
DEAD_PID=$!
wait "$DEAD_PID"
kill -0 "$DEAD_PID" 2>/dev/null && die "pid $DEAD_PID is running again"
# A plain python3 listens on @tmc.DEAD_PID and hangs up on every connection: what tmcctl
# meets when a process exits between discovery and its request.
"${PLAIN_ENV[@]}" "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0tmc." + sys.argv[1])
s.listen(16)
print("ready", flush=True)
while True:
    s.accept()[0].close()' "$DEAD_PID" >"$WORK/ghost.out" 2>&1 &
GHOST_PID=$!
on_exit "kill $GHOST_PID"
wait_ready "$WORK/ghost.out" "$GHOST_PID" "$WORK/ghost.out" "the listener on @tmc.$DEAD_PID"
check "the listener on @tmc.$DEAD_PID is up" grep -q "@tmc.$DEAD_PID\$" /proc/net/unix
rc=0
ctl metrics >"$WORK/ghost.prom" 2>"$WORK/ghost.err" || rc=$?
check_eq "tmcctl metrics exit status" 0 "$rc"
check_eq "... no sample for pid $DEAD_PID" "" "$(grep "pid=\"$DEAD_PID\"" "$WORK/ghost.prom" || true)"
check "... the live process is still there" grep -q "^libtmc_up{pid=\"$PID\",.*} 1$" "$WORK/ghost.prom"
rc=0
ctl top --iterations 1 --interval 0.1 >"$WORK/ghost.top" 2>&1 || rc=$?
check_eq "tmcctl top exit status" 0 "$rc"
check "... no row for pid $DEAD_PID" bash -c "! grep -q '^ *$DEAD_PID ' '$WORK/ghost.top'"
kill "$GHOST_PID" 2>/dev/null || true

step "a process that does not answer is libtmc_up 0"
kill -STOP "$PID"
on_exit "kill -CONT $PID"
rc=0
ctl metrics --pid "$PID" >"$WORK/stopped.prom" 2>"$WORK/stopped.err" || rc=$?  # waits for the 5 s reply timeout
kill -CONT "$PID"
check_eq "tmcctl metrics --pid (stopped process) exit status" 0 "$rc"
check "libtmc_up is 0" grep -q "^libtmc_up{pid=\"$PID\",.*} 0$" "$WORK/stopped.prom"
check_eq "... and it has no other samples" 1 "$(grep -c "{pid=\"$PID\"," "$WORK/stopped.prom" || true)"
stop_pid "$PID" 5 || true
finish
