// The fault and eviction paths of libtmc, next to their floors, measured in one run:
//
//   fault/tmc/P        an evicted (compressed) heap page touched until the thread resumes:
//                      userfaultfd wake-up, blob lookup, decompress, UFFDIO_COPY, wake
//   scan/tmc           every page of an evicted buffer read in order: faults plus the pages
//                      fault-around brings back ahead (ns per page)
//   fault/bare/P       the bare userfaultfd round trip: a MISSING fault on a private range
//                      served by this benchmark's own thread with UFFDIO_COPY of a ready page
//   decompress         the codec's decompress of the same kind of pages (PageCodec)
//   compress           the codec's compress of the pages evict uses, with the 25% limit
//   cold/compress, cold/decompress   the same on 256 MiB of pages and their blobs, each
//                      visited once in a shuffled order: as cold as the engine's data
//   evict              the reclaimer's CPU per page while it evicts a freshly written buffer
//                      of pages that all compress (pagemap scan, UFFDIO_MOVE, compress,
//                      pool store, emptying the staging slots)
//
// P is where the serving thread runs relative to the faulting one: "any" (the scheduler
// decides), "same" (both pinned to CPU 0), "cross" (faulter on CPU 0, server on CPU 1). For
// libtmc the server is its fault thread (tmc-fault), pinned from here for the variant.
// Every fault benchmark reports p50_ns and p99_ns of the individual round trips as counters
// (the Google Benchmark time is their mean). Each runs kReps times: a fault repetition waits
// for a freshly written buffer to be evicted again.
//
// It must run under the preload with a short cold age, in the codec to measure:
//   TMC_COLD_AGE=1s TMC_CODEC=lz4 LD_PRELOAD=build/libtmc.so build/bench/bench_fault
// bench/run_fault.sh does that for lz4 and zstd and writes bench/results/fault.md.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../../tests/unit/codec/sample_pages.h"
#include "codec/codec.h"
#include "codec/dictionary.h"
#include "tmc/tmc.h"

// Not linked to libtmc: its API comes from the preload when there is one.
#pragma weak tmc_is_active
#pragma weak tmc_stats_get

namespace {

namespace samples = tmc::codec::testing;
using tmc::codec::kPageSize;

constexpr size_t kFaultPages = 8192;    // per fault variant
constexpr size_t kEvictPages = 16384;   // 64 MiB for the eviction-cost run
constexpr size_t kMaxBlob = kPageSize * 3 / 4;  // TMC_MIN_SAVING=25%, as the reclaimer uses
constexpr int kPlacements = 3;
// Each fault and codec figure is measured this many times (the eviction cost 3 times) and
// the report takes the median: from one run to the next on these VMs a p50 moves by up to
// 10%, more than the margin of the goals.
constexpr int kReps = 5;
const char* const kPlacementName[kPlacements] = {"any", "same", "cross"};

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// kinds = 4: all sample kinds in turn (a quarter of them, numeric arrays, do not save 25%
// with lz4 and stay resident); kinds = 3: only the kinds that compress (Redis-like heap,
// JSON, text), so that every page is evicted.
void fill_realistic(char* buf, size_t pages, uint64_t seed, size_t kinds = 4) {
  for (size_t i = 0; i < pages; ++i) {
    samples::make_sample_page(samples::kAllSampleKinds[i % kinds], seed + i,
                              reinterpret_cast<unsigned char*>(buf + i * kPageSize));
  }
}

// CPU time of one of this process's threads, from the scheduler (ns).
uint64_t thread_sched_ns(pid_t tid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", static_cast<int>(tid));
  FILE* f = fopen(path, "r");
  if (f == nullptr) return 0;
  unsigned long long ns = 0;
  if (fscanf(f, "%llu", &ns) != 1) ns = 0;
  fclose(f);
  return ns;
}

bool tmc_active() { return tmc_is_active != nullptr && tmc_is_active() != 0; }
bool read_stats(tmc_stats* s) { return tmc_active() && tmc_stats_get(s) == 0; }

bool resident(const void* page) {
  unsigned char v = 0;
  mincore(const_cast<void*>(page), kPageSize, &v);
  return (v & 1) != 0;
}

size_t count_nonresident(const char* buf, size_t pages) {
  std::vector<unsigned char> v(pages);
  if (mincore(const_cast<char*>(buf), pages * kPageSize, v.data()) != 0) return 0;
  size_t n = 0;
  for (unsigned char b : v) n += (b & 1) == 0;
  return n;
}

// Waits until at least `want` of the pages are out of RSS; false after timeout_s.
bool wait_evicted(const char* buf, size_t pages, size_t want, int timeout_s) {
  uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_s) * 1000000000ull;
  while (count_nonresident(buf, pages) < want) {
    if (now_ns() > deadline) return false;
    usleep(50000);
  }
  return true;
}


