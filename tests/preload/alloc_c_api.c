/* Every C allocation function under the preload: results usable, aligned, preserved,
 * zeroed where promised, and the documented failures (NULL + ENOMEM / EINVAL).
 * Also memory that glibc allocates internally (strdup, asprintf, getline, realpath)
 * must be freeable by the interposed free(). */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tmc_test.h"

/* A failed realloc/reallocarray leaves the block valid; GCC 12 cannot know that. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* Sizes are read through volatiles so the compiler neither warns about nor folds the
 * impossible requests. */
static volatile size_t v_huge = SIZE_MAX;
static volatile size_t v_half = SIZE_MAX / 2 + 1;

static const size_t kSizes[] = {1,    2,     7,     8,      15,     16,      17,      24,
                                31,   48,    64,    100,    128,    255,     512,     1000,
                                1024, 2047,  4096,  4097,   8192,   10000,   16384,   32769,
                                65536, 100000, 262144, 1 << 20, (1 << 20) + 1, 3 << 20, 16 << 20};
#define NSIZES (sizeof kSizes / sizeof kSizes[0])

static void test_malloc_free(void) {
  tmc_test_step("malloc/free: every size class is writable, distinct, keeps its bytes");
  void* ptrs[NSIZES];
  for (size_t i = 0; i < NSIZES; i++) {
    ptrs[i] = malloc(kSizes[i]);
    REQUIRE(ptrs[i] != NULL, "malloc(%zu) returned NULL", kSizes[i]);
    tmc_test_fill(ptrs[i], kSizes[i], 1000 + i);
  }
  for (size_t i = 0; i < NSIZES; i++) {
    long bad = tmc_test_verify(ptrs[i], kSizes[i], 1000 + i);
    CHECK(bad < 0, "malloc(%zu) block lost its contents at byte %ld", kSizes[i], bad);
    for (size_t j = i + 1; j < NSIZES; j++) {
      uintptr_t a = (uintptr_t)ptrs[i], b = (uintptr_t)ptrs[j];
      CHECK(a + kSizes[i] <= b || b + kSizes[j] <= a, "blocks %zu and %zu overlap", i, j);
    }
  }
  for (size_t i = 0; i < NSIZES; i++) free(ptrs[i]);

  free(NULL); /* must be a no-op */

  void* z1 = malloc(0);
  void* z2 = malloc(0);
  CHECK(z1 == NULL || z1 != z2, "two live malloc(0) results are the same pointer %p", z1);
  free(z1);
  free(z2);

  /* Many small blocks, freed in a scrambled order, then reused. */
  enum { kMany = 20000 };
  void** many = (void**)malloc(kMany * sizeof(void*));
  REQUIRE(many != NULL, "malloc for the pointer array");
  for (size_t i = 0; i < kMany; i++) {
    size_t n = 1 + (i * 7919) % 700;
    many[i] = malloc(n);
    REQUIRE(many[i] != NULL, "malloc(%zu)", n);
    tmc_test_fill(many[i], n, i);
  }
  size_t bad_blocks = 0;
  for (size_t k = 0; k < kMany; k++) {
    size_t i = (k * 7) % kMany; /* 7 is coprime with kMany: visits every index once */
    size_t n = 1 + (i * 7919) % 700;
    if (tmc_test_verify(many[i], n, i) >= 0) bad_blocks++;
    free(many[i]);
  }
  CHECK(bad_blocks == 0, "%zu of %d small blocks were corrupted", bad_blocks, kMany);
  free(many);

  errno = 0;
  void* p = malloc(v_huge);
  CHECK(p == NULL, "malloc(SIZE_MAX) returned %p", p);
  CHECK(errno == ENOMEM, "malloc(SIZE_MAX) set errno %d, want ENOMEM", errno);
  errno = 0;
  p = malloc(v_half);
  CHECK(p == NULL, "malloc(SIZE_MAX/2+1) returned %p", p);
  CHECK(errno == ENOMEM, "malloc(SIZE_MAX/2+1) set errno %d, want ENOMEM", errno);
}

