#!/usr/bin/env bash
# numa_guest.sh — run a command inside a QEMU x86_64 guest that has two NUMA nodes.
#
# libtmc's NUMA tiering moves pages between a near node (CPUs + memory) and a far,
# memory-only node such as a CXL memory expander. Most development and CI machines have a
# single node, so this script boots a throw-away guest that does have that topology:
#
#   node 0: all vCPUs + --mem-near of RAM        node 1: --mem-far of RAM, no CPUs,
#                                                 farther away (SLIT distance, HMAT)
#
# The guest runs a Debian 6.12 kernel (userfaultfd with UFFDIO_MOVE) and uses the host's
# root filesystem, shared read-only over virtio-9p, as its own root, so binaries built on
# the host run unchanged with their shared libraries. A tmpfs overlay makes the guest's
# root writable (changes vanish at power-off); the current directory and any --rw
# directory are shared read-write, so results written there land on the host.
#
# The kernel and a static busybox come from Debian's apt repositories via
# `apt-get download` + `dpkg-deb -x` into a cache directory: nothing is installed into
# the host's /boot and the bootloader is never touched. qemu-system-x86 is installed with
# apt-get if missing. No KVM is needed (or used): the guest runs under TCG, so it is slow.
#
# Run `numa_guest.sh --help` for the options.
set -euo pipefail

readonly SCRIPT_NAME=${0##*/}

# Exit statuses of the script itself (the command's own status is passed through).
readonly EXIT_TIMEOUT=124  # like timeout(1)
readonly EXIT_INFRA=125    # the guest could not be started or did not report a status

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME [OPTIONS] -- COMMAND [ARGS...]
       $SCRIPT_NAME [OPTIONS] --check

Boots a QEMU x86_64 guest (TCG, 2 vCPUs) with two NUMA nodes -- node 0 with the CPUs
and memory, node 1 memory-only and farther away, like a CXL expander -- and runs
COMMAND in it as root, in the same working directory as on the host. The guest's root
is the host's root filesystem (read-only 9p + a tmpfs overlay, so writes inside the
guest succeed but are discarded). The current directory and each --rw DIR are shared
read-write. COMMAND's stdout and stderr are streamed to this script's stdout/stderr.

Exit status: COMMAND's exit status; $EXIT_TIMEOUT on timeout; $EXIT_INFRA if the guest could
not be started or did not report a status (the console log is printed then).

Options:
  --mem-near SIZE     RAM of node 0 (CPUs), e.g. 1G, 512M          [default: $MEM_NEAR]
  --mem-far SIZE      RAM of node 1 (memory-only)                  [default: $MEM_FAR]
  --distance N        SLIT distance node 0 <-> node 1 (local is 10) [default: $DISTANCE]
  --no-hmat           do not describe the nodes' latency/bandwidth in an ACPI HMAT (without
                      it Linux puts both nodes in the same memory tier)
  --smp N             vCPUs, all on node 0                        [default: $SMP]
  --numa-balancing M  value for kernel.numa_balancing in the guest: 0 off, 1 normal,
                      2 memory tiering                             [default: $NUMA_BALANCING]
  --timeout SEC       kill the guest after SEC seconds (exit $EXIT_TIMEOUT)   [default: $TIMEOUT]
  --rw DIR            share host directory DIR read-write at the same path (repeatable)
  --no-rw-cwd         do not share the current directory read-write
  --no-overlay        no tmpfs overlay over the root: it stays read-only, with fresh
                      tmpfs on /tmp, /var/tmp and /root only
  --cache DIR         where the kernel and busybox are kept
                      [default: \$NUMA_GUEST_CACHE or $DEFAULT_CACHE]
  --kernel-pkg NAME   use this kernel package instead of the newest
                      linux-image-6.12.*+deb*-amd64-unsigned known to apt
  --keep-log FILE     copy the guest's serial console log to FILE
  --verbose           also stream the serial console (kernel messages) to stderr
  --check             run a built-in self-check instead of COMMAND: prints the NUMA
                      topology and verifies 2 nodes online, node 1 with memory and no
                      CPUs, a larger distance to node 1, and userfaultfd
  -h, --help          this text

Environment: the caller's exported variables are passed to COMMAND; NUMA_GUEST_CACHE sets
the default cache directory. Inside the guest NUMA_GUEST=1 is set.
Host /proc, /sys, /dev, /run are not visible in the guest (it mounts its own).

Example:
  gcc -O2 -o /tmp/probe tests/numa/numa_guest_probe.c -lnuma
  $SCRIPT_NAME -- /tmp/probe
