#include "platform/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "platform/env.h"
#include "platform/uffd_compat.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)  // Linux 6.1: /dev/userfaultfd
#endif

namespace tmc::platform {
namespace {

// Features negotiation leaves out as if the kernel had refused them (testing only:
// read_test_settings).
std::atomic<uint64_t> g_test_refused{0};

// Keeps libtmc's descriptors out of the low numbers programs reuse with dup2.
int move_high(int fd) {
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 600);
  if (high < 0) return fd;
  ::close(fd);
  return high;
}

int raw_open(int flags) {
  int fd = static_cast<int>(syscall(SYS_userfaultfd, flags));
  if (fd >= 0) return fd;
  int syscall_errno = errno;
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
    int saved = errno;
    ::close(dev);
    if (fd >= 0) return fd;
    errno = saved;
    return -1;
  }
  errno = syscall_errno;
  return -1;
}

int ioctl_errno(int fd, unsigned long request, void* arg) {
  for (;;) {
    if (ioctl(fd, request, arg) == 0) return 0;
    if (errno != EINTR) return errno;
  }
}

}  // namespace

int Uffd::open(uint64_t wanted, uint64_t required, const char** why) {
  close();
  int fd = raw_open(O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == EPERM || err == EACCES)
      *why = "userfaultfd is not permitted: libtmc needs root, CAP_SYS_PTRACE, "
             "vm.unprivileged_userfaultfd=1 or read-write access to /dev/userfaultfd";
    else if (err == ENOSYS)
      *why = "this kernel has no userfaultfd";
    else
      *why = "userfaultfd could not be opened (seccomp or resource limits)";
    return err;
  }
  // Ask for nothing first to learn what the kernel offers, then for what we want of it:
  // UFFDIO_API may be called once per descriptor, so that takes two descriptors.
  uffdio_api probe{UFFD_API, 0, 0};
  if (int err = ioctl_errno(fd, UFFDIO_API, &probe)) {
    ::close(fd);
    *why = "the userfaultfd API handshake failed";
    return err;
  }
  ::close(fd);
  if ((probe.features & required) != required) {
    *why = "this kernel's userfaultfd lacks UFFDIO_MOVE or event features libtmc needs (Linux 6.8 or newer)";
    return EOPNOTSUPP;
  }
  uint64_t ask = wanted & probe.features & ~g_test_refused.load(std::memory_order_relaxed);
  uffdio_api api{};
  for (;;) {
    fd = raw_open(O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      *why = "userfaultfd could not be reopened";
      return errno;
    }
    api = uffdio_api{UFFD_API, ask, 0};
    int err = ioctl_errno(fd, UFFDIO_API, &api);
    if (err == 0) break;
    ::close(fd);
    // The kernel lists UFFD_FEATURE_EVENT_FORK to everyone but grants it only with
    // CAP_SYS_PTRACE (fs/userfaultfd.c, userfaultfd_api): a service user that reaches
    // userfaultfd through /dev/userfaultfd or the sysctl goes on without it.
    if (err == EPERM && (ask & UFFD_FEATURE_EVENT_FORK) != 0 && (required & UFFD_FEATURE_EVENT_FORK) == 0) {
      ask &= ~uint64_t{UFFD_FEATURE_EVENT_FORK};
      continue;
    }
    *why = "the userfaultfd feature negotiation failed";
    return err;
  }
  fd_ = move_high(fd);
  // What was asked for and granted: the kernel writes back everything it could offer.
  features_.bits = ask;
  *why = nullptr;
  return 0;
}

void Uffd::adopt(int fd, UffdFeatures features) {
  close();
  fd_ = move_high(fd);
  features_ = features;
}

void Uffd::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int Uffd::register_missing(void* addr, size_t len) {
  uffdio_register r{{reinterpret_cast<uint64_t>(addr), len}, UFFDIO_REGISTER_MODE_MISSING, 0};
  return ioctl_errno(fd_, UFFDIO_REGISTER, &r);
}

int Uffd::register_write_protect(void* addr, size_t len) {
  uffdio_register r{{reinterpret_cast<uint64_t>(addr), len}, UFFDIO_REGISTER_MODE_WP, 0};
  return ioctl_errno(fd_, UFFDIO_REGISTER, &r);
}

