#include "platform/fd_table.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // Linux 6.9: a pidfd for one thread, not its thread group
#endif

namespace tmc::platform {
namespace {

int pidfd_of_thread(pid_t tid) { return static_cast<int>(syscall(SYS_pidfd_open, tid, PIDFD_THREAD)); }

int close_range_raw(unsigned first, unsigned last) {
  return static_cast<int>(syscall(SYS_close_range, first, last, 0));
}

}  // namespace

bool private_fd_tables_supported() {
  int pidfd = pidfd_of_thread(static_cast<pid_t>(syscall(SYS_gettid)));
  if (pidfd < 0) return false;
  // pidfd_getfd of our own stdin-or-whatever: EBADF still proves the call exists.
  int probe = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, pidfd, 0));
  int err = errno;
  if (probe >= 0) close(probe);
  close(pidfd);
  return probe >= 0 || err == EBADF;
}

int make_private_fd_table(const int* keep, int count) {
  if (unshare(CLONE_FILES) != 0) return errno;
  // Copies of the application's descriptors would keep its files open after it closes
  // them (a pipe whose reader waits for EOF, a socket whose peer waits for the close).
  // Everything between the kept numbers goes, in ascending order of those.
  int sorted[kMaxKeptFds];
  int n = 0;
  for (int i = 0; i < count && n < kMaxKeptFds; ++i)
    if (keep[i] >= 0) sorted[n++] = keep[i];
  std::sort(sorted, sorted + n);
  unsigned from = 0;
  for (int i = 0; i < n; ++i) {
    const auto fd = static_cast<unsigned>(sorted[i]);
    if (fd > from) close_range_raw(from, fd - 1);
    from = fd + 1;
  }
  close_range_raw(from, UINT_MAX);
  return 0;
}

int fetch_thread_fd(pid_t tid, int fd) {
  int pidfd = pidfd_of_thread(tid);
  if (pidfd < 0) return -1;
  int got = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
  int err = errno;
  close(pidfd);
  errno = err;
  return got;
}

}  // namespace tmc::platform