EOF
}

die() {
  echo "$SCRIPT_NAME: error: $*" >&2
  exit "$EXIT_INFRA"
}
note() { echo "$SCRIPT_NAME: $*" >&2; }

# ---------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------
readonly DEFAULT_CACHE=/var/cache/libtmc-numa-guest
readonly KERNEL_SERIES=6.12  # first with everything libtmc uses (UFFDIO_MOVE is 6.8+)
MEM_NEAR=1G
MEM_FAR=1G
DISTANCE=20
HMAT=1
SMP=2
NUMA_BALANCING=0  # off by default: automatic migration would make tests nondeterministic
TIMEOUT=1800
RW_DIRS=()
RW_CWD=1
OVERLAY=1
CACHE=${NUMA_GUEST_CACHE:-$DEFAULT_CACHE}
KERNEL_PKG=
KEEP_LOG=
VERBOSE=0
CHECK=0

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --mem-near) need_arg "$@"; MEM_NEAR=$2; shift 2 ;;
    --mem-far) need_arg "$@"; MEM_FAR=$2; shift 2 ;;
    --distance) need_arg "$@"; DISTANCE=$2; shift 2 ;;
    --no-hmat) HMAT=0; shift ;;
    --smp) need_arg "$@"; SMP=$2; shift 2 ;;
    --numa-balancing) need_arg "$@"; NUMA_BALANCING=$2; shift 2 ;;
    --timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
    --rw) need_arg "$@"; RW_DIRS+=("$2"); shift 2 ;;
    --no-rw-cwd) RW_CWD=0; shift ;;
    --no-overlay) OVERLAY=0; shift ;;
    --cache) need_arg "$@"; CACHE=$2; shift 2 ;;
    --kernel-pkg) need_arg "$@"; KERNEL_PKG=$2; shift 2 ;;
    --keep-log) need_arg "$@"; KEEP_LOG=$2; shift 2 ;;
    --verbose) VERBOSE=1; shift ;;
    --check) CHECK=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) echo "$SCRIPT_NAME: unknown option '$1'" >&2; usage >&2; exit "$EXIT_INFRA" ;;
  esac
done
CMD=("$@")