static void test_calloc(void) {
  tmc_test_step("calloc: zeroed memory (also after reuse of dirty blocks), overflow -> NULL+ENOMEM");
  for (size_t i = 0; i < NSIZES; i++) {
    /* Dirty a block of the same size first so calloc has a chance to reuse it. */
    unsigned char* dirty = (unsigned char*)malloc(kSizes[i]);
    REQUIRE(dirty != NULL, "malloc(%zu)", kSizes[i]);
    memset(dirty, 0xA5, kSizes[i]);
    tmc_test_escape(dirty);
    free(dirty);
    unsigned char* c = (unsigned char*)calloc(1, kSizes[i]);
    REQUIRE(c != NULL, "calloc(1, %zu)", kSizes[i]);
    CHECK(tmc_test_all_bytes(c, kSizes[i], 0), "calloc(1, %zu) is not all zero", kSizes[i]);
    free(c);
  }
  unsigned* arr = (unsigned*)calloc(123457, sizeof(unsigned));
  REQUIRE(arr != NULL, "calloc(123457, 4)");
  CHECK(tmc_test_all_bytes(arr, 123457 * sizeof(unsigned), 0), "calloc array not zero");
  free(arr);

  errno = 0;
  void* p = calloc(v_half, 4); /* nmemb * size overflows size_t */
  CHECK(p == NULL, "calloc(SIZE_MAX/2+1, 4) returned %p", p);
  CHECK(errno == ENOMEM, "calloc overflow set errno %d, want ENOMEM", errno);
  errno = 0;
  p = calloc(4, v_half);
  CHECK(p == NULL && errno == ENOMEM, "calloc(4, SIZE_MAX/2+1) returned %p errno %d", p, errno);
  errno = 0;
  p = calloc(v_huge, v_huge);
  CHECK(p == NULL && errno == ENOMEM, "calloc(SIZE_MAX, SIZE_MAX) returned %p errno %d", p, errno);
  errno = 0;
  p = calloc(1, v_huge);
  CHECK(p == NULL && errno == ENOMEM, "calloc(1, SIZE_MAX) returned %p errno %d", p, errno);
  p = calloc(0, 16);
  free(p);
  p = calloc(16, 0);
  free(p);
}

static void test_realloc(void) {
  tmc_test_step("realloc: NULL acts as malloc, grow and shrink keep the bytes, failure keeps the block");
  errno = 0;
  unsigned char* p = (unsigned char*)realloc(NULL, 100);
  REQUIRE(p != NULL, "realloc(NULL, 100)");
  tmc_test_fill(p, 100, 7);
  CHECK(tmc_test_verify(p, 100, 7) < 0, "realloc(NULL) block not writable");

  /* Grow through every size class up to 32 MiB; the old prefix must survive each move. */
  size_t n = 100;
  for (size_t next = 160; next <= (32u << 20); next = next * 3 / 2 + 17) {
    unsigned char* q = (unsigned char*)realloc(p, next);
    REQUIRE(q != NULL, "realloc grow to %zu", next);
    long bad = tmc_test_verify(q, n, 7);
    CHECK(bad < 0, "realloc grow %zu -> %zu lost byte %ld", n, next, bad);
    tmc_test_fill(q, next, 7);
    p = q;
    n = next;
  }
  /* Shrink back down. */
  while (n > 10) {
    size_t next = n / 3;
    unsigned char* q = (unsigned char*)realloc(p, next);
    REQUIRE(q != NULL, "realloc shrink to %zu", next);
    long bad = tmc_test_verify(q, next, 7);
    CHECK(bad < 0, "realloc shrink %zu -> %zu lost byte %ld", n, next, bad);
    p = q;
    n = next;
  }
  /* Same size and in-place growth inside a size class. */
  unsigned char* q = (unsigned char*)realloc(p, n);
  REQUIRE(q != NULL, "realloc same size");
  CHECK(tmc_test_verify(q, n, 7) < 0, "realloc to the same size changed bytes");
  p = q;

  /* A failing realloc returns NULL, sets ENOMEM and leaves the block alone. */
  errno = 0;
  q = (unsigned char*)realloc(p, v_huge);
  CHECK(q == NULL, "realloc(p, SIZE_MAX) returned %p", (void*)q);
  CHECK(errno == ENOMEM, "realloc(p, SIZE_MAX) errno %d, want ENOMEM", errno);
  CHECK(tmc_test_verify(p, n, 7) < 0, "failed realloc damaged the original block");
  free(p);

  /* realloc(p, 0) is implementation-defined (NULL or a minimal block); either is fine
   * as long as a non-NULL result can be freed. */
  p = (unsigned char*)malloc(64);
  REQUIRE(p != NULL, "malloc(64)");
  q = (unsigned char*)realloc(p, 0);
  free(q);
}