void pin_thread(pid_t tid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    for (int c = 0; c < CPU_SETSIZE && c < static_cast<int>(std::thread::hardware_concurrency()); ++c) CPU_SET(c, &set);
  } else {
    CPU_SET(cpu, &set);
  }
  sched_setaffinity(tid, sizeof(set), &set);
}

pid_t find_thread(const char* name) {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return 0;
  pid_t found = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char path[300], comm[32] = {};
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t n = read(fd, comm, sizeof(comm) - 1);
    close(fd);
    if (n > 0 && strncmp(comm, name, strlen(name)) == 0) found = atoi(e->d_name);
  }
  closedir(d);
  return found;
}

// Sets the faulting (this) thread and the server thread to placement p; -1 = unpinned.
void place(int p, pid_t server) {
  int me = p == 0 ? -1 : 0;
  int srv = p == 0 ? -1 : (p == 1 ? 0 : 1);
  pin_thread(0, me);
  if (server > 0) pin_thread(server, srv);
}

void report(benchmark::State& state, std::vector<uint64_t>& ns) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  state.counters["p50_ns"] = static_cast<double>(ns[ns.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(ns[ns.size() * 99 / 100]);
  state.counters["samples"] = static_cast<double>(ns.size());
}

// ---- libtmc's eviction cost ------------------------------------------------------------------
// Registered first, so that no freed-but-not-yet-purged memory of the other benchmarks is
// evicted meanwhile. The pages all compress; the CPU is the reclaimer thread's own, from the
// scheduler, over the whole time the buffer is being evicted.

void BM_Evict(benchmark::State& state) {
  struct tmc_stats before{}, after{};
  pid_t reclaimer = find_thread("tmc-reclaim");
  if (!read_stats(&before) || reclaimer == 0) {
    state.SkipWithError("libtmc is not preloaded and compressing");
    return;
  }
  uint64_t pages = 0, cpu = 0;
  for (auto _ : state) {
    char* buf = static_cast<char*>(aligned_alloc(kPageSize, kEvictPages * kPageSize));
    read_stats(&before);
    uint64_t cpu0 = thread_sched_ns(reclaimer);
    fill_realistic(buf, kEvictPages, 90000 + pages, 3);
    bool ok = wait_evicted(buf, kEvictPages, kEvictPages * 99 / 100, 120);
    read_stats(&after);
    cpu += thread_sched_ns(reclaimer) - cpu0;
    if (!ok) {
      state.SkipWithError("the buffer was not evicted within 120 s");
      free(buf);
      return;
    }
    pages += after.evictions - before.evictions;
    free(buf);
  }
  state.counters["pages"] = static_cast<double>(pages);
  state.counters["cpu_ns_per_page"] = pages ? static_cast<double>(cpu) / static_cast<double>(pages) : 0;
  state.counters["pages_per_cpu_s"] = cpu ? static_cast<double>(pages) * 1e9 / static_cast<double>(cpu) : 0;
}
BENCHMARK(BM_Evict)->Name("evict")->Iterations(2)->Repetitions(3)->Unit(benchmark::kMillisecond);

// ---- libtmc's fault round trip ------------------------------------------------------------

void BM_FaultTmc(benchmark::State& state) {
  const int placement = static_cast<int>(state.range(0));
  if (!tmc_active()) {
    state.SkipWithError("libtmc is not preloaded and active (see the header of this file)");
    return;
  }
  pid_t server = find_thread("tmc-fault");
  if (server == 0) {
    state.SkipWithError("no tmc-fault thread: compression is off (TMC_COMPRESS, privileges?)");
    return;
  }
  char* buf = static_cast<char*>(aligned_alloc(kPageSize, kFaultPages * kPageSize));
  fill_realistic(buf, kFaultPages, 7000 + static_cast<uint64_t>(placement) * kFaultPages);
  if (!wait_evicted(buf, kFaultPages, kFaultPages / 2, 60)) {
    state.SkipWithError("pages were not evicted within 60 s (is TMC_COLD_AGE short?)");
    free(buf);
    return;
  }
  place(placement, server);
  std::vector<uint64_t> ns;
  ns.reserve(kFaultPages);
  // Pages in a stride of 17 (never two neighbours in a row), so that every touch is a fault
  // of its own and fault-around, which follows sequential runs, never serves one.
  size_t visited = 0, idx = 0;
  for (auto _ : state) {
    while (visited < kFaultPages && resident(buf + idx * kPageSize)) {
      idx = (idx + 17) % kFaultPages;
      ++visited;
    }
    if (visited >= kFaultPages) {
      state.SkipWithError("ran out of evicted pages");
      break;
    }
    volatile char* p = buf + idx * kPageSize;
    uint64_t t0 = now_ns();
    (void)*p;
    uint64_t dt = now_ns() - t0;
    ns.push_back(dt);
    state.SetIterationTime(static_cast<double>(dt) * 1e-9);
    idx = (idx + 17) % kFaultPages;
    ++visited;
  }
  place(0, server);
  report(state, ns);
  free(buf);
}
BENCHMARK(BM_FaultTmc)->Name("fault/tmc")->ArgName("placement")->DenseRange(0, kPlacements - 1)
    ->Iterations(3000)->Repetitions(kReps)->UseManualTime();

// ---- a sequential scan of evicted pages ----------------------------------------------------
// Reads one byte of every page of an evicted buffer in order, as a forked child writing its
// snapshot or a scan does; fault-around brings the following pages back ahead.

void BM_ScanTmc(benchmark::State& state) {
  if (!tmc_active()) {
    state.SkipWithError("libtmc is not preloaded and active");
    return;
  }
  char* buf = static_cast<char*>(aligned_alloc(kPageSize, kFaultPages * kPageSize));
  fill_realistic(buf, kFaultPages, 50000, 3);
  if (!wait_evicted(buf, kFaultPages, kFaultPages * 99 / 100, 60)) {
    state.SkipWithError("pages were not evicted within 60 s");
    free(buf);
    return;
  }
  struct tmc_stats before{}, after{};
  read_stats(&before);
  uint64_t t0 = now_ns();
  for (auto _ : state) {
    for (size_t i = 0; i < kFaultPages; ++i) benchmark::DoNotOptimize(*static_cast<volatile char*>(buf + i * kPageSize));
  }
  uint64_t dt = now_ns() - t0;
  read_stats(&after);
  state.counters["ns_per_page"] = static_cast<double>(dt) / kFaultPages;
  state.counters["faults"] = static_cast<double>(after.faults - before.faults);
  state.counters["ahead"] = static_cast<double>(after.fault_around_pages - before.fault_around_pages);
  free(buf);
}
BENCHMARK(BM_ScanTmc)->Name("scan/tmc")->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- the bare userfaultfd round trip -------------------------------------------------------

struct BareServer {
  int uffd = -1;
  char* ready = nullptr;  // a page of realistic bytes, copied in for every fault
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};

  static void* main(void* arg) {
    auto* s = static_cast<BareServer*>(arg);
    s->tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
    while (!s->stop.load(std::memory_order_relaxed)) {
      pollfd p{s->uffd, POLLIN, 0};
      if (poll(&p, 1, 100) != 1) continue;
      uffd_msg msg;
      if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT) continue;
      uffdio_copy c{};
      c.dst = msg.arg.pagefault.address & ~(kPageSize - 1);
      c.src = reinterpret_cast<uintptr_t>(s->ready);
      c.len = kPageSize;
      ioctl(s->uffd, UFFDIO_COPY, &c);
    }
    return nullptr;
  }
};

