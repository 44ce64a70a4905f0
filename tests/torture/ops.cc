// What the worker threads and the short-lived threads do: allocate, write, read, verify, free,
// realloc, memcpy, calloc; heap buffers through system calls; madvise; name lookups; stdio.
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio_ext.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "torture.h"

namespace tt {

Worker* g_workers;
std::atomic<bool> g_stop{false};
std::atomic<int> g_churn_alive{0};
std::atomic<int> g_churn_quiesce{0};
std::atomic<bool> g_churn_quiet{false};
std::atomic<int> g_workers_forking{0};

namespace {

void sleep_us(uint64_t us) {
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  nanosleep(&ts, nullptr);
}

// Threads that end take glibc's resolver lock (torture.h, g_resolver_fork_lock): at the end
// of the run, no worker, churn starter or logger ends while a worker may still fork a child
// that ends threads.
void wait_no_worker_forks() {
  while (g_workers_forking.load() > 0) sleep_us(1000);
}

ct::Fill pick_fill(ct::Rng& r) {
  uint64_t x = r.below(20);
  if (x < 14) return ct::Fill::kText;
  if (x < 16) return ct::Fill::kZero;
  if (x < 18) return ct::Fill::kSame;
  return ct::Fill::kRandom;  // incompressible: the engine must put such pages back as they were
}

size_t pick_size(ct::Rng& r, uint8_t cls) {
  return r.size_between(class_min(static_cast<SizeClass>(cls)), class_max(static_cast<SizeClass>(cls)));
}

// New contents for [off, off+n): generated into the model, then copied into the buffer.
void fill_both(Slot& s, size_t off, size_t n, ct::Fill f, ct::Rng& r) {
  ct::fill(f, s.model + off, n, r.next());
  memcpy(s.buf + off, s.model + off, n);
}

}  // namespace

// A fresh buffer for slot i (inside a Mutation). A calloc'd buffer must read zero.
void allocate_slot(SlotSet& set, int i, ct::Rng& r) {
  Slot& s = set.slots[i];
  size_t n = pick_size(r, s.cls);
  uint64_t how = r.below(8);
  Op op = Op::kMalloc;
  void* p = nullptr;
  if (how < 2) {
    op = Op::kCalloc;
    p = calloc(1, n);
    g_count->callocs.fetch_add(1, std::memory_order_relaxed);
  } else if (how == 2) {
    op = Op::kAligned;
    size_t align = size_t{16} << r.below(9);  // 16 B .. 4 KiB
    if (posix_memalign(&p, align, n) != 0) p = nullptr;
  } else {
    p = malloc(n);
  }
  if (p == nullptr) {
    fail(g_count->other_failures, "%s slot %d: allocation of %zu bytes failed", set.label, i, n);
    _exit(kExitFail);
  }
  s.buf = static_cast<char*>(p);
  s.size = n;
  memset(s.lazy, 0, sizeof(s.lazy));
  s.nlazy = 0;
  if (op == Op::kCalloc) {
    size_t nonzero = 0, first = n;
    for (size_t k = 0; k < n; ++k)
      if (s.buf[k] != 0) {
        if (first == n) first = k;
        ++nonzero;
      }
    if (nonzero)
      fail(g_count->calloc_dirty, "%s slot %d: calloc(1, %zu) returned %p with %zu non-zero bytes, the first at +%zu (0x%02x)",
           set.label, i, n, p, nonzero, first, static_cast<unsigned char>(s.buf[first]));
    memset(s.model, 0, n);
    // Part of it written, so that calloc'd buffers are not all zero; the rest must stay zero.
    fill_both(s, 0, n / 2, ct::Fill::kText, r);
  } else {
    fill_both(s, 0, n, pick_fill(r), r);
  }
  record(s, op, 0, n);
  g_count->allocs.fetch_add(1, std::memory_order_relaxed);
}

void release_slot_set(SlotSet& set) {
  size_t model_bytes = 0;
  for (int i = 0; i < set.n; ++i) {
    Slot& s = set.slots[i];
    Mutation m(s);
    if (s.buf) verify_slot(set, i, "before its final free", true);
    free(s.buf);
    s.buf = nullptr;
    s.size = 0;
    model_bytes += class_max(static_cast<SizeClass>(s.cls));
  }
  munmap(set.slots[0].model, model_bytes);
  munmap(set.slots, sizeof(Slot) * static_cast<size_t>(set.n));
  set.slots = nullptr;
  set.n = 0;
}

// ---- memory operations (any owner) ----------------------------------------------------------

void op_write(SlotSet& set, ct::Rng& r) {
  int i = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  Slot& s = set.slots[i];
  Mutation m(s);
  resolve_lazy(set, i);
  uint64_t kind = r.below(16);
  if (kind < 2) {
    // Single-byte stores: one byte written into an evicted page must not be lost.
    size_t n = 1 + r.below(8);
    if (n > s.size) n = s.size;
    size_t off = r.below(s.size - n + 1);
    for (size_t k = 0; k < n; ++k) {
      char c = static_cast<char>(r.next());
      s.model[off + k] = c;
      s.buf[off + k] = c;
    }
    record(s, Op::kWriteBytes, off, n);
  } else {
    size_t cap = kind == 2 ? s.size : (s.size < (64u << 10) ? s.size : (64u << 10));
    size_t n = 1 + r.below(cap);
    size_t off = r.below(s.size - n + 1);
    ct::Fill f = pick_fill(r);
    fill_both(s, off, n, f, r);
    record(s, Op::kWrite, off, n, -1, static_cast<uint8_t>(f));
  }
  g_count->writes.fetch_add(1, std::memory_order_relaxed);
}

void op_verify(SlotSet& set, ct::Rng& r) {
  int i = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  verify_slot(set, i, "at a random check", true);
}

void op_free(SlotSet& set, ct::Rng& r) {
  int i = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  Slot& s = set.slots[i];
  Mutation m(s);
  verify_slot(set, i, "before free", true);
  free(s.buf);
  record(s, Op::kFree, 0, s.size);
  s.buf = nullptr;
  s.size = 0;
  allocate_slot(set, i, r);
  g_count->frees.fetch_add(1, std::memory_order_relaxed);
}

void op_realloc(SlotSet& set, ct::Rng& r) {
  int i = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  Slot& s = set.slots[i];
  Mutation m(s);
  // realloc may copy the buffer: a MADV_FREE'd page dropped in the middle of that copy would
  // leave a page that is part old, part zero, which the model cannot say.
  resolve_lazy(set, i);
  size_t old = s.size;
  size_t n = pick_size(r, s.cls);
  char* q = static_cast<char*>(realloc(s.buf, n));
  if (q == nullptr) {
    fail(g_count->other_failures, "%s slot %d: realloc(%p, %zu) failed", set.label, i, static_cast<void*>(s.buf), n);
    _exit(kExitFail);
  }
  s.buf = q;
  s.size = n;
  record(s, Op::kRealloc, 0, n);
  size_t keep = n < old ? n : old;
  verify_range(set, i, 0, keep, n < old ? "after realloc shrinking it (the kept part)" : "after realloc growing it (the old part)",
               true);
  if (n > old) fill_both(s, old, n - old, ct::Fill::kText, r);
  g_count->reallocs.fetch_add(1, std::memory_order_relaxed);
}

void op_copy(SlotSet& set, ct::Rng& r) {
  int a = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  int b = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  Slot& sa = set.slots[a];
  Slot& sb = set.slots[b];
  {
    Mutation ma(sa);
    resolve_lazy(set, a);
  }
  Mutation mb(sb);
  resolve_lazy(set, b);
  size_t lim = sa.size < sb.size ? sa.size : sb.size;
  if (lim > (1u << 20)) lim = 1u << 20;
  size_t n = 1 + r.below(lim);
  size_t oa = r.below(sa.size - n + 1), ob = r.below(sb.size - n + 1);
  memmove(sb.buf + ob, sa.buf + oa, n);
  memmove(sb.model + ob, sa.model + oa, n);
  record(sb, Op::kCopy, ob, n, a);
  g_count->copies.fetch_add(1, std::memory_order_relaxed);
}

// ---- system calls on heap buffers (workers) -------------------------------------------------

namespace {

bool write_full(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_full(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// Splits [p, p+n) into 1..3 iovecs at random points.
int split_iov(ct::Rng& r, char* p, size_t n, iovec* iov) {
  int parts = 1 + static_cast<int>(r.below(3));
  if (static_cast<size_t>(parts) > n) parts = 1;
  size_t left = n;
  for (int k = 0; k < parts; ++k) {
    size_t len = k == parts - 1 ? left : 1 + r.below(left - static_cast<size_t>(parts - 1 - k));
    iov[k].iov_base = p;
    iov[k].iov_len = len;
    p += len;
    left -= len;
  }
  return parts;
}

// A channel that failed may hold leftover bytes: make a new one.
void renew_channels(Worker& w) {
  for (int* fds : {w.pipe_fd, w.stream, w.dgram}) {
    close(fds[0]);
    close(fds[1]);
  }
  if (pipe2(w.pipe_fd, O_CLOEXEC) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w.stream) != 0 ||
      socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, w.dgram) != 0) {
    fail(g_count->other_failures, "worker %d: cannot make new pipes/sockets: %s", w.id, strerror(errno));
    _exit(kExitFail);
  }
}

enum class Io { kPipe, kStream, kDgram, kMsg, kVmRead, kVmWrite, kFile };

const char* io_name(Io io) {
  switch (io) {
    case Io::kPipe: return "write/read through a pipe";
    case Io::kStream: return "send/recv through a stream socketpair";
    case Io::kDgram: return "send/recv through a datagram socketpair";
    case Io::kMsg: return "sendmsg/recvmsg with iovecs";
    case Io::kVmRead: return "process_vm_readv on itself";
    case Io::kVmWrite: return "process_vm_writev on itself";
    case Io::kFile: return "pwrite/pread through a temporary file";
  }
  return "?";
}

// Moves n bytes from src to dst with the given system calls; false (errno set) on failure.
bool transfer(Worker& w, Io io, const char* src, char* dst, size_t n) {
  constexpr size_t kChunk = 32u << 10;  // fits an empty pipe or socket buffer
  switch (io) {
    case Io::kPipe:
      for (size_t k = 0; k < n; k += kChunk) {
        size_t c = n - k < kChunk ? n - k : kChunk;
        if (!write_full(w.pipe_fd[1], src + k, c) || !read_full(w.pipe_fd[0], dst + k, c)) return false;
      }
      return true;
    case Io::kStream:
      for (size_t k = 0; k < n; k += kChunk) {
        size_t c = n - k < kChunk ? n - k : kChunk;
        if (send(w.stream[0], src + k, c, MSG_NOSIGNAL) != static_cast<ssize_t>(c)) return false;
        if (recv(w.stream[1], dst + k, c, MSG_WAITALL) != static_cast<ssize_t>(c)) return false;
      }
      return true;
    case Io::kDgram:
      for (size_t k = 0; k < n; k += kChunk / 2) {
        size_t c = n - k < kChunk / 2 ? n - k : kChunk / 2;
        if (send(w.dgram[0], src + k, c, MSG_NOSIGNAL) != static_cast<ssize_t>(c)) return false;
        if (recv(w.dgram[1], dst + k, c, 0) != static_cast<ssize_t>(c)) return false;
      }
      return true;
    case Io::kMsg:
      for (size_t k = 0; k < n; k += kChunk) {
        size_t c = n - k < kChunk ? n - k : kChunk;
        iovec out[3], in[3];
        msghdr mo{}, mi{};
        mo.msg_iov = out;
        mo.msg_iovlen = static_cast<size_t>(split_iov(w.rng, const_cast<char*>(src + k), c, out));
        mi.msg_iov = in;
        mi.msg_iovlen = static_cast<size_t>(split_iov(w.rng, dst + k, c, in));
        if (sendmsg(w.stream[0], &mo, MSG_NOSIGNAL) != static_cast<ssize_t>(c)) return false;
        if (recvmsg(w.stream[1], &mi, MSG_WAITALL) != static_cast<ssize_t>(c)) return false;
      }
      return true;
    case Io::kVmRead:
    case Io::kVmWrite: {
      iovec local[3], remote[3];
      // readv: remote = src (read through pinned pages), local = dst; writev: local = src,
      // remote = dst (written through pinned pages).
      int nl, nr;
      if (io == Io::kVmRead) {
        nl = split_iov(w.rng, dst, n, local);
        nr = split_iov(w.rng, const_cast<char*>(src), n, remote);
      } else {
        nl = split_iov(w.rng, const_cast<char*>(src), n, local);
        nr = split_iov(w.rng, dst, n, remote);
      }
      ssize_t got;
      if (io == Io::kVmRead) {
        got = process_vm_readv(getpid(), local, static_cast<unsigned long>(nl), remote, static_cast<unsigned long>(nr), 0);
      } else {
        pinned_io_begin();
        got = process_vm_writev(getpid(), local, static_cast<unsigned long>(nl), remote, static_cast<unsigned long>(nr), 0);
        pinned_io_end();
      }
      if (got >= 0 && got != static_cast<ssize_t>(n)) errno = EFAULT;  // a partial copy
      return got == static_cast<ssize_t>(n);
    }
    case Io::kFile: {
      off_t at = static_cast<off_t>(w.rng.below(4u << 20));
      size_t k = 0;
      while (k < n) {
        ssize_t c = pwrite(w.file_fd, src + k, n - k, at + static_cast<off_t>(k));
        if (c < 0 && errno == EINTR) continue;
        if (c <= 0) return false;
        k += static_cast<size_t>(c);
      }
      for (k = 0; k < n;) {
        ssize_t c = pread(w.file_fd, dst + k, n - k, at + static_cast<off_t>(k));
        if (c < 0 && errno == EINTR) continue;
        if (c <= 0) return false;
        k += static_cast<size_t>(c);
      }
      return true;
    }
  }
  return false;
}

}  // namespace

void op_io(Worker& w) {
  ct::Rng& r = w.rng;
  SlotSet& set = w.set;
  int a = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
  int b = static_cast<int>(r.below(static_cast<uint64_t>(set.n - 1)));
  if (b >= a) ++b;  // distinct buffers: the kernel's copies are not memmove
  Slot& sa = set.slots[a];
  Slot& sb = set.slots[b];
  {
    Mutation ma(sa);
    resolve_lazy(set, a);
  }
  Mutation mb(sb);
  resolve_lazy(set, b);
  size_t lim = sa.size < sb.size ? sa.size : sb.size;
  if (lim > (1u << 20)) lim = 1u << 20;
  size_t n = 1 + r.below(lim);
  size_t oa = r.below(sa.size - n + 1), ob = r.below(sb.size - n + 1);
  static const Io kAll[] = {Io::kPipe, Io::kStream, Io::kDgram, Io::kMsg, Io::kVmRead, Io::kVmWrite, Io::kFile};
  Io io = kAll[r.below(7)];
  static const Op kOps[] = {Op::kPipeIn, Op::kStreamIn, Op::kDgramIn, Op::kMsgIn, Op::kVmReadIn, Op::kVmWriteIn, Op::kFileIn};
  static std::atomic<uint64_t>* const kCounters[] = {&g_count->io_pipe, &g_count->io_stream, &g_count->io_dgram,
                                                     &g_count->io_msg, &g_count->io_vm_read, &g_count->io_vm_write,
                                                     &g_count->io_file};
  if (!transfer(w, io, sa.buf + oa, sb.buf + ob, n)) {
    int err = errno;
    fail(g_count->io_errors, "worker %d: %s of %zu bytes from slot %d +%zu (%p) into slot %d +%zu (%p) failed: %s",
         w.id, io_name(io), n, a, oa, static_cast<void*>(sa.buf + oa), b, ob, static_cast<void*>(sb.buf + ob), strerror(err));
    // What reached the destination is unknown: take it as the model from now on.
    memcpy(sb.model + ob, sb.buf + ob, n);
    record(sb, Op::kResync, ob, n, a);
    renew_channels(w);
    return;
  }
  memmove(sb.model + ob, sa.model + oa, n);
  record(sb, kOps[static_cast<int>(io)], ob, n, a);
  kCounters[static_cast<int>(io)]->fetch_add(1, std::memory_order_relaxed);
}

// ---- madvise on heap buffers ----------------------------------------------------------------

void op_madvise(SlotSet& set, ct::Rng& r, bool raw) {
  // A medium or large buffer with whole pages inside.
  int i = -1;
  for (int tries = 0; tries < 8 && i < 0; ++tries) {
    int k = static_cast<int>(r.below(static_cast<uint64_t>(set.n)));
    if (set.slots[k].cls != kSmall && whole_pages(set.slots[k]) > 0) i = k;
  }
  if (i < 0) return;
  Slot& s = set.slots[i];
  size_t pages = whole_pages(s);
  size_t start = r.below(pages);
  size_t count = 1 + r.below(pages - start < 64 ? pages - start : 64);
  size_t off = first_page_off(s) + start * kPage, len = count * kPage;
  bool dontneed = r.below(2) == 0;
  int advice = dontneed ? MADV_DONTNEED : MADV_FREE;
  Mutation m(s);
  int rc = raw ? static_cast<int>(syscall(SYS_madvise, s.buf + off, len, advice)) : madvise(s.buf + off, len, advice);
  if (rc != 0) {
    fail(g_count->other_failures, "%s slot %d: %smadvise(%p, %zu, %s) failed: %s", set.label, i, raw ? "raw " : "",
         static_cast<void*>(s.buf + off), len, dontneed ? "MADV_DONTNEED" : "MADV_FREE", strerror(errno));
    return;
  }
  const char* when;
  if (dontneed) {
    memset(s.model + off, 0, len);
    clear_lazy(s, off, len);
    record(s, raw ? Op::kDontneedRaw : Op::kDontneed, off, len);
    (raw ? g_count->raw_dontneed : g_count->madv_dontneed).fetch_add(1, std::memory_order_relaxed);
    when = raw ? "right after syscall(SYS_madvise, MADV_DONTNEED) on it (must read zero)"
               : "right after madvise(MADV_DONTNEED) on it (must read zero)";
  } else {
    mark_lazy(s, off, len);
    record(s, raw ? Op::kMadvFreeRaw : Op::kMadvFree, off, len);
    (raw ? g_count->raw_free : g_count->madv_free).fetch_add(1, std::memory_order_relaxed);
    when = raw ? "right after syscall(SYS_madvise, MADV_FREE) on it (must read as before or zero)"
               : "right after madvise(MADV_FREE) on it (must read as before or zero)";
  }
  verify_range(set, i, off, len, when, true);
}

// ---- name lookups -------------------------------------------------------------------------

pthread_rwlock_t g_resolver_fork_lock = PTHREAD_RWLOCK_INITIALIZER;

void op_nss(const char* who, ct::Rng& r) {
  char buf[4096];
  switch (r.below(6)) {
    case 0: {
      passwd pw, *res = nullptr;
      int rc = getpwuid_r(0, &pw, buf, sizeof(buf), &res);
      if (rc != 0 || res == nullptr || strcmp(pw.pw_name, "root") != 0)
        fail(g_count->nss_errors, "%s: getpwuid_r(0) gave rc %d, %s", who, rc, res ? pw.pw_name : "no entry");
      break;
    }
    case 1: {
      group gr, *res = nullptr;
      int rc = getgrgid_r(0, &gr, buf, sizeof(buf), &res);
      if (rc != 0 || res == nullptr || strcmp(gr.gr_name, "root") != 0)
        fail(g_count->nss_errors, "%s: getgrgid_r(0) gave rc %d, %s", who, rc, res ? gr.gr_name : "no entry");
      break;
    }
    case 2: {
      passwd pw, *res = nullptr;
      int rc = getpwnam_r("root", &pw, buf, sizeof(buf), &res);
      if (rc != 0 || res == nullptr || pw.pw_uid != 0)
        fail(g_count->nss_errors, "%s: getpwnam_r(\"root\") gave rc %d, uid %d", who, rc, res ? static_cast<int>(pw.pw_uid) : -1);
      break;
    }
    case 3: {
      // The non-reentrant forms keep their result in a buffer glibc malloc'd once and holds for
      // the life of the process: a heap page NSS owns, which gets evicted. Every thread asks
      // for uid/gid 0, so another thread's call can only rewrite it with the same contents.
      passwd* pw = getpwuid(0);
      if (pw == nullptr || strcmp(pw->pw_name, "root") != 0)
        fail(g_count->nss_errors, "%s: getpwuid(0) gave %s", who, pw ? pw->pw_name : "no entry");
      break;
    }
    case 4: {
      group* gr = getgrgid(0);
      if (gr == nullptr || strcmp(gr->gr_name, "root") != 0)
        fail(g_count->nss_errors, "%s: getgrgid(0) gave %s", who, gr ? gr->gr_name : "no entry");
      break;
    }
    default: {
      addrinfo hints{}, *ai = nullptr;
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      pthread_rwlock_rdlock(&g_resolver_fork_lock);  // torture.h: glibc's resolver lock and fork
      int rc = getaddrinfo("localhost", "6379", &hints, &ai);
      pthread_rwlock_unlock(&g_resolver_fork_lock);
      bool loopback = false;
      for (addrinfo* p = ai; rc == 0 && p; p = p->ai_next) {
        if (p->ai_family == AF_INET)
          loopback |= ntohl(reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr.s_addr) == INADDR_LOOPBACK;
        if (p->ai_family == AF_INET6)
          loopback |= memcmp(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, &in6addr_loopback, 16) == 0;
      }
      if (rc != 0 || !loopback)
        fail(g_count->nss_errors, "%s: getaddrinfo(\"localhost\") gave %s", who, rc ? gai_strerror(rc) : "no loopback address");
      if (ai) freeaddrinfo(ai);
      break;
    }
  }
  g_count->nss.fetch_add(1, std::memory_order_relaxed);
}

// ---- stdio --------------------------------------------------------------------------------

// Streams a forked child may have inherited with unwritten data: a child that ends with
// pthread_exit exits through exit(0), which flushes every stream, and its copy of another
// thread's half-filled buffer would land in the parent's file. Registered after fopen (no
// data yet) and unregistered after the last fflush before fclose (no data left).
namespace {
constexpr int kMaxStreams = 256;
std::atomic<FILE*> g_streams[kMaxStreams];
}  // namespace

void stdio_register(FILE* f) {
  for (auto& e : g_streams) {
    FILE* empty = nullptr;
    if (e.compare_exchange_strong(empty, f)) return;
  }
}

void stdio_unregister(FILE* f) {
  for (auto& e : g_streams) {
    FILE* mine = f;
    if (e.compare_exchange_strong(mine, nullptr)) return;
  }
}

void stdio_purge_all_in_child() {
  for (auto& e : g_streams)
    if (FILE* f = e.load()) __fpurge(f);
  __fpurge(stdout);
}

namespace {

const char* const kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};

void stdio_line(char* out, size_t n, ct::Rng& g, unsigned line) {
  uint64_t x = g.next();
  snprintf(out, n, "%u %llu %s %s\n", line, static_cast<unsigned long long>(x % 1000000007ull), kWords[x >> 61],
           kWords[(x >> 58) & 7]);
}

}  // namespace