static void test_reallocarray(void) {
  tmc_test_step("reallocarray: like realloc for nmemb*size, overflow -> NULL+ENOMEM, block kept");
  int* a = (int*)reallocarray(NULL, 1000, sizeof(int));
  REQUIRE(a != NULL, "reallocarray(NULL, 1000, 4)");
  for (int i = 0; i < 1000; i++) a[i] = i * 31;
  int* b = (int*)reallocarray(a, 300000, sizeof(int));
  REQUIRE(b != NULL, "reallocarray grow");
  int ok = 1;
  for (int i = 0; i < 1000; i++) ok &= b[i] == i * 31;
  CHECK(ok, "reallocarray grow lost the old elements");
  b[299999] = 5;
  a = (int*)reallocarray(b, 10, sizeof(int));
  REQUIRE(a != NULL, "reallocarray shrink");
  ok = 1;
  for (int i = 0; i < 10; i++) ok &= a[i] == i * 31;
  CHECK(ok, "reallocarray shrink lost elements");

  errno = 0;
  b = (int*)reallocarray(a, v_half, 4);
  CHECK(b == NULL, "reallocarray overflow returned %p", (void*)b);
  CHECK(errno == ENOMEM, "reallocarray overflow errno %d, want ENOMEM", errno);
  ok = 1;
  for (int i = 0; i < 10; i++) ok &= a[i] == i * 31;
  CHECK(ok, "failed reallocarray damaged the block");
  free(a);
}

static void test_posix_memalign(void) {
  tmc_test_step("posix_memalign: aligned for 8 B..4 MiB, EINVAL for bad alignment, ENOMEM for huge");
  for (size_t align = sizeof(void*); align <= (4u << 20); align <<= 1) {
    const size_t sizes[] = {1, align / 2 + 1, align, align + 1, 3 * align + 5, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
      void* p = (void*)0x1;
      int rc = posix_memalign(&p, align, sizes[k]);
      CHECK(rc == 0, "posix_memalign(align %zu, size %zu) = %d", align, sizes[k], rc);
      if (rc != 0) continue;
      CHECK(p != NULL && tmc_test_aligned(p, align), "posix_memalign(%zu) gave %p", align, p);
      tmc_test_fill(p, sizes[k], align + k);
      CHECK(malloc_usable_size(p) >= sizes[k], "usable %zu < %zu", malloc_usable_size(p), sizes[k]);
      CHECK(tmc_test_verify(p, sizes[k], align + k) < 0, "posix_memalign block corrupted");
      free(p);
    }
  }
  const size_t bad[] = {0, 1, 2, 4, sizeof(void*) + 1, 24, 48, 100, 4095, (size_t)3 << 20};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    void* p = (void*)0x1234;
    int rc = posix_memalign(&p, bad[k], 64);
    CHECK(rc == EINVAL, "posix_memalign(align %zu) = %d, want EINVAL", bad[k], rc);
    if (rc == 0) free(p);
  }
  void* p = NULL;
  int rc = posix_memalign(&p, 64, v_huge - 4096);
  CHECK(rc == ENOMEM, "posix_memalign(64, ~SIZE_MAX) = %d, want ENOMEM", rc);
}

