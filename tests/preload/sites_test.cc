// The allocation-site profile (TMC_SITES, src/sites/), end to end: the program asks its own
// control socket for "sites" (the reply tmcctl sites reads) and checks it against what it
// knows it allocated.
//
//   estimate  two call sites with known objects: estimated live bytes, objects and freed
//             objects within 10% of the truth, and the sites' total near the heap's
//   evicted   with TMC_COLD_AGE=0: an idle site's bytes show up as evicted; faults on a
//             site whose objects are read again are counted there and not on the idle one
//   threads   threads allocate and free across each other while the process forks: the
//             children's reports parse, and once everything is freed no sample is left
//   signals   a signal handler that allocates and frees, firing thousands of times while
//             the main thread allocates at a tiny sampling interval: no deadlock, no lost
//             free (everything freed leaves no sample)
//   segregate TMC_SEGREGATE=1: of two sites allocating interleaved objects of one size
//             class, the one whose objects are never read goes to the cold arena (new
//             objects of the two sites stop sharing pages), and back once they are read
//   off       TMC_SITES=0: nothing sampled, and the command says why
#include <link.h>
#include <pthread.h>
#include <ucontext.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <malloc.h>
#include <string>
#include <vector>

#include "compress_test.h"

namespace {

std::string ctl(const char* command) {
  std::string reply;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return reply;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "tmc.%d", getpid());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  // The background thread opens the socket at start; a forked child's reopens it.
  for (int tries = 0; tries < 200 && connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0; ++tries) ct::sleep_ms(10);
  std::string line = std::string(command) + "\n";
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return close(fd), reply;
  char buf[65536];
  for (ssize_t got; (got = read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, static_cast<size_t>(got));
  close(fd);
  return reply;
}

struct SiteLine {
  unsigned id = 0;
  unsigned long long samples = 0, objects = 0, bytes = 0, evicted = 0, faults = 0, freed = 0, lifetime = 0;
  std::vector<uintptr_t> frames;
};

struct Report {
  bool ok = false;
  unsigned long long heap = 0, total_bytes = 0, live_samples = 0;
  std::vector<SiteLine> sites;
  // The site one of whose frames returns into [fn, fn + 256): fn's call to malloc.
  const SiteLine* find(const void* fn) const {
    auto lo = reinterpret_cast<uintptr_t>(fn);
    for (const SiteLine& s : sites)
      for (uintptr_t f : s.frames)
        if (f > lo && f < lo + 256) return &s;
    return nullptr;
  }
};

Report report() {
  Report r;
  std::string text = ctl("sites");
  size_t pos = 0;
  bool header = false, end = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    unsigned long long a;
    if (line == "tmc-sites 1") header = true;
    else if (line == "end") end = true;
    else if (sscanf(line.c_str(), "heap_bytes %llu", &a) == 1) r.heap = a;
    else if (sscanf(line.c_str(), "live_samples %llu", &a) == 1) r.live_samples = a;
    else if (line.rfind("total ", 0) == 0) sscanf(line.c_str(), "total %*u %*u %llu", &r.total_bytes);
    else if (line.rfind("site ", 0) == 0) {
      SiteLine s;
      char frames[1024] = "";
      if (sscanf(line.c_str(), "site %u %llu %llu %llu %llu %llu %llu %llu %1023s", &s.id, &s.samples, &s.objects, &s.bytes,
                 &s.evicted, &s.faults, &s.freed, &s.lifetime, frames) != 9)
        return fprintf(stderr, "bad line: %s\n", line.c_str()), r;
      for (char* p = frames; *p != '\0' && *p != '-';) {
        s.frames.push_back(strtoull(p, &p, 16));
        if (*p == ',') ++p;
      }
      r.sites.push_back(s);
    }
  }
  r.ok = header && end;
  if (!r.ok) fprintf(stderr, "reply: %s\n", text.c_str());
  return r;
}

bool within(double estimate, double truth, double share) { return std::fabs(estimate - truth) <= share * truth; }

