// Allocation-free readers for /proc and /sys: raw open/read/close into caller buffers,
// usable inside malloc and on libtmc's own threads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::platform {

// Reads up to size-1 bytes of `path` into buf and NUL-terminates it.
// Returns the number of bytes read, or -errno.
long read_small_file(const char* path, char* buf, size_t size);

// Resident set size of this process in bytes (from /proc/self/statm), 0 on error.
uint64_t process_rss_bytes();

// Bytes of this process locked in memory (VmLck of /proc/self/status), 0 on error.
uint64_t process_locked_bytes();

// True once thread `tid` of this process has gone through the kernel's exit of its memory
// (its /proc/self/task entry is gone, or shows it a zombie or dead): its robust-mutex list
// has been walked and its clear_child_tid written by then.
bool thread_has_exited(int tid);

// CPU time consumed by the calling thread, in nanoseconds.
uint64_t thread_cpu_ns();

// Peak resident set size of this process in bytes (VmHWM of /proc/self/status), 0 on error.
uint64_t process_peak_rss_bytes();

// The "some avg10" of /proc/pressure/memory: percent of the last 10 s in which some task
// stalled on memory. Negative when PSI is unavailable (CONFIG_PSI off, or psi=0).
double memory_pressure_avg10();

// Cumulative CPU time of the whole machine from /proc/stat's "cpu" line, in clock ticks:
// idle (idle + iowait) and total. False on error. The idle share over an interval is
// the difference of two readings.
bool machine_cpu_ticks(uint64_t* idle, uint64_t* total);

// The kernel's KSM (samepage merging) as this process sees it, from /proc/self/ksm_stat
// (Linux 6.1+): pages of ours that KSM merged with identical ones, and what that saved net
// of KSM's bookkeeping (negative when the bookkeeping costs more). False when the kernel has
// no KSM or the file is missing.
struct KsmStat {
  uint64_t merging_pages = 0;
  int64_t process_profit = 0;
};
bool process_ksm_stat(KsmStat* out);

// /sys/kernel/mm/ksm/run: 1 while ksmd merges pages, 0 (or 2, unmerge all) when it does not,
// -1 when the kernel has no KSM.
int ksm_daemon_state();

}  // namespace tmc::platform