int Uffd::unregister(void* addr, size_t len) {
  uffdio_range r{reinterpret_cast<uint64_t>(addr), len};
  return ioctl_errno(fd_, UFFDIO_UNREGISTER, &r);
}

namespace {
// Testing only (TMC_TEST_MOVE_MISREPORT=N): every Nth move that succeeded is reported the
// way Linux 6.18 reports a move whose first page hit a transient -EAGAIN inside the kernel
// and was then moved on the retry (tests/repro/move_eexist.c shows the real thing):
// EEXIST and nothing moved, or, for a run of pages, EAGAIN and only part of it moved.
std::atomic<uint32_t> g_misreport_every{0};
std::atomic<uint32_t> g_moves{0};
}  // namespace

void Uffd::read_test_settings() {
  const char* v = env_get("TMC_TEST_MOVE_MISREPORT");
  g_misreport_every.store(v != nullptr ? static_cast<uint32_t>(strtoul(v, nullptr, 10)) : 0u,
                          std::memory_order_relaxed);
  // Testing only (TMC_TEST_NO_FORK_EVENTS=1): negotiate as a process without CAP_SYS_PTRACE
  // would, so root can test the fork protocol of a service user (reclaim/engine.cc).
  v = env_get("TMC_TEST_NO_FORK_EVENTS");
  g_test_refused.store(v != nullptr && strcmp(v, "1") == 0 ? uint64_t{UFFD_FEATURE_EVENT_FORK} : 0,
                       std::memory_order_relaxed);
}

int Uffd::move(void* dst, void* src, size_t len, bool wake, size_t* moved) {
  uffdio_move m{reinterpret_cast<uint64_t>(dst), reinterpret_cast<uint64_t>(src), len,
                wake ? 0 : UFFDIO_MOVE_MODE_DONTWAKE, 0};
  int err = ioctl_errno(fd_, UFFDIO_MOVE, &m);
  *moved = m.move > 0 ? static_cast<size_t>(m.move) : 0;
  if (err == 0 && *moved != len) err = EAGAIN;  // short move: the caller retries the rest
  if (uint32_t every = g_misreport_every.load(std::memory_order_relaxed); every != 0 && err == 0) {
    uint32_t n = g_moves.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n % every == 0) {
      bool partial = len > 4096 && (n / every) % 2 == 1;
      *moved = partial ? len / 4096 / 2 * 4096 : 0;
      return partial ? EAGAIN : EEXIST;
    }
  }
  return err;
}

int Uffd::copy(void* dst, const void* src, size_t len, bool wake) {
  uffdio_copy c{reinterpret_cast<uint64_t>(dst), reinterpret_cast<uint64_t>(src), len,
                wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE, 0};
  int err = ioctl_errno(fd_, UFFDIO_COPY, &c);
  if (err == EEXIST && wake) return this->wake(dst, len) == 0 ? EEXIST : errno;
  if (err == 0 && c.copy != static_cast<int64_t>(len)) return EAGAIN;
  return err;
}

int Uffd::zeropage(void* dst, size_t len, bool wake) {
  uffdio_zeropage z{{reinterpret_cast<uint64_t>(dst), len}, wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE, 0};
  int err = ioctl_errno(fd_, UFFDIO_ZEROPAGE, &z);
  if (err == EEXIST && wake) return this->wake(dst, len) == 0 ? EEXIST : errno;
  return err;
}

int Uffd::wake(void* addr, size_t len) {
  uffdio_range r{reinterpret_cast<uint64_t>(addr), len};
  return ioctl_errno(fd_, UFFDIO_WAKE, &r);
}

const char* uffd_event_name(uint8_t event) {
  switch (event) {
    case UFFD_EVENT_PAGEFAULT: return "pagefault";
    case UFFD_EVENT_FORK: return "fork";
    case UFFD_EVENT_REMAP: return "remap";
    case UFFD_EVENT_REMOVE: return "remove";
    case UFFD_EVENT_UNMAP: return "unmap";
    default: return "unknown";
  }
}

}  // namespace tmc::platform