// Call sites, each its own function: not inlined, 512-byte aligned (Report::find looks 256
// bytes from the start), and the asm keeps the call to malloc from becoming a tail jump.
#define TMC_SITE_FN(name)                                     \
  __attribute__((noinline, aligned(512))) void* name(size_t n) { \
    void* p = malloc(n);                                      \
    asm volatile("" : : "r"(p) : "memory");                   \
    return p;                                                 \
  }
TMC_SITE_FN(alloc_small)
TMC_SITE_FN(alloc_large)
TMC_SITE_FN(alloc_thread)
TMC_SITE_FN(alloc_main)
TMC_SITE_FN(alloc_header)
TMC_SITE_FN(alloc_payload)

int run_estimate() {
  tmc_test_step("estimate: 400k objects of 200 B and 20k of 5000 B from two sites, half of the small ones freed");
  std::vector<void*> small(400000), large(20000);
  for (auto& p : small) memset(p = alloc_small(200), 1, 200);
  for (auto& p : large) memset(p = alloc_large(5000), 2, 5000);
  for (size_t i = 0; i < small.size(); i += 2) free(small[i]), small[i] = nullptr;
  // The truth is counted at jemalloc's size class for the request, as the profile counts
  // it: the smallest usable size seen (under TMC_SEGREGATE a sampled object sits on a page
  // of its own, and its usable size is a page or more).
  size_t small_class = SIZE_MAX, large_class = SIZE_MAX;
  for (void* p : small)
    if (p != nullptr) small_class = std::min(small_class, malloc_usable_size(p));
  for (void* p : large) large_class = std::min(large_class, malloc_usable_size(p));
  const double small_bytes = 200000.0 * static_cast<double>(small_class);
  const double large_bytes = 20000.0 * static_cast<double>(large_class);
  Report r = report();
  REQUIRE(r.ok, "no sites report");
  const SiteLine* s = r.find(reinterpret_cast<void*>(&alloc_small));
  const SiteLine* l = r.find(reinterpret_cast<void*>(&alloc_large));
  REQUIRE(s != nullptr && l != nullptr, "the two call sites are not in the report (%zu sites)", r.sites.size());
  printf("small: %llu bytes (true %.0f), %llu objects (true 200000), %llu freed (true 200000), %llu samples\n", s->bytes,
         small_bytes, s->objects, s->freed, s->samples);
  printf("large: %llu bytes (true %.0f), %llu objects (true 20000), %llu samples\n", l->bytes, large_bytes, l->objects, l->samples);
  CHECK(s->id != l->id, "both call sites were counted as one");
  CHECK(within(static_cast<double>(s->bytes), small_bytes, 0.10), "small site's bytes off by more than 10%%");
  CHECK(within(static_cast<double>(s->objects), 200000, 0.10), "small site's objects off by more than 10%%");
  CHECK(within(static_cast<double>(s->freed), 200000, 0.10), "small site's freed objects off by more than 10%%");
  CHECK(s->lifetime > 0, "freed objects without a lifetime");
  CHECK(within(static_cast<double>(l->bytes), large_bytes, 0.10), "large site's bytes off by more than 10%%");
  CHECK(within(static_cast<double>(l->objects), 20000, 0.10), "large site's objects off by more than 10%%");
  CHECK(l->freed == 0, "nothing of the large site was freed, yet %llu", l->freed);
  // Everything live came through some site: the two, the vectors holding them, a little
  // more (stdio, the runtime's own).
  const double held = small_bytes + large_bytes + static_cast<double>((small.size() + large.size()) * sizeof(void*));
  printf("all sites: %llu bytes, %.0f held by the program; jemalloc's count %llu (with the sampled objects' pages)\n",
         r.total_bytes, held, r.heap);
  CHECK(within(static_cast<double>(r.total_bytes), held, 0.10), "sites do not add up to what the program holds");
  tmc_stats st = ct::stats();
  CHECK(st.site_samples >= st.site_live_samples && st.site_live_samples == r.live_samples, "stats disagree with the report");
  CHECK(st.site_dropped == 0, "%llu samples dropped", (unsigned long long)st.site_dropped);
  for (void* p : small) free(p);
  for (void* p : large) free(p);
  return 0;
}

