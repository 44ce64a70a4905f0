// The compression engine: everything that moves heap pages out of the application's page
// tables and back. Shared state lives here; the two threads that act on it are the
// reclaimer (reclaimer.cc: picks cold pages, evicts them) and the fault service
// (fault/fault_service.cc: brings pages back, handles REMOVE and FORK events).
//
// Lock order (each lock is a leaf unless listed here; none is held across a wait on
// another thread except where noted):
//   1. reclaim_lock_   the reclaimer holds it for one batch; jemalloc's purge hook holds it
//                      around its madvise so no page of a purged range is mid-eviction
//                      (the madvise waits for the fault thread to read a REMOVE event; the
//                      fault thread never takes reclaim_lock_). A fork holds it from
//                      prefork to postfork; without fork events prefork waits for the
//                      fault thread's restore pass while holding it (engine.cc).
//   2. staging_lock_   the staging slots: the reclaimer while committing or dropping slots,
//                      the fault thread while copying a page out of a slot.
//   3. pool_lock_      blob reads (fault thread) against compaction (reclaimer), which holds
//                      it (and reclaim_lock_) for one Pool::compact_step at a time.
//   move_fence_        not a lock in this order: the reclaimer enters it for one move
//                      (possibly holding 1 and 2), the fault thread for one read() and its
//                      events (holding none, and taking only pool_lock_ inside); see
//                      move_fence.h.
// Application threads take only reclaim_lock_, and only inside the purge hook, where they
// cannot fault on managed memory (design invariant 4).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "base/spin_lock.h"
#include "base/wakeup.h"
#include "codec/codec.h"
#include "codec/dictionary.h"
#include "dedup/content_index.h"
#include "heap/regions.h"
#include "platform/uffd.h"
#include "pool/pool.h"
#include "reclaim/fork_window.h"
#include "reclaim/move_fence.h"
#include "reclaim/page_recycler.h"
#include "reclaim/probation.h"
#include "tmc/tmc.h"

namespace tmc::reclaim {

// The fault latency histogram: quarter-octave buckets of nanoseconds.
struct LatencyHistogram {
  static constexpr int kBuckets = 160;
  std::atomic<uint64_t> counts[kBuckets];
  void record(uint64_t ns);
  uint64_t percentile(double p) const;  // upper edge of the bucket holding percentile p
};

class Engine {
 public:
  // Opens userfaultfd and starts the fault and reclaimer threads. On failure, logs one line
  // saying why and returns false: the process runs on as a plain allocator.
  bool start(heap::RegionSet* regions);
  bool running() const { return running_.load(std::memory_order_acquire); }

  // jemalloc's purge hook calls these around its madvise (see the lock order above).
  void before_purge(void* addr, size_t len);
  void after_purge();

  // Fork protocol (runtime/fork.cc calls these in order).
  void prefork();
  void postfork_parent();
  void postfork_child();
  void close_fork_window();

  // Brings every evicted page (Staged, Compressed, SameFilled) of this process back, for
  // debuggers, core dumps and mlock. The fault thread does the work (it alone brings pages
  // back); the caller waits until a full pass that began after the call is done. Returns
  // the pages that pass brought back; 0 when the engine is not running. Safe from any
  // thread but the fault thread. Gives up after timeout_ns (returning 0): a crashing
  // process must dump core even if the pass cannot finish (runtime/crash_restore.h).
  // With keep_age the pages keep their age (they are evicted again as soon as eligible);
  // otherwise they count as just used. *left, if given, gets the evicted pages the pass
  // met but could not bring back.
  uint64_t restore_all(uint64_t timeout_ns = UINT64_MAX, bool keep_age = false, uint64_t* left = nullptr);
  // restore_all() again while pages are left (up to 50 passes, a millisecond apart): pages
  // met while an address-space event was pending come back at the next pass. Returns the
  // pages brought back; *left gets those still evicted after the last pass.
  uint64_t restore_every_page(bool keep_age, uint64_t* left);
  // Stops (true) or resumes eviction; pages already evicted are still served.
  void suspend_eviction(bool suspended) { eviction_suspended_.store(suspended, std::memory_order_release); }
  bool eviction_suspended() const { return eviction_suspended_.load(std::memory_order_acquire); }

  // Contributes the compression fields of the stats.
  void fill_stats(tmc_stats* out) const;