static void test_aligned_alloc_family(void) {
  tmc_test_step("aligned_alloc / memalign / valloc / pvalloc: alignment and usable size");
  long page = sysconf(_SC_PAGESIZE);
  for (size_t align = 1; align <= (2u << 20); align <<= 1) {
    size_t size = align * 3;
    void* a = aligned_alloc(align, size);
    REQUIRE(a != NULL, "aligned_alloc(%zu, %zu)", align, size);
    CHECK(tmc_test_aligned(a, align), "aligned_alloc(%zu) gave %p", align, a);
    tmc_test_fill(a, size, 11);
    CHECK(tmc_test_verify(a, size, 11) < 0, "aligned_alloc block corrupted");
    free(a);

    void* m = memalign(align, size + 7);
    REQUIRE(m != NULL, "memalign(%zu, %zu)", align, size + 7);
    CHECK(tmc_test_aligned(m, align), "memalign(%zu) gave %p", align, m);
    CHECK(malloc_usable_size(m) >= size + 7, "memalign usable size too small");
    tmc_test_fill(m, size + 7, 12);
    CHECK(tmc_test_verify(m, size + 7, 12) < 0, "memalign block corrupted");
    free(m);
  }
  /* An alignment that is not a power of two must not give a misaligned block. */
  errno = 0;
  void* bad = aligned_alloc(24, 48);
  CHECK(bad == NULL || tmc_test_aligned(bad, 8), "aligned_alloc(24) gave %p", bad);
  free(bad);
  errno = 0;
  bad = aligned_alloc(64, v_huge - 4096);
  CHECK(bad == NULL && errno == ENOMEM, "aligned_alloc(64, huge) = %p errno %d", bad, errno);

  const size_t vsizes[] = {1, 100, (size_t)page - 1, (size_t)page, (size_t)page + 1, 1 << 20};
  for (size_t k = 0; k < sizeof vsizes / sizeof vsizes[0]; k++) {
    void* v = valloc(vsizes[k]);
    REQUIRE(v != NULL, "valloc(%zu)", vsizes[k]);
    CHECK(tmc_test_aligned(v, (size_t)page), "valloc(%zu) gave %p", vsizes[k], v);
    CHECK(malloc_usable_size(v) >= vsizes[k], "valloc usable size too small");
    tmc_test_fill(v, vsizes[k], 13);
    CHECK(tmc_test_verify(v, vsizes[k], 13) < 0, "valloc block corrupted");
    free(v);

    size_t rounded = (vsizes[k] + (size_t)page - 1) & ~((size_t)page - 1);
    void* pv = pvalloc(vsizes[k]);
    REQUIRE(pv != NULL, "pvalloc(%zu)", vsizes[k]);
    CHECK(tmc_test_aligned(pv, (size_t)page), "pvalloc(%zu) gave %p", vsizes[k], pv);
    CHECK(malloc_usable_size(pv) >= rounded, "pvalloc(%zu) usable %zu < page-rounded %zu",
          vsizes[k], malloc_usable_size(pv), rounded);
    tmc_test_fill(pv, rounded, 14); /* the whole rounded size is the caller's */
    CHECK(tmc_test_verify(pv, rounded, 14) < 0, "pvalloc block corrupted");
    free(pv);
  }
}

static void test_usable_size(void) {
  tmc_test_step("malloc_usable_size: >= requested, whole usable size is writable; 0 for NULL");
  for (size_t i = 0; i < NSIZES; i++) {
    unsigned char* p = (unsigned char*)malloc(kSizes[i]);
    REQUIRE(p != NULL, "malloc(%zu)", kSizes[i]);
    size_t u = malloc_usable_size(p);
    CHECK(u >= kSizes[i], "malloc_usable_size(malloc(%zu)) = %zu", kSizes[i], u);
    CHECK(u <= kSizes[i] * 2 + 4096, "usable size %zu is absurd for %zu", u, kSizes[i]);
    tmc_test_fill(p, u, 21);
    CHECK(tmc_test_verify(p, u, 21) < 0, "usable tail not writable for %zu", kSizes[i]);
    free(p);
  }
  CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu", malloc_usable_size(NULL));
}