int run_evicted() {
  tmc_test_step("evicted: an idle site compressed, a site read again faults");
  constexpr size_t kIdle = 20000, kHot = 20000;
  std::vector<char*> idle(kIdle), hot(kHot);
  for (size_t i = 0; i < kIdle; ++i) {
    idle[i] = static_cast<char*>(alloc_small(1000));
    ct::fill_text(idle[i], 1000, i);
  }
  for (size_t i = 0; i < kHot; ++i) {
    hot[i] = static_cast<char*>(alloc_large(3000));
    ct::fill_text(hot[i], 3000, i + 7);
  }
  REQUIRE(ct::wait_stats([](const tmc_stats& s) { return ct::evicted_now(s) > 10000; }, 30), "nothing was evicted");
  ct::sleep_ms(500);
  Report before = report();
  const SiteLine* s0 = before.find(reinterpret_cast<void*>(&alloc_small));
  const SiteLine* h0 = before.find(reinterpret_cast<void*>(&alloc_large));
  REQUIRE(before.ok && s0 != nullptr && h0 != nullptr, "sites missing");
  printf("idle site: %llu of %llu bytes evicted, %llu faults\n", s0->evicted, s0->bytes, s0->faults);
  CHECK(s0->evicted * 10 >= s0->bytes * 8, "an idle site's bytes are not mostly on evicted pages");
  const unsigned long long idle_faults = s0->faults, hot_faults = h0->faults;
  uint64_t faults_before = ct::stats().faults;
  unsigned long sum = 0;
  for (int round = 0; round < 5; ++round) {
    for (char* p : hot) sum += static_cast<unsigned char>(p[100]);
    ct::sleep_ms(300);
  }
  uint64_t faults = ct::stats().faults - faults_before;
  ct::sleep_ms(1500);  // the background thread attributes queued faults once a second
  Report after = report();
  const SiteLine* s1 = after.find(reinterpret_cast<void*>(&alloc_small));
  const SiteLine* h1 = after.find(reinterpret_cast<void*>(&alloc_large));
  REQUIRE(after.ok && s1 != nullptr && h1 != nullptr, "sites missing");
  printf("read the hot site 5 times (sum %lu): %llu faults in the process; hot site %llu -> %llu, idle site %llu -> %llu\n", sum,
         (unsigned long long)faults, hot_faults, h1->faults, idle_faults, s1->faults);
  REQUIRE(faults > 1000, "reading evicted objects caused only %llu faults", (unsigned long long)faults);
  CHECK(h1->faults > hot_faults, "faults on the hot site's pages were not counted");
  CHECK(s1->faults == idle_faults, "faults counted on a site nobody touched");
  for (char* p : idle) free(p);
  for (char* p : hot) free(p);
  return 0;
}

// Threads allocate and free, freeing each other's objects through a shared ring of
// pointers, while the main thread forks; each child asks for its own report.
std::atomic<bool> g_stop{false};
constexpr size_t kRing = 4096;
std::atomic<void*> g_ring[kRing];

void* churn(void* arg) {
  uint64_t x = reinterpret_cast<uintptr_t>(arg) * 0x9E3779B97F4A7C15ull + 1;
  while (!g_stop.load()) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    void* p = alloc_thread(16 + x % 2000);
    void* old = g_ring[x % kRing].exchange(p);
    free(old);
  }
  return nullptr;
}