void op_stdio(const char* who, ct::Rng& r, FILE* journal, FILE** idle, int nidle) {
  if (journal && r.below(2) == 0) {
    // Long-lived streams with data in their buffers most of the time, and now and then every
    // stream flushed at once (fflush(NULL) walks the list of streams under glibc's lock).
    fprintf(journal, "%s %llu\n", who, static_cast<unsigned long long>(r.next()));
    if (nidle > 0) fprintf(idle[r.below(static_cast<uint64_t>(nidle))], "%s %llu\n", who, static_cast<unsigned long long>(r.next()));
    if (r.below(3) == 0) {
      fflush(nullptr);
      g_count->stdio_flush_all.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  static std::atomic<uint64_t> serial{0};
  char path[256];
  snprintf(path, sizeof(path), "%s/stdio-%llu", g_tmpdir, static_cast<unsigned long long>(serial.fetch_add(1)));
  FILE* f = fopen(path, "we");
  if (f == nullptr) {
    fail(g_count->stdio_errors, "%s: fopen(%s, w): %s", who, path, strerror(errno));
    return;
  }
  stdio_register(f);
  uint64_t buffering = r.below(3);
  if (buffering == 1) setvbuf(f, nullptr, _IOLBF, 0);
  if (buffering == 2) setvbuf(f, nullptr, _IOFBF, 512 + r.below(8192));
  uint64_t seed = r.next();
  unsigned lines = 1 + static_cast<unsigned>(r.below(300));
  ct::Rng g(seed);
  char line[128];
  for (unsigned k = 0; k < lines; ++k) {
    stdio_line(line, sizeof(line), g, k);
    fputs(line, f);
    if (r.below(64) == 0) fflush(f);
  }
  bool ok = fflush(f) == 0;
  stdio_unregister(f);
  ok &= fclose(f) == 0;
  if (!ok) fail(g_count->stdio_errors, "%s: writing %s failed: %s", who, path, strerror(errno));
  // Read it back through stdio too.
  f = fopen(path, "re");
  if (f == nullptr) {
    fail(g_count->stdio_errors, "%s: fopen(%s, r): %s", who, path, strerror(errno));
    unlink(path);
    return;
  }
  ct::Rng g2(seed);
  char got[256];
  unsigned k = 0;
  for (; fgets(got, sizeof(got), f) != nullptr; ++k) {
    stdio_line(line, sizeof(line), g2, k);
    if (k >= lines || strcmp(got, line) != 0) {
      fail(g_count->stdio_errors, "%s: %s line %u reads \"%.60s\", expected \"%.60s\"", who, path, k, got,
           k < lines ? line : "(end of file)");
      break;
    }
  }
  if (k < lines && !ferror(f) && feof(f)) fail(g_count->stdio_errors, "%s: %s has %u lines of %u", who, path, k, lines);
  fclose(f);
  unlink(path);
  g_count->stdio_files.fetch_add(1, std::memory_order_relaxed);
}

// A logger thread, as servers have: it writes lines, flushes every stream (fflush(NULL) walks
// all of them under glibc's list lock, touching FILE objects that may be evicted) and opens and
// closes files, all the time, so that forks often meet a thread inside stdio.
void* logger_main(void*) {
  ThreadInfo* ti = thread_register("stdio-logger");
  ct::Rng r(g_opt.seed ^ 0x106u);
  char path[256];
  snprintf(path, sizeof(path), "%s/logger", g_tmpdir);
  FILE* log = fopen(path, "we");
  if (log == nullptr) {
    fail(g_count->stdio_errors, "logger: fopen(%s): %s", path, strerror(errno));
    return nullptr;
  }
  unlink(path);
  stdio_register(log);
  for (uint64_t n = 0; !g_stop.load(std::memory_order_relaxed); ++n) {
    set_op(ti, "fprintf + fflush(NULL)");
    fprintf(log, "line %llu %llu\n", static_cast<unsigned long long>(n), static_cast<unsigned long long>(r.next()));
    fflush(nullptr);
    g_count->stdio_flush_all.fetch_add(1, std::memory_order_relaxed);
    if (n % 16 == 0) {
      set_op(ti, "fopen + fclose");
      op_stdio("logger", r, nullptr, nullptr, 0);
    }
    sleep_us(200 + r.below(800));
  }
  stdio_unregister(log);
  fclose(log);
  set_op(ti, "waiting for the workers' last forks");
  wait_no_worker_forks();
  set_op(ti, "stopped");
  return nullptr;
}

// ---- the worker ---------------------------------------------------------------------------

namespace {

constexpr int kWorkerSlots = 40, kWorkerLarge = 3, kWorkerMedium = 9;

// How often each operation comes, in parts per million of a worker's operations.
struct Weight {
  const char* name;
  uint32_t hazard;  // 0 = always on
  uint32_t ppm;
};

enum WorkerOp { kOpWrite, kOpVerify, kOpFree, kOpRealloc, kOpCopy, kOpIo, kOpMadvise, kOpRawMadvise, kOpNss, kOpStdio,
                kOpForkSample, kOpFork, kOpForkLive, kOpCloseFds, kOpThreadExit, kOpExec, kNumOps };

const Weight kWeights[kNumOps] = {
    {"write", 0, 300000},
    {"verify", 0, 90000},
    {"free+alloc", 0, 60000},
    {"realloc", 0, 60000},
    {"memmove", 0, 80000},
    {"system-call I/O", kIo, 140000},
    {"madvise", kMadvise, 25000},
    {"raw madvise", kRawMadvise, 25000},
    {"name lookup", kNss, 3000},
    {"stdio", kStdio, 8000},
    // Most forks are cheap: the child checks 4 buffers and ends. Many forks make it likely
    // that one comes while another thread is inside malloc, stdio or NSS, or faulting.
    {"fork (child checks 4 buffers)", kFork, 1500},
    {"fork", kFork, 80},
    {"fork (live child)", kForkLive, 30},
    {"fork (child closes fds)", kCloseFds, 30},
    {"fork (child ends with pthread_exit)", kThreadExit, 30},
    {"fork+exec / posix_spawn", kExec, 60},
};

// The rare operations are also run by time: one that no thread has done for kOverdueMs is
// done by the next worker to look, so that each class runs a few times even in a short run
// on a busy machine (the draw alone depends on how many operations fit in the time).
constexpr uint32_t kOverdueMs = 3000;
std::atomic<uint32_t> g_last_ms[kNumOps];
std::atomic<uint32_t> g_runs[kNumOps];  // how often each operation was picked

// The one waiting longest goes first: taken in table order, the classes at the end never
// ran when every operation was slow (faults held two seconds each under TMC_TARGET_HOLD=2s).
int overdue_op() {
  uint32_t now = run_ms();
  int oldest = -1;
  uint32_t oldest_last = 0;
  for (int k = kOpNss; k < kNumOps; ++k) {
    if (!on(static_cast<Hazard>(kWeights[k].hazard))) continue;
    uint32_t last = g_last_ms[k].load(std::memory_order_relaxed);
    if (now - last > kOverdueMs && (oldest < 0 || last < oldest_last)) {
      oldest = k;
      oldest_last = last;
    }
  }
  if (oldest >= 0 && g_last_ms[oldest].compare_exchange_strong(oldest_last, now)) return oldest;
  return -1;
}

}  // namespace

void worker_setup(Worker& w, int id) {
  w.id = id;
  char label[32];
  snprintf(label, sizeof(label), "worker %d", id);
  init_slot_set(&w.set, label, kWorkerSlots, kWorkerLarge, kWorkerMedium);
  // One stream per worker, seeded from the run's seed: the same seed replays the same
  // operations on each thread.
  w.rng = ct::Rng(g_opt.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(id + 1)));
  if (pipe2(w.pipe_fd, O_CLOEXEC) != 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w.stream) != 0 ||
      socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, w.dgram) != 0) {
    fail(g_count->other_failures, "worker %d: pipe/socketpair: %s", id, strerror(errno));
    _exit(kExitFail);
  }
  char path[256];
  snprintf(path, sizeof(path), "%s/file-%d", g_tmpdir, id);
  w.file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  snprintf(path, sizeof(path), "%s/journal-%d", g_tmpdir, id);
  w.journal = on(kStdio) ? fopen(path, "we") : nullptr;
  if (w.file_fd < 0 || (on(kStdio) && w.journal == nullptr)) {
    fail(g_count->other_failures, "worker %d: cannot create files in %s: %s", id, g_tmpdir, strerror(errno));
    _exit(kExitFail);
  }
  if (w.journal) stdio_register(w.journal);
  for (int k = 0; on(kStdio) && k < Worker::kIdleStreams; ++k) {
    w.idle[k] = fopen("/dev/null", "we");
    if (w.idle[k] == nullptr) {
      fail(g_count->other_failures, "worker %d: fopen(/dev/null): %s", id, strerror(errno));
      _exit(kExitFail);
    }
    stdio_register(w.idle[k]);
  }
}

