# shellcheck shell=bash
# The kernel's samepage merging (KSM) for bench/run_dedup.sh: ksmd's settings saved, set for
# the KSM runs and put back (ksm_restore, from the driver's EXIT trap and after each run), a
# launcher that makes a program mergeable as a whole without changing it, and ksmd's CPU.
# Source after tests/programs/lib.sh (log, die, $PY).

KSM_SYS=/sys/kernel/mm/ksm
KSM_KNOBS=(pages_to_scan sleep_millisecs run)  # restored in this order: the scan rate before run
declare -A KSM_SAVED=()
KSM_CHANGED=0

# ksm_why_not: empty when the KSM runs can happen here, else the reason. Without root they
# can only when ksmd already runs (its settings are then the machine's, as found).
ksm_why_not() {
  [[ -r $KSM_SYS/run ]] || { echo "this kernel has no KSM ($KSM_SYS/run is missing: CONFIG_KSM)"; return; }
  if [[ $(id -u) != 0 && $(cat "$KSM_SYS/run") != 1 ]]; then
    echo "ksmd is not running and only root can start it"
    return
  fi
  [[ -r /proc/self/ksm_stat ]] || { echo "no /proc/PID/ksm_stat (Linux 6.1+) to check that a process is mergeable"; return; }
}

# ksm_save: ksmd's settings as found (once, before any change).
ksm_save() {
  local k
  for k in "${KSM_KNOBS[@]}"; do KSM_SAVED[$k]=$(cat "$KSM_SYS/$k"); done
}

# ksm_start PAGES_TO_SCAN SLEEP_MS: ksmd running at that rate (as root; otherwise as found).
ksm_start() {
  [[ $(id -u) == 0 ]] || return 0
  KSM_CHANGED=1
  echo "$1" >"$KSM_SYS/pages_to_scan" || die "cannot write $KSM_SYS/pages_to_scan"
  echo "$2" >"$KSM_SYS/sleep_millisecs" || die "cannot write $KSM_SYS/sleep_millisecs"
  echo 1 >"$KSM_SYS/run" || die "cannot write $KSM_SYS/run"
}

# ksm_restore: ksmd's settings back to what ksm_save found.
ksm_restore() {
  ((KSM_CHANGED)) || return 0
  local k
  for k in "${KSM_KNOBS[@]}"; do
    [[ -n "${KSM_SAVED[$k]:-}" ]] && echo "${KSM_SAVED[$k]}" >"$KSM_SYS/$k"
  done
  KSM_CHANGED=0
}

# ksm_settings: "run=1 pages_to_scan=1000 sleep_millisecs=20 advisor_mode=none ..." as they are now.
ksm_settings() {
  local k out=""
  for k in run pages_to_scan sleep_millisecs advisor_mode max_page_sharing use_zero_pages merge_across_nodes; do
    [[ -r $KSM_SYS/$k ]] && out+="$k=$(sed 's/.*\[\(.*\)\].*/\1/' "$KSM_SYS/$k") "
  done
  echo "${out% }"
}

# ksm_full_scans: how many times ksmd has scanned every mergeable page so far.
ksm_full_scans() { cat "$KSM_SYS/full_scans"; }

# ksmd_cpu_ns: ksmd's CPU time so far (user + system, from /proc/PID/stat), in ns; 0 when
# there is no ksmd thread.
KSMD_PID=""
ksmd_cpu_ns() {
  [[ -n $KSMD_PID && -r /proc/$KSMD_PID/stat ]] || KSMD_PID=$(pgrep -x ksmd | head -1 || true)
  [[ -n $KSMD_PID ]] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f\n", ($14 + $15) * 1e9 / hz}' "/proc/$KSMD_PID/stat"
}

# ksm_stat PID FIELD: a line of /proc/PID/ksm_stat ("-" when the kernel has no such line).
ksm_stat() { awk -v f="$2" '$1 == f || $1 == f ":" {print $2; found = 1} END {if (!found) print "-"}' "/proc/$1/ksm_stat"; }

# KSM_LAUNCH: prefix that runs a program with the whole of its memory mergeable, as if it
# called prctl(PR_SET_MEMORY_MERGE, 1) itself: the launcher sets the flag and execs the
# program, which keeps it: the kernel carries the flag (MMF_VM_MERGE_ANY) over exec, as
# Linux 6.18 does (a kernel whose first PR_SET_MEMORY_MERGE did not would drop it:
# ksm_check_merge_any checks the started process).
KSM_LAUNCH=("$PY" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MEMORY_MERGE = 67
if libc.prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_MEMORY_MERGE, 1): " + os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
')

# ksm_check_merge_any PID: dies unless process PID has the whole-process merge flag (the
# "ksm_merge_any: yes" line of /proc/PID/ksm_stat; a kernel without that line is judged
# later, by the pages merged).
ksm_check_merge_any() {
  local v
  v=$(ksm_stat "$1" ksm_merge_any)
  case "$v" in
    yes | -) ;;
    *) die "process $1 is not mergeable after exec (ksm_merge_any: $v): PR_SET_MEMORY_MERGE did not survive exec on this kernel" ;;
  esac
}
