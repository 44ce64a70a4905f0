#!/usr/bin/env bash
# Redis loading ~300 MB of generated records under an RSS target, N times in a row, each
# checked against a plain run of the same load: DEBUG DIGEST and DBSIZE equal, the server
# alive, libtmc's verify_failures zero. Per run it records libtmc's evictions, faults, held
# faults, blobs recompressed (TMC_DEEP_AGE), faults that read their blob from the file tier
# (TMC_FILE_AGE) and the peak RSS, so a clean result also shows
# the target was doing work.
# (The load is the one that once crashed Redis under TMC_TARGET:
# bench/datasets/target_load_records.py, SET of JSON-like strings, HSET, RPUSH.)
#
#   bench/run_target_load.sh [--runs N] [--mb MB] [--hold S] [--out FILE] [--build-dir DIR] [TMC_*=...]
#
# --hold S keeps each libtmc server idle S seconds after the load before the digest, so that
# its pages go cold and (with TMC_DEEP_AGE) their blobs are recompressed: the digest then
# reads every key back from them.
#
# Settings default to TMC_TARGET=70% TMC_COLD_AGE=1h. Writes bench/results/target_load.md
# (or --out), headed by the command line and the commit. Exit status 0 when every run passed.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS=20 MB=300 HOLD=0 OUT="$ROOT/bench/results/target_load.md" BUILD="$ROOT/build" SETTINGS=()
COMMAND="bench/run_target_load.sh $*"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --mb) MB="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --build-dir) BUILD="$2"; shift 2 ;;
    TMC_*=*) SETTINGS+=("$1"); shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_target_load.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
[[ ${#SETTINGS[@]} -gt 0 ]] || SETTINGS=(TMC_TARGET=70% TMC_COLD_AGE=1h)
LIB="$BUILD/libtmc.so" TMCCTL="$BUILD/tmcctl"
for f in "$LIB" "$TMCCTL"; do [[ -x "$f" || -f "$f" ]] || { echo "run_target_load.sh: $f missing (build first)" >&2; exit 2; }; done

WORK="$(mktemp -d)" RPID=""
trap '[[ -n "$RPID" ]] && kill "$RPID" 2>/dev/null; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_server() {  # start_server [env...]: sets RPID and PORT
  PORT="$(free_port)"
  env "$@" redis-server --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --save '' --appendonly no \
    --enable-debug-command yes --daemonize no >"$WORK/redis.log" 2>&1 &
  RPID=$!
  for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
# Feeds the records (generated once, the same for every run) and watches the server's RSS while they load; prints the peak in KiB.
load_records() {
  local peak=0 rss
  redis-cli -p "$PORT" --pipe <"$WORK/load.resp" >"$WORK/pipe.log" 2>&1 &
  local feeder=$!
  while kill -0 "$feeder" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$RPID/status" 2>/dev/null || echo 0)
    (( rss > peak )) && peak=$rss
    sleep 0.2
  done
  wait "$feeder"
  echo "$peak"
}
stat_of() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "?"))' "$1" <"$WORK/stats.json"; }

python3 "$ROOT/bench/datasets/target_load_records.py" "$MB" 11 >"$WORK/load.resp"
start_server || { echo "plain redis-server did not start" >&2; exit 1; }
plain_peak=$(load_records)
ref_digest=$(redis-cli -p "$PORT" debug digest) ref_keys=$(redis-cli -p "$PORT" dbsize)
kill "$RPID"; wait "$RPID" 2>/dev/null; RPID=""
echo "plain: $ref_keys keys, digest $ref_digest, peak RSS $((plain_peak / 1024)) MiB"

rows=() failures=0
for i in $(seq "$RUNS"); do
  verdict="" peak=0 keys="?" evictions="?" faults="?" held="?" verify="?" deep="?" filed="?"
  if start_server "${SETTINGS[@]}" LD_PRELOAD="$LIB"; then
    peak=$(load_records)
    sleep "$HOLD"
    if kill -0 "$RPID" 2>/dev/null && redis-cli -p "$PORT" ping >/dev/null 2>&1; then
      digest=$(redis-cli -p "$PORT" debug digest) keys=$(redis-cli -p "$PORT" dbsize)
      "$TMCCTL" stats "$RPID" --json >"$WORK/stats.json" 2>/dev/null || echo '{}' >"$WORK/stats.json"
      evictions=$(stat_of evictions) faults=$(stat_of faults) held=$(stat_of held_faults)
      verify=$(stat_of verify_failures) deep=$(stat_of deep_recompressed) filed=$(stat_of file_reads)
      if [[ "$digest" != "$ref_digest" || "$keys" != "$ref_keys" ]]; then verdict="DIGEST DIFFERS"
      elif [[ "$verify" != "0" ]]; then verdict="VERIFY FAILURES"
      else verdict="ok"; fi
    else
      verdict="CRASHED: $(grep -m1 'crashed by' "$WORK/redis.log")"
      cp "$WORK/redis.log" "/tmp/target_load_crash_$i.log"
    fi
  else
    verdict="did not start"
  fi
  [[ -n "$RPID" ]] && { kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; RPID=""; }
  [[ "$verdict" == ok ]] || failures=$((failures + 1))
  echo "run $i: $verdict (keys $keys, evictions $evictions, faults $faults, held $held, recompressed $deep, read from the file $filed, peak $((peak / 1024)) MiB)"
  rows+=("| $i | $verdict | $keys | $evictions | $faults | $held | $deep | $filed | $verify | $((peak / 1024)) |")
done

{
  echo "# Redis loading under TMC_TARGET, digest checked ($RUNS runs)"
  echo
  echo "Command: \`$COMMAND\` (settings: ${SETTINGS[*]}; ${MB} MB of records, seed 11; ${HOLD} s idle before the digest)  "
  echo "Commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Plain redis-server: $ref_keys keys, digest \`$ref_digest\`, peak RSS $((plain_peak / 1024)) MiB."
  echo
  echo "| run | result | keys | evictions | faults | held faults | recompressed | faults read from the file | verify failures | peak RSS MiB |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo
  echo "$((RUNS - failures)) of $RUNS runs passed."
} >"$OUT"
echo "$((RUNS - failures)) of $RUNS runs passed; report in $OUT"
[[ $failures -eq 0 ]]