int run_threads() {
  tmc_test_step("threads: 4 threads freeing each other's objects while the process forks 20 times");
  const uint64_t live_before = ct::stats().site_live_samples;
  pthread_t threads[4];
  for (uintptr_t i = 0; i < 4; ++i) pthread_create(&threads[i], nullptr, churn, reinterpret_cast<void*>(i + 1));
  int children_ok = 0;
  for (int i = 0; i < 20; ++i) {
    ct::sleep_ms(50);
    pid_t pid = fork();
    if (pid == 0) {
      Report r = report();
      _exit(r.ok && r.find(reinterpret_cast<void*>(&alloc_thread)) != nullptr ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  g_stop = true;
  for (auto& t : threads) pthread_join(t, nullptr);
  for (auto& slot : g_ring) free(slot.exchange(nullptr));
  tmc_stats st = ct::stats();
  printf("children with a good report: %d of 20; samples %llu, live before %llu, after %llu, dropped %llu\n", children_ok,
         (unsigned long long)st.site_samples, (unsigned long long)live_before, (unsigned long long)st.site_live_samples,
         (unsigned long long)st.site_dropped);
  CHECK(children_ok == 20, "a child's report was missing or malformed");
  REQUIRE(st.site_samples > 1000, "too few samples to say anything (%llu)", (unsigned long long)st.site_samples);
  Report r = report();
  const SiteLine* t = r.find(reinterpret_cast<void*>(&alloc_thread));
  REQUIRE(r.ok && t != nullptr, "the threads' site is missing");
  CHECK(t->samples == 0 && t->bytes == 0, "everything the threads allocated was freed, yet %llu samples (%llu bytes) are live",
        t->samples, t->bytes);
  CHECK(st.site_dropped == 0, "%llu dropped", (unsigned long long)st.site_dropped);
  return 0;
}

// The handler allocates only when the signal interrupted libunwind, that is the sampler's
// stack walk: a handler that interrupts jemalloc itself and allocates deadlocks with or
// without libtmc (malloc is not async-signal-safe), so that is not what this checks.
std::atomic<unsigned long> g_signals{0}, g_in_sampler{0};
uintptr_t g_unwind_lo = 0, g_unwind_hi = 0;
void* g_handler_slot[64];

void find_libunwind() {
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void*) {
        if (info->dlpi_name == nullptr || strstr(info->dlpi_name, "libunwind.so") == nullptr) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
          g_unwind_lo = info->dlpi_addr + ph.p_vaddr;
          g_unwind_hi = g_unwind_lo + ph.p_memsz;
          return 1;
        }
        return 0;
      },
      nullptr);
}

void on_alarm(int, siginfo_t*, void* context) {
  g_signals.fetch_add(1);
  auto pc = static_cast<uintptr_t>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
  if (pc < g_unwind_lo || pc >= g_unwind_hi) return;
  unsigned long n = g_in_sampler.fetch_add(1);
  void*& slot = g_handler_slot[n % 64];
  free(slot);  // may be a sample: its free waits for the interrupted sampler
  slot = malloc(4096 + (n * 37) % 6000);
}

int run_signals() {
  tmc_test_step("signals: a handler that allocates and frees inside the sampler's stack walk");
  find_libunwind();
  REQUIRE(g_unwind_hi != 0, "libunwind is not loaded");
  struct sigaction sa {};
  sa.sa_sigaction = on_alarm;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigaction(SIGALRM, &sa, nullptr);
  itimerval every{{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &every, nullptr);
  std::vector<void*> held(1024, nullptr);
  uint64_t x = 88172645463325252ull;
  double end = ct::now_s() + 3;
  unsigned long ops = 0;
  while (ct::now_s() < end) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    void*& slot = held[x % held.size()];
    free(slot);
    slot = alloc_main(4096 + x % 3000);  // at TMC_SITE_SAMPLE=4K most are sampled
    ops++;
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_IGN);
  for (void*& p : held) free(p), p = nullptr;
  for (void*& p : g_handler_slot) free(p), p = nullptr;
  tmc_stats st = ct::stats();
  Report r = report();
  const SiteLine* m = r.find(reinterpret_cast<void*>(&alloc_main));
  printf("%lu allocations, %lu signals, %lu of them inside the stack walk; samples %llu, dropped %llu\n", ops, g_signals.load(),
         g_in_sampler.load(), (unsigned long long)st.site_samples, (unsigned long long)st.site_dropped);
  REQUIRE(g_in_sampler.load() > 100, "only %lu signals landed in the sampler", g_in_sampler.load());
  REQUIRE(r.ok && m != nullptr, "the main site is missing");
  CHECK(m->samples == 0, "everything was freed, yet %llu samples are live", m->samples);
  CHECK(st.site_dropped == 0, "%llu dropped", (unsigned long long)st.site_dropped);
  return 0;
}