static void test_calloc_realloc_churn(void) {
  tmc_test_step("calloc/realloc churn: 3000 dirty-free/calloc cycles and 3000 realloc moves, all checked");
  uint64_t r = 88172645463325252ull;
  size_t dirty_callocs = 0;
  for (int i = 0; i < 3000; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    size_t n = 1 + (size_t)(r % ((i % 10 == 0) ? 300000 : 5000));
    unsigned char* d = (unsigned char*)malloc(n);
    REQUIRE(d != NULL, "malloc(%zu)", n);
    memset(d, 0x5A, n);
    tmc_test_escape(d);
    free(d);
    unsigned char* c = (unsigned char*)calloc(n, 1);
    REQUIRE(c != NULL, "calloc(%zu, 1)", n);
    if (!tmc_test_all_bytes(c, n, 0)) dirty_callocs++;
    memset(c, 0x5A, n); /* leave it dirty for the next round */
    free(c);
  }
  CHECK(dirty_callocs == 0, "%zu of 3000 calloc results were not zeroed", dirty_callocs);

  size_t n = 16, bad_moves = 0;
  unsigned char* p = (unsigned char*)malloc(n);
  REQUIRE(p != NULL, "malloc");
  tmc_test_fill(p, n, 0);
  for (int i = 1; i <= 3000; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    size_t next = 1 + (size_t)(r % ((i % 50 == 0) ? 2000000 : 20000));
    unsigned char* q = (unsigned char*)realloc(p, next);
    REQUIRE(q != NULL, "realloc(%zu)", next);
    size_t kept = n < next ? n : next;
    if (tmc_test_verify(q, kept, (uint64_t)(i - 1)) >= 0) bad_moves++;
    tmc_test_fill(q, next, (uint64_t)i);
    p = q;
    n = next;
  }
  free(p);
  CHECK(bad_moves == 0, "%zu of 3000 reallocs did not keep the old bytes", bad_moves);
}

static void test_libc_internal(void) {
  tmc_test_step("memory allocated inside glibc (strdup, asprintf, getline, realpath, open_memstream) frees cleanly");
  char* s = strdup("libtmc strdup test");
  REQUIRE(s != NULL, "strdup");
  CHECK(strcmp(s, "libtmc strdup test") == 0, "strdup copy wrong: %s", s);
  CHECK(malloc_usable_size(s) >= strlen(s) + 1, "usable size of strdup result too small");
  free(s);
  s = strndup("abcdefghij", 4);
  CHECK(s && strcmp(s, "abcd") == 0, "strndup");
  free(s);

  char* out = NULL;
  int n = asprintf(&out, "%s-%d-%0512d", "fmt", 42, 7);
  CHECK(n == 4 + 3 + 512 && out && strncmp(out, "fmt-42-000", 10) == 0, "asprintf gave %d", n);
  free(out);

  char text[] = "line one\nline two is longer than the first\nthree\n";
  FILE* f = fmemopen(text, strlen(text), "r");
  REQUIRE(f != NULL, "fmemopen");
  char* line = NULL;
  size_t cap = 0;
  int lines = 0;
  while (getline(&line, &cap, f) > 0) lines++;
  CHECK(lines == 3, "getline read %d lines", lines);
  free(line);
  fclose(f);

  char* rp = realpath("/", NULL);
  CHECK(rp && strcmp(rp, "/") == 0, "realpath(/) = %s", rp ? rp : "(null)");
  free(rp);

  char* buf = NULL;
  size_t len = 0;
  FILE* ms = open_memstream(&buf, &len);
  REQUIRE(ms != NULL, "open_memstream");
  for (int i = 0; i < 5000; i++) fprintf(ms, "%d,", i);
  fclose(ms);
  CHECK(buf && len > 20000 && strncmp(buf, "0,1,2,", 6) == 0, "open_memstream len %zu", len);
  free(buf);
}

int main(void) {
  test_malloc_free();
  test_calloc();
  test_realloc();
  test_reallocarray();
  test_posix_memalign();
  test_aligned_alloc_family();
  test_usable_size();
  test_calloc_realloc_churn();
  test_libc_internal();
  return tmc_test_finish("alloc_c_api");
}
