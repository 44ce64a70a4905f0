/* One memory error or undefined behaviour on request, to see which sanitizer reports it
 * when the program runs under LD_PRELOAD=libtmc.so (sanitizer_matrix_test.sh,
 * docs/sanitizers.md).
 *
 *   probe info   prints "malloc=<file defining the malloc in use> managed=<tmc_is_managed of a
 *                fresh block; -1 without libtmc>"
 *   probe ERROR  commits ERROR, then prints "ERROR: not detected" and exits 0 unless a
 *                sanitizer stopped it (a leak is reported at exit). ERROR is one of
 *                heap-overflow, use-after-free, stack-overflow, global-overflow, leak,
 *                signed-overflow; the sizes of the objects are hidden from the compiler,
 *                so that only ASan can see the overflows; heap-overflow-sized writes past
 *                a malloc(100) in the same function, which UBSan's object-size check sees. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_global[8];
static volatile int g_eight = 8;  /* volatile: the compiler cannot see the errors coming */
static volatile size_t g_hundred = 100;
static void* volatile g_keep;

/* p, of a size the compiler does not know. */
static volatile char* opaque(volatile char* p) {
  volatile char* volatile hidden = p;
  return hidden;
}

static void info(void) {
  int (*is_managed)(const void*) = (int (*)(const void*))dlsym(RTLD_DEFAULT, "tmc_is_managed");
  void* p = malloc(64);
  Dl_info di;
  const char* file = "?";
  if (dladdr(dlsym(RTLD_DEFAULT, "malloc"), &di) != 0 && di.dli_fname != NULL) {
    const char* slash = strrchr(di.dli_fname, '/');
    file = slash != NULL ? slash + 1 : di.dli_fname;
  }
  printf("malloc=%s managed=%d\n", file, is_managed != NULL ? is_managed(p) : -1);
  free(p);
}

/* Not inlined, so that no copy of the pointer stays in main's frame for LeakSanitizer. */
__attribute__((noinline)) static void leak(void) {
  g_keep = malloc(77);
  g_keep = NULL;
}

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "info";
  if (strcmp(what, "info") == 0) {
    info();
    return 0;
  }
  volatile char* heap = malloc(g_hundred);
  if (strcmp(what, "heap-overflow") == 0) {
    heap[g_hundred] = 1;
  } else if (strcmp(what, "heap-overflow-sized") == 0) {
    volatile char* sized = malloc(100);
    sized[92 + g_eight] = 1;
    free((void*)sized);
  } else if (strcmp(what, "use-after-free") == 0) {
    free((void*)heap);
    heap[0] = 1;
    heap = NULL;
  } else if (strcmp(what, "stack-overflow") == 0) {
    volatile char stack[8] = {0};
    opaque(stack)[g_eight] = stack[0];
  } else if (strcmp(what, "global-overflow") == 0) {
    opaque(g_global)[g_eight] = 1;
  } else if (strcmp(what, "leak") == 0) {
    leak();
  } else if (strcmp(what, "signed-overflow") == 0) {
    int sum = INT_MAX - 7 + g_eight;
    printf("%d\n", sum);
  } else {
    fprintf(stderr, "probe: unknown error '%s'\n", what);
    return 2;
  }
  free((void*)heap);
  printf("%s: not detected\n", what);
  return 0;
}
