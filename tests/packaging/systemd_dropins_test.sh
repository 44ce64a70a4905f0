#!/usr/bin/env bash
# The example drop-ins of packaging/systemd/ against the units Debian's redis-server and
# memcached packages install: `systemd-analyze verify` of each unit with its drop-in must
# pass with no complaint about the drop-in, and a drop-in with an unknown key must be
# reported (so the drop-in was really read). Needs no running systemd.
#
# Skips (77) when systemd-analyze or a unit file is missing.
#
# usage: systemd_dropins_test.sh /path/to/packaging/systemd
set -euo pipefail
dropins="${1:?usage: $0 /path/to/packaging/systemd}"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
units=/lib/systemd/system
for unit in redis-server.service memcached.service; do
  [[ -f "$units/$unit" ]] || { echo "SKIP: $units/$unit is missing (scripts/install_deps.sh)"; exit 77; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/tmc-systemd-dropins.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fails=0

# verify UNIT DIR: systemd-analyze verify of DIR/UNIT, with DIR first in the unit path so
# that DIR/UNIT.d/ holds the drop-ins; prints what it said.
verify() {
  SYSTEMD_UNIT_PATH="$2:" systemd-analyze verify "$2/$1" 2>&1
}

for unit in redis-server.service memcached.service; do
  dir="$work/$unit"
  mkdir -p "$dir/$unit.d"
  cp "$units/$unit" "$dir/"
  cp "$dropins/$unit.d/libtmc.conf" "$dir/$unit.d/"
  rc=0
  out="$(verify "$unit" "$dir")" || rc=$?
  if [[ $rc -ne 0 ]] || grep -q 'libtmc.conf' <<<"$out"; then
    echo "FAIL: $unit with its drop-in (exit $rc):"; echo "$out" | sed 's/^/    /'
    fails=$((fails + 1))
  else
    echo "ok: $unit with $unit.d/libtmc.conf verifies"
  fi
  echo "TmcCanaryKey=1" >>"$dir/$unit.d/libtmc.conf"
  if verify "$unit" "$dir" | grep -q "libtmc.conf.*TmcCanaryKey"; then
    echo "ok: $unit: systemd-analyze reads the drop-in (an unknown key in it is reported)"
  else
    echo "FAIL: $unit: systemd-analyze did not read $unit.d/libtmc.conf"
    fails=$((fails + 1))
  fi
done
[[ $fails -eq 0 ]]
