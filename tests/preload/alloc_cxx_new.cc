// Every replaceable C++ operator new/delete form under the preload: plain, array,
// nothrow, sized delete, std::align_val_t (plain, array, nothrow, sized), new-expressions
// of over-aligned types, std::bad_alloc on impossible sizes, and that the
// std::new_handler is called before failing.
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "tmc_test.h"

namespace {

volatile size_t g_impossible = std::numeric_limits<size_t>::max() - 4096;

struct alignas(256) Aligned256 {
  unsigned char bytes[300];
};
struct alignas(4096) AlignedPage {
  unsigned char bytes[100];
};

void test_plain() {
  tmc_test_step("operator new/delete and new[]/delete[]: usable, distinct, bytes kept");
  std::vector<void*> blocks;
  for (size_t n = 1; n <= (8u << 20); n = n * 2 + 3) {
    void* p = ::operator new(n);
    CHECK(p != nullptr, "operator new(%zu)", n);
    CHECK(tmc_test_aligned(p, __STDCPP_DEFAULT_NEW_ALIGNMENT__) || n < __STDCPP_DEFAULT_NEW_ALIGNMENT__,
          "operator new(%zu) = %p not aligned to the default new alignment", n, p);
    CHECK(malloc_usable_size(p) >= n, "usable size of operator new(%zu) < n", n);
    tmc_test_fill(p, n, n);
    blocks.push_back(p);
  }
  size_t n = 1;
  for (void* p : blocks) {
    CHECK(tmc_test_verify(p, n, n) < 0, "operator new(%zu) block corrupted", n);
    ::operator delete(p);
    n = n * 2 + 3;
  }

  for (size_t k = 1; k <= 100000; k *= 10) {
    uint64_t* a = new uint64_t[k];
    for (size_t i = 0; i < k; i++) a[i] = i * 0x9E3779B97F4A7C15ull;
    bool ok = true;
    for (size_t i = 0; i < k; i++) ok &= a[i] == i * 0x9E3779B97F4A7C15ull;
    CHECK(ok, "new uint64_t[%zu] lost values", k);
    delete[] a;
  }
  // Arrays of types with destructors carry a cookie; delete[] must get the right pointer.
  std::string* strs = new std::string[1000];
  for (int i = 0; i < 1000; i++) strs[i] = std::string(static_cast<size_t>(i % 97 + 20), static_cast<char>('a' + i % 26));
  bool ok = true;
  for (int i = 0; i < 1000; i++) ok &= strs[i].size() == static_cast<size_t>(i % 97 + 20) && strs[i][0] == 'a' + i % 26;
  CHECK(ok, "new std::string[1000] contents wrong");
  delete[] strs;

  // Standard containers: lots of new/delete traffic through libstdc++.
  std::unordered_map<std::string, std::vector<int>> map;
  for (int i = 0; i < 20000; i++) map["key" + std::to_string(i)].assign(static_cast<size_t>(i % 50), i);
  size_t total = 0;
  for (auto& kv : map) total += kv.second.size();
  size_t expect = 0;
  for (int i = 0; i < 20000; i++) expect += static_cast<size_t>(i % 50);
  CHECK(total == expect && map.size() == 20000, "unordered_map holds %zu elements, want %zu", total, expect);
  CHECK(map["key12345"].size() == 12345 % 50 && (map["key12345"].empty() || map["key12345"][0] == 12345),
        "unordered_map lookup wrong");
}

void test_nothrow() {
  tmc_test_step("nothrow new/new[]: usable blocks, nullptr (no throw) on impossible sizes");
  void* p = ::operator new(1000, std::nothrow);
  CHECK(p != nullptr, "operator new(1000, nothrow)");
  tmc_test_fill(p, 1000, 3);
  CHECK(tmc_test_verify(p, 1000, 3) < 0, "nothrow block corrupted");
  ::operator delete(p, std::nothrow);
  p = ::operator new[](5000, std::nothrow);
  CHECK(p != nullptr, "operator new[](5000, nothrow)");
  tmc_test_fill(p, 5000, 4);
  CHECK(tmc_test_verify(p, 5000, 4) < 0, "nothrow array block corrupted");
  ::operator delete[](p, std::nothrow);

  int* q = new (std::nothrow) int(42);
  CHECK(q && *q == 42, "new (nothrow) int(42)");
  delete q;

  bool threw = false;
  void* r = nullptr;
  try {
    r = ::operator new(g_impossible, std::nothrow);
  } catch (...) {
    threw = true;
  }
  CHECK(!threw, "operator new(huge, nothrow) threw");
  CHECK(r == nullptr, "operator new(huge, nothrow) = %p", r);
  threw = false;
  try {
    r = ::operator new[](g_impossible, std::nothrow);
  } catch (...) {
    threw = true;
  }
  CHECK(!threw && r == nullptr, "operator new[](huge, nothrow) = %p threw=%d", r, threw);
}

void test_sized_delete() {
  tmc_test_step("sized operator delete / delete[] (explicit calls and delete-expressions)");
  for (size_t n = 1; n <= (4u << 20); n = n * 3 + 1) {
    void* p = ::operator new(n);
    tmc_test_fill(p, n, 5);
    CHECK(tmc_test_verify(p, n, 5) < 0, "block corrupted");
    ::operator delete(p, n);
    void* a = ::operator new[](n);
    tmc_test_fill(a, n, 6);
    CHECK(tmc_test_verify(a, n, 6) < 0, "array block corrupted");
    ::operator delete[](a, n);
  }
  struct Big {
    char data[777];
  };
  // -fsized-deallocation is on by default in C++14+: this delete calls operator delete(void*, size_t).
  Big* b = new Big();
  CHECK(tmc_test_all_bytes(b->data, sizeof b->data, 0), "value-initialised Big not zero");
  delete b;
}

void test_aligned() {
  tmc_test_step("align_val_t new/delete (plain, array, nothrow, sized) for 16 B..64 KiB alignment");
  for (size_t align = 16; align <= 65536; align <<= 1) {
    const std::align_val_t al{align};
    const size_t sizes[] = {1, align - 1, align, align + 1, 5 * align + 3};
    for (size_t n : sizes) {
      void* p = ::operator new(n, al);
      CHECK(p && tmc_test_aligned(p, align), "operator new(%zu, align %zu) = %p", n, align, p);
      tmc_test_fill(p, n, align ^ n);
      CHECK(malloc_usable_size(p) >= n, "aligned new usable size too small");
      CHECK(tmc_test_verify(p, n, align ^ n) < 0, "aligned block corrupted");
      ::operator delete(p, al);

      p = ::operator new[](n, al);
      CHECK(p && tmc_test_aligned(p, align), "operator new[](%zu, align %zu) = %p", n, align, p);
      tmc_test_fill(p, n, 1);
      ::operator delete[](p, al);

      p = ::operator new(n, al, std::nothrow);
      CHECK(p && tmc_test_aligned(p, align), "operator new(%zu, align %zu, nothrow) = %p", n, align, p);
      ::operator delete(p, al, std::nothrow);

      p = ::operator new[](n, al, std::nothrow);
      CHECK(p && tmc_test_aligned(p, align), "operator new[](%zu, align %zu, nothrow) = %p", n, align, p);
      ::operator delete[](p, al, std::nothrow);

      p = ::operator new(n, al);
      ::operator delete(p, n, al);  // sized + aligned
      p = ::operator new[](n, al);
      ::operator delete[](p, n, al);
    }
  }
  // new-expressions of over-aligned types pick the align_val_t overloads by themselves.
  std::vector<Aligned256*> objs;
  for (int i = 0; i < 200; i++) {
    Aligned256* o = new Aligned256();
    CHECK(tmc_test_aligned(o, 256), "new Aligned256 = %p", static_cast<void*>(o));
    o->bytes[299] = static_cast<unsigned char>(i);
    objs.push_back(o);
  }
  for (int i = 0; i < 200; i++) {
    CHECK(objs[static_cast<size_t>(i)]->bytes[299] == static_cast<unsigned char>(i), "Aligned256 %d corrupted", i);
    delete objs[static_cast<size_t>(i)];
  }
  Aligned256* arr = new Aligned256[33];
  CHECK(tmc_test_aligned(arr, 256) && tmc_test_aligned(&arr[32], 256), "new Aligned256[33] = %p", static_cast<void*>(arr));
  delete[] arr;
  AlignedPage* pg = new (std::nothrow) AlignedPage();
  CHECK(pg && tmc_test_aligned(pg, 4096), "new (nothrow) AlignedPage = %p", static_cast<void*>(pg));
  delete pg;
  auto up = std::make_unique<AlignedPage[]>(7);
  CHECK(tmc_test_aligned(up.get(), 4096), "make_unique<AlignedPage[]> misaligned");
}

void test_bad_alloc() {
  tmc_test_step("operator new throws std::bad_alloc on impossible sizes (plain, array, aligned)");
  int caught = 0;
  try {
    void* p = ::operator new(g_impossible);
    tmc_test_escape(p);
  } catch (const std::bad_alloc&) {
    caught++;
  }
  try {
    void* p = ::operator new[](g_impossible);
    tmc_test_escape(p);
  } catch (const std::bad_alloc&) {
    caught++;
  }
  try {
    void* p = ::operator new(g_impossible, std::align_val_t{64});
    tmc_test_escape(p);
  } catch (const std::bad_alloc&) {
    caught++;
  }
  try {
    void* p = ::operator new[](g_impossible, std::align_val_t{4096});
    tmc_test_escape(p);
  } catch (const std::bad_alloc&) {
    caught++;
  }
  CHECK(caught == 4, "only %d of 4 impossible operator new calls threw std::bad_alloc", caught);
  void* p = ::operator new(g_impossible, std::align_val_t{64}, std::nothrow);
  CHECK(p == nullptr, "aligned nothrow new of an impossible size = %p", p);

  // The heap still works after the failures.
  std::vector<int> v(100000, 7);
  CHECK(v[99999] == 7, "vector after bad_alloc");
}

int g_handler_calls = 0;
void counting_handler() {
  g_handler_calls++;
  std::set_new_handler(nullptr);  // next attempt fails for good: new must then throw
}
int g_throwing_calls = 0;
struct HandlerGaveUp {};
void throwing_handler() {
  g_throwing_calls++;
  throw HandlerGaveUp{};
}
std::vector<char*> g_reserve;
int g_release_calls = 0;
void releasing_handler() {
  // Frees a reserve and lets operator new retry; after 3 calls it gives up.
  g_release_calls++;
  if (!g_reserve.empty()) {
    delete[] g_reserve.back();
    g_reserve.pop_back();
  }
  if (g_release_calls >= 3) std::set_new_handler(nullptr);
}

void test_new_handler() {
  tmc_test_step("std::set_new_handler: handler called on failure, retried, its exception propagates");
  std::set_new_handler(counting_handler);
  bool bad_alloc = false;
  try {
    void* p = ::operator new(g_impossible);
    tmc_test_escape(p);
  } catch (const std::bad_alloc&) {
    bad_alloc = true;
  }
  CHECK(g_handler_calls == 1, "new_handler called %d times, want 1", g_handler_calls);
  CHECK(bad_alloc, "operator new did not throw bad_alloc after the handler removed itself");
  CHECK(std::get_new_handler() == nullptr, "handler still installed");

  std::set_new_handler(throwing_handler);
  bool custom = false;
  try {
    void* p = ::operator new[](g_impossible);
    tmc_test_escape(p);
  } catch (const HandlerGaveUp&) {
    custom = true;
  } catch (const std::bad_alloc&) {
  }
  CHECK(g_throwing_calls == 1, "throwing handler called %d times, want 1", g_throwing_calls);
  CHECK(custom, "the new_handler's own exception did not propagate out of operator new[]");

  // The handler loop: retried until the handler gives up.
  for (int i = 0; i < 5; i++) g_reserve.push_back(new char[1 << 16]);
  std::set_new_handler(releasing_handler);
  bad_alloc = false;
  try {
    void* p = ::operator new(g_impossible, std::align_val_t{128});
    tmc_test_escape(p);
  } catch (const std::bad_alloc&) {
    bad_alloc = true;
  }
  CHECK(g_release_calls == 3, "retrying handler called %d times, want 3", g_release_calls);
  CHECK(bad_alloc, "aligned operator new did not end in bad_alloc");
  CHECK(g_reserve.size() == 2, "handler released %zu reserve blocks, want 3", 5 - g_reserve.size());
  for (char* r : g_reserve) delete[] r;
  g_reserve.clear();

  // nothrow new calls the handler too, then returns nullptr.
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  void* p = ::operator new(g_impossible, std::nothrow);
  CHECK(p == nullptr, "nothrow new with handler = %p", p);
  CHECK(g_handler_calls == 1, "nothrow new called the handler %d times, want 1", g_handler_calls);
  std::set_new_handler(nullptr);
}

}  // namespace

int main() {
  test_plain();
  test_nothrow();
  test_sized_delete();
  test_aligned();
  test_bad_alloc();
  test_new_handler();
  return tmc_test_finish("alloc_cxx_new");
}
