// dlopen/dlclose of a library that allocates (constructor, destructor, thread_local
// dynamic TLS), 30 times, with memory crossing the boundary both ways; and dlopen of a
// system library (libm).
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tmc_test.h"

using check_fn = int (*)();
using alloc_fn = void* (*)(size_t, uint64_t);
using free_fn = int (*)(void*, size_t, uint64_t);
using new_fn = std::string* (*)(size_t);
using del_fn = void (*)(std::string*);
using tls_fn = size_t (*)(size_t);

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s path/to/libtmc_dl_helper.so\n", argv[0]);
    return 2;
  }
  tmc_test_step("dlopen/dlclose a helper library 30 times; memory and objects cross the boundary both ways");
  for (int round = 0; round < 30; round++) {
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    REQUIRE(h != nullptr, "dlopen(%s): %s", argv[1], dlerror());
    auto check = reinterpret_cast<check_fn>(dlsym(h, "dl_check_state"));
    auto alloc = reinterpret_cast<alloc_fn>(dlsym(h, "dl_alloc"));
    auto free_checked = reinterpret_cast<free_fn>(dlsym(h, "dl_free_checked"));
    auto new_string = reinterpret_cast<new_fn>(dlsym(h, "dl_new_string"));
    auto delete_string = reinterpret_cast<del_fn>(dlsym(h, "dl_delete_string"));
    auto tls_touch = reinterpret_cast<tls_fn>(dlsym(h, "dl_tls_touch"));
    REQUIRE(check && alloc && free_checked && new_string && delete_string && tls_touch, "dlsym failed");

    CHECK(check() == 1, "round %d: library's constructor-allocated state is wrong", round);
    for (size_t n = 1; n < (2u << 20); n = n * 5 + 1) {
      void* p = alloc(n, n + static_cast<uint64_t>(round));
      REQUIRE(p != nullptr, "dl_alloc(%zu)", n);
      CHECK(tmc_test_verify(p, n, n + static_cast<uint64_t>(round)) < 0, "library block of %zu corrupt", n);
      free(p);  // library malloc, program free
      void* q = malloc(n);
      REQUIRE(q != nullptr, "malloc(%zu)", n);
      tmc_test_fill(q, n, n * 3);
      CHECK(free_checked(q, n, n * 3) == 1, "library saw a corrupt program block of %zu", n);
    }
    std::string* s = new_string(5000);
    CHECK(s->size() == 5000 && (*s)[4999] == 'x', "string from the library is wrong");
    delete s;  // library new, program delete
    delete_string(new std::string(3000, 'y'));  // program new, library delete

    // Dynamic TLS: each new thread gets its own copy of the library's thread_local.
    std::vector<std::thread> threads;
    std::vector<size_t> sizes(4, 0);
    for (size_t t = 0; t < 4; t++)
      threads.emplace_back([&, t] {
        for (int k = 0; k < 100; k++) sizes[t] = tls_touch(10);
      });
    for (auto& th : threads) th.join();
    bool tls_ok = true;
    for (size_t v : sizes) tls_ok &= v == 200 + 100 * 10;
    CHECK(tls_ok, "round %d: thread_local in the dlopen'ed library has the wrong size", round);
    // The main thread's thread_local has a destructor, which keeps glibc from unloading the
    // library on dlclose; whether it reset (unloaded) or kept growing, it must be intact.
    size_t main_tls = tls_touch(1);
    CHECK(main_tls == 201 || main_tls == 200 + static_cast<size_t>(round + 1), "round %d: main thread TLS size %zu",
          round, main_tls);
    CHECK(check() == 1, "round %d: library state corrupted", round);
    CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
  }

  tmc_test_step("dlopen a system library (libm.so.6) and call into it");
  void* m = dlopen("libm.so.6", RTLD_NOW);
  REQUIRE(m != nullptr, "dlopen(libm.so.6): %s", dlerror());
  auto cosine = reinterpret_cast<double (*)(double)>(dlsym(m, "cos"));
  CHECK(cosine && std::fabs(cosine(0.0) - 1.0) < 1e-12, "cos(0) from libm");
  CHECK(dlclose(m) == 0, "dlclose(libm)");

  tmc_test_step("dlopen of a missing library fails cleanly with a message");
  void* none = dlopen("libtmc-does-not-exist.so", RTLD_NOW);
  const char* err = dlerror();
  CHECK(none == nullptr && err != nullptr && err[0] != 0, "dlopen of a missing file");
  return tmc_test_finish("dlopen_test");
}
