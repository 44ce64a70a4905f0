// A library that tests/preload/dlopen_test loads and unloads repeatedly. It allocates in
// its constructor and destructor, hands memory to the program and frees the program's,
// and has a thread_local object (dynamic TLS, which ld.so allocates with malloc).
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tmc_test.h"

namespace {
char* g_table = nullptr;
constexpr size_t kTableSize = 300000;
std::vector<std::string>* g_strings = nullptr;
thread_local std::string t_name(200, 'T');
}  // namespace

__attribute__((constructor)) static void dl_helper_init() {
  g_table = static_cast<char*>(malloc(kTableSize));
  if (g_table) tmc_test_fill(g_table, kTableSize, 77);
  g_strings = new std::vector<std::string>();
  for (int i = 0; i < 500; i++) g_strings->push_back(std::string(static_cast<size_t>(i + 30), 'a' + static_cast<char>(i % 26)));
}

__attribute__((destructor)) static void dl_helper_fini() {
  free(g_table);
  g_table = nullptr;
  delete g_strings;
  g_strings = nullptr;
}

extern "C" {

__attribute__((visibility("default"))) int dl_check_state() {
  if (!g_table || tmc_test_verify(g_table, kTableSize, 77) >= 0) return 0;
  if (!g_strings || g_strings->size() != 500) return 0;
  for (int i = 0; i < 500; i++)
    if ((*g_strings)[static_cast<size_t>(i)] != std::string(static_cast<size_t>(i + 30), 'a' + static_cast<char>(i % 26))) return 0;
  return 1;
}

// Returns a malloc'd, pattern-filled block that the caller frees.
__attribute__((visibility("default"))) void* dl_alloc(size_t n, uint64_t seed) {
  void* p = malloc(n);
  if (p) tmc_test_fill(p, n, seed);
  return p;
}

// Frees a block the caller allocated (with malloc), after checking its pattern.
__attribute__((visibility("default"))) int dl_free_checked(void* p, size_t n, uint64_t seed) {
  int ok = tmc_test_verify(p, n, seed) < 0;
  free(p);
  return ok;
}

// new in the library, delete in the program (and the other way round with dl_delete).
__attribute__((visibility("default"))) std::string* dl_new_string(size_t n) { return new std::string(n, 'x'); }
__attribute__((visibility("default"))) void dl_delete_string(std::string* s) { delete s; }

// Touches the thread_local string (dynamic TLS) and returns its length after appending.
__attribute__((visibility("default"))) size_t dl_tls_touch(size_t add) {
  t_name.append(add, 'u');
  return t_name.size();
}
}