  // --- shared with the two threads ------------------------------------------------------
  static constexpr uint32_t kBatchPages = 64;  // one reclaimer batch
  // Staging slots: batches take consecutive slots of a ring, which is emptied (three system
  // calls that take the address-space lock for writing) only when it wraps.
  static constexpr uint32_t kStagingSlots = 8 * kBatchPages;

  heap::RegionSet* regions_ = nullptr;
  platform::Uffd uffd_;
  pool::Pool pool_;
  // TMC_FILE_AGE: blobs idle that long move to a file (pool/file_store.h; the reclaimer
  // moves them: reclaim/file_tier.h).
  pool::FileStore files_;
  void start_file_tier();
  uint32_t file_age_epochs() const;
  std::atomic<uint64_t> cpu_ns_file_{0};
  LatencyHistogram file_fault_latency_;  // faults whose blob came from the file
  // The reclaimer's registered pages: kStagingSlots of the ring, then the slots of
  // probation (probation_.slot_count(), none without TMC_PROBATION).
  char* staging_ = nullptr;
  size_t staging_bytes() const { return (size_t{kStagingSlots} + probation_.slot_count()) * heap::kPageSize; }
  // TMC_PROBATION (reclaim/probation.h): under reclaim_lock_, in engine memory so that a
  // forked child goes on with it.
  Probation probation_;
  uint64_t probation_age_ns_ = 0;
  std::atomic<uint64_t> probation_pages_{0}, probation_returned_{0}, probation_graduated_{0};
  // One registered page nobody touches: a thread that needs the fault thread's attention
  // now (restore_all) purges it, and the fault thread wakes up to read the REMOVE event
  // (ring_doorbell). Cheaper than a descriptor in the program's table or a signal.
  char* doorbell_ = nullptr;
  void ring_doorbell();
  PageRecycler recycler_;    // the reclaimer's: staging pages into the pool's new spans
  // A page's age is measured in epochs: seconds since the engine started (plus one) when a
  // cold age is set, reclaimer passes without one. Only the reclaimer advances it.
  std::atomic<uint32_t> epoch_{1};
  // The age from which pages are evicted now (epochs; policy::kNoThreshold: none), set by
  // the reclaimer each pass from the cold age and the RSS target; the fault thread moves
  // pages' heat against it.
  std::atomic<uint32_t> age_threshold_{0};
  std::atomic<uint64_t> target_bytes_{0};  // TMC_TARGET resolved to bytes (0: none)
  // Holding RSS at the target (policy::hold_fault). over_target_ is RSS minus the target,
  // read from VmRSS by the reclaimer every few tens of milliseconds and kept current in
  // between: the reclaimer subtracts what each committed batch frees, the fault thread adds
  // what each page it brings back costs. hold_ is off without a target and with
  // TMC_TARGET_HOLD=0. Faults are held while over_target_ is above the target's slack plus
  // target_floor_: how far above the target the reclaimer found it cannot bring RSS
  // (Reclaimer::note_floor; pages shared with a forked process, incompressible, outside
  // the heap).
  std::atomic<int64_t> over_target_{0};
  std::atomic<uint64_t> target_floor_{0};
  std::atomic<bool> hold_{false};
  std::atomic<uint32_t> faults_held_{0};  // faults waiting now (the fault thread's count)
  // Rung by the fault thread when it starts holding faults: the reclaimer's pauses and its
  // wait for the next epoch end at once.
  base::Wakeup room_wanted_;
  std::atomic<bool> pressure_{false};
  std::atomic<bool> running_{false};
  std::atomic<bool> failed_{false};  // an internal error stopped eviction (fail open)
  std::atomic<bool> locked_seen_{false};  // mlock()ed heap memory was met (logged once)

  // The compression dictionary (TMC_DICT): filled and sealed by the reclaimer, then
  // published by dict_ready_ (release). A page word with kFlagDict was committed after
  // that, so whoever reads such a word (acquire) sees the sealed dictionary.
  codec::Dictionary dict_;
  std::atomic<bool> dict_ready_{false};
  const codec::Dictionary* dictionary() const {
    return dict_ready_.load(std::memory_order_acquire) ? &dict_ : nullptr;
  }
  // The dictionary a Compressed page's blob decodes with (a deep blob: with the deep
  // codec, zstd; any other with the codec of TMC_CODEC).
  const codec::Dictionary* dictionary_for(heap::PageWord w) const {
    if (is_deep(w)) return &deep_dict_;
    return (w.flags() & heap::kFlagDict) != 0 ? &dict_ : nullptr;
  }
  static bool is_deep(heap::PageWord w) {
    return w.state() == heap::PageState::kCompressed && (w.flags() & heap::kFlagDeep) != 0;
  }

