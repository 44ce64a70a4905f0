#!/usr/bin/env bash
# tmcctl against real processes: a python3 process under libtmc holding ~20 MB must show
# up in `tmcctl list`, `tmcctl stats PID` must print a table with malloc_calls, and
# `tmcctl stats PID --json` must be JSON with every documented integer field
# (malloc_calls > 0, rss_bytes > 0 and close to the kernel's VmRSS, heap_bytes covering
# the data held). A process without libtmc must not be listed, and asking it for stats
# must fail with a message. TMC_ENABLE=0 must leave the program working (and without a
# control socket); a malformed TMC_ENABLE=maybe must not stop the program and must be
# named in exactly one stderr line. `tmcctl restore PID` must bring every evicted page
# back, so that objects unreadable through /proc/PID/mem before read back right after.
#
# usage: tmcctl_test.sh /path/to/libtmc.so /path/to/tmcctl
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_tmcctl "${2:-}"
need_bin "$PY"
watchdog "${TMC_TEST_WATCHDOG:-80}"

FIELDS="rss_bytes heap_bytes mapped_bytes malloc_calls free_calls compressed_pages orig_bytes compr_bytes pool_bytes zero_pages same_pages dedup_pages evictions faults refaults fault_ns_p50 fault_ns_p99 cpu_ns_background"

# A process that allocates ~20 MB of Python objects, reports "ready" and then sleeps.
SLEEPER='import sys, time
data = [bytes([i % 256]) * 10000 + str(i).encode() for i in range(2000)]
print("ready", sum(len(d) for d in data), flush=True)
time.sleep(float(sys.argv[1]))'
SLEEPER_BYTES=$((2000 * 10000 + $("$PY" -c 'print(sum(len(str(i)) for i in range(2000)))')))

# start_sleeper NAME env...: starts the sleeper in the background, waits for "ready";
# sets SLEEPER_PID.
start_sleeper() {
  local name="$1"
  shift
  "$@" "$PY" -c "$SLEEPER" 60 >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SLEEPER_PID=$!
  on_exit "stop_pid $SLEEPER_PID 5"
  wait_ready "$WORK/$name.out" "$SLEEPER_PID" "$WORK/$name.err" "$name"
  log "$name: pid $SLEEPER_PID ($*)"
}
ctl() { timeout 20 "$TMCCTL" "$@"; }
listed() { ctl list | awk -v p="$1" 'NR > 1 && $1 == p { found = 1 } END { exit !found }'; }
not_listed() { ! listed "$1"; }

step "a python3 process under libtmc"
# A sample every 64 KiB: about 300 of the 20 MB it holds, for `tmcctl sites`.
start_sleeper sleeper-tmc "${TMC_ENV[@]}" TMC_SITE_SAMPLE=64K
TMC_PID=$SLEEPER_PID
check "libtmc.so is mapped into it" is_preloaded "$TMC_PID"
# The control socket may come up a moment after start.
for ((i = 0; i < 100; i++)); do
  listed "$TMC_PID" && break
  sleep 0.1
done
ctl list | sed 's/^/    /'
check "tmcctl list shows pid $TMC_PID" listed "$TMC_PID"

step "tmcctl stats PID (table)"
rc=0
ctl stats "$TMC_PID" >"$WORK/stats.txt" 2>&1 || rc=$?
sed 's/^/    /' "$WORK/stats.txt"
check_eq "tmcctl stats exit status" 0 "$rc"
check "the table has a malloc_calls row with a number" grep -Eq '^\s*malloc_calls\s+[0-9]+' "$WORK/stats.txt"
check "the table has an rss_bytes row" grep -Eq '^\s*rss_bytes\s+' "$WORK/stats.txt"

