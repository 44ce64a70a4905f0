#!/usr/bin/env bash
# The Debian package's life on this machine: `cpack -G DEB` builds it twice (this version and
# a later one), lintian finds no error or warning in it (when lintian is installed), and dpkg
# installs, upgrades, removes and purges it:
#   install  the files are where cmake/install.cmake says, ld.so's cache knows libtmc.so (so
#            LD_PRELOAD=libtmc.so loads it by name), pkg-config finds libtmc.pc, group
#            userfaultfd exists and owns /dev/userfaultfd 0660 (when the device exists)
#   upgrade  the new version is installed, the group and the device are kept
#   remove   the files are gone, the device is root:root 0600 again, the group stays
#   purge    the group is gone
# Whatever the machine had before (the group, the device's owner and mode) is put back.
#
# Skips (77) when not root, when cpack, dpkg or dpkg-deb is missing, or when a libtmc package
# is already installed (the test would replace the administrator's).
#
# usage: deb_package_test.sh BUILD_DIR   (a built tree: cpack packages what it holds)
set -euo pipefail
build="${1:?usage: $0 BUILD_DIR}"
build="$(cd "$build" && pwd)"
# log, skip, need_bin, check, check_eq, finish; WORK and on_exit (cleanup on exit)
source "$(dirname "${BASH_SOURCE[0]}")/../programs/lib.sh"

[[ $(id -u) -eq 0 ]] || skip "dpkg -i needs root"
need_bin cpack dpkg dpkg-deb pkg-config
[[ -f "$build/CPackConfig.cmake" ]] || skip "$build has no CPackConfig.cmake"
if dpkg-query -W -f '${Status}' libtmc 2>/dev/null | grep -q 'installed'; then
  skip "a libtmc package is installed on this machine; this test would replace it"
fi

GROUP=userfaultfd
DEVICE=/dev/userfaultfd

group_before=no
getent group "$GROUP" >/dev/null && group_before=yes
device_before=""
[[ -c $DEVICE ]] && device_before="$(stat -c '%U:%G %a' "$DEVICE")"

# The machine as it was: no package, the group and the device as found.
restore_machine() {
  dpkg -P libtmc >/dev/null 2>&1 || true
  if [[ $group_before == yes ]] && ! getent group "$GROUP" >/dev/null; then
    groupadd --system "$GROUP"
  fi
  if [[ -n $device_before ]]; then
    chown "${device_before% *}" "$DEVICE"
    chmod "${device_before#* }" "$DEVICE"
  fi
}
on_exit restore_machine

version="$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")"
[[ -n $version ]] || die "no CPACK_PACKAGE_VERSION in $build/CPackConfig.cmake"
next="$version.1"

# build_deb VERSION DIR: the package of VERSION in DIR; prints its path.
build_deb() {
  (cd "$build" && cpack -G DEB -D CPACK_PACKAGE_VERSION="$1" -B "$2" >"$2.log" 2>&1) || {
    echo "FAIL: cpack of version $1:" >&2; sed 's/^/    /' "$2.log" >&2; return 1; }
  ls "$2"/libtmc_"$1"-*.deb
}
deb1="$(build_deb "$version" "$WORK/v1")"
deb2="$(build_deb "$next" "$WORK/v2")"
log "ok: cpack built $(basename "$deb1") and $(basename "$deb2")"

if command -v lintian >/dev/null; then
  # An error or a warning fails; info and pedantic tags are printed only. The Maintainer
  # field is CPACK_PACKAGE_CONTACT (cmake/package.cmake): while it is the placeholder
  # address at .invalid, lintian's two tags about that address are left out, and said so.
  suppress=()
  maintainer="$(dpkg-deb -f "$deb1" Maintainer)"
  if [[ $maintainer == *@invalid\> ]]; then
    suppress=(--suppress-tags bogus-mail-host,bogus-mail-host-in-debian-changelog)
    echo "note: the Maintainer is the placeholder '$maintainer' (set CPACK_PACKAGE_CONTACT);" \
      "lintian's bogus-mail-host tags are not counted"
  fi
  rc=0
  lintian --fail-on error,warning "${suppress[@]}" "$deb1" >"$WORK/lintian.out" 2>&1 || rc=$?
  grep -v 'running with root privileges' "$WORK/lintian.out" | sed 's/^/    lintian: /' || true
  check_eq "lintian: no error or warning (its exit status)" 0 "$rc"
else
  echo "lintian is not installed (Debian package lintian): its check is left out"
fi

arch_dir="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine)"
files=("$arch_dir/libtmc.so" /usr/bin/tmcctl /usr/include/tmc/tmc.h "$arch_dir/pkgconfig/libtmc.pc"
  /usr/share/man/man7/libtmc.7.gz /usr/share/man/man1/tmcctl.1.gz
  /usr/lib/udev/rules.d/70-libtmc-userfaultfd.rules /usr/share/doc/libtmc/copyright)

# run_dpkg ARGS...: dpkg ARGS must succeed; its output is shown when it does not.
run_dpkg() {
  local rc=0
  dpkg "$@" >"$WORK/dpkg.log" 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || sed 's/^/    dpkg: /' "$WORK/dpkg.log"
  check_eq "dpkg $* (its exit status)" 0 "$rc"
}

# installed_state VERSION: what an installed package of VERSION must show.
installed_state() {
  check_eq "dpkg says libtmc $1 is installed" "install ok installed $1-1" \
    "$(dpkg-query -W -f '${Status} ${Version}' libtmc 2>&1)"
  local f
  for f in "${files[@]}"; do check "$f is installed" test -e "$f"; done
  check "ld.so's cache lists libtmc.so" sh -c 'ldconfig -p | grep -q "libtmc.so "'
  check "LD_PRELOAD=libtmc.so loads it by name" \
    sh -c 'LD_PRELOAD=libtmc.so sh -c "grep -q libtmc.so /proc/\$\$/maps"'
  # The .pc file carries the project's version; a package of another version still holds it.
  check_eq "pkg-config finds libtmc $version" "$version" "$(pkg-config --modversion libtmc 2>&1)"
  check "tmcctl runs (tmcctl --help)" sh -c '/usr/bin/tmcctl --help >/dev/null'
  check "group $GROUP exists" sh -c "getent group $GROUP >/dev/null"
  if [[ -c $DEVICE ]]; then
    check_eq "$DEVICE is root:$GROUP 0660" "root:$GROUP 660" "$(stat -c '%U:%G %a' "$DEVICE")"
  fi
}

echo "== install $version"
run_dpkg -i "$deb1"
installed_state "$version"

echo "== upgrade to $next"
run_dpkg -i "$deb2"
installed_state "$next"

echo "== remove"
run_dpkg -r libtmc
for f in "${files[@]}"; do check "$f is gone" test ! -e "$f"; done
check "ld.so's cache no longer lists libtmc.so" sh -c '! ldconfig -p | grep -q "libtmc.so "'
check "group $GROUP stays until purge" sh -c "getent group $GROUP >/dev/null"
if [[ -c $DEVICE ]]; then
  check_eq "$DEVICE is root:root 0600 again" "root:root 600" "$(stat -c '%U:%G %a' "$DEVICE")"
fi

echo "== purge"
run_dpkg -P libtmc
check "group $GROUP is gone" sh -c "! getent group $GROUP"
check "dpkg knows no libtmc" sh -c '! dpkg-query -W libtmc 2>/dev/null | grep -q .'

finish
