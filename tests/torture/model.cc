// Buffers, their models and the checks: what each byte must be, and the report when it is not.
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "torture.h"

namespace tt {

const char* op_name(Op op) {
  switch (op) {
    case Op::kMalloc: return "malloc";
    case Op::kCalloc: return "calloc";
    case Op::kAligned: return "aligned_alloc";
    case Op::kFree: return "free";
    case Op::kRealloc: return "realloc";
    case Op::kWrite: return "write";
    case Op::kWriteBytes: return "byte stores";
    case Op::kCopy: return "memmove from";
    case Op::kPipeIn: return "pipe read, data from";
    case Op::kStreamIn: return "recv (stream), data from";
    case Op::kDgramIn: return "recv (dgram), data from";
    case Op::kMsgIn: return "recvmsg iovecs, data from";
    case Op::kVmReadIn: return "process_vm_readv, data from";
    case Op::kVmWriteIn: return "process_vm_writev, data from";
    case Op::kFileIn: return "pread, data from";
    case Op::kDontneed: return "madvise(MADV_DONTNEED)";
    case Op::kDontneedRaw: return "syscall(SYS_madvise, MADV_DONTNEED)";
    case Op::kMadvFree: return "madvise(MADV_FREE)";
    case Op::kMadvFreeRaw: return "syscall(SYS_madvise, MADV_FREE)";
    case Op::kLazyKept: return "MADV_FREE'd pages (in this span) read as kept, rewritten";
    case Op::kLazyZero: return "MADV_FREE'd pages (in this span) read as dropped (zero), rewritten";
    case Op::kResync: return "model resynchronised after a mismatch";
  }
  return "?";
}

Counters* g_count;
ChildTotals* g_child;
char g_role[96] = "parent";

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void* map_anon(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "torture: mmap of %zu bytes for the model failed: %s\n", bytes, strerror(errno));
    if (write(2, msg, static_cast<size_t>(n)) < 0) {}
    _exit(kExitFail);
  }
  return p;
}

// ---- reporting ----------------------------------------------------------------------------