step "tmcctl stats PID --json"
rc=0
ctl stats "$TMC_PID" --json >"$WORK/stats.json" 2>"$WORK/stats.json.err" || rc=$?
check_eq "tmcctl stats --json exit status" 0 "$rc"
VMRSS_KB="$(awk '/^VmRSS:/ { print $2 }' "/proc/$TMC_PID/status")"
rc=0
"$PY" - "$WORK/stats.json" "$FIELDS" "$VMRSS_KB" "$SLEEPER_BYTES" <<'PY' || rc=$?
import json, sys
path, fields, vmrss_kb, held = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4])
text = open(path).read()
try:
    stats = json.loads(text)
except ValueError as e:
    print("    not JSON (%s): %r" % (e, text[:200]))
    sys.exit(1)
bad = []
if not isinstance(stats, dict):
    bad.append("top level is %s, not an object" % type(stats).__name__)
    stats = {}
for f in fields:
    if f not in stats:
        bad.append("field %s missing" % f)
    elif type(stats[f]) is not int or stats[f] < 0:
        bad.append("field %s = %r is not a non-negative integer" % (f, stats[f]))
def val(f):
    v = stats.get(f)
    return v if type(v) is int else 0
if val("malloc_calls") <= 0: bad.append("malloc_calls = %r, want > 0" % stats.get("malloc_calls"))
if val("free_calls") <= 0: bad.append("free_calls = %r, want > 0 (python frees all the time)" % stats.get("free_calls"))
if val("rss_bytes") <= 0: bad.append("rss_bytes = %r, want > 0" % stats.get("rss_bytes"))
rss = val("rss_bytes")
if rss and not (vmrss_kb * 1024 // 2 <= rss <= vmrss_kb * 1024 * 2):
    bad.append("rss_bytes %d is not within 2x of VmRSS %d kB" % (rss, vmrss_kb))
if val("heap_bytes") < held:
    bad.append("heap_bytes %d is less than the %d bytes the process holds" % (val("heap_bytes"), held))
print("    %d fields; malloc_calls %d, free_calls %d, rss_bytes %d (VmRSS %d kB), heap_bytes %d, mapped_bytes %d"
      % (len(stats), val("malloc_calls"), val("free_calls"), rss, vmrss_kb, val("heap_bytes"), val("mapped_bytes")))
for b in bad:
    print("    problem: " + b)
sys.exit(1 if bad else 0)
PY
check_eq "stats JSON parses and has every integer field with sane values" 0 "$rc"

step "tmcctl sites PID: allocation sites, symbolised"
rc=0
ctl sites "$TMC_PID" --interval 0 >"$WORK/sites.txt" 2>&1 || rc=$?
sed 's/^/    /' "$WORK/sites.txt"
check_eq "tmcctl sites exit status" 0 "$rc"
check "the header gives the sampling interval" grep -Eq '^allocation sites of pid [0-9]+: one sample per 64.0 KiB' "$WORK/sites.txt"
# A row: bytes, shares, faults/s, objects, lifetime, then the site as function+offset.
check "a site is named by a function and offset" grep -Eq ' [A-Za-z_][A-Za-z0-9_.@]*\+0x[0-9a-f]+( <|$)' "$WORK/sites.txt"
rc=0
ctl sites "$TMC_PID" --interval 0 --json >"$WORK/sites.json" 2>&1 || rc=$?
check_eq "tmcctl sites --json exit status" 0 "$rc"
rc=0
"$PY" - "$WORK/sites.json" "$SLEEPER_BYTES" <<'PY' || rc=$?
import json, sys
report, held = json.load(open(sys.argv[1])), int(sys.argv[2])
total = report["total"]["bytes"]
listed = sum(s["bytes"] for s in report["listed"]) + report["rest"]["bytes"]
named = [s for s in report["listed"] if any(f["function"] for f in s["frames"])]
print("    estimated %d bytes in %d sites (the process holds at least %d); %d sites with named frames"
      % (total, report["sites"], held, len(named)))
bad = []
if abs(listed - total) > max(1, total // 100): bad.append("listed sites and rest (%d) do not add up to the total (%d)" % (listed, total))
if not (0.7 * held <= total <= 3 * held + (64 << 20)): bad.append("estimate %d is far from the %d bytes held" % (total, held))
if not named: bad.append("no site has a named frame")
for b in bad: print("    problem: " + b)
sys.exit(1 if bad else 0)
PY
check_eq "the JSON adds up and estimates the bytes the process holds" 0 "$rc"

step "a client slow to send its request neither gets an empty one answered nor holds up others"
# A tmcctl preempted between connect() and send() on a loaded machine: its request comes
# seconds later and must still be answered; a client that connects after it and asks at once
# is answered while the slow one is still silent.
rc=0
"$PY" - "$TMC_PID" >"$WORK/slow.out" 2>&1 <<'PY' || rc=$?
import socket, sys
pid = int(sys.argv[1])
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0tmc.%d" % pid)
    s.settimeout(20)
    return s
def reply(s):
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out.decode()
        out += chunk
slow = connect()
fast = connect()
fast.sendall(b"version\n")
print("fast client:", reply(fast).strip())
slow.settimeout(2.5)
try:
    early = slow.recv(100)  # the old server answered an empty request after 1 s
except socket.timeout:
    early = None
if early is not None:
    print("slow client was answered before it sent anything: %r" % early)
    sys.exit(1)
slow.settimeout(20)
slow.sendall(b"version\n")
got = reply(slow).strip()
print("slow client, after 2.5 s:", got)
sys.exit(0 if got.startswith("libtmc ") else 1)
PY
sed 's/^/    /' "$WORK/slow.out"
check_eq "a request sent 2.5 s after connecting is answered, another client meanwhile" 0 "$rc"
check "the fast client got the version" grep -q "^fast client: libtmc " "$WORK/slow.out"

step "a process without libtmc"
sleep 30 &
PLAIN_PID=$!
on_exit "kill $PLAIN_PID"
check "tmcctl list does not show the plain process $PLAIN_PID" not_listed "$PLAIN_PID"
rc=0
ctl stats "$PLAIN_PID" >"$WORK/plain.stats" 2>"$WORK/plain.stats.err" || rc=$?
log "tmcctl stats $PLAIN_PID: status $rc, stderr: $(head -c 300 "$WORK/plain.stats.err")"
check "tmcctl stats on a process without libtmc fails" test "$rc" -ne 0
check "... and says why on stderr" test -s "$WORK/plain.stats.err"
check_eq "... and prints no table" "" "$(cat "$WORK/plain.stats")"
rc=0
ctl stats 999999999 >/dev/null 2>"$WORK/bad.err" || rc=$?
check "tmcctl stats with an impossible pid fails with a message" test "$rc" -ne 0 -a -s "$WORK/bad.err"
stop_pid "$TMC_PID" 5 || true

step "tmcctl restore PID: evicted pages become readable through /proc/PID/mem"
# Python objects whose bytes a debugger would read: their addresses are printed, and the
# contents are a function of the index. Reads of an evicted page through /proc/PID/mem fail
# (EIO); after restore every object must read back whole and right. TMC_COLD_AGE=3s leaves
# the reader a few seconds before the restored pages may be evicted again.
HOLDER='import sys, time
objs = [bytes((i * 7 + k) % 251 for k in range(256)) * 40 for i in range(300)]
print("ready", " ".join(str(id(o)) for o in objs), flush=True)
time.sleep(60)'
READER='import sys
pid, addrs = int(sys.argv[1]), [int(a) for a in sys.argv[2:]]
unreadable = wrong = 0
with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
    for i, a in enumerate(addrs):
        want = bytes((i * 7 + k) % 251 for k in range(256)) * 40
        try:
            mem.seek(a + 32)  # PyBytesObject: 32 bytes of header, then the bytes
            got = mem.read(len(want))
        except OSError:
            unreadable += 1
            continue
        if len(got) != len(want):
            unreadable += 1
        elif got != want:
            wrong += 1
print(unreadable, wrong)'
"${TMC_ENV[@]}" TMC_COLD_AGE=3s "$PY" -c "$HOLDER" >"$WORK/holder.out" 2>"$WORK/holder.err" &
HOLDER_PID=$!
on_exit "stop_pid $HOLDER_PID 5"
wait_ready "$WORK/holder.out" "$HOLDER_PID" "$WORK/holder.err" "the holder"
ADDRS="$(sed -n 's/^ready //p' "$WORK/holder.out")"
evicted_now() {
  ctl stats "$HOLDER_PID" --json | "$PY" -c 'import json, sys; s = json.load(sys.stdin); print(s["compressed_pages"] + s["zero_pages"] + s["same_pages"])'
}
for ((i = 0; i < 100; i++)); do
  read -r UNREADABLE WRONG < <("$PY" -c "$READER" "$HOLDER_PID" $ADDRS)
  [[ "$UNREADABLE" -ge 150 ]] && break
  sleep 0.2
done
log "before restore: $(evicted_now) pages evicted; $UNREADABLE of 300 objects unreadable, $WRONG wrong"
check "before restore, most objects are evicted and unreadable through /proc/PID/mem" test "$UNREADABLE" -ge 150
rc=0
out="$(ctl restore "$HOLDER_PID" 2>&1)" || rc=$?
read -r UNREADABLE WRONG < <("$PY" -c "$READER" "$HOLDER_PID" $ADDRS)
AFTER="$(evicted_now)"
log "tmcctl restore: '$out'; then $AFTER pages evicted, $UNREADABLE of 300 objects unreadable, $WRONG wrong"
check_eq "tmcctl restore exit status" 0 "$rc"
check "tmcctl restore says how many pages came back" grep -Eq '^restored [1-9][0-9]* pages$' <<<"$out"
check_eq "after restore, objects unreadable through /proc/PID/mem" 0 "$UNREADABLE"
check_eq "after restore, objects read back wrong" 0 "$WRONG"
check "after restore, (almost) nothing is evicted" test "$AFTER" -lt 50
stop_pid "$HOLDER_PID" 5 || true

step "TMC_ENABLE=0: the program still runs"
EXPECT="$("${PLAIN_ENV[@]}" "$PY" -c 'print(sum(len(str(i)) for i in range(10**6)))')"
rc=0
out="$(timeout 30 "${TMC_ENV[@]}" TMC_ENABLE=0 "$PY" -c 'print(sum(len(str(i)) for i in range(10**6)))' 2>"$WORK/disabled.err")" || rc=$?
check_eq "TMC_ENABLE=0: exit status" 0 "$rc"
check_eq "TMC_ENABLE=0: output equals a plain run" "$EXPECT" "$out"
start_sleeper sleeper-disabled "${TMC_ENV[@]}" TMC_ENABLE=0
check "TMC_ENABLE=0: libtmc.so is still loaded (as a pass-through)" is_preloaded "$SLEEPER_PID"
sleep 0.5
check "TMC_ENABLE=0: no control socket, so tmcctl stats fails" bash -c "! timeout 20 '$TMCCTL' stats $SLEEPER_PID >/dev/null 2>&1"
stop_pid "$SLEEPER_PID" 5 || true

step "TMC_ENABLE=maybe (malformed): the program still runs, one stderr line names the variable"
rc=0
out="$(timeout 30 "${TMC_ENV[@]}" TMC_ENABLE=maybe "$PY" -c 'print(sum(len(str(i)) for i in range(10**6)))' 2>"$WORK/maybe.err")" || rc=$?
sed 's/^/    stderr: /' "$WORK/maybe.err"
check_eq "TMC_ENABLE=maybe: exit status" 0 "$rc"
check_eq "TMC_ENABLE=maybe: output equals a plain run" "$EXPECT" "$out"
check_eq "TMC_ENABLE=maybe: stderr lines naming TMC_ENABLE" 1 "$(grep -c 'TMC_ENABLE' "$WORK/maybe.err" || true)"
finish
