#include "base/meta_alloc.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>

#include "base/spin_lock.h"

namespace tmc::base {
namespace {
constexpr size_t kChunk = 1 << 20;
constexpr size_t kAlign = 64;
SpinLock g_lock;
char* g_cursor = nullptr;
char* g_end = nullptr;
std::atomic<size_t> g_mapped{0};

void* map(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  g_mapped.fetch_add(size, std::memory_order_relaxed);
  return p;
}
}  // namespace

void* meta_alloc(size_t size) {
  size = (size + kAlign - 1) & ~(kAlign - 1);
  if (size > kChunk / 4) return map((size + 4095) & ~size_t{4095});  // big: its own mapping
  SpinLockGuard guard(g_lock);
  if (g_cursor == nullptr || static_cast<size_t>(g_end - g_cursor) < size) {
    char* chunk = static_cast<char*>(map(kChunk));
    if (chunk == nullptr) return nullptr;
    g_cursor = chunk;
    g_end = chunk + kChunk;
  }
  void* p = g_cursor;
  g_cursor += size;
  return p;
}

size_t meta_mapped_bytes() { return g_mapped.load(std::memory_order_relaxed); }

void meta_alloc_after_fork_child() {
  g_lock.reset_after_fork();
  g_cursor = nullptr;
  g_end = nullptr;
}

}  // namespace tmc::base