// Pages holding both one of `a` and one of `b` (objects of `size` bytes).
size_t shared_pages(const std::vector<char*>& a, const std::vector<char*>& b, size_t size) {
  std::vector<uintptr_t> pages_a, both;
  for (char* p : a)
    for (uintptr_t pg = reinterpret_cast<uintptr_t>(p) / 4096; pg <= (reinterpret_cast<uintptr_t>(p) + size - 1) / 4096; ++pg)
      pages_a.push_back(pg);
  std::sort(pages_a.begin(), pages_a.end());
  for (char* p : b)
    for (uintptr_t pg = reinterpret_cast<uintptr_t>(p) / 4096; pg <= (reinterpret_cast<uintptr_t>(p) + size - 1) / 4096; ++pg)
      if (std::binary_search(pages_a.begin(), pages_a.end(), pg)) both.push_back(pg);
  std::sort(both.begin(), both.end());
  return static_cast<size_t>(std::unique(both.begin(), both.end()) - both.begin());
}

constexpr size_t kHeader = 200, kPayload = 208;  // one jemalloc size class (224)

struct Entries {
  std::vector<char*> headers, payloads;
  void add(size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; ++i) {
      headers.push_back(static_cast<char*>(alloc_header(kHeader)));
      ct::fill_text(headers.back(), kHeader, seed + 2 * i);
      payloads.push_back(static_cast<char*>(alloc_payload(kPayload)));
      ct::fill_text(payloads.back(), kPayload, seed + 2 * i + 1);
    }
  }
  void release() {
    for (char* p : headers) free(p);
    for (char* p : payloads) free(p);
    headers.clear(), payloads.clear();
  }
};

unsigned long touch(const std::vector<char*>& objects) {
  unsigned long sum = 0;
  for (char* p : objects) sum += static_cast<unsigned char>(*static_cast<volatile char*>(p));
  return sum;
}