void BM_FaultBare(benchmark::State& state) {
  const int placement = static_cast<int>(state.range(0));
  BareServer s;
  s.uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  uffdio_api api{UFFD_API, 0, 0};
  if (s.uffd < 0 || ioctl(s.uffd, UFFDIO_API, &api) != 0) {
    state.SkipWithError("userfaultfd unavailable");
    return;
  }
  size_t len = kFaultPages * kPageSize;
  char* area = static_cast<char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  s.ready = static_cast<char*>(mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  fill_realistic(s.ready, 1, 1);
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(area);
  reg.range.len = len;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(s.uffd, UFFDIO_REGISTER, &reg) != 0) {
    state.SkipWithError("UFFDIO_REGISTER failed");
    return;
  }
  pthread_t thread;
  pthread_create(&thread, nullptr, BareServer::main, &s);
  while (s.tid.load() == 0) usleep(1000);
  place(placement, s.tid.load());
  std::vector<uint64_t> ns;
  ns.reserve(kFaultPages);
  size_t next = 0;
  for (auto _ : state) {
    if (next == kFaultPages) {
      state.SkipWithError("ran out of pages");
      break;
    }
    volatile char* p = area + next++ * kPageSize;
    uint64_t t0 = now_ns();
    (void)*p;
    uint64_t dt = now_ns() - t0;
    ns.push_back(dt);
    state.SetIterationTime(static_cast<double>(dt) * 1e-9);
  }
  place(0, 0);
  s.stop.store(true);
  pthread_join(thread, nullptr);
  munmap(area, len);
  munmap(s.ready, kPageSize);
  close(s.uffd);
  report(state, ns);
}
BENCHMARK(BM_FaultBare)->Name("fault/bare")->ArgName("placement")->DenseRange(0, kPlacements - 1)
    ->Iterations(3000)->Repetitions(kReps)->UseManualTime();