void worker_teardown(Worker& w) {
  release_slot_set(w.set);
  for (int* fds : {w.pipe_fd, w.stream, w.dgram}) {
    close(fds[0]);
    close(fds[1]);
  }
  close(w.file_fd);
  if (w.journal) {
    stdio_unregister(w.journal);
    fclose(w.journal);
  }
  for (FILE* f : w.idle)
    if (f) {
      stdio_unregister(f);
      fclose(f);
    }
}

void* worker_main(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  char name[24];
  snprintf(name, sizeof(name), "worker-%d", w.id);
  w.ti = thread_register(name);
  set_op(w.ti, "first allocations");
  for (int i = 0; i < w.set.n; ++i) {
    Mutation m(w.set.slots[i]);
    allocate_slot(w.set, i, w.rng);
  }
  // The operations this run does, with their cumulative weights.
  int ops[kNumOps], nops = 0;
  uint64_t cum[kNumOps], total = 0;
  for (int k = 0; k < kNumOps; ++k) {
    if (kWeights[k].hazard != 0 && !on(static_cast<Hazard>(kWeights[k].hazard))) continue;
    total += kWeights[k].ppm;
    ops[nops] = k;
    cum[nops++] = total;
  }
  while (!g_stop.load(std::memory_order_relaxed)) {
    uint64_t x = w.rng.below(total);
    int k = 0;
    while (cum[k] <= x) ++k;
    int op = ops[k];
    if (int late = overdue_op(); late >= 0) op = late;
    g_last_ms[op].store(run_ms(), std::memory_order_relaxed);
    g_runs[op].fetch_add(1, std::memory_order_relaxed);
    set_op(w.ti, kWeights[op].name);
    switch (op) {
      case kOpWrite: op_write(w.set, w.rng); break;
      case kOpVerify: op_verify(w.set, w.rng); break;
      case kOpFree: op_free(w.set, w.rng); break;
      case kOpRealloc: op_realloc(w.set, w.rng); break;
      case kOpCopy: op_copy(w.set, w.rng); break;
      case kOpIo: op_io(w); break;
      case kOpMadvise: op_madvise(w.set, w.rng, false); break;
      case kOpRawMadvise: op_madvise(w.set, w.rng, true); break;
      case kOpNss: op_nss(w.set.label, w.rng); break;
      case kOpStdio: op_stdio(w.set.label, w.rng, w.journal, w.idle, on(kStdio) ? Worker::kIdleStreams : 0); break;
      case kOpForkSample: do_fork(ForkKind::kSample, w.rng, w.ti, w.id); break;
      case kOpFork: do_fork(ForkKind::kVerify, w.rng, w.ti, w.id); break;
      case kOpForkLive: do_fork(ForkKind::kLive, w.rng, w.ti, w.id); break;
      case kOpCloseFds: do_fork(ForkKind::kCloseFds, w.rng, w.ti, w.id); break;
      case kOpThreadExit: do_fork(ForkKind::kThreadExit, w.rng, w.ti, w.id); break;
      case kOpExec: do_fork(w.rng.below(2) ? ForkKind::kExec : ForkKind::kSpawn, w.rng, w.ti, w.id); break;
    }
    g_count->ops.fetch_add(1, std::memory_order_relaxed);
    ++w.nops;
    // Now and then every buffer is checked, and a pause lets the reclaimer evict what was
    // just touched.
    if (w.nops % 2000 == 0) {
      set_op(w.ti, "full check of its buffers");
      for (int i = 0; i < w.set.n; ++i) verify_slot(w.set, i, "at a periodic full check", true);
    }
    if (w.nops % 64 == 0) {
      set_op(w.ti, "pause");
      sleep_us(w.rng.below(3000));
    }
  }
  wait_own_children(w.id, w.ti);
  set_op(w.ti, "waiting for the other workers' last forks");
  g_workers_forking.fetch_sub(1);
  wait_no_worker_forks();
  set_op(w.ti, "stopped");
  return nullptr;
}

