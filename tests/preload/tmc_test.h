/* Shared helpers for the preload tests (tests/preload/). Usable from C and C++.
 *
 * Every test program runs as its own ctest test with LD_PRELOAD set to libtmc.so and
 * TMC_LIB set to the same path. The programs print one line per group of checks and
 * exit 0 when every check passed, 1 when any failed, 77 when the test does not apply.
 */
#ifndef TMC_TESTS_PRELOAD_TMC_TEST_H
#define TMC_TESTS_PRELOAD_TMC_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TMC_TEST_SKIP 77

static unsigned long tmc_test_checks_;
static unsigned long tmc_test_failures_;

/* CHECK(cond, printf-args): counts a check; on failure prints where and why, goes on. */
#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    tmc_test_checks_++;                                                         \
    if (!(cond)) {                                                              \
      tmc_test_failures_++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
      fprintf(stderr, __VA_ARGS__);                                             \
      fputc('\n', stderr);                                                      \
      fflush(stderr);                                                           \
    }                                                                           \
  } while (0)

/* REQUIRE: like CHECK, but stops the program (for checks later steps depend on). The
 * condition is evaluated once, so it may have side effects (REQUIRE(pipe(fds) == 0, ...)). */
#define REQUIRE(cond, ...)                                                      \
  do {                                                                          \
    int tmc_test_ok_ = (cond) ? 1 : 0;                                          \
    tmc_test_checks_++;                                                         \
    if (!tmc_test_ok_) {                                                        \
      tmc_test_failures_++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
      fprintf(stderr, __VA_ARGS__);                                             \
      fputc('\n', stderr);                                                      \
      fprintf(stderr, "stopping: a required check failed\n");                  \
      exit(1);                                                                  \
    }                                                                           \
  } while (0)

static inline unsigned long tmc_test_failures(void) { return tmc_test_failures_; }

/* Prints the step name so the ctest log shows what each part checks. */
static inline void tmc_test_step(const char* what) {
  printf("-- %s\n", what);
  fflush(stdout);
}

/* Prints the summary line and returns the exit code for main(). */
static inline int tmc_test_finish(const char* name) {
  printf("%s: %lu checks, %lu failed\n", name, tmc_test_checks_, tmc_test_failures_);
  fflush(stdout);
  return tmc_test_failures_ ? 1 : 0;
}

/* The libtmc.so path the test runs against (TMC_LIB), or NULL. */
static inline const char* tmc_test_lib(void) {
  const char* lib = getenv("TMC_LIB");
  return (lib && *lib) ? lib : NULL;
}

/* True when LD_PRELOAD names a file whose name contains "libtmc". */
static inline int tmc_test_preloaded_libtmc(void) {
  const char* pre = getenv("LD_PRELOAD");
  return pre && strstr(pre, "libtmc") != NULL;
}

/* Keeps the compiler from eliding allocations whose results look unused. */
static inline void tmc_test_escape(const void* p) { __asm__ volatile("" : : "g"(p) : "memory"); }

/* A byte pattern that depends on the position and a seed, so a buffer that was moved,
 * truncated, overlapped or handed to the wrong owner does not verify. */
static inline unsigned char tmc_test_byte(uint64_t seed, size_t i) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return (unsigned char)x;
}

static inline void tmc_test_fill(void* buf, size_t n, uint64_t seed) {
  unsigned char* b = (unsigned char*)buf;
  for (size_t i = 0; i < n; i++) b[i] = tmc_test_byte(seed, i);
}

/* Returns the index of the first byte that differs from the pattern, or -1. */
static inline long tmc_test_verify(const void* buf, size_t n, uint64_t seed) {
  const unsigned char* b = (const unsigned char*)buf;
  for (size_t i = 0; i < n; i++)
    if (b[i] != tmc_test_byte(seed, i)) return (long)i;
  return -1;
}

static inline int tmc_test_all_bytes(const void* buf, size_t n, unsigned char v) {
  const unsigned char* b = (const unsigned char*)buf;
  for (size_t i = 0; i < n; i++)
    if (b[i] != v) return 0;
  return 1;
}

static inline int tmc_test_aligned(const void* p, size_t alignment) {
  return ((uintptr_t)p & (alignment - 1)) == 0;
}

#ifdef __cplusplus
}
#endif

#endif
