// A file descriptor table of a thread's own, for libtmc's threads.
//
// Programs close descriptors they did not open: daemons and fork+exec helpers call
// closefrom()/close_range() over everything above 2, others dup2 over numbers they expect
// free, and test suites check which descriptors a child inherited. If the userfaultfd were
// closed that way, the kernel would unregister the heap and every evicted page would read
// as zeros. So libtmc's threads unshare their descriptor table (unshare(CLONE_FILES)) and
// keep in it only what they need: the application's table holds no descriptor of libtmc's,
// and nothing the application does to its own table can reach libtmc's.
//
// A descriptor moves between the two tables with pidfd_getfd(2) on a pidfd of the thread
// that holds it (PIDFD_THREAD, Linux 6.9); a thread of the same process may always do so.
// Where that is missing, libtmc's threads share the application's table as before.
#pragma once

#include <sys/types.h>

namespace tmc::platform {

// Whether this kernel can move a descriptor out of another thread's table (Linux 6.9+).
bool private_fd_tables_supported();

// Gives the calling thread a table of its own holding only the `count` descriptors of
// `keep` (at the same numbers; negative ones are skipped, at most kMaxKeptFds); every other
// descriptor is closed in this thread's copy (the application keeps its own). Returns 0 or
// an errno; on failure the thread still shares the application's table.
inline constexpr int kMaxKeptFds = 80;
int make_private_fd_table(const int* keep, int count);

// A new descriptor, in the caller's table (close-on-exec), for descriptor `fd` of thread
// `tid` of this process. -1 with errno on failure.
int fetch_thread_fd(pid_t tid, int fd);

}  // namespace tmc::platform