// ---- the codec on the same pages ------------------------------------------------------------

tmc::codec::CodecKind env_codec(int* level) {
  const char* c = getenv("TMC_CODEC");
  const char* l = getenv("TMC_ZSTD_LEVEL");
  *level = l != nullptr ? atoi(l) : 1;
  return c != nullptr && strcmp(c, "zstd") == 0 ? tmc::codec::CodecKind::kZstd : tmc::codec::CodecKind::kLz4;
}

// The codec the preloaded libtmc runs (TMC_CODEC, TMC_ZSTD_LEVEL); false (and the benchmark
// skipped) if it cannot be set up.
bool init_env_codec(tmc::codec::PageCodec& codec, benchmark::State& state) {
  int level = 1;
  tmc::codec::CodecKind kind = env_codec(&level);
  if (codec.init(kind, level)) return true;
  state.SkipWithError("codec init failed");
  return false;
}

// The dictionary the preloaded libtmc compresses with unless TMC_DICT=0: made the way its
// reclaimer makes it, one page in 16 of the first (compressible) pages, here pages of the
// same kinds as the eviction benchmark's. nullptr with TMC_DICT=0.
const tmc::codec::Dictionary* env_dictionary(tmc::codec::PageCodec& codec) {
  const char* d = getenv("TMC_DICT");
  if (d != nullptr && strcmp(d, "0") == 0) return nullptr;
  static tmc::codec::Dictionary dict;
  if (dict.sealed()) return dict.kind() == codec.kind() ? &dict : nullptr;
  int level = 1;
  tmc::codec::CodecKind kind = env_codec(&level);
  if (!dict.init(kind, level)) return nullptr;
  std::vector<char> pages(1024 * kPageSize);
  fill_realistic(pages.data(), 1024, 9000, 3);
  for (size_t i = 0; i < 1024 && !dict.full(); i += 16) dict.add_sample(pages.data() + i * kPageSize);
  return dict.seal() ? &dict : nullptr;
}

struct CodedPages {
  std::vector<char> pages;
  std::vector<std::vector<char>> blobs;
};

CodedPages code_pages(tmc::codec::PageCodec& codec, const tmc::codec::Dictionary* dict, size_t n) {
  CodedPages c;
  c.pages.resize(n * kPageSize);
  fill_realistic(c.pages.data(), n, 7000);
  std::vector<char> out(2 * kPageSize);
  for (size_t i = 0; i < n; ++i) {
    tmc::codec::Encoded e = codec.encode(c.pages.data() + i * kPageSize, out.data(), out.size(), kPageSize, dict);
    if (e.kind == tmc::codec::Encoded::Kind::kCompressed) c.blobs.emplace_back(out.data(), out.data() + e.size);
  }
  return c;
}

void BM_Decompress(benchmark::State& state) {
  tmc::codec::PageCodec codec;
  if (!init_env_codec(codec, state)) return;
  const tmc::codec::Dictionary* dict = env_dictionary(codec);
  CodedPages c = code_pages(codec, dict, 256);
  std::vector<char> page(kPageSize);
  size_t i = 0;
  for (auto _ : state) {
    const auto& b = c.blobs[i++ % c.blobs.size()];
    benchmark::DoNotOptimize(codec.decode(b.data(), static_cast<uint32_t>(b.size()), page.data(), dict));
  }
  state.SetLabel(std::string(codec.name()) + (dict != nullptr ? "+dict" : ""));
}
BENCHMARK(BM_Decompress)->Name("decompress")->Repetitions(kReps);

