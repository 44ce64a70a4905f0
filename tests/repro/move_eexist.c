// Does UFFDIO_MOVE report what it moved? Moves runs of present pages out of a registered
// area into an empty staging range while other threads read those pages and age them
// (MADV_COLD clears their accessed bits, so the source PTEs change under the move), then
// compares the result with the page tables (/proc/self/pagemap): the first `move` bytes
// must have left the source and arrived at the destination, and nothing else.
// A page that left its source while the ioctl said it did not is reported.
//
// Linux 6.18 (this VM): with both threads, about 1 move in 7,000-50,000 returns EEXIST and
// move=-EEXIST while every page of it sits at the destination; none with either thread alone.
//
// build: gcc -O2 -pthread -o move_eexist tests/repro/move_eexist.c   (run as root)
// usage: move_eexist SECONDS [READER] [AGER] [MAX_RUN]   (READER, AGER 1/0: run the reading
//        thread, the MADV_COLD thread, default both; MAX_RUN: pages per move, 1..64, default 64.
//        Exit 0: every result matched the page tables)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef UFFDIO_MOVE  // Linux 6.8; newer than Debian 12's headers
struct uffdio_move { uint64_t dst, src, len, mode; int64_t move; };
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#define PAGES 512  // one page table
#define PS 4096UL
static char* area;
static char* staging;
static int uffd, pagemap;
static volatile int stop;

static int present(const void* p) {
  uint64_t e = 0;
  if (pread(pagemap, &e, 8, (off_t)((uintptr_t)p / PS * 8)) != 8) abort();
  return (int)(e >> 63);
}

static void* reader(void* arg) {
  (void)arg;
  unsigned sum = 0;
  while (!stop)
    for (int i = 0; i < PAGES; ++i) sum += *(volatile unsigned char*)(area + i * PS);
  return (void*)(uintptr_t)sum;
}

static void* ager(void* arg) {
  (void)arg;
  while (!stop) madvise(area, PAGES * PS, MADV_COLD);
  return NULL;
}

static int move(char* dst, char* src, size_t len, long* moved, int wake) {
  struct uffdio_move m = {(uintptr_t)dst, (uintptr_t)src, len, wake ? 0 : 1 /* DONTWAKE */, 0};
  int rc = ioctl(uffd, UFFDIO_MOVE, &m);
  *moved = m.move;
  return rc == 0 ? 0 : errno;
}

int main(int argc, char** argv) {
  int secs = argc > 1 ? atoi(argv[1]) : 20;
  int with_reader = argc > 2 ? atoi(argv[2]) : 1, with_ager = argc > 3 ? atoi(argv[3]) : 1;
  int max_run = argc > 4 ? atoi(argv[4]) : 64;
  if (max_run < 1 || max_run > 64) max_run = 64;
  uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  struct uffdio_api api = {UFFD_API, UFFD_FEATURE_MOVE, 0};
  if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) { perror("userfaultfd"); return 2; }
  pagemap = open("/proc/self/pagemap", O_RDONLY);
  // One 2 MiB-aligned page table each, no huge pages.
  char* a = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  area = (char*)(((uintptr_t)a + (2 << 20) - 1) & ~((uintptr_t)(2 << 20) - 1));
  staging = area + (4 << 20);
  madvise(area, 6 << 20, MADV_NOHUGEPAGE);
  for (int i = 0; i < PAGES; ++i) memcpy(area + i * PS, &i, sizeof(i));
  struct uffdio_register r1 = {{(uintptr_t)area, PAGES * PS}, UFFDIO_REGISTER_MODE_MISSING, 0};
  struct uffdio_register r2 = {{(uintptr_t)staging, PAGES * PS}, UFFDIO_REGISTER_MODE_MISSING, 0};
  if (ioctl(uffd, UFFDIO_REGISTER, &r1) || ioctl(uffd, UFFDIO_REGISTER, &r2)) { perror("register"); return 2; }
  pthread_t t1, t2;
  if (with_reader) pthread_create(&t1, NULL, reader, NULL);
  if (with_ager) pthread_create(&t2, NULL, ager, NULL);
  uint64_t x = 88172645463325252ull, tries = 0, ok = 0, partial = 0, errors = 0, lies = 0;
  time_t end = time(NULL) + secs;
  while (time(NULL) < end) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int start = (int)(x % PAGES), len = 1 + (int)((x >> 16) % (uint64_t)max_run);
    if (start + len > PAGES) len = PAGES - start;
    long moved = 0;
    int err = move(staging, area + start * PS, (size_t)len * PS, &moved, 0);
    ++tries;
    long got = moved > 0 ? moved / (long)PS : 0;
    if (err == 0) ++ok; else if (got > 0) ++partial; else ++errors;
    if (err != 0) {
      // The page tables: the first `got` pages must be at the destination, the others not.
      int at_dst = 0, at_src = 0, mismatch = 0;
      for (int k = 0; k < len; ++k) {
        int d = present(staging + k * PS), s = present(area + (start + k) * PS);
        at_dst += d;
        at_src += s;
        if (d != (k < got) || s == d) mismatch = 1;
      }
      if (mismatch) {
        ++lies;
        if (lies <= 10)
          fprintf(stderr, "UFFDIO_MOVE of %d page(s) at page %d returned %s with move=%ld, but %d page(s) are at the"
                  " destination and %d at the source\n", len, start, strerror(err), moved, at_dst, at_src);
      }
      got = 0;
      while (got < len && present(staging + got * PS)) ++got;
    }
    // Put the pages back (and check they are the right ones).
    for (int k = 0; k < got; ++k) {
      int idx;
      memcpy(&idx, staging + k * PS, sizeof(idx));
      if (idx != start + k) { fprintf(stderr, "page %d found in the slot for page %d\n", idx, start + k); return 1; }
    }
    if (got > 0) {
      long m2 = 0;
      int e2 = move(area + start * PS, staging, (size_t)got * PS, &m2, 1);
      if (e2 != 0) {  // put back page by page, trusting only the page tables
        for (int k = 0; k < got; ++k) {
          if (!present(staging + k * PS)) continue;
          while ((e2 = move(area + (start + k) * PS, staging + k * PS, PS, &m2, 1)) == EAGAIN && present(staging + k * PS)) {}
        }
        for (int k = 0; k < got; ++k)
          if (present(staging + k * PS) || !present(area + (start + k) * PS)) { fprintf(stderr, "cannot put page %d back\n", start + k); return 2; }
      }
    }
  }
  stop = 1;
  if (with_ager) pthread_join(t2, NULL);
  if (with_reader) pthread_join(t1, NULL);
  printf("move_eexist (reader %d, ager %d): %lu moves (%lu complete, %lu short, %lu failed); %lu did not report what they moved\n",
         with_reader, with_ager, tries, ok, partial, errors, lies);
  return lies != 0;
}
