// numa_guest_probe: checks that a machine offers what libtmc's NUMA tiering needs.
//
// Meant to run inside the two-node QEMU guest of scripts/numa_guest.sh (node 0: CPUs + memory,
// node 1: memory only, farther away, like a CXL expander), but it runs anywhere with >= 2 nodes.
// Standalone on purpose (no libtmc headers) so it builds with just gcc and libnuma:
//
//   gcc -O2 -Wall -Wextra -o numa_guest_probe tests/numa/numa_guest_probe.c -lnuma
//   scripts/numa_guest.sh -- ./numa_guest_probe
//
// Checks, each printed as "ok"/"FAIL"; exit status 0 only if all pass:
//   1. libnuma works, exactly 2 nodes configured, distance(0,1) > distance(0,0),
//      node 1 has memory and no CPUs;
//   2. 64 MiB of anonymous memory moves to node 1 with move_pages(2), a status query
//      (nodes == NULL) confirms every page is there, it moves back to node 0, is confirmed
//      again, and the content is unchanged;
//   3. userfaultfd opens, UFFDIO_API reports UFFD_FEATURE_MOVE, a registered range offers
//      UFFDIO_MOVE, and one real UFFDIO_MOVE of a page works (the operation libtmc relies on).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// Debian 12's /usr/include/linux/userfaultfd.h is from Linux 6.1 and lacks the MOVE API
// (added in 6.8): libtmc's compat header has it.
#include "platform/uffd_compat.h"
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define REGION_BYTES (64UL << 20)

static int failures;

static void check(int ok, const char *what) {
  printf("%-4s %s\n", ok ? "ok" : "FAIL", what);
  fflush(stdout);
  if (!ok) failures++;
}

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// Pattern that depends on the address so a page swapped with another is caught too.
static uint64_t pattern(size_t i) { return (uint64_t)i * 0x9E3779B97F4A7C15ULL ^ 0xC0FFEE; }

static void check_topology(void) {
  check(numa_available() >= 0, "numa_available()");
  if (numa_available() < 0) return;
  int nodes = numa_num_configured_nodes();
  printf("     configured nodes: %d, configured cpus: %d\n", nodes, numa_num_configured_cpus());
  check(nodes == 2, "numa_num_configured_nodes() == 2");
  if (nodes < 2) return;
  int d00 = numa_distance(0, 0), d01 = numa_distance(0, 1);
  printf("     distance(0,0)=%d distance(0,1)=%d\n", d00, d01);
  check(d00 > 0 && d01 > d00, "numa_distance(0,1) > numa_distance(0,0)");

  long long free1 = 0;
  long long size1 = numa_node_size64(1, &free1);
  printf("     node 1: %lld MiB, %lld MiB free\n", size1 >> 20, free1 >> 20);
  check(size1 > 0, "node 1 has memory");

  struct bitmask *cpus = numa_allocate_cpumask();
  int rc = numa_node_to_cpus(1, cpus);
  unsigned weight = rc == 0 ? numa_bitmask_weight(cpus) : 0;
  numa_free_cpumask(cpus);
  check(rc == 0 && weight == 0, "node 1 has no CPUs (memory-only, like a CXL expander)");
}

// Moves every page to `node` (nodes[] all == node), then queries (nodes == NULL) and
// requires status[i] == node for all pages.
static int move_all(void **pages, size_t n, int node, int *nodes, int *status) {
  for (size_t i = 0; i < n; i++) nodes[i] = node;
  double t0 = now_sec();
  long rc = move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE);
  double dt = now_sec() - t0;
  if (rc < 0) {
    printf("     move_pages(to node %d): %s\n", node, strerror(errno));
    return 0;
  }
  // rc > 0: number of pages not migrated (Linux >= 4.17).
  printf("     moved %zu pages to node %d in %.3f s (%.0f MiB/s), not migrated: %ld\n", n, node,
         dt, (double)(n * (size_t)getpagesize()) / (1 << 20) / (dt > 0 ? dt : 1e-9), rc);
  memset(status, 0x7f, n * sizeof(*status));
  if (move_pages(0, n, pages, NULL, status, 0) < 0) {
    printf("     move_pages(query): %s\n", strerror(errno));
    return 0;
  }
  size_t wrong = 0;
  for (size_t i = 0; i < n; i++) {
    if (status[i] != node) {
      if (wrong < 5) printf("     page %zu: status %d, wanted node %d\n", i, status[i], node);
      wrong++;
    }
  }
  if (wrong) printf("     %zu of %zu pages not on node %d\n", wrong, n, node);
  return wrong == 0;
}

