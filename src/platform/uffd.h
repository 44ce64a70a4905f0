// userfaultfd, as thin calls returning 0 or an errno (design invariant 5 needs every
// failure reported, never thrown or aborted on).
//
// libtmc needs a *full* userfaultfd: the kernel must be able to resolve faults that system
// calls take on evicted pages (read(fd, buf) into an evicted buffer). UFFD_USER_MODE_ONLY
// would turn those into EFAULT in the application, so it is never used. A full descriptor
// needs root, CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=1, or access to /dev/userfaultfd.
//
// Semantics copied from the kernel selftests: the real result of COPY/MOVE is in the
// struct's result field; EEXIST from COPY/ZEROPAGE means another thread already resolved the
// page and only a wake is needed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::platform {

// The features libtmc asks for, as UFFD_FEATURE_* bits.
struct UffdFeatures {
  uint64_t bits = 0;
  bool has(uint64_t feature) const { return (bits & feature) == feature; }
};

struct UffdFault {
  uintptr_t address;  // page-aligned
  bool write;
  uint32_t thread_id;  // 0 without UFFD_FEATURE_THREAD_ID
};

class Uffd {
 public:
  // Opens a descriptor (the userfaultfd syscall, then /dev/userfaultfd) and negotiates
  // `wanted` features. Returns 0, or an errno; *why receives a sentence for the user.
  // `required` features missing from the kernel give EOPNOTSUPP. A wanted, not required
  // UFFD_FEATURE_EVENT_FORK that the kernel refuses to this process (it needs
  // CAP_SYS_PTRACE) is left out: features() tells.
  int open(uint64_t wanted, uint64_t required, const char** why);
  // Takes over an already negotiated descriptor (a forked child's, from a FORK event).
  void adopt(int fd, UffdFeatures features);
  void close();
  // Forgets the descriptor without closing it (it belongs to another table).
  void forget() { fd_ = -1; }
  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  UffdFeatures features() const { return features_; }

  int register_missing(void* addr, size_t len);
  // Write-protect mode only: nothing in the range traps (a missing page faults in as usual,
  // and no page is write-protected unless asked), but the range takes UFFDIO_MOVE.
  int register_write_protect(void* addr, size_t len);
  int unregister(void* addr, size_t len);
  // Moves [src, src+len) to dst (both in ranges registered with this descriptor). *moved
  // gets the bytes the kernel says it moved, also on error. EBUSY: a page is shared (fork,
  // KSM) or pinned; ENOENT: a source page is not present; EAGAIN: retry. On error the
  // report can be short: Linux 6.18 can move more than it says, even all of it with EEXIST
  // (reclaimer.cc, reconcile_run); only the page tables tell.
  int move(void* dst, void* src, size_t len, bool wake, size_t* moved);
  // Copies a page in and wakes the faulting thread. EEXIST means already present: woken.
  int copy(void* dst, const void* src, size_t len, bool wake);
  // Testing only: reads TMC_TEST_MOVE_MISREPORT and TMC_TEST_NO_FORK_EVENTS (uffd.cc). Called once while the engine
  // starts, on the thread that starts it: libtmc's own threads never read the environment,
  // which programs that rewrite their process title (Redis) copy into the heap.
  static void read_test_settings();
  int zeropage(void* dst, size_t len, bool wake);
  int wake(void* addr, size_t len);

 private:
  int fd_ = -1;
  UffdFeatures features_;
};

// Human name of a UFFD event (for logs and tests).
const char* uffd_event_name(uint8_t event);

}  // namespace tmc::platform
