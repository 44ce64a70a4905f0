#include "platform/proc_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

namespace tmc::platform {

long read_small_file(const char* path, char* buf, size_t size) {
  if (size == 0) return -EINVAL;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t total = 0;
  while (total < size - 1) {
    ssize_t n = ::read(fd, buf + total, size - 1 - total);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<size_t>(n);
  }
  ::close(fd);
  buf[total] = '\0';
  return static_cast<long>(total);
}

uint64_t process_locked_bytes() {
  char buf[4096];
  if (read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0) return 0;
  for (const char* p = buf; *p; ++p) {
    if ((p == buf || p[-1] == '\n') && p[0] == 'V' && p[1] == 'm' && p[2] == 'L' && p[3] == 'c' && p[4] == 'k' && p[5] == ':') {
      p += 6;
      while (*p == ' ' || *p == '\t') ++p;
      uint64_t kb = 0;
      while (*p >= '0' && *p <= '9') kb = kb * 10 + static_cast<uint64_t>(*p++ - '0');
      return kb * 1024;
    }
  }
  return 0;
}

uint64_t process_rss_bytes() {
  char buf[128];
  if (read_small_file("/proc/self/statm", buf, sizeof(buf)) <= 0) return 0;
  // statm: size resident shared text lib data dt (in pages); we want the second field.
  const char* p = buf;
  while (*p && *p != ' ') ++p;
  while (*p == ' ') ++p;
  uint64_t pages = 0;
  while (*p >= '0' && *p <= '9') pages = pages * 10 + static_cast<uint64_t>(*p++ - '0');
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t thread_cpu_ns() {
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace tmc::platform