  // The seed of codec::page_hash for this process and its forked children (which inherit
  // the hashes in their page words): drawn at start, never shown, so that nobody can aim
  // hash collisions at dedup (design invariant 6).
  uint64_t hash_seed_ = 0;
  // Pool dedup (TMC_DEDUP): the reclaimer's index of blobs by content. In the engine, not the
  // reclaimer, so that a forked child's reclaimer goes on with its copy, which names the
  // child's copies of the same blobs.
  bool dedup_ = false;
  // Testing only (TMC_TEST_DEDUP_COLLIDE=1): every page gets the same dedup key, so each
  // lookup meets a page of other bytes, as an aimed hash collision would. Read at start:
  // a forked child's reclaimer must not read environ, which may be in the heap.
  bool dedup_collide_ = false;
  // Testing only (TMC_TEST_FAULT_START_DELAY_MS): the fault thread sleeps this long before
  // it sets up, as a thread scheduled late on a loaded machine would (data_path.early_fork).
  uint32_t fault_start_delay_ms_ = 0;
  dedup::ContentIndex dedup_index_;
  std::atomic<uint64_t> dedup_index_bytes_{0};  // dedup_index_.memory_bytes(), for the stats
  std::atomic<uint64_t> dedup_compared_{0}, dedup_collisions_{0}, cpu_ns_dedup_{0};

  // Clean-page retention (TMC_RETAIN; heap/page_state.h "Retained"): a page a fault brings
  // back keeps its blob, up to retain_max_ bytes of such blobs, so that evicting it again
  // with the same bytes costs no compression. retained_bytes_ and retained_pages_ count the
  // blobs held so; the fault thread adds, whoever releases one subtracts.
  uint64_t retain_max_ = 0;
  std::atomic<int64_t> retained_bytes_{0}, retained_pages_{0};
  std::atomic<uint64_t> retained_reused_{0}, retained_changed_{0};
  // Accounts for a retained blob of `size` bytes given up: reused by an eviction (it stays
  // in the pool, now a Compressed page's), or released (the RSS estimate of the target's
  // hold drops by its size, as when a fault releases a blob).
  void forget_retained(uint32_t size, bool released) {
    retained_bytes_.fetch_sub(size, std::memory_order_relaxed);
    retained_pages_.fetch_sub(1, std::memory_order_relaxed);
    if (released) over_target_.fetch_sub(size, std::memory_order_relaxed);
  }

  // Recompression of long-idle blobs (TMC_DEEP_AGE, reclaim/deep.h). The deep dictionary
  // is filled and sealed by the reclaimer, then published by deep_dict_ready_ (release); a
  // page word with kFlagDeep was committed after that, so whoever reads such a word
  // (acquire) sees it sealed. Forked children inherit it, as the first dictionary.
  static constexpr size_t kDeepDictBytes = size_t{512} << 10;  // bench/results/dictionary.md
  codec::Dictionary deep_dict_;
  std::atomic<bool> deep_dict_ready_{false};
  std::atomic<int64_t> deep_pages_{0};
  std::atomic<uint64_t> deep_recompressed_{0}, deep_saved_bytes_{0}, deep_given_back_{0}, cpu_ns_deep_{0};
  std::atomic<uint64_t> deep_sweeps_{0}, deep_sweep_candidates_{0};
  // Counted by the fault thread before each load of a page word it may bring a page back
  // from (Dekker-style, with a fence on each side): a recompressor that took a Compressed
  // page sees this move, or the fault thread between sections, before it trusts the page
  // tables to say whether a fault that had loaded the old word put the page back.
  std::atomic<uint64_t> fault_word_loads_{0};
  uint32_t deep_age_epochs() const;

  pthread_mutex_t reclaim_lock_ = PTHREAD_MUTEX_INITIALIZER;
  SpinLock staging_lock_;
  SpinLock pool_lock_;

