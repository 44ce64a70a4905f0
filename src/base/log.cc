// See log.h. Everything here must stay allocation-free and async-signal-safe.
#include "base/log.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace tmc::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kWarn)};
constexpr char kPrefix[] = "libtmc: ";
}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

Line::Line(Level level) : level_(level) { str(kPrefix); }

Line& Line::str(const char* s) { return str(s, s ? strlen(s) : 0); }

Line& Line::str(const char* s, size_t n) {
  size_t room = kCapacity - 1 - len_;  // keep one byte for the newline
  if (n > room) n = room;
  memcpy(buf_ + len_, s, n);
  len_ += n;
  return *this;
}

Line& Line::u64(uint64_t v) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return str(tmp + i, sizeof(tmp) - i);
}

Line& Line::i64(int64_t v) {
  if (v < 0) {
    str("-", 1);
    return u64(static_cast<uint64_t>(-(v + 1)) + 1);
  }
  return u64(static_cast<uint64_t>(v));
}

Line& Line::hex(uint64_t v) {
  char tmp[18];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = "0123456789abcdef"[v & 0xf];
    v >>= 4;
  } while (v != 0);
  tmp[--i] = 'x';
  tmp[--i] = '0';
  return str(tmp + i, sizeof(tmp) - i);
}

namespace {

constinit thread_local bool t_private_table = false;

// The application's descriptor 2, in this thread's table (the main thread's: its table is
// the application's), or -1. pidfd_open(PIDFD_THREAD) and pidfd_getfd, Linux 6.9.
int fetch_application_stderr() {
  constexpr unsigned kPidfdThread = O_EXCL;
  int pidfd = static_cast<int>(syscall(434 /* pidfd_open */, getpid(), kPidfdThread));
  if (pidfd < 0) return -1;
  int fd = static_cast<int>(syscall(438 /* pidfd_getfd */, pidfd, STDERR_FILENO, 0));
  close(pidfd);
  return fd;
}

}  // namespace

void use_application_stderr() { t_private_table = true; }

void Line::flush() {
  if (static_cast<int>(level_) > g_level.load(std::memory_order_relaxed)) return;
  buf_[len_++] = '\n';
  const int fd = t_private_table ? fetch_application_stderr() : STDERR_FILENO;
  size_t off = 0;
  while (fd >= 0 && off < len_) {
    ssize_t n = ::write(fd, buf_ + off, len_ - off);
    if (n <= 0) break;  // stderr closed or full: logging must never block the host
    off += static_cast<size_t>(n);
  }
  if (t_private_table && fd >= 0) close(fd);
  len_ = 0;
}

char* format_bytes(uint64_t bytes, char* out, size_t out_size) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  uint64_t whole = bytes, tenths = 0;
  while (whole >= 1024 && unit < 4) {
    tenths = (whole % 1024) * 10 / 1024;
    whole /= 1024;
    ++unit;
  }
  // Small manual formatting keeps this usable from inside malloc.
  char tmp[32];
  size_t i = sizeof(tmp);
  tmp[--i] = '\0';
  const char* u = kUnits[unit];
  size_t ul = strlen(u);
  i -= ul;
  memcpy(tmp + i, u, ul);
  tmp[--i] = ' ';
  if (unit > 0) {
    tmp[--i] = static_cast<char>('0' + tenths);
    tmp[--i] = '.';
  }
  do {
    tmp[--i] = static_cast<char>('0' + whole % 10);
    whole /= 10;
  } while (whole != 0);
  size_t n = sizeof(tmp) - i;
  if (n > out_size) n = out_size;
  memcpy(out, tmp + i, n);
  out[n - 1] = '\0';
  return out;
}

}  // namespace tmc::log
