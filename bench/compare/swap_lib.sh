# The kernel's alternatives to libtmc, set up and torn down by bench/compare_zram.sh: a
# memory cgroup (v2 memory.max, or v1 memory.limit_in_bytes where the memory controller is
# bound to the v1 hierarchy), a zram swap device (lz4), and zswap over a swap file. Every
# change is recorded and undone by swap_restore_all (the driver runs it from its EXIT
# trap): zswap's parameters as found, our swap devices off, our zram device reset and
# removed (a device we did not add is never touched), our cgroup removed.
# Source after tests/programs/lib.sh (log, die, $WORK).

CG_DIR=""           # our cgroup
CG_VERSION=""       # 1 or 2
CG_ROOT=""          # the hierarchy it lives in
CG_ADDED_MEMORY=""  # v2: we enabled +memory in the root's subtree_control
ZRAM_ID=""          # our zram device number
SWAPFILE=""         # our swap file
declare -A ZSWAP_SAVED=()
ZSWAP_PARAMS=/sys/module/zswap/parameters

# swap_why_not: empty when this machine can run the cgroup scenarios, else the reason.
swap_why_not() {
  [[ $(id -u) == 0 ]] || { echo "not root"; return; }
  command -v mkswap >/dev/null && command -v swapon >/dev/null || { echo "mkswap/swapon not installed"; return; }
  cg_find >/dev/null || { echo "no memory cgroup controller (cgroup v2 memory or v1 memory)"; return; }
}
zram_why_not() {
  [[ -w /sys/class/zram-control/hot_add ]] || { echo "no zram (CONFIG_ZRAM, /sys/class/zram-control)"; return; }
}
zswap_why_not() {
  [[ -w $ZSWAP_PARAMS/enabled ]] || { echo "no zswap (CONFIG_ZSWAP, $ZSWAP_PARAMS)"; return; }
}

# cg_find: "VERSION ROOT" of a hierarchy with the memory controller.
cg_find() {
  local m
  while read -r _ m type opts _; do
    if [[ $type == cgroup2 && -r $m/cgroup.controllers ]] && grep -qw memory "$m/cgroup.controllers"; then
      echo "2 $m"
      return 0
    fi
    if [[ $type == cgroup && ,$opts, == *,memory,* ]]; then
      echo "1 $m"
      return 0
    fi
  done </proc/mounts
  return 1
}

