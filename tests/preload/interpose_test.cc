// Checks that libtmc really interposes: every malloc-family function and every
// replaceable operator new/delete, looked up the way the program and libc resolve them,
// lives in libtmc.so (dladdr's file name contains "libtmc", and is the TMC_LIB file when
// that is set), and that heap blocks do not come from glibc's brk heap.
// Exits 77 (skipped) when the process is not preloaded with libtmc.
#include <dlfcn.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <cstdint>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include "tmc_test.h"

namespace {

const char* const kSymbols[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
    "valloc", "pvalloc", "malloc_usable_size",
    // operator new / new[] (plain, nothrow, aligned, aligned nothrow)
    "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
    "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
    // operator delete / delete[] (plain, nothrow, sized, aligned, aligned nothrow, sized aligned)
    "_ZdlPv", "_ZdaPv", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t", "_ZdlPvm", "_ZdaPvm",
    "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t"};

std::string real_path(const char* p) {
  char buf[PATH_MAX];
  return realpath(p, buf) ? std::string(buf) : std::string(p);
}

std::string owner(const void* addr) {
  Dl_info info;
  if (!addr || !dladdr(addr, &info) || !info.dli_fname) return "?";
  return info.dli_fname;
}

struct Range {
  uintptr_t lo, hi;
};

bool brk_heap(Range* out) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("[heap]") == std::string::npos) continue;
    unsigned long lo = 0, hi = 0;
    if (sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2) {
      *out = {lo, hi};
      return true;
    }
  }
  return false;
}

}  // namespace

int main() {
  if (!tmc_test_preloaded_libtmc()) {
    printf("SKIP: LD_PRELOAD (%s) does not name libtmc; nothing to check\n",
           getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "unset");
    return TMC_TEST_SKIP;
  }
  const char* lib = tmc_test_lib();
  const std::string want = lib ? real_path(lib) : std::string();

  tmc_test_step("dlsym(RTLD_DEFAULT, sym) for the malloc family and all operator new/delete is inside libtmc");
  for (const char* sym : kSymbols) {
    void* addr = dlsym(RTLD_DEFAULT, sym);
    std::string file = owner(addr);
    CHECK(addr != nullptr, "%s is not defined at all", sym);
    CHECK(file.find("libtmc") != std::string::npos, "%s resolves to %s, not libtmc", sym, file.c_str());
    if (!want.empty() && addr) CHECK(real_path(file.c_str()) == want, "%s resolves to %s, want %s", sym, file.c_str(), want.c_str());
  }

  tmc_test_step("the program's own references (via its GOT) point to the same functions");
  CHECK(reinterpret_cast<void*>(&malloc) == dlsym(RTLD_DEFAULT, "malloc"), "&malloc differs from dlsym");
  CHECK(reinterpret_cast<void*>(&free) == dlsym(RTLD_DEFAULT, "free"), "&free differs from dlsym");
  void* (*op_new)(std::size_t) = &::operator new;
  void (*op_delete)(void*) noexcept = &::operator delete;
  CHECK(reinterpret_cast<void*>(op_new) == dlsym(RTLD_DEFAULT, "_Znwm"), "&operator new differs from dlsym");
  CHECK(owner(reinterpret_cast<void*>(op_delete)).find("libtmc") != std::string::npos, "&operator delete is in %s",
        owner(reinterpret_cast<void*>(op_delete)).c_str());

  tmc_test_step("heap blocks (malloc, new, strdup from inside libc) are outside glibc's brk heap");
  Range heap{};
  bool have_heap = brk_heap(&heap);
  std::vector<void*> ptrs;
  std::vector<std::string> what;
  for (size_t n : {8ul, 100ul, 5000ul, 100000ul, 4ul << 20}) {
    ptrs.push_back(malloc(n));
    what.push_back("malloc(" + std::to_string(n) + ")");
  }
  ptrs.push_back(::operator new(64));
  what.push_back("operator new(64)");
  ptrs.push_back(strdup("interposed?"));
  what.push_back("strdup");
  if (!have_heap) brk_heap(&heap);  // the allocations may have created it
  for (size_t i = 0; i < ptrs.size(); i++) {
    uintptr_t p = reinterpret_cast<uintptr_t>(ptrs[i]);
    CHECK(p != 0, "%s returned NULL", what[i].c_str());
    CHECK(!(p >= heap.lo && p < heap.hi), "%s = %p lies in the brk [heap] %lx-%lx", what[i].c_str(), ptrs[i],
          static_cast<unsigned long>(heap.lo), static_cast<unsigned long>(heap.hi));
    CHECK(malloc_usable_size(ptrs[i]) > 0, "malloc_usable_size(%s) = 0: not our block", what[i].c_str());
  }
  ::operator delete(ptrs[5]);
  ptrs[5] = nullptr;
  for (void* p : ptrs) free(p);
  printf("libtmc: %s\n", owner(dlsym(RTLD_DEFAULT, "malloc")).c_str());
  return tmc_test_finish("interpose_test");
}
