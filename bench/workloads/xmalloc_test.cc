// xmalloc_test: producer/consumer allocation in the style of Lever & Boreham's xmalloc-test
// (as used by mimalloc-bench), written from its description, with a fixed amount of work.
//
// Half of the threads (at least one) only allocate: each allocates N objects of random size
// (8..Z bytes), fills in a header, and passes them in batches of 256 to the other threads,
// which only check and free them. Every object is therefore freed by a thread that never
// allocates, the case that stresses an allocator's remote-free path and how it returns memory
// to the allocating thread. At most a bounded number of batches is in flight, so the live
// heap stays small and the run measures allocation, not paging.
//
// Verification: each object's first 8 bytes hold a tag derived from its address and size
// (an allocator that hands out overlapping live objects breaks it) and its last byte a check
// byte (objects over 8 bytes); consumers check both before freeing, and the counts of mallocs and frees must match.
//
// usage: bench_xmalloc_test [-t threads=2] [-n objects per producer=30000000] [-z max size=256]
//                           [-s seed=1]
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr const char* kName = "xmalloc_test";
constexpr size_t kBatch = 256;
constexpr size_t kBatchesPerProducer = 16;

struct Batch {
  size_t n = 0;
  void* ptr[kBatch];
  uint32_t size[kBatch];
};

inline uint64_t tag_of(const void* p, uint32_t size) {
  return (reinterpret_cast<uintptr_t>(p) * 0x9E3779B97F4A7C15ull) ^ size;
}

class Queue {
 public:
  void push(Batch* b) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(b);
    }
    cv_.notify_one();
  }
  // Returns nullptr once the queue is empty and closed.
  Batch* pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return nullptr;
    Batch* b = q_.front();
    q_.pop_front();
    return b;
  }
  void close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch*> q_;
  bool closed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  bench::Args args{argc, argv, kName, "[-t threads] [-n objects/producer] [-z max size] [-s seed]"};
  args.check("-t -n -z -s");
  const unsigned threads = static_cast<unsigned>(args.get("-t", 2));
  const uint64_t per_producer = args.get("-n", 30000000);
  const uint64_t max_size = args.get("-z", 256);
  const uint64_t seed = args.get("-s", 1);
  if (threads == 0 || max_size < 8) args.die();
  const unsigned producers = threads >= 2 ? threads / 2 : 1;
  const unsigned consumers = threads >= 2 ? threads - producers : 1;

  // Batches circulate between an "empty" and a "full" queue; they are allocated up front
  // so that the only heap traffic during the run is the objects themselves.
  std::vector<Batch> pool(producers * kBatchesPerProducer);
  Queue empty, full;
  for (auto& b : pool) empty.push(&b);

  std::vector<uint64_t> freed(consumers, 0);
  bench::Stopwatch sw;
  std::vector<std::thread> ts;
  for (unsigned c = 0; c < consumers; c++) {
    ts.emplace_back([&, c] {
      uint64_t n = 0;
      while (Batch* b = full.pop()) {
        for (size_t i = 0; i < b->n; i++) {
          char* p = static_cast<char*>(b->ptr[i]);
          uint32_t size = b->size[i];
          uint64_t tag;
          memcpy(&tag, p, sizeof tag);
          BENCH_CHECK(kName, tag == tag_of(p, size));
          if (size > sizeof tag) BENCH_CHECK(kName, p[size - 1] == static_cast<char>(size));
          free(p);
        }
        n += b->n;
        b->n = 0;
        empty.push(b);
      }
      freed[c] = n;
    });
  }
  std::vector<std::thread> ps;
  for (unsigned p = 0; p < producers; p++) {
    ps.emplace_back([&, p] {
      bench::Rng rng(seed * 1000 + p);
      uint64_t left = per_producer;
      while (left > 0) {
        Batch* b = empty.pop();
        size_t n = left < kBatch ? left : kBatch;
        for (size_t i = 0; i < n; i++) {
          uint32_t size = static_cast<uint32_t>(rng.range(8, max_size));
          char* obj = static_cast<char*>(malloc(size));
          BENCH_CHECK(kName, obj != nullptr);
          uint64_t tag = tag_of(obj, size);
          memcpy(obj, &tag, sizeof tag);
          if (size > sizeof tag) obj[size - 1] = static_cast<char>(size);
          b->ptr[i] = obj;
          b->size[i] = size;
        }
        b->n = n;
        left -= n;
        full.push(b);
      }
    });
  }
  for (auto& t : ps) t.join();
  full.close();
  for (auto& t : ts) t.join();
  double secs = sw.seconds();

  uint64_t total_freed = 0;
  for (uint64_t n : freed) total_freed += n;
  BENCH_CHECK(kName, total_freed == producers * per_producer);
  char extra[96];
  snprintf(extra, sizeof extra, " producers=%u consumers=%u objects=%llu", producers, consumers,
           static_cast<unsigned long long>(total_freed));
  // ops = mallocs + frees
  bench::report(kName, threads, 2 * total_freed, secs, extra);
  return 0;
}