void run_rare_ops_not_run(ThreadInfo* ti) {
  ct::Rng r(g_opt.seed ^ 0x5EEDull);
  for (int k = kOpNss; k < kNumOps; ++k) {
    if (!on(static_cast<Hazard>(kWeights[k].hazard)) || g_runs[k].load() != 0) continue;
    printf("torture: '%s' had not run when the threads stopped: run once now\n",
           kWeights[k].name);
    set_op(ti, kWeights[k].name);
    switch (k) {
      case kOpNss: op_nss("main", r); break;
      case kOpStdio: op_stdio("main", r, nullptr, nullptr, 0); break;
      case kOpForkSample: do_fork(ForkKind::kSample, r, ti, -1); break;
      case kOpFork: do_fork(ForkKind::kVerify, r, ti, -1); break;
      case kOpForkLive: do_fork(ForkKind::kLive, r, ti, -1); break;
      case kOpCloseFds: do_fork(ForkKind::kCloseFds, r, ti, -1); break;
      case kOpThreadExit: do_fork(ForkKind::kThreadExit, r, ti, -1); break;
      case kOpExec: do_fork(ForkKind::kSpawn, r, ti, -1); break;
    }
  }
}

// ---- short-lived threads ------------------------------------------------------------------

namespace {

// Buffers handed from one short-lived thread to a later one, which checks and frees them:
// frees from another thread than the allocating one, after that one has ended.
struct Handoff {
  std::atomic<int> state{0};  // 0 empty, 1 being filled or taken, 2 full
  char* p = nullptr;
  size_t n = 0;
  uint64_t seed = 0;
};
Handoff g_handoff[16];

constexpr int kChurnMax = 4;  // alive at once

struct ChurnArg {
  uint64_t index;
  bool detached;
};

void* churn_thread(void* arg) {
  ChurnArg a = *static_cast<ChurnArg*>(arg);
  char name[24];
  snprintf(name, sizeof(name), "churn-%llu", static_cast<unsigned long long>(a.index));
  ThreadInfo* ti = thread_register(name);
  ct::Rng r(g_opt.seed ^ (0xC2B2AE3D27D4EB4Full * (a.index + 1)));
  SlotSet set;
  init_slot_set(&set, name, 6, 0, 2);
  set_op(ti, "first allocations");
  for (int i = 0; i < set.n; ++i) {
    Mutation m(set.slots[i]);
    allocate_slot(set, i, r);
  }
  // A buffer an earlier thread left: it must still hold what that thread wrote.
  Handoff& h = g_handoff[r.below(16)];
  int full = 2;
  if (h.state.compare_exchange_strong(full, 1)) {
    set_op(ti, "check and free a buffer of an ended thread");
    char* want = static_cast<char*>(map_anon(h.n));
    ct::fill_text(want, h.n, h.seed);
    if (memcmp(want, h.p, h.n) != 0) {
      size_t first = 0;
      while (want[first] == h.p[first]) ++first;
      g_count->mismatches.fetch_add(1);
      say("MISMATCH (%s): a buffer of %zu bytes at %p left by an ended thread differs at +%zu: expected 0x%02x found 0x%02x\n",
          g_role, h.n, static_cast<void*>(h.p), first, static_cast<unsigned char>(want[first]),
          static_cast<unsigned char>(h.p[first]));
    }
    g_count->bytes_verified.fetch_add(h.n, std::memory_order_relaxed);
    munmap(want, h.n);
    free(h.p);
    h.state.store(0);
    g_count->handoffs.fetch_add(1, std::memory_order_relaxed);
  }
  int steps = 20 + static_cast<int>(r.below(200));
  for (int k = 0; k < steps && !g_stop.load(std::memory_order_relaxed); ++k) {
    uint64_t x = r.below(1000);
    if (x < 400) set_op(ti, "write"), op_write(set, r);
    else if (x < 550) set_op(ti, "verify"), op_verify(set, r);
    else if (x < 700) set_op(ti, "free+alloc"), op_free(set, r);
    else if (x < 850) set_op(ti, "realloc"), op_realloc(set, r);
    else if (x < 980) set_op(ti, "memmove"), op_copy(set, r);
    else if (x < 985 && on(kNss)) set_op(ti, "name lookup"), op_nss(name, r);
    else if (x < 990 && on(kStdio)) set_op(ti, "stdio"), op_stdio(name, r, nullptr, nullptr, 0);
    else if (x < 991 && on(kFork) && r.below(4) == 0) do_fork(ForkKind::kVerify, r, ti, -1);
    g_count->ops.fetch_add(1, std::memory_order_relaxed);
  }
  // Leave a buffer for a later thread.
  Handoff& out = g_handoff[r.below(16)];
  int empty = 0;
  if (out.state.compare_exchange_strong(empty, 1)) {
    out.n = 1 + r.below(64u << 10);
    out.seed = r.next();
    out.p = static_cast<char*>(malloc(out.n));
    ct::fill_text(out.p, out.n, out.seed);
    out.state.store(2);
  }
  set_op(ti, "final check and free");
  release_slot_set(set);
  thread_unregister(ti);
  g_count->churn_threads.fetch_add(1, std::memory_order_relaxed);
  if (a.detached) munmap(arg, sizeof(ChurnArg));
  g_churn_alive.fetch_sub(1);
  return nullptr;
}

}  // namespace

