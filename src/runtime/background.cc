// See background.h.
#include "runtime/background.h"

#include <jemalloc/jemalloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "control/ctl_server.h"
#include "control/options.h"
#include "control/stats.h"
#include "heap/eviction_gate.h"
#include "heap/extent_hooks.h"
#include "heap/page_state.h"
#include "platform/libc_threads.h"
#include "platform/proc_fs.h"
#include "reclaim/engine.h"
#include "runtime/runtime.h"
#include "sites/report.h"
#include "sites/sampler.h"
#include "sites/segregation.h"
#include "tmc/ctl_protocol.h"

namespace tmc::runtime {
namespace {

using control::OptionId;

// constinit: the server is opened from the first allocation, before dynamic initialisers run.
constinit control::CtlServer g_server;
std::atomic<bool> g_started{false};
std::atomic<bool> g_thread_ready{false};  // the background thread has set up its jemalloc state
// Scratch for replies; only the background thread uses it.
char g_reply[TMC_CTL_MAX_REPLY];

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// ---- control commands ------------------------------------------------------------------

size_t cmd_version(const char*, char* out, size_t size) {
  return static_cast<size_t>(snprintf(out, size, "libtmc %s %s\n", TMC_VERSION_STRING,
                                      is_active() ? "active" : "passthrough"));
}

size_t cmd_stats(const char*, char* out, size_t size) {
  tmc_stats s;
  control::stats_snapshot(&s);
  return control::format_stats_json(s, out, size);
}

// Appends a JSON string with escaping; returns false when out of room.
bool json_string(char* out, size_t size, size_t* len, const char* s) {
  auto put = [&](char c) {
    if (*len + 2 > size) return false;
    out[(*len)++] = c;
    out[*len] = '\0';
    return true;
  };
  if (!put('"')) return false;
  for (; *s; ++s) {
    if ((*s == '"' || *s == '\\') && !put('\\')) return false;
    if (!put(static_cast<unsigned char>(*s) < 0x20 ? ' ' : *s)) return false;
  }
  return put('"');
}

size_t cmd_options(const char*, char* out, size_t size) {
  size_t len = 0;
  auto raw = [&](const char* s) {
    size_t n = strlen(s);
    if (len + n + 1 > size) return false;
    memcpy(out + len, s, n + 1);
    len += n;
    return true;
  };
  raw("[");
  for (int i = 0; i < control::kOptionCount; ++i) {
    auto id = static_cast<OptionId>(i);
    const auto& info = control::option_info(id);
    char value[64], accepts[192];
    control::format_option(id, value, sizeof(value));
    control::describe_accepted(id, accepts, sizeof(accepts));
    bool ok = raw(i ? ",\n {\"name\": " : "{\"name\": ") && json_string(out, size, &len, info.env) &&
              raw(", \"value\": ") && json_string(out, size, &len, value) && raw(", \"default\": ") &&
              json_string(out, size, &len, info.default_text) && raw(", \"accepts\": ") &&
              json_string(out, size, &len, accepts) && raw(", \"doc\": ") &&
              json_string(out, size, &len, info.doc) && raw("}");
    if (!ok) return static_cast<size_t>(snprintf(out, size, "error: reply too large\n"));
  }
  raw("]\n");
  return len;
}

// "target SIZE|N%|off": sets TMC_TARGET on the running process; the reclaimer acts on it
// at its next pass (about a second).
size_t cmd_target(const char* args, char* out, size_t size) {
  while (*args == ' ') ++args;
  const char* text = strcmp(args, "off") == 0 ? "0" : args;
  if (*text == '\0' || !control::set_option(OptionId::target, text)) {
    char accepts[192];
    control::describe_accepted(OptionId::target, accepts, sizeof(accepts));
    return static_cast<size_t>(snprintf(out, size, "error: TMC_TARGET: '%s' is not accepted: %s, or off\n", args, accepts));
  }
  char value[64];
  control::format_option(OptionId::target, value, sizeof(value));
  return static_cast<size_t>(snprintf(out, size, "TMC_TARGET=%s\n", value));
}

// "restore": brings every evicted page back (for debuggers, core dumps, CRIU: reads of an
// evicted page through /proc/PID/mem fail with EIO). Blocks this thread until done. Pages
// are evicted again once they are older than the cold age, like any others.
size_t cmd_restore(const char*, char* out, size_t size) {
  uint64_t left = 0;
  uint64_t restored = reclaim::engine().restore_every_page(/*keep_age=*/false, &left);
  if (left != 0)
    return static_cast<size_t>(snprintf(out, size, "error: restored %llu pages; %llu could not be brought back\n",
                                        static_cast<unsigned long long>(restored), static_cast<unsigned long long>(left)));
  return static_cast<size_t>(snprintf(out, size, "restored %llu pages\n", static_cast<unsigned long long>(restored)));
}

// Bytes of [addr, addr + len) on evicted pages, for the sites report.
uint64_t evicted_bytes(uintptr_t addr, uint64_t len) {
  heap::RegionSet* regions = heap::managed_regions();
  if (regions == nullptr) return 0;
  uint64_t total = 0;
  const uintptr_t end = addr + len;
  for (uintptr_t page = addr & ~(heap::kPageSize - 1); page < end; page += heap::kPageSize) {
    const heap::PageEntry* entry = regions->page_entry(page);
    if (entry == nullptr) continue;
    heap::PageState state = entry->load().state();
    if (state != heap::PageState::kStaged && state != heap::PageState::kCompressed && state != heap::PageState::kSameFilled)
      continue;
    uintptr_t from = page > addr ? page : addr;
    uintptr_t to = page + heap::kPageSize < end ? page + heap::kPageSize : end;
    total += to - from;
  }
  return total;
}

// "sites": the allocation-site profile (sites/report.h; the format is in ctl_protocol.h).
size_t cmd_sites(const char*, char* out, size_t size) {
  tmc_stats s;
  control::stats_snapshot(&s);
  sites::ReportInputs in;
  in.evicted_bytes = evicted_bytes;
  in.heap_bytes = s.heap_bytes;
  return sites::format_report(in, out, size);
}

constexpr control::Command kCommands[] = {
    {"version", cmd_version},
    {"stats", cmd_stats},
    {"options", cmd_options},
    {"target", cmd_target},
    {"restore", cmd_restore},
    {"sites", cmd_sites},
};

// ---- the loop --------------------------------------------------------------------------

// How often TMC_SEGREGATE decides again which call sites are cold.
constexpr uint64_t kSegregationPeriodNs = 5'000'000'000ull;

// TMC_SEGREGATE: samples younger than twice the age at which pages are evicted now (the
// cold age, or less under a target; 2 s at least) may be cold and still resident, so the
// decision looks only at older ones.
void decide_segregation() {
  uint64_t age = control::option(OptionId::cold_age);
  tmc_stats st;
  control::stats_snapshot(&st);
  if (st.age_threshold_ms != 0 && st.age_threshold_ms * 1000000ull < age) age = st.age_threshold_ms * 1000000ull;
  const uint64_t min_age = age * 2 > 2'000'000'000ull ? age * 2 : 2'000'000'000ull;
  sites::decide_cold_callers(evicted_bytes, min_age, now_ns());
}

void open_control_socket() {
  if (!control::option_bool(OptionId::control)) return;
  if (!g_server.open(getpid()))
    log::warn().str("control socket unavailable (").str(strerror(errno)).str("); tmcctl cannot reach this process").flush();
}

void* background_main(void*) {
  // This thread calls mallctl for the stats. jemalloc sets up its per-thread data on the
  // first call, and would give it a thread cache in the managed heap, evicted while the
  // thread sleeps (invariant 4): the cache is switched off here, at once, and spawn() waits
  // for it, so in the parent this happens before anything is registered with userfaultfd.
  // Only from then on does the thread count as libtmc's own (self_faults).
  bool off = false;
  mallctl("thread.tcache.enabled", nullptr, nullptr, &off, sizeof(off));
  reclaim::engine().add_own_thread(static_cast<int32_t>(gettid()));
  g_thread_ready.store(true, std::memory_order_release);
  uint64_t cpu_reported = 0;
  uint64_t next_stats = 0;
  uint64_t next_segregation = 0;
  for (;;) {
    uint64_t interval = control::option(OptionId::stats_interval);
    int timeout_ms = 1000;
    if (interval != 0) {
      uint64_t now = now_ns();
      if (next_stats == 0) next_stats = now + interval;
      if (now >= next_stats) {
        log_stats_line(log::Level::kWarn);
        next_stats = now + interval;
      }
      uint64_t wait_ms = (next_stats - now) / 1000000 + 1;
      if (wait_ms < static_cast<uint64_t>(timeout_ms)) timeout_ms = static_cast<int>(wait_ms);
    }
    if (g_server.is_open() && !g_server.still_ours()) {
      // The host program closed or reused our descriptor: leave that number alone.
      g_server.forget();
      open_control_socket();
    }
    pollfd fds[1 + control::CtlServer::kMaxClients];
    int n = g_server.poll_set(fds, 1 + control::CtlServer::kMaxClients);
    if (poll(fds, static_cast<nfds_t>(n), timeout_ms) >= 0)
      g_server.serve_ready(fds, n, kCommands, sizeof(kCommands) / sizeof(kCommands[0]), g_reply, sizeof(g_reply));
    sites::drain_faults();
    if (sites::segregation_enabled() && now_ns() >= next_segregation) {
      decide_segregation();
      next_segregation = now_ns() + kSegregationPeriodNs;
    }
    // Pages pinned for exiting threads (runtime/thread_exit.h) may go once they have exited.
    heap::eviction_gate().unpin_exited_threads();
    uint64_t cpu = platform::thread_cpu_ns();
    control::stat_add(control::StatId::cpu_ns_background, cpu - cpu_reported);
    cpu_reported = cpu;
  }
  return nullptr;
}

void spawn() {
  open_control_socket();
  bool needed = g_server.is_open() || control::option(OptionId::stats_interval) != 0;
  if (!needed) return;
  // The host's signals are not ours to receive.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&thread, &attr, background_main, nullptr);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    log::warn().str("cannot start the background thread (").str(strerror(rc)).str("); no control socket").flush();
    g_server.close();
    return;
  }
  platform::uncount_own_thread();  // it must not keep the process alive (libc_threads.h)
  pthread_setname_np(thread, "tmc-background");
  for (int i = 0; i < 10000 && !g_thread_ready.load(std::memory_order_acquire); ++i) {
    timespec ts{0, 100000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace

void start_background_thread() {
  if (g_started.exchange(true)) return;
  spawn();
}

void background_after_fork_child() {
  if (!g_started.load()) return;
  g_server.close();  // the parent's socket; the child answers on its own pid
  g_thread_ready.store(false, std::memory_order_relaxed);
  spawn();
}

void log_stats_line(log::Level level) {
  tmc_stats s;
  control::stats_snapshot(&s);
  char rss[24], heap[24], mapped[24];
  log::Line(level)
      .str("stats: rss ").str(log::format_bytes(s.rss_bytes, rss, sizeof(rss)))
      .str(", heap ").str(log::format_bytes(s.heap_bytes, heap, sizeof(heap)))
      .str(", mapped ").str(log::format_bytes(s.mapped_bytes, mapped, sizeof(mapped)))
      .str(", malloc calls ").u64(s.malloc_calls)
      .str(", free calls ").u64(s.free_calls)
      .str(", compressed pages ").u64(s.compressed_pages)
      .flush();
}

}  // namespace tmc::runtime
