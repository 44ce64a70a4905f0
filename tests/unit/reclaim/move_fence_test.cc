// MoveFence: a move and a read are never inside at once, and reads keep getting in while the
// reclaimer moves run after run with no pause between. (The starvation a forked child's
// reclaimer caused that way was seen in the torture harness, target-live; this test does not
// reproduce it without the fix on a two-core machine: it checks exclusion and progress.)
#include "reclaim/move_fence.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace tmc::reclaim {
namespace {

// Spins about `ns` nanoseconds: a move's UFFDIO_MOVE, or a read() and its events.
void busy(uint64_t ns) {
  auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST(MoveFence, MovesAndReadsNeverOverlapAndReadsGetIn) {
  MoveFence fence;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<bool> stop{false}, started{false};
  std::atomic<long> moves{0};
  // The reclaimer of a forked child whose moves all fail: one move after another, each a few
  // microseconds inside, with no pause between them.
  std::thread mover([&] {
    started.store(true);
    while (!stop.load()) {
      fence.enter_move();
      if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
      busy(3000);
      inside.fetch_sub(1);
      fence.leave_move();
      moves.fetch_add(1);
    }
  });
  while (!started.load()) std::this_thread::yield();
  // Progress, not speed: 20 s is far more than 2000 turns need.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  long reads = 0;
  while (reads < 2000 && std::chrono::steady_clock::now() < deadline) {
    fence.enter_read();
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    busy(1000);
    inside.fetch_sub(1);
    fence.leave_read();
    ++reads;
  }
  stop.store(true);
  mover.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(reads, 2000) << "the fault thread was kept out while the reclaimer moved";
  EXPECT_GT(moves.load(), 0);
}

TEST(MoveFence, ResetAfterForkOpensIt) {
  MoveFence fence;
  fence.enter_move();  // as if the reclaimer was inside when the process forked
  fence.reset_after_fork();
  fence.enter_read();  // would wait forever for a move that no thread of the child makes
  fence.leave_read();
  fence.enter_move();
  fence.leave_move();
  SUCCEED();
}

}  // namespace
}  // namespace tmc::reclaim