void* churn_main(void*) {
  ThreadInfo* ti = thread_register("churn-starter");
  ct::Rng r(g_opt.seed ^ 0x7A11u);
  pthread_t joinable[kChurnMax];
  ChurnArg* joinable_arg[kChurnMax];
  int njoin = 0;
  uint64_t index = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    // A fork whose child ends threads wants no thread of this process in glibc's thread exit
    // (torture.h, g_resolver_fork_lock): every thread started is joined, and none starts.
    // Quiet is cleared before the request is read, the forker sets the request before it
    // reads quiet: one of the two sees the other.
    g_churn_quiet.store(false);
    if (g_churn_quiesce.load() > 0) {
      set_op(ti, "no threads while a fork's child ends threads");
      for (int k = 0; k < njoin; ++k) {
        pthread_join(joinable[k], nullptr);
        munmap(joinable_arg[k], sizeof(ChurnArg));
      }
      njoin = 0;
      if (g_churn_alive.load() == 0) g_churn_quiet.store(true);
      sleep_us(500);
      continue;
    }
    set_op(ti, "start a thread");
    if (g_churn_alive.load() < kChurnMax) {
      // Detached threads end on their own; joinable ones are joined when there is no room.
      // With the threadexit class on, all are joinable: only a join says that a thread is
      // out of glibc's thread exit.
      bool detached = !on(kThreadExit) && (r.below(2) == 0 || njoin == kChurnMax);
      auto* a = static_cast<ChurnArg*>(map_anon(sizeof(ChurnArg)));
      a->index = index++;
      a->detached = detached;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      g_churn_alive.fetch_add(1);
      pthread_t t;
      int rc = pthread_create(&t, &attr, churn_thread, a);
      pthread_attr_destroy(&attr);
      if (rc != 0) {
        g_churn_alive.fetch_sub(1);
        munmap(a, sizeof(ChurnArg));
      } else if (!detached) {
        joinable[njoin] = t;
        joinable_arg[njoin++] = a;
      }
    }
    if (njoin == kChurnMax || (njoin > 0 && r.below(4) == 0)) {
      set_op(ti, "join a thread");
      pthread_join(joinable[0], nullptr);
      munmap(joinable_arg[0], sizeof(ChurnArg));
      for (int k = 1; k < njoin; ++k) joinable[k - 1] = joinable[k], joinable_arg[k - 1] = joinable_arg[k];
      --njoin;
    }
    set_op(ti, "pause");
    sleep_us(500 + r.below(5000));
  }
  set_op(ti, "join the last threads");
  for (int k = 0; k < njoin; ++k) {
    pthread_join(joinable[k], nullptr);
    munmap(joinable_arg[k], sizeof(ChurnArg));
  }
  while (g_churn_alive.load() > 0) sleep_us(1000);
  g_churn_quiet.store(true);  // a worker's last fork may still wait for it
  set_op(ti, "waiting for the workers' last forks");
  wait_no_worker_forks();
  // What the last threads left behind.
  for (Handoff& h : g_handoff)
    if (h.state.load() == 2) {
      free(h.p);
      h.state.store(0);
    }
  set_op(ti, "stopped");
  return nullptr;
}

}  // namespace tt