namespace {

std::atomic<int> g_say_lock{0};

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// An append-only text buffer on the stack.
struct Text {
  char buf[12288];
  size_t n = 0;
  void add(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    if (n >= sizeof(buf) - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    if (k > 0) n += static_cast<size_t>(k) < sizeof(buf) - n ? static_cast<size_t>(k) : sizeof(buf) - n - 1;
  }
};

}  // namespace

void say(const char* fmt, ...) {
  char buf[12800];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof(buf) ? static_cast<size_t>(n) : sizeof(buf) - 1;
  while (g_say_lock.exchange(1, std::memory_order_acquire)) {
    timespec ts{0, 100000};
    nanosleep(&ts, nullptr);
  }
  write_all(2, buf, len);
  g_say_lock.store(0, std::memory_order_release);
}

// A thread of the parent may have held the lock at fork time; it does not exist in the child.
void say_reset_lock_in_child() { g_say_lock.store(0); }

void fail(std::atomic<uint64_t>& counter, const char* fmt, ...) {
  counter.fetch_add(1);
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  say("FAIL (%s, pid %d, +%.3fs): %s\n", g_role, static_cast<int>(getpid()), now_s() - g_start_s, buf);
}

// ---- slots --------------------------------------------------------------------------------

size_t class_min(SizeClass c) { return c == kSmall ? 8 : c == kMedium ? 4097 : (256u << 10) + 1; }
size_t class_max(SizeClass c) { return c == kSmall ? 4096 : c == kMedium ? (256u << 10) : kMaxBuf; }

void init_slot_set(SlotSet* set, const char* label, int n, int large, int medium) {
  snprintf(set->label, sizeof(set->label), "%s", label);
  set->n = n;
  set->slots = static_cast<Slot*>(map_anon(sizeof(Slot) * static_cast<size_t>(n)));
  size_t model_bytes = 0;
  for (int i = 0; i < n; ++i) {
    Slot* s = new (&set->slots[i]) Slot();
    s->cls = i < large ? kLarge : i < large + medium ? kMedium : kSmall;
    model_bytes += class_max(static_cast<SizeClass>(s->cls));
  }
  char* model = static_cast<char*>(map_anon(model_bytes));
  for (int i = 0; i < n; ++i) {
    set->slots[i].model = model;
    model += class_max(static_cast<SizeClass>(set->slots[i].cls));
  }
}

void record(Slot& s, Op op, uint64_t off, uint64_t len, int other, uint8_t aux8) {
  HistEntry& h = s.hist[s.hist_next++ % kHist];
  h.version = ++s.version;
  h.t_ms = run_ms();
  h.op = op;
  h.aux8 = aux8;
  h.other = static_cast<int16_t>(other);
  h.off = off;
  h.len = len;
  h.addr = reinterpret_cast<uintptr_t>(s.buf);
}

size_t first_page_off(const Slot& s) {
  uintptr_t a = reinterpret_cast<uintptr_t>(s.buf);
  return ((a + kPage - 1) & ~(kPage - 1)) - a;
}

size_t whole_pages(const Slot& s) {
  size_t first = first_page_off(s);
  return s.size > first ? (s.size - first) / kPage : 0;
}

namespace {

bool lazy_bit(const Slot& s, size_t page) { return (s.lazy[page / 64] >> (page % 64)) & 1; }

bool all_zero(const char* p, size_t n) {
  static const char zero[kPage] = {};
  while (n >= kPage) {
    if (memcmp(p, zero, kPage) != 0) return false;
    p += kPage;
    n -= kPage;
  }
  return memcmp(p, zero, n) == 0;
}

// A MADV_FREE'd page reads right if it equals its model or is all zero: the kernel drops
// the whole page at once. A read that raced the drop saw the model up to some byte and zero
// after it; by the time all_zero reads it, it is all zero.
bool lazy_page_ok(const char* p, const char* m) { return memcmp(p, m, kPage) == 0 || all_zero(p, kPage); }

// Index of the page of `off` if that page is a whole page inside the buffer, or -1.
long page_index(const Slot& s, size_t off) {
  size_t first = first_page_off(s);
  if (off < first) return -1;
  size_t page = (off - first) / kPage;
  return page < whole_pages(s) ? static_cast<long>(page) : -1;
}

struct Diff {
  size_t bad = 0;          // differing bytes (a wrong MADV_FREE'd page counts whole)
  size_t first = SIZE_MAX;
};

Diff compare(const Slot& s, size_t off, size_t len) {
  Diff d;
  if (s.nlazy == 0) {
    if (memcmp(s.buf + off, s.model + off, len) == 0) return d;
  }
  size_t first = first_page_off(s);
  size_t end = off + len;
  for (size_t pos = off; pos < end;) {
    long page = page_index(s, pos);
    if (page >= 0 && s.nlazy && lazy_bit(s, static_cast<size_t>(page))) {
      // Only whole pages are ever marked, and a range check covers whole marked pages.
      size_t pstart = first + static_cast<size_t>(page) * kPage;
      if (!lazy_page_ok(s.buf + pstart, s.model + pstart)) {
        if (d.first == SIZE_MAX) d.first = pstart;
        d.bad += kPage;
      }
      pos = pstart + kPage;
      continue;
    }
    // Up to the next page boundary (where a marked page may start), or the end.
    size_t next = pos < first ? first : first + ((pos - first) / kPage + 1) * kPage;
    if (s.nlazy == 0 || next > end) next = end;
    if (memcmp(s.buf + pos, s.model + pos, next - pos) != 0) {
      for (size_t k = pos; k < next; ++k)
        if (s.buf[k] != s.model[k]) {
          if (d.first == SIZE_MAX) d.first = k;
          ++d.bad;
        }
    }
    pos = next;
  }
  return d;
}

const char* class_name(uint8_t c) { return c == kSmall ? "small" : c == kMedium ? "medium" : "large"; }

void hex(Text& t, const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) t.add(" %02x", static_cast<unsigned char>(p[i]));
}

void report(SlotSet& set, int i, size_t off, size_t len, const Diff& d, const char* when) {
  Slot& s = set.slots[i];
  Text t;
  t.add("MISMATCH (%s, pid %d, +%.3fs): %s slot %d [%s] %zu bytes at %p, version %llu, %s:\n", g_role,
        static_cast<int>(getpid()), now_s() - g_start_s, set.label, i, class_name(s.cls), s.size,
        static_cast<void*>(s.buf), static_cast<unsigned long long>(s.version), when);
  t.add("  %zu bytes differ in [+%zu, +%zu); first at offset +%zu\n", d.bad, off, off + len, d.first);
  // The differing runs. A MADV_FREE'd page is judged whole: right if it reads as its model
  // or all zero. bad_at(k, &next): is byte k wrong; next is where the judgement ends.
  auto bad_at = [&](size_t k, size_t* next) {
    long page = page_index(s, k);
    if (page >= 0 && s.nlazy && lazy_bit(s, static_cast<size_t>(page))) {
      size_t ps = first_page_off(s) + static_cast<size_t>(page) * kPage;
      *next = ps + kPage;
      return !lazy_page_ok(s.buf + ps, s.model + ps);
    }
    *next = k + 1;
    return s.buf[k] != s.model[k];
  };
  int runs = 0;
  for (size_t k = off, next = 0; k < off + len && runs < 8;) {
    if (!bad_at(k, &next)) {
      k = next;
      continue;
    }
    size_t start = k;
    long page = page_index(s, k);
    bool lazy = page >= 0 && s.nlazy && lazy_bit(s, static_cast<size_t>(page));
    while (k < off + len && bad_at(k, &next)) k = next;
    // The part of the run's first page that belongs to this buffer: all zero is the sign of a
    // page lost (or a purge the model does not know of); resident or not is the engine's view.
    uintptr_t b = reinterpret_cast<uintptr_t>(s.buf);
    uintptr_t pa = (b + start) & ~(kPage - 1);
    uintptr_t lo = pa < b ? b : pa, hi = pa + kPage < b + s.size ? pa + kPage : b + s.size;
    unsigned char vec = 0;
    bool resident = mincore(reinterpret_cast<void*>(pa), kPage, &vec) == 0 && (vec & 1);
    t.add("  run +%zu..+%zu (%zu bytes)%s; its first page %p reads %s, resident now: %s\n", start, k, k - start,
          lazy ? " in a MADV_FREE'd page (must read as the model or all zero)" : "", reinterpret_cast<void*>(pa),
          all_zero(reinterpret_cast<const char*>(lo), hi - lo) ? "ALL ZERO" : "non-zero", resident ? "yes" : "no");
    ++runs;
  }
  size_t show = 16;
  if (d.first + show > s.size) show = s.size - d.first;
  t.add("  at +%zu expected:", d.first);
  hex(t, s.model + d.first, show);
  t.add("\n  at +%zu found:   ", d.first);
  hex(t, s.buf + d.first, show);
  t.add("\n  history of this slot (oldest first):\n");
  uint32_t count = s.hist_next < kHist ? s.hist_next : kHist;
  for (uint32_t k = 0; k < count; ++k) {
    const HistEntry& h = s.hist[(s.hist_next - count + k) % kHist];
    t.add("    v%-6llu +%7.3fs %s", static_cast<unsigned long long>(h.version), h.t_ms / 1000.0, op_name(h.op));
    if (h.other >= 0) t.add(" slot %d", h.other);
    t.add(" [+%llu, +%llu) buffer %p\n", static_cast<unsigned long long>(h.off),
          static_cast<unsigned long long>(h.off + h.len), reinterpret_cast<void*>(h.addr));
  }
  say("%s", t.buf);
}

size_t check(SlotSet& set, int i, size_t off, size_t len, const char* when, bool resync) {
  Slot& s = set.slots[i];
  g_count->verifies.fetch_add(1, std::memory_order_relaxed);
  g_count->bytes_verified.fetch_add(len, std::memory_order_relaxed);
  if (s.buf == nullptr || len == 0) return 0;
  Diff d = compare(s, off, len);
  if (d.bad == 0) return 0;
  g_count->mismatches.fetch_add(1);
  g_count->bad_bytes.fetch_add(d.bad);
  // The first 20 in full (a child inherits the count so far, and adds at most 8 of its own).
  static std::atomic<int> reports{0};
  static pid_t reports_pid = 0;
  static int limit = 20;
  if (reports_pid != getpid()) {
    if (reports_pid != 0) limit = reports.load() + 8;
    reports_pid = getpid();
  }
  if (reports.fetch_add(1) < limit) report(set, i, off, len, d, when);
  if (resync) {
    Mutation m(s);
    memcpy(s.model + off, s.buf + off, len);
    clear_lazy(s, off, len);
    record(s, Op::kResync, off, len);
  }
  return d.bad;
}

}  // namespace