static void check_migration(void) {
  if (numa_available() < 0 || numa_num_configured_nodes() < 2) {
    check(0, "page migration (needs 2 nodes)");
    return;
  }
  size_t page = (size_t)getpagesize();
  size_t n = REGION_BYTES / page;
  uint64_t *mem = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
  if (mem == MAP_FAILED) {
    check(0, "mmap 64 MiB");
    return;
  }
  size_t words = REGION_BYTES / sizeof(uint64_t);
  for (size_t i = 0; i < words; i++) mem[i] = pattern(i);  // touches (faults in) every page

  void **pages = calloc(n, sizeof(*pages));
  int *nodes = calloc(n, sizeof(*nodes));
  int *status = calloc(n, sizeof(*status));
  if (!pages || !nodes || !status) {
    check(0, "allocate move_pages arrays");
    return;
  }
  for (size_t i = 0; i < n; i++) pages[i] = (char *)mem + i * page;

  check(move_all(pages, n, 1, nodes, status), "64 MiB moved to node 1 and verified there");
  check(move_all(pages, n, 0, nodes, status), "64 MiB moved back to node 0 and verified there");

  size_t bad = 0;
  for (size_t i = 0; i < words; i++) bad += mem[i] != pattern(i);
  check(bad == 0, "content unchanged after the round trip");

  free(pages);
  free(nodes);
  free(status);
  munmap(mem, REGION_BYTES);
}

static void check_userfaultfd(void) {
  if (access("/proc/sys/vm/unprivileged_userfaultfd", F_OK) == 0)
    printf("     /proc/sys/vm/unprivileged_userfaultfd exists\n");
  // UFFD_USER_MODE_ONLY lets unprivileged processes open one whatever the sysctl says
  // (Linux >= 5.11); it is also all libtmc needs (it handles user-space faults only).
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    printf("     userfaultfd(): %s\n", strerror(errno));
    check(0, "userfaultfd opens");
    return;
  }
  check(1, "userfaultfd opens");

  // features = 0 asks for the handshake only; the kernel answers with everything it offers.
  struct uffdio_api api = {.api = UFFD_API, .features = 0};
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    printf("     UFFDIO_API: %s\n", strerror(errno));
    check(0, "UFFDIO_API");
    close(fd);
    return;
  }
  printf("     UFFDIO_API features: 0x%llx, ioctls: 0x%llx\n", (unsigned long long)api.features,
         (unsigned long long)api.ioctls);
  int has_move = (api.features & UFFD_FEATURE_MOVE) != 0;
  check(has_move, "UFFD_FEATURE_MOVE (1<<16) offered");
  close(fd);
  if (!has_move) return;

  // A second handshake that enables MOVE, then one real UFFDIO_MOVE: a page from an
  // unregistered source into a registered (missing-mode) destination.
  fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  api = (struct uffdio_api){.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
  size_t page = (size_t)getpagesize();
  char *src = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *dst = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fd < 0 || ioctl(fd, UFFDIO_API, &api) != 0 || src == MAP_FAILED || dst == MAP_FAILED) {
    printf("     setup for UFFDIO_MOVE: %s\n", strerror(errno));
    check(0, "UFFDIO_MOVE of one page");
    if (fd >= 0) close(fd);
    return;
  }
  struct uffdio_register reg = {.range = {.start = (uintptr_t)dst, .len = page},
                                .mode = UFFDIO_REGISTER_MODE_MISSING};
  int reg_ok = ioctl(fd, UFFDIO_REGISTER, &reg) == 0;
  check(reg_ok && (reg.ioctls & (1ULL << _UFFDIO_MOVE)), "registered range offers UFFDIO_MOVE");

  memset(src, 0x5a, page);
  struct uffdio_move mv = {.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = page, .mode = 0};
  int mv_ok = reg_ok && ioctl(fd, UFFDIO_MOVE, &mv) == 0 && mv.move == (__s64)page;
  if (!mv_ok) printf("     UFFDIO_MOVE: %s (move=%lld)\n", strerror(errno), (long long)mv.move);
  // After a move the source is empty again: reading it faults in the zero page.
  check(mv_ok && dst[0] == 0x5a && dst[page - 1] == 0x5a && src[0] == 0,
        "UFFDIO_MOVE of one page");
  close(fd);
  munmap(src, page);
  munmap(dst, page);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("numa_guest_probe: topology\n");
  check_topology();
  printf("numa_guest_probe: page migration\n");
  check_migration();
  printf("numa_guest_probe: userfaultfd\n");
  check_userfaultfd();
  printf("numa_guest_probe: %s (%d failure%s)\n", failures ? "FAILED" : "PASSED", failures,
         failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
