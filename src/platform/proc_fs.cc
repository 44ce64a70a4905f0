#include "platform/proc_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

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

namespace {
// The value in kB of a "Name:   123 kB" line of /proc/self/status, in bytes; 0 if absent.
uint64_t status_kb_field(const char* name) {
  char buf[4096];
  if (read_small_file("/proc/self/status", buf, sizeof(buf)) <= 0) return 0;
  size_t n = strlen(name);
  for (const char* p = buf; *p; ++p) {
    if ((p == buf || p[-1] == '\n') && strncmp(p, name, n) == 0 && p[n] == ':') {
      p += n + 1;
      while (*p == ' ' || *p == '\t') ++p;
      uint64_t kb = 0;
      while (*p >= '0' && *p <= '9') kb = kb * 10 + static_cast<uint64_t>(*p++ - '0');
      return kb * 1024;
    }
  }
  return 0;
}

uint64_t parse_u64(const char** p) {
  while (**p == ' ') ++*p;
  uint64_t v = 0;
  while (**p >= '0' && **p <= '9') v = v * 10 + static_cast<uint64_t>(*(*p)++ - '0');
  return v;
}
}  // namespace

uint64_t process_locked_bytes() { return status_kb_field("VmLck"); }

bool thread_has_exited(int tid) {
  char path[48], buf[512];
  char digits[16];
  int n = 0;
  for (unsigned v = static_cast<unsigned>(tid); n == 0 || v != 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  memcpy(path, "/proc/self/task/", 16);
  size_t len = 16;
  while (n > 0) path[len++] = digits[--n];
  memcpy(path + len, "/stat", 6);
  long got = read_small_file(path, buf, sizeof(buf));
  if (got == -ENOENT || got == -ESRCH) return true;
  if (got <= 0) return false;  // unknown: assume it still runs
  // "tid (comm) S ...": comm may hold spaces and parentheses; the state follows the last ')'.
  const char* close = strrchr(buf, ')');
  if (close == nullptr || close[1] != ' ') return false;
  return close[2] == 'Z' || close[2] == 'X' || close[2] == 'x';
}

uint64_t process_peak_rss_bytes() { return status_kb_field("VmHWM"); }

double memory_pressure_avg10() {
  char buf[256];
  if (read_small_file("/proc/pressure/memory", buf, sizeof(buf)) <= 0) return -1;
  // "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull ..."
  const char* p = strstr(buf, "some avg10=");
  if (p == nullptr) return -1;
  p += strlen("some avg10=");
  uint64_t whole = parse_u64(&p), frac = 0, scale = 1;
  if (*p == '.') {
    ++p;
    while (*p >= '0' && *p <= '9') frac = frac * 10 + static_cast<uint64_t>(*p++ - '0'), scale *= 10;
  }
  return static_cast<double>(whole) + static_cast<double>(frac) / static_cast<double>(scale);
}

bool machine_cpu_ticks(uint64_t* idle, uint64_t* total) {
  char buf[512];
  if (read_small_file("/proc/stat", buf, sizeof(buf)) <= 0 || strncmp(buf, "cpu ", 4) != 0) return false;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const char* p = buf + 4;
  uint64_t v[8] = {};
  for (auto& x : v) x = parse_u64(&p);
  *idle = v[3] + v[4];
  *total = 0;
  for (auto x : v) *total += x;  // guest time is already inside user
  return *total != 0;
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

bool process_ksm_stat(KsmStat* out) {
  char buf[512];
  if (read_small_file("/proc/self/ksm_stat", buf, sizeof(buf)) <= 0) return false;
  *out = KsmStat{};
  // "ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\nksm_process_profit 0\n..."
  if (const char* p = strstr(buf, "ksm_merging_pages ")) {
    p += strlen("ksm_merging_pages ");
    out->merging_pages = parse_u64(&p);
  }
  if (const char* p = strstr(buf, "ksm_process_profit ")) {
    p += strlen("ksm_process_profit ");
    bool negative = *p == '-';
    if (negative) ++p;
    auto v = static_cast<int64_t>(parse_u64(&p));
    out->process_profit = negative ? -v : v;
  }
  return true;
}

int ksm_daemon_state() {
  char buf[16];
  if (read_small_file("/sys/kernel/mm/ksm/run", buf, sizeof(buf)) <= 0) return -1;
  return buf[0] >= '0' && buf[0] <= '9' ? buf[0] - '0' : -1;
}

}  // namespace tmc::platform