if [[ $CHECK -eq 1 && ${#CMD[@]} -gt 0 ]]; then die "--check takes no COMMAND"; fi
if [[ $CHECK -eq 0 && ${#CMD[@]} -eq 0 ]]; then
  usage >&2
  exit "$EXIT_INFRA"
fi

# SIZE (e.g. 1G, 512M, 1GiB, or plain MiB) -> MiB
to_mib() {
  local s=${1^^}
  s=${s%IB}
  s=${s%B}
  case $s in
    *[!0-9GMT]* | '' | [GMT]*) die "bad size '$1' (use e.g. 512M or 1G)" ;;
    *T) echo $((${s%T} * 1024 * 1024)) ;;
    *G) echo $((${s%G} * 1024)) ;;
    *M) echo $((${s%M})) ;;
    *) echo "$s" ;;
  esac
}
NEAR_MIB=$(to_mib "$MEM_NEAR")
FAR_MIB=$(to_mib "$MEM_FAR")
# The kernel needs some room of its own on node 0 besides what the command uses.
[[ $NEAR_MIB -ge 256 ]] || die "--mem-near must be at least 256M"
[[ $FAR_MIB -ge 64 ]] || die "--mem-far must be at least 64M"
[[ $DISTANCE =~ ^[0-9]+$ && $DISTANCE -gt 10 && $DISTANCE -le 254 ]] ||
  die "--distance must be 11..254 (10 means local)"
[[ $SMP =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer"
[[ $NUMA_BALANCING =~ ^[0-3]$ ]] || die "--numa-balancing must be 0, 1, 2 or 3"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"

# Read-write shares: absolute, existing directories; the current directory unless disabled.
HOST_CWD=$(pwd -P)
if [[ $RW_CWD -eq 1 && $HOST_CWD != / ]]; then RW_DIRS=("$HOST_CWD" "${RW_DIRS[@]}"); fi
RW_REAL=()
for d in "${RW_DIRS[@]+"${RW_DIRS[@]}"}"; do
  [[ -d $d ]] || die "--rw $d: not a directory"
  r=$(cd -- "$d" && pwd -P)
  [[ $r != / ]] || die "--rw /: the root is shared read-only by design; share a subdirectory"
  # The guest reads the list line by line and mounts by path; keep the paths plain.
  [[ $r != *$'\n'* && $r != *' '* ]] || die "--rw $d: paths with spaces/newlines are not supported"
  # Sharing a directory and its own subdirectory twice is pointless; skip exact duplicates.
  dup=0
  for e in "${RW_REAL[@]+"${RW_REAL[@]}"}"; do [[ $e == "$r" ]] && dup=1; done
  [[ $dup -eq 1 ]] || RW_REAL+=("$r")
done

# ---------------------------------------------------------------------------------------
# Host dependencies
# ---------------------------------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
  [[ $APT_UPDATED -eq 0 ]] || return 0
  APT_UPDATED=1
  note "running apt-get update"
  apt-get update -qq >/dev/null || note "apt-get update failed (continuing with the lists there are)"
}

# `apt-get download` as root warns that the _apt sandbox user cannot write into the target
# directory; running it unsandboxed is what it then does anyway, so say so up front.
apt_download() { apt-get -qq -o APT::Sandbox::User=root download "$@" >/dev/null; }

ensure_qemu() {
  command -v qemu-system-x86_64 >/dev/null && return 0
  [[ $EUID -eq 0 ]] || die "qemu-system-x86_64 not found; install qemu-system-x86 (needs root)"
  command -v apt-get >/dev/null || die "qemu-system-x86_64 not found and no apt-get to install it"
  note "installing qemu-system-x86 with apt-get"
  local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
    qemu-system-x86)
  # A fresh container has no package lists yet: update once and retry.
  "${install[@]}" >/dev/null 2>&1 || { apt_update_once; "${install[@]}" >/dev/null; } ||
    die "could not install qemu-system-x86 with apt-get"
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 still missing after install"
}

for tool in dpkg-deb apt-get apt-cache gzip flock timeout tail; do
  command -v "$tool" >/dev/null || die "'$tool' not found (this script expects Debian/Ubuntu)"
done
ensure_qemu

mkdir -p -- "$CACHE" || die "cannot create cache directory $CACHE (use --cache DIR)"
CACHE=$(cd -- "$CACHE" && pwd -P)

# Temporary files of this run. Removed on exit; qemu and the tail(1)s are stopped first.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/numa-guest.XXXXXX")
QEMU_PID=
BG_PIDS=()
DL_DIR=
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  [[ -z $QEMU_PID ]] || kill "$QEMU_PID" 2>/dev/null || true
  for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n $KEEP_LOG && -f $TMP/console.log ]]; then cp -- "$TMP/console.log" "$KEEP_LOG" || true; fi
  rm -rf -- "$TMP"
  [[ -z $DL_DIR ]] || rm -rf -- "$DL_DIR"
  exit "$rc"
}
trap cleanup EXIT
# set -e stops on an unexpected failure; say where, and keep it apart from COMMAND's status.
trap 'echo "$SCRIPT_NAME: error: unexpected failure at line $LINENO" >&2; exit $EXIT_INFRA' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# Static busybox for the initramfs (the host's busybox, if any, may be dynamically linked).
# Downloaded into the cache rather than installed: busybox-static conflicts with busybox.
ensure_busybox() {
  local bb
  bb=$(printf '%s\n' "$CACHE"/busybox-*/busybox | sort -V | tail -n 1)
  if [[ -n $bb && -x $bb ]]; then
    BUSYBOX=$bb
    return 0
  fi
  local ver
  ver=$(apt-cache policy busybox-static 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -z $ver || $ver == "(none)" ]]; then
    apt_update_once
    ver=$(apt-cache policy busybox-static 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  [[ -n $ver && $ver != "(none)" ]] || die "apt knows no busybox-static package"
  note "downloading busybox-static $ver into $CACHE"
  DL_DIR=$(mktemp -d "$CACHE/.download.XXXXXX")
  (cd -- "$DL_DIR" && apt_download busybox-static) || die "apt-get download busybox-static failed"
  dpkg-deb -x "$DL_DIR"/busybox-static_*.deb "$DL_DIR/x"
  local dir=$CACHE/busybox-${ver//:/_}
  mkdir -p -- "$dir"
  install -m 0755 "$DL_DIR/x/bin/busybox" "$dir/busybox.new"
  mv -f -- "$dir/busybox.new" "$dir/busybox"  # atomic, for a concurrent reader
  rm -rf -- "$DL_DIR"
  DL_DIR=
  BUSYBOX=$dir/busybox
}

# Modules the guest must load for its root filesystem, with dependencies found below.
# (Debian builds 9p and overlayfs as modules; virtio-pci, tmpfs, devtmpfs are built in.)
readonly GUEST_MODULES=(9pnet_virtio 9p overlay)

# Appends module $1 and (first) its dependencies to MOD_ORDER, reading the dependencies
# from each module's .modinfo ("depends=a,b"): the package ships no modules.dep (depmod
# runs at install time) and the host may not have kmod.
resolve_module() {
  local name=${1//-/_} f deps d
  [[ -z ${MOD_SEEN[$name]+x} ]] || return 0
  MOD_SEEN[$name]=1
  if grep -q "/${name}\.ko\$" <(tr - _ <"$MODDIR/modules.builtin"); then return 0; fi
  f=${MOD_INDEX[$name]:-}
  [[ -n $f ]] || die "kernel module $name not found in the kernel package"
  deps=$(decompress_module "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1)
  for d in ${deps//,/ }; do resolve_module "$d"; done
  MOD_ORDER+=("$f")
}

# Prints module file $1 uncompressed (Debian 12's 6.12 kernels use .ko.xz; busybox's
# insmod takes plain .ko only, and xz may not be on the host, busybox has it).
decompress_module() {
  case $1 in
    *.ko) cat -- "$1" ;;
    *.ko.xz) "$BUSYBOX" xzcat -- "$1" ;;
    *.ko.gz) gzip -dc -- "$1" ;;
    *.ko.zst) command -v zstd >/dev/null || die "zstd needed to unpack $1"; zstd -dcq -- "$1" ;;
    *) die "unknown module format: $1" ;;
  esac
}

