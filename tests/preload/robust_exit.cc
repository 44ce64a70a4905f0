// A robust mutex in heap memory, held by a thread that exits, must report EOWNERDEAD to its
// next locker even when its page was evicted meanwhile. The kernel marks such mutexes
// owner-died by walking the exiting thread's robust list, and an exiting task's faults are
// not served: libtmc must bring those pages back before the thread exits and keep them
// until it has. Run with TMC_COLD_AGE=0.
//
// Cases: the holder returns from its start routine, or calls pthread_exit; it holds three
// mutexes, each on a page of its own among evicted text. The holder never calls malloc (so
// only libtmc's pthread_create can have armed its exit hook). Afterwards the pages must be
// evictable again: the pins end with the thread.
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <atomic>

#include "compress_test.h"

namespace {

constexpr size_t kPages = 64;
constexpr int kMutexes = 3;
constexpr size_t kMutexPage[kMutexes] = {5, 23, 48};

struct Holder {
  pthread_mutex_t* mutex[kMutexes];
  bool use_pthread_exit;
  std::atomic<int> state{0};  // 1: holds the mutexes; 2: may exit now
};

void* holder_main(void* arg) {
  auto* h = static_cast<Holder*>(arg);
  for (auto* m : h->mutex) pthread_mutex_lock(m);
  h->state.store(1);
  while (h->state.load() != 2) {
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  if (h->use_pthread_exit) pthread_exit(nullptr);
  return nullptr;  // exits holding all three
}

bool is_managed(const void* p) {
  static auto fn = reinterpret_cast<int (*)(const void*)>(dlsym(RTLD_DEFAULT, "tmc_is_managed"));
  return fn != nullptr && fn(p) != 0;
}

long present_mutex_pages(char* block) {
  long present = 0;
  for (size_t p : kMutexPage) present += ct::present_pages(block + p * ct::kPage, ct::kPage);
  return present;
}

void run_case(bool use_pthread_exit, uint64_t seed) {
  char* block = static_cast<char*>(aligned_alloc(ct::kPage, kPages * ct::kPage));
  REQUIRE(block != nullptr, "aligned_alloc failed");
  REQUIRE(is_managed(block), "the block is not in libtmc's heap");
  for (size_t i = 0; i < kPages; ++i) ct::fill_text(block + i * ct::kPage, ct::kPage, seed + i);
  Holder h;
  h.use_pthread_exit = use_pthread_exit;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  for (int i = 0; i < kMutexes; ++i) {
    h.mutex[i] = reinterpret_cast<pthread_mutex_t*>(block + kMutexPage[i] * ct::kPage + 200);
    REQUIRE(pthread_mutex_init(h.mutex[i], &attr) == 0, "pthread_mutex_init failed");
  }
  pthread_t t;
  REQUIRE(pthread_create(&t, nullptr, holder_main, &h) == 0, "pthread_create failed");
  while (h.state.load() != 1) ct::sleep_ms(1);

  // Wait until all three mutexes' pages are out, touching nothing in the block meanwhile.
  double end = ct::now_s() + 30;
  long present;
  while ((present = present_mutex_pages(block)) != 0 && ct::now_s() < end) ct::sleep_ms(5);
  REQUIRE(present == 0, "the mutexes' pages were not evicted within 30 s (%ld present)", present);
  h.state.store(2);
  REQUIRE(pthread_join(t, nullptr) == 0, "pthread_join failed");

  for (int i = 0; i < kMutexes; ++i) {
    timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    int rc = pthread_mutex_timedlock(h.mutex[i], &deadline);
    CHECK(rc == EOWNERDEAD, "mutex %d (page %zu): the next locker got %s, want EOWNERDEAD", i, kMutexPage[i],
          rc == ETIMEDOUT ? "ETIMEDOUT (the holder's death was never recorded)" : strerror(rc));
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(h.mutex[i]);
      pthread_mutex_unlock(h.mutex[i]);
    }
  }
  // The rest of each mutex's page is intact.
  static char want[ct::kPage];
  size_t bad = 0;
  for (size_t i = 0; i < kPages; ++i) {
    ct::fill_text(want, ct::kPage, seed + i);
    bool mutex_page = i == kMutexPage[0] || i == kMutexPage[1] || i == kMutexPage[2];
    size_t skip_from = mutex_page ? 200 : ct::kPage, skip_to = mutex_page ? 200 + sizeof(pthread_mutex_t) : 0;
    bad += memcmp(block + i * ct::kPage, want, skip_from) != 0 ||
           memcmp(block + i * ct::kPage + skip_to, want + skip_to, ct::kPage - skip_to) != 0;
  }
  CHECK(bad == 0, "%zu pages of the block read back wrong", bad);

  // Pins end with the thread: the mutexes' pages are evicted again.
  present = ct::wait_evicted(block + kMutexPage[0] * ct::kPage, ct::kPage, 0, 20);
  CHECK(present == 0, "the first mutex's page stayed resident 20 s after its holder exited");
  for (auto* m : h.mutex) pthread_mutex_destroy(m);
  free(block);
}

}  // namespace

int main() {
  ct::require_engine_environment("robust_exit");
  tmc_test_step("the holder returns from its start routine");
  run_case(false, 7000);
  tmc_test_step("the holder calls pthread_exit");
  run_case(true, 9000);
  tmc_stats s = ct::stats();
  ct::print_stats("at the end", s);
  REQUIRE(s.evictions > 0, "nothing was evicted");
  return tmc_test_finish("robust_exit");
}