int run_segregate() {
  tmc_test_step("segregate: headers read all the time, payloads never, allocated interleaved");
  Entries first;
  first.add(40000, 1);
  const size_t shared_before = shared_pages(first.headers, first.payloads, kHeader);
  printf("interleaved: %zu pages hold both a header and a payload\n", shared_before);
  REQUIRE(shared_before > 1000, "the two sites did not share pages to begin with (%zu)", shared_before);
  // Read the headers until the payload site is found cold.
  unsigned long sum = 0;
  const double give_up = ct::now_s() + 60;
  while (ct::stats().segregated_callers == 0 && ct::now_s() < give_up) {
    sum += touch(first.headers);
    ct::sleep_ms(100);
  }
  tmc_stats st = ct::stats();
  printf("after %.0f s: segregated_callers %llu, changes %llu (sum %lu)\n", 60 - (give_up - ct::now_s()),
         (unsigned long long)st.segregated_callers, (unsigned long long)st.segregation_changes, sum);
  REQUIRE(st.segregated_callers >= 1, "the never-read payload site was not found cold in 60 s");
  const Report r = report();
  const SiteLine* payload = r.find(reinterpret_cast<void*>(&alloc_payload));
  const SiteLine* header = r.find(reinterpret_cast<void*>(&alloc_header));
  REQUIRE(r.ok && payload != nullptr && header != nullptr, "sites missing");
  printf("payload site: %llu of %llu bytes evicted; header site: %llu of %llu\n", payload->evicted, payload->bytes, header->evicted,
         header->bytes);
  CHECK(header->evicted * 2 < header->bytes, "the header site was taken for cold as well");

  tmc_test_step("new entries: payloads on pages of their own");
  const uint64_t cold_before = st.cold_arena_bytes;
  Entries second;
  second.add(20000, 1000000);
  const size_t shared_after = shared_pages(second.headers, second.payloads, kHeader);
  st = ct::stats();
  printf("new entries: %zu pages hold both; cold arena %llu -> %llu bytes\n", shared_after, (unsigned long long)cold_before,
         (unsigned long long)st.cold_arena_bytes);
  // Sampled payloads sit on pages of their own in the ordinary arena; none shares.
  CHECK(shared_after == 0, "%zu pages still mix new headers and payloads", shared_after);
  CHECK(st.cold_arena_bytes >= cold_before + 20000 * kPayload * 9 / 10, "the cold arena did not take the new payloads");

  tmc_test_step("the payloads are read again: the site is ordinary again");
  const uint64_t changes = st.segregation_changes;
  const double give_up2 = ct::now_s() + 60;
  while (ct::stats().segregated_callers != 0 && ct::now_s() < give_up2) {
    sum += touch(first.headers) + touch(first.payloads) + touch(second.headers) + touch(second.payloads);
    // Fresh payloads (sampled ones among them) that are read as well.
    Entries more;
    more.add(2000, 5000000);
    sum += touch(more.payloads);
    second.headers.insert(second.headers.end(), more.headers.begin(), more.headers.end());
    second.payloads.insert(second.payloads.end(), more.payloads.begin(), more.payloads.end());
    ct::sleep_ms(100);
  }
  st = ct::stats();
  printf("after %.0f s of reading: segregated_callers %llu, changes %llu -> %llu\n", 60 - (give_up2 - ct::now_s()),
         (unsigned long long)st.segregated_callers, (unsigned long long)changes, (unsigned long long)st.segregation_changes);
  CHECK(st.segregated_callers == 0 && st.segregation_changes > changes, "the payload site did not move back");
  Entries third;
  third.add(20000, 9000000);
  const size_t shared_third = shared_pages(third.headers, third.payloads, kHeader);
  printf("entries made after that: %zu pages hold both\n", shared_third);
  CHECK(shared_third > 1000, "new payloads still avoid the headers' pages");

  tmc_test_step("every object still holds its bytes");
  size_t wrong = 0;
  char want[kPayload];
  auto check = [&](const Entries& e, uint64_t seed) {
    for (size_t i = 0; i < e.headers.size(); ++i) {
      ct::fill_text(want, kHeader, seed + 2 * i);
      wrong += memcmp(want, e.headers[i], kHeader) != 0;
      ct::fill_text(want, kPayload, seed + 2 * i + 1);
      wrong += memcmp(want, e.payloads[i], kPayload) != 0;
    }
  };
  check(first, 1);
  check(third, 9000000);
  CHECK(wrong == 0, "%zu objects changed", wrong);
  first.release(), second.release(), third.release();
  return 0;
}

int run_off() {
  tmc_test_step("off: TMC_SITES=0 samples nothing");
  for (int i = 0; i < 100000; ++i) free(alloc_small(1000));
  tmc_stats st = ct::stats();
  CHECK(st.site_samples == 0, "%llu samples with TMC_SITES=0", (unsigned long long)st.site_samples);
  std::string reply = ctl("sites");
  printf("reply: %s", reply.c_str());
  CHECK(reply.rfind("error: ", 0) == 0 && reply.find("TMC_SITES=0") != std::string::npos, "the command does not say why");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (ct::stats_fn() == nullptr) return fprintf(stderr, "FAIL: not running under libtmc.so\n"), 1;
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "estimate") run_estimate();
  else if (mode == "threads") run_threads();
  else if (mode == "signals") run_signals();
  else if (mode == "off") run_off();
  else if (mode == "segregate") {
    ct::require_engine_environment("sites_test segregate");
    run_segregate();
  }
  else if (mode == "evicted") {
    ct::require_engine_environment("sites_test evicted");
    run_evicted();
  } else {
    fprintf(stderr, "usage: sites_test estimate|evicted|threads|signals|segregate|off\n");
    return 2;
  }
  return tmc_test_failures() == 0 ? 0 : 1;
}