# Newest Debian kernel package of $KERNEL_SERIES that apt knows, e.g.
# linux-image-6.12.118+deb12-amd64-unsigned. The generic amd64 flavour, not cloud-amd64:
# the cloud kernel is built without 9p.
newest_kernel_pkg() {
  apt-cache search --names-only \
    "^linux-image-${KERNEL_SERIES//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64-unsigned\$" 2>/dev/null |
    awk '{print $1}' | sort -V | tail -n 1
}

# Sets KDIR to a cache directory with vmlinuz, config and the uncompressed modules.
ensure_kernel() {
  local pkg=$KERNEL_PKG
  if [[ -z $pkg ]]; then
    pkg=$(newest_kernel_pkg)
    if [[ -z $pkg ]]; then
      apt_update_once
      pkg=$(newest_kernel_pkg)
    fi
  fi
  if [[ -z $pkg ]]; then
    # Offline, or apt lists without bookworm-security/backports: use what is cached.
    KDIR=$(printf '%s\n' "$CACHE"/kernel-* | sort -V | tail -n 1)
    [[ -n $KDIR && -f $KDIR/.complete ]] || die "apt knows no linux-image-${KERNEL_SERIES}.*-amd64-unsigned" \
      "package (Debian 12 has them in bookworm-security / bookworm-backports;" \
      "check /etc/apt/sources.list*) and none is cached in $CACHE"
    note "no kernel package known to apt; using cached ${KDIR##*/kernel-}"
    return 0
  fi
  local kver=${pkg#linux-image-}
  kver=${kver%-unsigned}
  KDIR=$CACHE/kernel-$kver
  [[ -f $KDIR/.complete ]] && return 0

  note "downloading $pkg into $CACHE (once; ~100 MB)"
  DL_DIR=$(mktemp -d "$CACHE/.download.XXXXXX")
  (cd -- "$DL_DIR" && apt_download "$pkg") || die "apt-get download $pkg failed"
  local x=$DL_DIR/x
  dpkg-deb -x "$DL_DIR"/linux-image-*.deb "$x" || die "cannot unpack $pkg"
  local vmlinuz=$x/boot/vmlinuz-$kver config=$x/boot/config-$kver
  MODDIR=$x/lib/modules/$kver
  [[ -f $vmlinuz && -f $config && -d $MODDIR ]] || die "$pkg does not contain kernel $kver"

  # What the guest and libtmc need. =y or =m; m means a module loaded from the initramfs.
  local opt missing=()
  for opt in USERFAULTFD=y NUMA=y MIGRATION=y ACPI_NUMA=y VIRTIO_PCI=y DEVTMPFS=y TMPFS=y \
    SERIAL_8250_CONSOLE=y BLK_DEV_INITRD=y RD_GZIP=y NET_9P=ym NET_9P_VIRTIO=ym 9P_FS=ym \
    OVERLAY_FS=ym; do
    grep -Eq "^CONFIG_${opt%=*}=[${opt#*=}]\$" "$config" || missing+=("CONFIG_${opt%=*}")
  done
  [[ ${#missing[@]} -eq 0 ]] || die "$pkg lacks ${missing[*]}"
  grep -q '^CONFIG_ACPI_HMAT=y' "$config" || note "warning: $pkg has no CONFIG_ACPI_HMAT"

  declare -gA MOD_INDEX=() MOD_SEEN=()
  MOD_ORDER=()
  local f n
  while IFS= read -r f; do
    n=${f##*/}
    n=${n%%.ko*}
    MOD_INDEX[${n//-/_}]=$f
  done < <(find "$MODDIR/kernel" -name '*.ko*')
  for n in "${GUEST_MODULES[@]}"; do resolve_module "$n"; done

  # Fill a fresh directory, then rename: a concurrent run never sees a half-written one.
  local stage=$DL_DIR/kernel
  mkdir -p -- "$stage/modules"
  cp -- "$vmlinuz" "$stage/vmlinuz"
  cp -- "$config" "$stage/config"
  : >"$stage/modules/modules.order"
  for f in "${MOD_ORDER[@]}"; do
    n=${f##*/}
    n=${n%%.ko*}.ko
    decompress_module "$f" >"$stage/modules/$n"
    echo "$n" >>"$stage/modules/modules.order"
  done
  echo "$pkg" >"$stage/package"
  touch "$stage/.complete"
  rm -rf -- "$KDIR"
  mv -- "$stage" "$KDIR"
  rm -rf -- "$DL_DIR"
  DL_DIR=
}

# One run at a time fills the cache; others wait here (runs after that share it).
exec 9>"$CACHE/.lock"
flock 9
ensure_busybox
ensure_kernel
flock -u 9
exec 9>&-
KVER=${KDIR##*/kernel-}

# ---------------------------------------------------------------------------------------
# Control share: what the guest runs, and where it reports back
# ---------------------------------------------------------------------------------------
# $TMP/ctl is shared read-write (tag "nguestctl") and appears in the guest at
# /run/numa-guest: run.sh and check.sh go in, stdout/stderr/rc come out.
CTL=$TMP/ctl
mkdir -p -- "$CTL"
: >"$CTL/stdout"
: >"$CTL/stderr"

# Settings for the initramfs's /init (busybox sh: plain values only, no bash quoting).
cat >"$CTL/guest.conf" <<EOF
OVERLAY=$OVERLAY
NUMA_BALANCING=$NUMA_BALANCING
EOF
: >"$CTL/rw.list"
for i in "${!RW_REAL[@]}"; do echo "rw$i ${RW_REAL[$i]}" >>"$CTL/rw.list"; done

# The caller's exported environment, minus what describes this shell rather than the user.
{
  while IFS= read -r name; do
    case $name in PWD | OLDPWD | SHLVL | _ | BASH_* | BASHOPTS | SHELLOPTS | UID | EUID | PPID) continue ;; esac
    printf 'export %s=%q\n' "$name" "${!name}"
  done < <(compgen -e)
  echo "export NUMA_GUEST=1"
} >"$CTL/env.sh"

cat >"$CTL/check.sh" <<'EOF'
# Built-in self-check of numa_guest.sh --check (bash, runs inside the guest).
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
nodes=/sys/devices/system/node
echo "kernel: $(uname -r)"
echo "nodes online: $(cat $nodes/online), with memory: $(cat $nodes/has_memory)," \
  "with CPUs: $(cat $nodes/has_cpu)"
for n in "$nodes"/node[0-9]*; do
  id=${n##*node}
  total=$(awk '/MemTotal/ {print $4}' "$n/meminfo")
  free=$(awk '/MemFree/ {print $4}' "$n/meminfo")
  echo "node $id: cpulist=[$(cat "$n/cpulist")] distance=[$(cat "$n/distance")]" \
    "MemTotal=$((total / 1024)) MiB MemFree=$((free / 1024)) MiB"
done
for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
  [[ -e $t/nodelist ]] && echo "${t##*/}: nodes $(cat "$t/nodelist")"
done
if [[ -r /sys/kernel/mm/numa/demotion_enabled ]]; then
  echo "demotion_enabled: $(cat /sys/kernel/mm/numa/demotion_enabled)," \
    "numa_balancing: $(cat /proc/sys/kernel/numa_balancing)"
fi
command -v numactl >/dev/null && numactl --hardware

[[ $(cat $nodes/online) == 0-1 ]] && ok "2 nodes online (0-1)" || bad "nodes online: $(cat $nodes/online)"
[[ -d $nodes/node1 && $(awk '/MemTotal/ {print $4}' $nodes/node1/meminfo) -gt 0 ]] &&
  ok "node 1 has memory" || bad "node 1 has no memory"
[[ $(cat $nodes/has_memory) == 0-1 ]] && ok "node 1 is N_MEMORY (has_memory = 0-1)" ||
  bad "has_memory = $(cat $nodes/has_memory)"
[[ -z $(cat $nodes/node1/cpulist 2>/dev/null) && $(cat $nodes/has_cpu) == 0 ]] &&
  ok "node 1 has no CPUs" || bad "node 1 has CPUs: $(cat $nodes/node1/cpulist)"
read -r d00 d01 <"$nodes/node0/distance"
[[ $d01 -gt $d00 ]] && ok "distance(0,1)=$d01 > distance(0,0)=$d00" || bad "distance 0->1 not larger"
if [[ $NUMA_GUEST_HMAT == 1 ]]; then
  tier0=$(grep -l '^0' /sys/devices/virtual/memory_tiering/memory_tier*/nodelist 2>/dev/null)
  tier1=$(grep -lx '1' /sys/devices/virtual/memory_tiering/memory_tier*/nodelist 2>/dev/null)
  [[ -n $tier1 && $tier0 != "$tier1" ]] && ok "node 1 is in a memory tier of its own (HMAT)" ||
    bad "node 1 not in a separate memory tier"
fi
[[ -e /proc/sys/vm/unprivileged_userfaultfd ]] && ok "userfaultfd (/proc/sys/vm/unprivileged_userfaultfd)" ||
  bad "no /proc/sys/vm/unprivileged_userfaultfd"
[[ -c /dev/userfaultfd ]] && ok "/dev/userfaultfd" || bad "no /dev/userfaultfd"
grep -q '^CONFIG_USERFAULTFD=y' /run/numa-guest/kernel.config 2>/dev/null ||
  bad "kernel config lacks CONFIG_USERFAULTFD=y"
[[ $fails -eq 0 ]] && echo "numa_guest check: PASSED" || echo "numa_guest check: FAILED ($fails)"
exit $((fails > 0))
EOF
cp -- "$KDIR/config" "$CTL/kernel.config"

if [[ $CHECK -eq 1 ]]; then
  CMD=(/bin/bash /run/numa-guest/check.sh)
  GUEST_CWD=/
else
  GUEST_CWD=$HOST_CWD
fi
{
  echo '#!/bin/bash'
  echo '# Generated by numa_guest.sh: runs the command inside the guest (chroot into the host root).'
  echo '. /run/numa-guest/env.sh'
  printf 'export NUMA_GUEST_HMAT=%q\n' "$HMAT"
  # Files on the control share, which the host follows with tail -f while the guest runs.
  echo 'exec </dev/null >/run/numa-guest/stdout 2>/run/numa-guest/stderr'
  printf 'dir=%q\n' "$GUEST_CWD"
  # shellcheck disable=SC2016  # expanded in the guest
  echo 'cd -- "$dir" 2>/dev/null || { echo "numa_guest: $dir not in the guest, running in /" >&2; cd /; }'
  printf 'exec'
  printf ' %q' "${CMD[@]}"
  printf '\n'
} >"$CTL/run.sh"

# ---------------------------------------------------------------------------------------
# Initramfs: busybox + 9p/overlay modules + /init (rebuilt every run: it takes a second)
# ---------------------------------------------------------------------------------------
IRD=$TMP/initramfs
mkdir -p -- "$IRD"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,lower,upper,newroot,ctl,lib/modules}
install -m 0755 "$BUSYBOX" "$IRD/bin/busybox"
cp -- "$KDIR"/modules/* "$IRD/lib/modules/"

# Exchanged with the host: the exit status as the file rc on the control share, and as a
# console line "NUMA_GUEST_EXIT <rc>" as a fallback; "NUMA_GUEST_FAIL <why>" if /init fails.
cat >"$IRD/init" <<'EOF'
#!/bin/busybox sh
# PID 1 of the numa_guest.sh initramfs: mount the host's root over 9p, run the command
# chrooted into it, report its exit status, power off.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys

poweroff_now() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger  # poweroff failed? ACPI off via sysrq; never return as PID 1
  sleep 60
}
fail() {
  echo "NUMA_GUEST_FAIL $*"
  poweroff_now
}

while read -r m; do
  insmod "/lib/modules/$m" || fail "insmod $m"
done </lib/modules/modules.order

# msize: the largest 9p message; bigger means fewer round trips for big reads/writes.
P9="trans=virtio,version=9p2000.L,msize=512000"
# Control share: cache=none so every write reaches the host at once (it streams stdout).
mount -t 9p -o "$P9,cache=none" nguestctl /ctl || fail "mount control share"
. /ctl/guest.conf

# The host's root, read-only. cache=loose: the host root doesn't change under us in ways
# that matter, and caching makes loading binaries and libraries much faster.
mount -t 9p -o "ro,$P9,cache=loose" hostroot /lower || fail "mount 9p root"
if [ "$OVERLAY" = 1 ]; then
  # tmpfs upper layer: the whole root becomes writable; all writes die with the guest.
  mount -t tmpfs -o mode=0755 tmpfs /upper
  mkdir -p /upper/data /upper/work
  if ! mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot; then
    echo "numa-guest: overlay over 9p failed; root stays read-only"
    OVERLAY=0
  fi
fi
if [ "$OVERLAY" != 1 ]; then
  mount -o move /lower /newroot || fail "move root"
  for d in /tmp /var/tmp /root; do mount -t tmpfs -o mode=1777 tmpfs "/newroot$d"; done
  chmod 0700 /newroot/root
fi

mount -t proc proc /newroot/proc || fail "mount /proc"
mount -t sysfs sysfs /newroot/sys || fail "mount /sys"
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null
mount -t devtmpfs devtmpfs /newroot/dev || fail "mount /dev"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=0755 tmpfs /newroot/run || fail "mount /run"
mkdir -p /newroot/run/numa-guest /newroot/run/lock
mount -o bind /ctl /newroot/run/numa-guest || fail "bind control share"

# Host directories shared read-write, at their host paths. cache=mmap: writes go straight
# to the host (no stale data there if the guest dies) yet shared writable mmap works.
while read -r tag path; do
  [ -n "$tag" ] || continue
  mkdir -p "/newroot$path" 2>/dev/null
  mount -t 9p -o "$P9,cache=mmap" "$tag" "/newroot$path" || fail "mount $path read-write"
done </ctl/rw.list

echo "$NUMA_BALANCING" >/proc/sys/kernel/numa_balancing 2>/dev/null

echo "numa-guest: running the command"
chroot /newroot /bin/bash /run/numa-guest/run.sh
rc=$?
echo "$rc" >/ctl/rc.tmp && mv /ctl/rc.tmp /ctl/rc
echo "NUMA_GUEST_EXIT $rc"
poweroff_now
EOF
chmod 0755 "$IRD/init"
(cd -- "$IRD" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$TMP/initramfs.gz"

# ---------------------------------------------------------------------------------------
# QEMU
# ---------------------------------------------------------------------------------------
# Memory: one RAM backend per node. Node 1 has no cpus= and, for the HMAT, its initiator
# is node 0 (the CPUs' node): a CPU-less memory node, as a CXL expander appears to Linux.
HMAT_ON=off NODE1_INITIATOR='' HMAT_NOTE=''
if [[ $HMAT -eq 1 ]]; then HMAT_ON=on NODE1_INITIATOR=,initiator=0 HMAT_NOTE=", HMAT"; fi
# QEMU lays guest RAM out node by node, filling the space below 4 GiB first (up to 2 GiB on
# q35). Left alone, small nodes end up all below 4 GiB, entirely ZONE_DMA32 -- unlike real
# machines, where the page allocator, reclaim and migration work mostly in ZONE_NORMAL.
# Capping the RAM below 4 GiB at half of node 0 puts the rest of node 0 and all of node 1
# above 4 GiB: both nodes get a ZONE_NORMAL, node 1 only that (as a CXL expander's memory).
LOWMEM_MIB=$((NEAR_MIB / 2 < 2048 ? NEAR_MIB / 2 : 2048))
# shellcheck disable=SC2054  # the commas are QEMU's option syntax
QEMU=(qemu-system-x86_64
  -machine "q35,hmat=$HMAT_ON,max-ram-below-4g=${LOWMEM_MIB}M"
  -accel tcg,thread=multi -cpu max -smp "$SMP"
  -m "$((NEAR_MIB + FAR_MIB))M"
  -object "memory-backend-ram,id=mem0,size=${NEAR_MIB}M"
  -object "memory-backend-ram,id=mem1,size=${FAR_MIB}M"
  -numa "node,nodeid=0,cpus=0-$((SMP - 1)),memdev=mem0"
  -numa "node,nodeid=1,memdev=mem1$NODE1_INITIATOR"
  -numa "dist,src=0,dst=1,val=$DISTANCE"
)
if [[ $HMAT -eq 1 ]]; then
  # ACPI HMAT: near DRAM 100 ns / 20 GB/s, far memory 250 ns / 10 GB/s (a CXL-like ratio).
  # Linux (6.12 does) derives a CPU-less node's memory tier from these, so node 1 becomes a
  # lower tier (a demotion target), as on real CXL hardware. Without HMAT both nodes land
  # in the default DRAM tier whatever the SLIT distance.
  for t in "0 100 20G" "1 250 10G"; do
    read -r node lat bw <<<"$t"
    QEMU+=(-numa "hmat-lb,initiator=0,target=$node,hierarchy=memory,data-type=access-latency,latency=$lat"
      -numa "hmat-lb,initiator=0,target=$node,hierarchy=memory,data-type=access-bandwidth,bandwidth=$bw")
  done
fi
QEMU+=(
  # The host root, read-only. multidevs=remap: it spans several host filesystems, whose
  # inode numbers would otherwise collide in the guest.
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$CTL,mount_tag=nguestctl,security_model=none"
)
for i in "${!RW_REAL[@]}"; do
  QEMU+=(-virtfs "local,path=${RW_REAL[$i]},mount_tag=rw$i,security_model=none,multidevs=remap")
done
QEMU+=(
  -kernel "$KDIR/vmlinuz" -initrd "$TMP/initramfs.gz"
  # panic=-1 + -no-reboot: a kernel panic ends QEMU at once instead of hanging to the timeout.
  # mitigations=off: no speculation workarounds needed in a test VM, and they cost under TCG.
  -append "console=ttyS0 loglevel=4 panic=-1 mitigations=off rdinit=/init"
  -no-reboot -nographic -nodefaults -monitor none -serial "file:$TMP/console.log"
  -nic none
)

note "booting $KVER: node 0 = ${SMP} CPUs + ${NEAR_MIB} MiB, node 1 = ${FAR_MIB} MiB, no CPUs," \
  "distance $DISTANCE$HMAT_NOTE (TCG, slow)"
START=$(date +%s)
: >"$TMP/console.log"
# timeout(1) forwards INT/TERM to QEMU, which then exits cleanly.
timeout --kill-after=20 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$TMP/qemu.out" 2>&1 &
QEMU_PID=$!
# Stream the command's output while the guest runs; --pid ends tail once QEMU is gone
# (after a last read, so nothing written before power-off is lost).
tail -n +1 -f --pid="$QEMU_PID" "$CTL/stdout" &
BG_PIDS+=($!)
tail -n +1 -f --pid="$QEMU_PID" "$CTL/stderr" >&2 &
BG_PIDS+=($!)
if [[ $VERBOSE -eq 1 ]]; then
  tail -n +1 -f --pid="$QEMU_PID" "$TMP/console.log" >&2 &
  BG_PIDS+=($!)
fi
QEMU_RC=0
wait "$QEMU_PID" || QEMU_RC=$?
QEMU_PID=
for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BG_PIDS=()
ELAPSED=$(($(date +%s) - START))

show_log() {
  echo "---- qemu output ----" >&2
  cat -- "$TMP/qemu.out" >&2
  echo "---- last 40 lines of the guest console ----" >&2
  tail -n 40 -- "$TMP/console.log" >&2
}

if [[ $QEMU_RC -eq 124 || $QEMU_RC -eq 137 ]]; then
  note "timeout: the guest ran longer than $TIMEOUT s and was killed"
  [[ $VERBOSE -eq 1 ]] || show_log
  exit "$EXIT_TIMEOUT"
fi
if [[ -f $CTL/rc ]]; then
  RC=$(<"$CTL/rc")
elif RC=$(sed -n 's/^NUMA_GUEST_EXIT \([0-9]*\).*/\1/p' "$TMP/console.log" | tail -n 1) && [[ -n $RC ]]; then
  : # the rc file did not make it; the console line did
else
  note "the guest did not report an exit status (qemu exit status $QEMU_RC)"
  grep -h 'NUMA_GUEST_FAIL' "$TMP/console.log" >&2 || true
  show_log
  exit "$EXIT_INFRA"
fi
note "guest finished in ${ELAPSED} s; command exit status $RC"
exit "$RC"
