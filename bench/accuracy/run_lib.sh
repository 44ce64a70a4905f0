# shellcheck shell=bash
# Shared by bench/run_accuracy.sh and bench/run_policy.sh: running bench_hotset under the
# preload, one run at a time, with the options its libtmc really runs with captured beside
# its JSON. Source it after bench/datasets/compress_lib.sh (git_desc), with $REPO set.

# run_need_build NAME BUILD_DIR: sets $bin (bench_hotset), $lib (libtmc.so) and $tmcctl
# from the build directory; exits with a message naming what to build if one is missing.
run_need_build() {
  bin="$2/bench/bench_hotset"
  lib="$2/libtmc.so"
  tmcctl="$2/tmcctl"
  [ -x "$bin" ] && [ -f "$lib" ] && [ -x "$tmcctl" ] ||
    { echo "$1: build first: cmake --build $2 --target tmc tmcctl bench_hotset" >&2; exit 1; }
}

# run_start_notes NAME: sets $load (the load average now) and $source_desc (the tree and when
# libtmc.so was built, taken before the runs: the tree may move while they last), and warns
# when the machine is busy.
run_start_notes() {
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  source_desc="$(git_desc "$REPO") at the start; libtmc.so built $(date -u -r "$lib" '+%Y-%m-%d %H:%M UTC')"
  if awk -v l="${load%% *}" -v n="$(nproc)" 'BEGIN {exit !(l > n / 4)}'; then
    echo "$1: warning: load average $load on $(nproc) CPUs: other work skews the CPU and speed figures" >&2
  fi
}

# run_hotset PREFIX [VAR=VALUE...] -- ARGS...: bench_hotset ARGS --json under the preload
# with those variables, into PREFIX.json (stdout), PREFIX.log (stderr, also shown) and
# PREFIX.options.json (`tmcctl options`). Returns the program's exit status.
run_hotset() {
  local prefix="$1"
  shift
  local -a envs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  echo "== ${envs[*]}${envs[*]:+ }bench_hotset $* --json" >&2
  env -u LD_PRELOAD "${envs[@]}" LD_PRELOAD="$lib" "$bin" "$@" --json \
    >"$prefix.json" 2> >(tee "$prefix.log" >&2) &
  local pid=$!
  # The options the process really runs with (defaults of options added since included).
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    if timeout 10 "$tmcctl" options "$pid" --json >"$prefix.options.json" 2>/dev/null; then break; fi
  done
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# run_report NAME REPORT_SCRIPT OUT_MD COMMAND JSON...: the Markdown report of the runs made
# (scripts/REPORT_SCRIPT, headed by COMMAND, the machine, the load before and now, and the
# tree) into OUT_MD; nothing when no run produced a JSON.
run_report() {
  local name="$1" script="$2" md="$3" command="$4"
  shift 4
  [ $# -gt 0 ] || return 0
  python3 "$REPO/scripts/$script" --command "$command" --machine "$(machine_desc)" --source "$source_desc" \
    --load "$load before, $(cut -d' ' -f1-3 /proc/loadavg) after" "$@" >"$md"
  echo "$name: wrote $md" >&2
}