void BM_Compress(benchmark::State& state) {
  tmc::codec::PageCodec codec;
  if (!init_env_codec(codec, state)) return;
  std::vector<char> pages(256 * kPageSize), out(2 * kPageSize);
  fill_realistic(pages.data(), 256, 7000, 3);  // the kinds the eviction benchmark uses
  const tmc::codec::Dictionary* dict = env_dictionary(codec);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(codec.encode(pages.data() + (i++ % 256) * kPageSize, out.data(), out.size(), kMaxBlob, dict));
  }
  state.SetLabel(std::string(codec.name()) + (dict != nullptr ? "+dict" : ""));
}
BENCHMARK(BM_Compress)->Name("compress")->Repetitions(kReps);

// The same codec work on data as cold as the engine's: the reclaimer compresses pages the
// application wrote long ago, the fault thread decompresses blobs the reclaimer wrote long
// ago. Here 256 MiB of pages (mapped directly, outside the heap libtmc manages, so none is
// evicted) visited once each in a shuffled order. Not the goals' floors, which are the hot
// figures above: these show how much of the engine's cost over them is the data's coldness.
constexpr size_t kColdPages = 65536;

struct ColdSet {
  char* pages = nullptr;
  char* blobs = nullptr;  // packed one after another, as in the pool
  std::vector<uint32_t> offset, size, order;
};

const ColdSet* cold_set(tmc::codec::PageCodec& codec, const tmc::codec::Dictionary* dict) {
  static ColdSet c;
  if (c.pages != nullptr) return &c;
  void* p = mmap(nullptr, 2 * kColdPages * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  c.pages = static_cast<char*>(p);
  c.blobs = c.pages + kColdPages * kPageSize;
  fill_realistic(c.pages, kColdPages, 50000, 3);
  std::vector<char> out(2 * kPageSize);
  uint32_t at = 0;
  for (size_t i = 0; i < kColdPages; ++i) {
    tmc::codec::Encoded e = codec.encode(c.pages + i * kPageSize, out.data(), out.size(), kMaxBlob, dict);
    if (e.kind != tmc::codec::Encoded::Kind::kCompressed) continue;
    memcpy(c.blobs + at, out.data(), e.size);
    c.offset.push_back(at);
    c.size.push_back(e.size);
    at += e.size;
  }
  c.order.resize(kColdPages);
  for (uint32_t i = 0; i < kColdPages; ++i) c.order[i] = i;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = kColdPages - 1; i > 0; --i) {  // Fisher-Yates with xorshift
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::swap(c.order[i], c.order[x % (i + 1)]);
  }
  return &c;
}

void BM_CompressCold(benchmark::State& state) {
  tmc::codec::PageCodec codec;
  if (!init_env_codec(codec, state)) return;
  const tmc::codec::Dictionary* dict = env_dictionary(codec);
  const ColdSet* c = cold_set(codec, dict);
  if (c == nullptr) return state.SkipWithError("mmap of the cold set failed");
  std::vector<char> out(2 * kPageSize);
  size_t i = 0;
  for (auto _ : state) {
    const char* page = c->pages + size_t{c->order[i++ % kColdPages]} * kPageSize;
    benchmark::DoNotOptimize(codec.encode(page, out.data(), out.size(), kMaxBlob, dict));
  }
  state.SetLabel(std::string(codec.name()) + (dict != nullptr ? "+dict" : ""));
}
BENCHMARK(BM_CompressCold)->Name("cold/compress")->Iterations(kColdPages)->Repetitions(3);

void BM_DecompressCold(benchmark::State& state) {
  tmc::codec::PageCodec codec;
  if (!init_env_codec(codec, state)) return;
  const tmc::codec::Dictionary* dict = env_dictionary(codec);
  const ColdSet* c = cold_set(codec, dict);
  if (c == nullptr) return state.SkipWithError("mmap of the cold set failed");
  const size_t n = c->offset.size();
  std::vector<char> page(kPageSize);
  size_t i = 0;
  for (auto _ : state) {
    size_t k = c->order[i++ % kColdPages] % n;
    benchmark::DoNotOptimize(codec.decode(c->blobs + c->offset[k], c->size[k], page.data(), dict));
  }
  state.SetLabel(std::string(codec.name()) + (dict != nullptr ? "+dict" : ""));
}
BENCHMARK(BM_DecompressCold)->Name("cold/decompress")->Iterations(kColdPages)->Repetitions(3);

}  // namespace

BENCHMARK_MAIN();
