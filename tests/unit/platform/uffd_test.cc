// What the kernel does with userfaultfd, checked on this machine: the facts libtmc's
// eviction and fork handling rely on. Each test needs a full userfaultfd and UFFDIO_MOVE;
// without them it is skipped with the reason (the library then runs as a plain allocator).
#include "platform/uffd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "platform/uffd_compat.h"

namespace tmc::platform {
namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kWanted = UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
                             UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_THREAD_ID;

class UffdTest : public testing::Test {
 protected:
  void open_or_skip(uint64_t extra = 0) {
    const char* why = nullptr;
    int err = uffd_.open(kWanted | extra, UFFD_FEATURE_MOVE, &why);
    if (err != 0) GTEST_SKIP() << "no usable userfaultfd: " << (why ? why : strerror(err));
  }
  char* map(size_t pages) {
    void* p = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    maps_[nmaps_++] = {p, pages * kPage};
    return static_cast<char*>(p);
  }
  void TearDown() override {
    uffd_.close();
    for (int i = 0; i < nmaps_; ++i) munmap(maps_[i].first, maps_[i].second);
  }
  bool read_event(uffd_msg* msg, int timeout_ms = 5000) {
    pollfd p{uffd_.fd(), POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return false;
    return read(uffd_.fd(), msg, sizeof(*msg)) == static_cast<ssize_t>(sizeof(*msg));
  }
  static bool present(const void* addr) {
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t entry = 0;
    pread(fd, &entry, 8, static_cast<off_t>(reinterpret_cast<uintptr_t>(addr) / kPage * 8));
    close(fd);
    return (entry >> 63) & 1;
  }
  static void fill(char* p, size_t n, int seed) {
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<char>(i * 31 + seed);
  }
  static bool same(const char* p, size_t n, int seed) {
    for (size_t i = 0; i < n; ++i)
      if (p[i] != static_cast<char>(i * 31 + seed)) return false;
    return true;
  }

  Uffd uffd_;
  std::pair<void*, size_t> maps_[8];
  int nmaps_ = 0;
};

TEST_F(UffdTest, NegotiatesTheFeaturesLibtmcNeeds) {
  open_or_skip();
  EXPECT_TRUE(uffd_.features().has(UFFD_FEATURE_MOVE));
  EXPECT_TRUE(uffd_.features().has(UFFD_FEATURE_EVENT_REMOVE));
  EXPECT_TRUE(uffd_.features().has(UFFD_FEATURE_THREAD_ID));
  EXPECT_GE(uffd_.fd(), 600) << "libtmc's descriptor stays out of the low numbers";
}

// Eviction's atomic step: after MOVE the application's page is gone (a touch faults) and
// the bytes are in libtmc's staging page. The destination must be registered too.
TEST_F(UffdTest, MoveTakesThePageOutAtomically) {
  open_or_skip();
  char* app = map(4);
  char* staging = map(5);
  fill(app, 4 * kPage, 1);
  ASSERT_EQ(uffd_.register_missing(app, 4 * kPage), 0);
  size_t moved = 0;
  EXPECT_EQ(uffd_.move(staging, app, kPage, false, &moved), EINVAL) << "unregistered destination";
  ASSERT_EQ(uffd_.register_missing(staging, 5 * kPage), 0);
  ASSERT_EQ(uffd_.move(staging, app, 4 * kPage, false, &moved), 0);
  EXPECT_EQ(moved, 4 * kPage);
  EXPECT_TRUE(same(staging, 4 * kPage, 1));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(present(app + i * kPage));
  // Moving onto a present page is refused; moving a page that is not there fails with
  // ENOENT rather than inventing one.
  EXPECT_EQ(uffd_.move(staging, app, kPage, false, &moved), EEXIST);
  EXPECT_EQ(uffd_.move(staging + 4 * kPage, app, kPage, false, &moved), ENOENT);
}

// The fault path: a touch of a moved-out page blocks the thread and reports the address
// and the thread; COPY puts the bytes back and wakes it; a second COPY says EEXIST.
TEST_F(UffdTest, FaultIsReportedAndCopyResolvesIt) {
  open_or_skip();
  char* app = map(1);
  char* staging = map(1);
  fill(app, kPage, 2);
  ASSERT_EQ(uffd_.register_missing(app, kPage), 0);
  ASSERT_EQ(uffd_.register_missing(staging, kPage), 0);
  size_t moved;
  ASSERT_EQ(uffd_.move(staging, app, kPage, false, &moved), 0);
  char seen = 0;
  pid_t reader_tid = 0;
  std::thread reader([&] {
    reader_tid = gettid();
    seen = app[100];
  });
  uffd_msg msg{};
  ASSERT_TRUE(read_event(&msg));
  EXPECT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
  EXPECT_EQ(msg.arg.pagefault.address & ~(kPage - 1), reinterpret_cast<uintptr_t>(app));
  char buf[kPage];
  memcpy(buf, staging, kPage);
  EXPECT_EQ(uffd_.copy(app, buf, kPage, true), 0);
  reader.join();
  EXPECT_EQ(seen, static_cast<char>(100 * 31 + 2));
  EXPECT_EQ(msg.arg.pagefault.feat.ptid, static_cast<uint32_t>(reader_tid));
  EXPECT_EQ(uffd_.copy(app, buf, kPage, true), EEXIST);
  EXPECT_TRUE(same(app, kPage, 2));
}

// A page shared with a forked child cannot be moved exclusively: eviction must skip it.
TEST_F(UffdTest, MoveRefusesPagesSharedWithAChild) {
  open_or_skip();
  char* app = map(1);
  char* staging = map(1);
  fill(app, kPage, 3);
  ASSERT_EQ(uffd_.register_missing(app, kPage), 0);
  ASSERT_EQ(uffd_.register_missing(staging, kPage), 0);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();  // this descriptor has no EVENT_FORK: fork does not wait for us
  if (child == 0) {
    char c;
    read(go[0], &c, 1);
    _exit(0);
  }
  size_t moved;
  EXPECT_EQ(uffd_.move(staging, app, kPage, false, &moved), EBUSY);
  write(go[1], "x", 1);
  waitpid(child, nullptr, 0);
  EXPECT_TRUE(same(app, kPage, 3));
}

// Invariant 2: MADV_DONTNEED on a registered range reaches libtmc as a REMOVE event, so the
// state of evicted pages in it can be dropped before anything reads them again.
TEST_F(UffdTest, DontneedIsReportedAsRemove) {
  open_or_skip();
  char* app = map(4);
  fill(app, 4 * kPage, 4);
  ASSERT_EQ(uffd_.register_missing(app, 4 * kPage), 0);
  std::thread purger([&] { madvise(app + kPage, 2 * kPage, MADV_DONTNEED); });
  uffd_msg msg{};
  ASSERT_TRUE(read_event(&msg));
  purger.join();
  EXPECT_EQ(msg.event, UFFD_EVENT_REMOVE);
  EXPECT_EQ(msg.arg.remove.start, reinterpret_cast<uint64_t>(app + kPage));
  EXPECT_EQ(msg.arg.remove.end, reinterpret_cast<uint64_t>(app + 3 * kPage));
}

// Invariant 3, the trap: without EVENT_FORK a child loses the registration, and a page
// moved out before fork reads as zeros there (a corrupt Redis BGSAVE).
TEST_F(UffdTest, ChildWithoutForkEventReadsZeros) {
  open_or_skip();
  char* app = map(1);
  char* staging = map(1);
  fill(app, kPage, 5);
  ASSERT_EQ(uffd_.register_missing(app, kPage), 0);
  ASSERT_EQ(uffd_.register_missing(staging, kPage), 0);
  size_t moved;
  ASSERT_EQ(uffd_.move(staging, app, kPage, false, &moved), 0);
  pid_t child = fork();
  if (child == 0) _exit(app[7] == 0 ? 0 : 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child saw non-zero bytes";
}

// Invariant 3, the remedy: with EVENT_FORK the child's registration lives on in a new
// descriptor delivered to us; the child's fault waits there and is served with the bytes
// it had at fork time.
TEST_F(UffdTest, ForkEventHandsOverTheChildsFaults) {
  open_or_skip(UFFD_FEATURE_EVENT_FORK);
  if (!uffd_.features().has(UFFD_FEATURE_EVENT_FORK)) GTEST_SKIP() << "no UFFD_FEATURE_EVENT_FORK";
  char* app = map(1);
  char* staging = map(1);
  fill(app, kPage, 6);
  ASSERT_EQ(uffd_.register_missing(app, kPage), 0);
  ASSERT_EQ(uffd_.register_missing(staging, kPage), 0);
  size_t moved;
  ASSERT_EQ(uffd_.move(staging, app, kPage, false, &moved), 0);
  int child_uffd = -1;
  // fork() blocks until the FORK event is read, so another thread reads it.
  std::thread events([&] {
    uffd_msg msg{};
    if (read_event(&msg) && msg.event == UFFD_EVENT_FORK) child_uffd = static_cast<int>(msg.arg.fork.ufd);
  });
  pid_t child = fork();
  if (child == 0) _exit(same(app, kPage, 6) ? 0 : 1);
  events.join();
  ASSERT_GE(child_uffd, 0);
  Uffd for_child;
  for_child.adopt(child_uffd, uffd_.features());
  pollfd p{for_child.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  uffd_msg msg{};
  ASSERT_EQ(read(for_child.fd(), &msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
  ASSERT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
  EXPECT_EQ(for_child.copy(app, staging, kPage, true), 0);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child saw wrong bytes";
  for_child.close();
}

}  // namespace
}  // namespace tmc::platform