# cg_create LIMIT_BYTES: our cgroup, with the memory limit and swap allowed.
cg_create() {
  read -r CG_VERSION CG_ROOT < <(cg_find) || die "no memory cgroup controller"
  CG_DIR="$CG_ROOT/tmc-compare.$$"
  if [[ $CG_VERSION == 2 ]] && ! grep -qw memory "$CG_ROOT/cgroup.subtree_control"; then
    echo +memory >"$CG_ROOT/cgroup.subtree_control" || die "cannot enable the memory controller in $CG_ROOT"
    CG_ADDED_MEMORY=1
  fi
  mkdir "$CG_DIR" || die "cannot create $CG_DIR"
  if [[ $CG_VERSION == 2 ]]; then
    echo "$1" >"$CG_DIR/memory.max"
    echo max >"$CG_DIR/memory.swap.max"
  else
    echo "$1" >"$CG_DIR/memory.limit_in_bytes"
  fi
}
# cg_set_limit BYTES: moves our cgroup's memory limit (lowering it reclaims, here to swap).
cg_set_limit() {
  if [[ $CG_VERSION == 2 ]]; then echo "$1" >"$CG_DIR/memory.max"; else echo "$1" >"$CG_DIR/memory.limit_in_bytes"; fi
}
# cg_usage: the cgroup's charged memory (v2 memory.current; v1 memory.usage_in_bytes).
cg_usage() {
  if [[ $CG_VERSION == 2 ]]; then cat "$CG_DIR/memory.current"; else cat "$CG_DIR/memory.usage_in_bytes"; fi
}
# cg_run CMD...: CMD inside our cgroup (the shell moves itself in, then execs).
cg_run() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_DIR" "$@"; }
cg_remove() {
  [[ -n $CG_DIR && -d $CG_DIR ]] || return 0
  local p
  for p in $(cat "$CG_DIR/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  local i
  for ((i = 0; i < 50; i++)); do rmdir "$CG_DIR" 2>/dev/null && break; sleep 0.1; done
  [[ -d $CG_DIR ]] && log "WARNING: could not remove $CG_DIR"
  CG_DIR=""
  if [[ -n $CG_ADDED_MEMORY ]]; then
    echo -memory >"$CG_ROOT/cgroup.subtree_control" 2>/dev/null || true
    CG_ADDED_MEMORY=""
  fi
}

# zram_setup DISKSIZE_BYTES: a new zram device with lz4 as swap, at the highest priority.
zram_setup() {
  ZRAM_ID=$(cat /sys/class/zram-control/hot_add) || die "zram hot_add failed"
  local z=/sys/block/zram$ZRAM_ID
  grep -qw lz4 "$z/comp_algorithm" || die "zram has no lz4 backend (comp_algorithm: $(cat "$z/comp_algorithm"))"
  echo lz4 >"$z/comp_algorithm"
  echo "$1" >"$z/disksize"
  mkswap "/dev/zram$ZRAM_ID" >/dev/null || die "mkswap /dev/zram$ZRAM_ID failed"
  swapon -p 32767 "/dev/zram$ZRAM_ID" || die "swapon /dev/zram$ZRAM_ID failed"
}
# zram_used: mem_used_total (mm_stat field 3): all memory the device uses, compressed
# data and allocator overhead. zram_orig: orig_data_size (field 1).
zram_used() { awk '{print $3}' "/sys/block/zram$ZRAM_ID/mm_stat"; }
zram_orig() { awk '{print $1}' "/sys/block/zram$ZRAM_ID/mm_stat"; }
zram_teardown() {
  [[ -n $ZRAM_ID ]] || return 0
  swapoff "/dev/zram$ZRAM_ID" 2>/dev/null || true
  echo 1 >"/sys/block/zram$ZRAM_ID/reset" 2>/dev/null || true
  echo "$ZRAM_ID" >/sys/class/zram-control/hot_remove 2>/dev/null || log "WARNING: zram$ZRAM_ID could not be removed"
  ZRAM_ID=""
}

# zswap_save: records every zswap parameter once (restored by zswap_restore).
zswap_save() {
  [[ ${#ZSWAP_SAVED[@]} -gt 0 || ! -d $ZSWAP_PARAMS ]] && return 0
  local f
  for f in "$ZSWAP_PARAMS"/*; do ZSWAP_SAVED[$(basename "$f")]=$(cat "$f"); done
}
zswap_restore() {
  local k
  # enabled last: the other parameters are set while zswap is in the state it was found in
  for k in "${!ZSWAP_SAVED[@]}"; do
    [[ $k == enabled ]] && continue
    echo "${ZSWAP_SAVED[$k]}" >"$ZSWAP_PARAMS/$k" 2>/dev/null || true
  done
  [[ -n ${ZSWAP_SAVED[enabled]:-} ]] && echo "${ZSWAP_SAVED[enabled]}" >"$ZSWAP_PARAMS/enabled" 2>/dev/null || true
}
# zswap_compressor: lz4 when the kernel's crypto API has it, else lzo-rle (said in the report).
zswap_compressor() {
  if grep -qE '^name\s*:\s*lz4$' /proc/crypto; then echo lz4; else echo lzo-rle; fi
}
# zswap_off: zram runs must not have zswap in front of the zram device.
zswap_off() {
  zswap_save
  [[ -w $ZSWAP_PARAMS/enabled ]] && echo N >"$ZSWAP_PARAMS/enabled"
  return 0
}
# zswap_setup SWAPFILE_BYTES: zswap on (compressor, no shrinker: pages stay compressed in
# RAM instead of being written to the file, which would make memory look free at a disk
# cost) over a swap file in $SWAP_DIR.
zswap_setup() {
  zswap_save
  echo "$(zswap_compressor)" >"$ZSWAP_PARAMS/compressor"
  [[ -w $ZSWAP_PARAMS/shrinker_enabled ]] && echo N >"$ZSWAP_PARAMS/shrinker_enabled"
  echo 50 >"$ZSWAP_PARAMS/max_pool_percent"
  echo Y >"$ZSWAP_PARAMS/enabled"
  SWAPFILE="$SWAP_DIR/tmc-compare.$$.swap"
  fallocate -l "$1" "$SWAPFILE" 2>/dev/null || dd if=/dev/zero of="$SWAPFILE" bs=1M count=$(($1 >> 20)) status=none
  chmod 600 "$SWAPFILE"
  mkswap "$SWAPFILE" >/dev/null || die "mkswap $SWAPFILE failed"
  swapon -p 32767 "$SWAPFILE" || die "swapon $SWAPFILE failed (the filesystem of $SWAP_DIR may not support swap files; --swap-dir)"
}
# zswap_pool: the compressed pool's bytes (/proc/meminfo Zswap; system-wide, and nothing
# else swaps during the run). zswap_stored: the bytes it holds uncompressed (Zswapped).
zswap_pool() { awk '/^Zswap:/ {print $2 * 1024}' /proc/meminfo; }
zswap_stored() { awk '/^Zswapped:/ {print $2 * 1024}' /proc/meminfo; }
zswap_teardown() {
  if [[ -n $SWAPFILE ]]; then
    swapoff "$SWAPFILE" 2>/dev/null || true
    rm -f "$SWAPFILE"
    SWAPFILE=""
  fi
  zswap_restore
}

# swap_restore_all: everything above, undone (safe to call more than once).
swap_restore_all() {
  cg_remove
  zram_teardown
  zswap_teardown
}