  // ---- fork (engine.cc prefork; reclaim/fork_window.h says why and how) ----------------
  // Whether the kernel tells this process's userfaultfd about forks (UFFD_FEATURE_EVENT_FORK,
  // granted only with CAP_SYS_PTRACE). Without it a child's copy of the heap is registered
  // with no userfaultfd and its evicted pages would read as zeros: prefork then brings every
  // page back first, and the child opens a userfaultfd of its own (engine.cc).
  bool fork_events_ = true;
  // The child's userfaultfd goes to the child over this socket.
  std::atomic<int> fork_socket_{-1};
  // Open from prefork until the child serves its own faults (or the fork failed): the
  // fault thread frees no blob and uses no transient page state meanwhile.
  std::atomic<bool> fork_window_{false};
  // Set while the fault thread handles what it read (it reads fork_window_ once per such
  // section); prefork waits for it to clear after opening the window.
  std::atomic<bool> dispatching_{false};
  ForkWindowLog fork_log_;
  // The child's userfaultfd while this process's fault thread serves the child's faults
  // (from the FORK event until the child's own fault thread runs).
  std::atomic<int> child_serve_fd_{-1};
  std::atomic<bool> stop_child_serve_{false};
  std::atomic<bool> handed_over_{false};  // the fault thread has dealt with this fork's FORK event
  // In a forked child, false until the parent has stopped serving the child's faults: the
  // child's fault thread waits for it before it reads its descriptor.
  std::atomic<bool> child_may_serve_{true};
  std::atomic<int32_t> fault_tid_{0};  // the fault thread's kernel thread id

  // restore_all(): requests and completed passes, counted; the fault thread rings
  // restore_done_ after each pass.
  std::atomic<uint32_t> restore_asked_{0}, restore_passes_{0};
  std::atomic<uint64_t> restore_last_count_{0}, restore_last_left_{0};
  std::atomic<bool> restore_keep_age_{false};  // the next pass keeps pages' ages
  base::Wakeup restore_done_;
  std::atomic<bool> eviction_suspended_{false};
  // The reclaimer's moves against the fault thread's reading of events (move_fence.h).
  MoveFence move_fence_;
  // The range of the purge under way through the purge guard (one at a time: it holds
  // reclaim_lock_), so the fault thread can tell its REMOVE event from an unguarded one.
  std::atomic<uintptr_t> guarded_purge_start_{0}, guarded_purge_end_{0};

  // Kernel thread ids of libtmc's own threads that could touch managed memory by mistake (the
  // reclaimer, the background thread); a fault from one of them is a bug (invariant 4),
  // counted in self_faults. (A fault by the fault thread itself could never be served.)
  static constexpr int kOwnThreads = 4;
  std::atomic<int32_t> own_tids_[kOwnThreads] = {};
  void add_own_thread(int32_t tid);
  bool is_own_thread(int32_t tid) const;
  // The page Reclaimer::unshare() is writing in place (0: none): a fault of the reclaimer's
  // there is the race that function describes, not a bug (unshare_purged).
  std::atomic<uintptr_t> unshare_page_{0};
  // Testing only (TMC_TEST_UNSHARE_DELAY_US): unshare() waits this long between its look at
  // the page word and its write, so that a test can make that race happen.
  uint32_t unshare_delay_us_ = 0;

  // Counters.
  std::atomic<uint64_t> self_faults_{0}, fault_around_{0}, verify_failures_{0}, unshared_pages_{0}, unshare_purged_{0},
      move_misreports_{0}, fork_restored_pages_{0};
  std::atomic<uint64_t> backoff_pages_{0}, pool_full_{0}, throttle_ns_{0}, held_faults_{0}, hold_ns_{0};
  LatencyHistogram refault_distance_ms_;  // same buckets, milliseconds
  std::atomic<uint64_t> evictions_{0}, faults_{0}, refaults_{0}, zero_pages_{0}, same_pages_{0},
      compressed_pages_{0}, incompressible_{0}, busy_skips_{0};
  // CPU of the fault thread and of the reclaimer (each reported by its own thread).
  std::atomic<uint64_t> cpu_ns_fault_{0}, cpu_ns_reclaim_{0};
  LatencyHistogram fault_latency_;

  // Fork without fork events (fork_events_ false): engine.cc.
  void restore_before_fork();
  void start_child_without_fork_events();
  bool register_staging(char* staging);  // and the doorbell

  // Records an unrecoverable internal error: eviction stops, pages already out keep being
  // served. Logged once.
  void fail(const char* what, int err);
  uint32_t cold_age_epochs() const;
};

Engine& engine();

// Marks every block of the regions unregistered with userfaultfd (a forked child without
// fork events, whose copy of the heap the kernel registered with nothing); reclaimer.cc.
void clear_block_registrations(heap::RegionSet* regions);

// Thread bodies (reclaimer.cc, fault/fault_service.cc).
void* reclaimer_main(void* engine);
void* fault_service_main(void* engine);

}  // namespace tmc::reclaim