size_t verify_slot(SlotSet& set, int i, const char* when, bool resync) {
  return check(set, i, 0, set.slots[i].size, when, resync);
}

size_t verify_range(SlotSet& set, int i, size_t off, size_t len, const char* when, bool resync) {
  return check(set, i, off, len, when, resync);
}

void mark_lazy(Slot& s, size_t off, size_t len) {
  size_t first = first_page_off(s);
  for (size_t pos = off; pos + kPage <= off + len; pos += kPage) {
    size_t page = (pos - first) / kPage;
    uint64_t bit = 1ull << (page % 64);
    if (!(s.lazy[page / 64] & bit)) {
      s.lazy[page / 64] |= bit;
      ++s.nlazy;
    }
  }
}

void clear_lazy(Slot& s, size_t off, size_t len) {
  if (s.nlazy == 0) return;
  size_t first = first_page_off(s);
  for (size_t page = 0; page < whole_pages(s); ++page) {
    size_t pstart = first + page * kPage;
    if (pstart + kPage <= off || pstart >= off + len) continue;
    uint64_t bit = 1ull << (page % 64);
    if (s.lazy[page / 64] & bit) {
      s.lazy[page / 64] &= ~bit;
      --s.nlazy;
    }
  }
}

void resolve_lazy(SlotSet& set, int i) {
  Slot& s = set.slots[i];
  if (s.nlazy == 0) return;
  size_t first = first_page_off(s);
  // One history entry for each outcome, spanning the pages it covers.
  size_t lo[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX}, hi[3] = {0, 0, 0};
  for (size_t page = 0; page < whole_pages(s); ++page) {
    if (!lazy_bit(s, page)) continue;
    size_t off = first + page * kPage;
    char* p = s.buf + off;
    char* m = s.model + off;
    int what;
    if (memcmp(p, m, kPage) == 0) {
      what = 0;
      g_count->lazy_kept.fetch_add(1, std::memory_order_relaxed);
    } else if (all_zero(p, kPage)) {
      memset(m, 0, kPage);
      what = 1;
      g_count->lazy_zero.fetch_add(1, std::memory_order_relaxed);
    } else {
      verify_range(set, i, off, kPage, "resolving a MADV_FREE'd page (must read as before or all zero)", false);
      memcpy(m, p, kPage);
      what = 2;
    }
    // Writing the whole page makes it the kernel's to keep: if it was dropped between the
    // read above and this write, the write still leaves exactly the model.
    memcpy(p, m, kPage);
    if (off < lo[what]) lo[what] = off;
    hi[what] = off + kPage;
  }
  static const Op kWhat[3] = {Op::kLazyKept, Op::kLazyZero, Op::kResync};
  for (int k = 0; k < 3; ++k)
    if (lo[k] != SIZE_MAX) record(s, kWhat[k], lo[k], hi[k] - lo[k]);
  memset(s.lazy, 0, sizeof(s.lazy));
  s.nlazy = 0;
}

}  // namespace tt
