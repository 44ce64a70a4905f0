// The reclaimer thread: finds pages that have not been brought back by a fault for
// TMC_COLD_AGE and evicts them in batches:
//
//   1. MOVE:   CAS Resident→Evicting, UFFDIO_MOVE the page into a staging slot, → Staged.
//              After the move the application's page is gone: a touch faults and the fault
//              thread copies the page back from the slot. No write can be lost (invariant 1).
//              Runs of contiguous pages move with one UFFDIO_MOVE. When a move fails, the
//              page tables, not its report, say which pages moved (see reconcile_run).
//   2. ENCODE: same-filled? the same bytes as a pooled page (dedup)? compress (lz4/zstd);
//              too little saving → put back.
//   3. COMMIT: under staging_lock_, CAS Staged→Compressed|SameFilled, or move the page back;
//              a failed CAS means the page was faulted back or purged meanwhile, and the
//              blob is dropped. The slots are emptied (MADV_DONTNEED) when the ring of
//              staging slots wraps.
//
// Which pages are candidates: present and mapped by this process alone (pagemap), in the
// part of a region jemalloc has used, Resident, and old enough (policy/policy.h): not
// faulted back for the age threshold times 2^heat. The threshold is TMC_COLD_AGE, or lower
// while RSS is above TMC_TARGET. Use is seen only when an evicted page faults back, so a
// hot page is evicted now and then (the sampling of its use), and one that comes back
// soon is given more heat: it waits twice as long before the next try, and so on.
//
// Write tracking with PAGEMAP_SCAN's written bits (asynchronous write-protection) was
// tried and is not used: combined with UFFDIO_MOVE eviction it lost writes in
// compress_stress on Linux 6.18 (docs/ARCHITECTURE.md, "Not used: write bits").
//
// The work is paced to TMC_CPU_BUDGET (policy::Pacer): the full budget under memory
// pressure or on an idle machine, a quarter of it otherwise.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "base/log.h"
#include "base/meta_alloc.h"
#include "codec/same_filled.h"
#include "control/options.h"
#include "heap/eviction_gate.h"
#include "platform/mm.h"
#include "platform/pagemap.h"
#include "platform/proc_fs.h"
#include "policy/policy.h"
#include "reclaim/deep.h"
#include "reclaim/file_tier.h"
#include "reclaim/engine.h"

namespace tmc::reclaim {
namespace {

using control::OptionId;
using heap::kPageSize;
using heap::PageEntry;
using heap::PageState;
using heap::PageWord;

using platform::kPagemapExclusive;
using platform::kPagemapPresent;
// How many epochs a page that did not compress waits before it is tried again (64 s with a
// cold age, 64 passes without). Each try moves it out and back and runs the codec on it;
// passes that evict young pages for the RSS target would otherwise try it at every pass,
// on the time of the faults waiting for room.
constexpr uint32_t kIncompressibleRetryEpochs = 64;
// Block flags (RegionView::blocks).
constexpr uint8_t kBlockRegistered = 1;  // registered with userfaultfd
constexpr uint8_t kBlockLocked = 2;      // holds mlock()ed memory: never evicted
// Without pressure and with a busy machine, the reclaimer uses this share of its budget.
constexpr double kQuietBudgetShare = 0.25;
// A machine whose CPUs were idle at least this share of the last pass counts as idle.
constexpr double kIdleMachineShare = 0.5;
// PSI "some avg10" (percent) from which the machine counts as under memory pressure.
constexpr double kPsiPressure = 1.0;
// How often VmRSS is read while a target is set, to correct Engine::over_target_.
constexpr uint64_t kRssRefreshNs = 50'000'000;
// How long after the target last held a fault the reclaimer keeps making room ahead of the
// faults, unpaced (Reclaimer::target_demands_room).
constexpr uint64_t kDemandWindowNs = 2'000'000'000;
// Pool compaction (Reclaimer::compact_pool_if_sparse). A fault frees its page's blob, at
// random places in the pool's spans, and a span goes back only once all of its blobs are
// gone: under a Zipf load that brought pages back, the pool of a 450 MiB Redis held up to
// 100 MiB more than its blobs, compacted every 16 passes, and the process cost 70 MiB more
// than without libtmc (bench/results/rss_excess.md). So the pool is compacted as soon as what it would
// give back (spans its free slots make up, dirty pages) is more than kCompactMinBytes and
// 1/kCompactShare of the pool, looked at every kCompactCheckNs.
// A quiet process (a pass that evicted nothing and no fault since the last one) is compacted
// down to 1/kQuietCompactShare: nothing frees blobs in it any more, so what is left is paid
// for once (a few ms for the last 1/32 of a 400 MiB pool) and saves that share of RSS for
// as long as the data stays idle.
constexpr uint64_t kCompactMinBytes = uint64_t{2} << 20;
constexpr uint64_t kCompactShare = 32;
constexpr uint64_t kQuietCompactShare = 512;
constexpr uint64_t kCompactCheckNs = 100'000'000;
// Blob bytes moved per hold of pool_lock_ and reclaim_lock_, and dirty pool bytes dropped
// per hold of reclaim_lock_: a fault reading a blob waits for the first lock, jemalloc's
// purges for the second. Here a step moved 256 KiB in 60-150 us, and dropping 2 MiB of
// the scattered pages of emptied spans took 1-2.5 ms (a system call per run of pages);
// compacting and purging all at once held both locks for 80-140 ms with 240 MiB to free.
constexpr size_t kCompactStepBytes = size_t{256} << 10;
constexpr size_t kTrimStepBytes = size_t{2} << 20;
// Recompression of idle blobs (deep.h) and moves to the file tier (file_tier.h) run after a
// pass, each for at most this much of the thread's CPU and of wall time per epoch, paced by
// the budget like eviction, so that they never delay the next pass by much.
constexpr uint64_t kIdleSliceCpuNs = 100'000'000;
constexpr uint64_t kIdleSliceWallNs = 500'000'000;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Slot {
  uintptr_t page;
  PageEntry* entry;
  PageWord staged;  // the word the page is expected to hold: Resident when picked, then Staged
  codec::Encoded encoded;
  pool::Handle handle;
  uint64_t hash;  // codec::page_hash of the page's bytes (TMC_VERIFY, dedup), for its entry; 0: not taken
  bool shared;    // handle is another page's blob, with a reference of this page's (dedup)
  // The page's retained blob (TMC_RETAIN), owned by this slot from the move to Evicting
  // until encode() reuses or releases it (0: none, or given back to the word).
  pool::Handle retained;
  bool retained_dict;
  bool reused;  // handle is the page's retained blob: no compression, and no new pool bytes
  uint32_t slot;  // the staging slot it was moved to (a ring slot, or one of probation's)
};

static_assert(Probation::kChunkPages == Engine::kBatchPages, "a batch fills one probation chunk");

class Reclaimer {
 public:
  explicit Reclaimer(Engine& e) : e_(e), deep_(e), file_mover_(e) {}

  bool init() {
    auto kind = control::option(OptionId::codec) == 1 ? codec::CodecKind::kZstd : codec::CodecKind::kLz4;
    if (!codec_.init(kind, static_cast<int>(control::option(OptionId::zstd_level)))) {
      log::warn().str("the reclaimer could not set up its codec; nothing will be compressed").flush();
      return false;
    }
    blob_ = static_cast<char*>(base::meta_alloc(2 * kPageSize));
    candidate_ = static_cast<char*>(base::meta_alloc(kPageSize));
    file_blob_ = static_cast<char*>(base::meta_alloc(kPageSize));
    pagemap_ = static_cast<uint64_t*>(base::meta_alloc(heap::kPagesPerBlock * sizeof(uint64_t)));
    probe_ = static_cast<uint64_t*>(base::meta_alloc(2 * Engine::kBatchPages * sizeof(uint64_t)));
    if (int err = pagemap_file_.open()) {
      log::warn().str("cannot read /proc/self/pagemap (").str(strerrorname_np(err)).str("); nothing will be compressed").flush();
      return false;
    }
    zero_frame_ = pagemap_file_.zero_page_frame();
    // Recycling staged pages into the pool is an optimisation: without it (a kernel that
    // refuses the descriptor) the pool takes fresh pages.
    e_.recycler_.open();
    e_.recycler_.restart(e_.staging_);
    cpu_reported_ = platform::thread_cpu_ns();
    pacer_.reset(now_ns(), cpu_reported_);
    platform::machine_cpu_ticks(&idle_ticks_, &total_ticks_);
    max_blob_ = kPageSize * (100 - control::option(OptionId::min_saving)) / 100;
    verify_ = control::option_bool(OptionId::verify);
    // A forked child inherits the parent's dictionary, sealed or half filled.
    if (control::option(OptionId::dict) != 0 && e_.dict_.memory_bytes() == 0 &&
        !e_.dict_.init(kind, static_cast<int>(control::option(OptionId::zstd_level))))
      log::warn().str("no compression dictionary; pages are compressed without one").flush();
    if (blob_ == nullptr || candidate_ == nullptr || file_blob_ == nullptr || pagemap_ == nullptr || probe_ == nullptr) {
      log::warn().str("the reclaimer has no memory for its buffers; nothing will be compressed").flush();
      return false;
    }
    deep_.init(&codec_, &pagemap_file_);  // says why if it cannot; eviction goes on without it
    file_mover_.init();
    return true;
  }

  // Background work between passes (no lock held): step(now) again and again for one slice
  // (kIdleSliceCpuNs of CPU, kIdleSliceWallNs of wall time at most), paced by the CPU
  // budget, while step says there is more and yield() does not; the CPU goes to *cpu_stat.
  template <typename Step, typename Yield>
  void idle_slice(Step step, Yield yield, std::atomic<uint64_t>& cpu_stat) {
    const uint32_t now = e_.epoch_.load(std::memory_order_relaxed);
    const uint64_t cpu_start = platform::thread_cpu_ns();
    const uint64_t wall_start = now_ns();
    for (uint64_t cpu = cpu_start;;) {
      if (yield()) return;
      const bool more = step(now);
      const uint64_t after = platform::thread_cpu_ns();
      cpu_stat.fetch_add(after - cpu, std::memory_order_relaxed);
      cpu = after;
      if (!more || cpu - cpu_start > kIdleSliceCpuNs || now_ns() - wall_start > kIdleSliceWallNs) return;
      pace();
      cpu = platform::thread_cpu_ns();
    }
  }

  // TMC_DEEP_AGE (deep.h): recompresses idle blobs for a slice, unless faults want room or
  // the target does and the last pass could still evict (`evicted` pages): making room
  // comes first. Above a target that eviction cannot reach (every page that may go is out),
  // recompression is what is left to bring RSS down.
  void recompress_idle(uint64_t evicted) {
    if (!deep_.enabled()) return;
    idle_slice([&](uint32_t now) { return deep_.step(now); },
               [&] { return making_room() || target_demands_room() || (evicted != 0 && evicting_for_target()); },
               e_.cpu_ns_deep_);
  }

  // TMC_FILE_AGE (file_tier.h): moves idle blobs to the file for a slice, unless faults
  // are waiting for room (writing to a disk is slower than evicting).
  void move_idle_to_file() {
    if (!file_mover_.enabled()) return;
    idle_slice([&](uint32_t now) { return file_mover_.step(now); }, [&] { return making_room(); }, e_.cpu_ns_file_);
  }

  // One pass over every region; returns the number of pages evicted.
  uint64_t pass() {
    uint32_t now = e_.epoch_.load(std::memory_order_relaxed);
    uint32_t threshold = decide_threshold();
    ages_.clear();
    backoff_ = 0;
    pass_first_seen_ = 0;
    uint64_t evicted = 0;
    for (int r = 0; r < e_.regions_->region_count() && !e_.failed_.load(); ++r) {
      heap::RegionView v = e_.regions_->view(r);
      for (uintptr_t block = v.base; block < v.frontier; block += heap::kBlockSize) {
        if (e_.failed_.load()) break;
        evicted += scan_block(v, block, now, threshold);
        pace();
      }
    }
    last_ages_ = ages_;
    e_.backoff_pages_.store(backoff_, std::memory_order_relaxed);
    note_floor();
    return evicted;
  }

  // Adds the thread's CPU time since the last report to cpu_ns_reclaim, so that the stat
  // is current during a long (paced) pass too.
  void report_cpu(uint64_t cpu_ns) {
    e_.cpu_ns_reclaim_.fetch_add(cpu_ns - cpu_reported_, std::memory_order_relaxed);
    cpu_reported_ = cpu_ns;
  }

  // True while the fault thread holds faults for room: the reclaimer then neither paces
  // itself nor waits for the next epoch.
  bool making_room() const { return e_.faults_held_.load(std::memory_order_seq_cst) != 0; }

  // Whether the program has lately brought pages back faster than the paced reclaimer made
  // room: the target held a fault within kDemandWindowNs. The room is then the program's
  // work, as direct reclaim is in the kernel, whether or not a fault waits at this moment;
  // making it ahead of the faults, unpaced, spares them the wait (bench/results/levers.md).
  bool target_demands_room() {
    if (target_ == 0) return false;
    const uint64_t held = e_.held_faults_.load(std::memory_order_relaxed);
    const uint64_t t = now_ns();
    if (held != held_seen_) {
      held_seen_ = held;
      held_seen_ns_ = t;
    }
    return held_seen_ns_ != 0 && t - held_seen_ns_ < kDemandWindowNs;
  }

  // Sleeps for ns, or until the fault thread starts holding faults (Engine::room_wanted_);
  // with `or_above_target`, also once RSS is above the target by more than the floor the
  // reclaimer cannot get below (the fault thread's count; it notifies on crossing that line).
  // Returns true when it ended early for one of those.
  bool pause_unless_room_wanted(uint64_t ns, bool or_above_target = false) {
    const uint64_t deadline = now_ns() + ns;
    for (uint64_t t = now_ns(); t < deadline; t = now_ns()) {
      uint32_t ticket = e_.room_wanted_.ticket();
      if (making_room()) return true;
      if (or_above_target && e_.over_target_.load(std::memory_order_relaxed) > floor_over()) return true;
      e_.room_wanted_.wait(ticket, deadline - t);
    }
    return false;
  }

  // The wait for the next epoch (ns), as pause_unless_room_wanted, in slices of
  // kCompactCheckNs with the pool compacted between them: the blobs faults free while the
  // reclaimer waits go back within a slice, not a second later (the first second of a
  // Zipf load on cold Redis freed 50 MiB).
  void wait_for_next_epoch(uint64_t ns, bool or_above_target) {
    const uint64_t deadline = now_ns() + ns;
    for (uint64_t t = now_ns(); t < deadline; t = now_ns()) {
      const uint64_t slice = deadline - t < kCompactCheckNs ? deadline - t : kCompactCheckNs;
      if (pause_unless_room_wanted(slice, or_above_target)) return;
      compact_pool_if_sparse();
      graduate_expired();
    }
  }

  // Compacts the pool and drops its dirty pages when they hold more than 1/kCompactShare
  // of it (1/kQuietCompactShare when `quiet`; kCompactMinBytes at least), in steps of
  // kCompactStepBytes, each under reclaim_lock_ (no fork copies a pool half moved) and
  // pool_lock_ (no fault reads a blob being moved); the dirty pages go kTrimStepBytes at a
  // time, under reclaim_lock_ alone (no blob lives there). At most every kCompactCheckNs;
  // called with no lock held.
  void compact_pool_if_sparse(bool quiet = false) {
    const uint64_t t = now_ns();
    if (!quiet && t - compact_checked_ns_ < kCompactCheckNs) return;  // quiet: once a pass
    compact_checked_ns_ = t;
    pool::Pool& pool = e_.pool_;
    const uint64_t reclaimable = pool.compactable_bytes() + pool.dirty_bytes();
    const uint64_t share = pool.pool_bytes() / (quiet ? kQuietCompactShare : kCompactShare);
    if (reclaimable <= (share > kCompactMinBytes ? share : kCompactMinBytes)) return;
    for (bool more = true; more;) {
      pthread_mutex_lock(&e_.reclaim_lock_);
      bool compactable;
      {
        SpinLockGuard guard(e_.pool_lock_);
        compactable = pool.compact_step(kCompactStepBytes);
      }
      if (!compactable || pool.dirty_bytes() >= kTrimStepBytes) pool.trim(kTrimStepBytes);
      // Faults may free spans meanwhile: what is left below a trim step waits for the next look.
      more = compactable || pool.dirty_bytes() >= kTrimStepBytes;
      pthread_mutex_unlock(&e_.reclaim_lock_);
    }
  }

  // After a pass that evicted nothing: the slots of the last batches keep their pages (those
  // the pool did not take, up to the whole ring) while nothing uses them; they go back.
  void release_idle_ring() {
    if (first_slot_ == 0 && !ring_populated_) return;
    pthread_mutex_lock(&e_.reclaim_lock_);
    if (!e_.failed_.load()) empty_ring();  // after a failure, Staged pages may live in slots
    pthread_mutex_unlock(&e_.reclaim_lock_);
  }

  // Graduates the chunks that have waited TMC_PROBATION_AGE, unless eviction is suspended
  // (the pages then wait, served from their slots). Called with no lock held.
  void graduate_expired() {
    Probation& p = e_.probation_;
    if (!p.enabled() || e_.eviction_suspended()) return;
    pthread_mutex_lock(&e_.reclaim_lock_);
    const uint32_t now = e_.epoch_.load(std::memory_order_relaxed);
    while (!p.empty() && !e_.failed_.load() && now_ns() - p.head().since_ns >= e_.probation_age_ns_)
      if (!graduate_head(now)) break;
    pthread_mutex_unlock(&e_.reclaim_lock_);
  }

 private:
  // The least RSS the reclaimer can bring the process to: the floor. Faults are held only
  // while RSS is more than the slack above the target plus the floor. The floor rises when
  // a strict pass, which had every resident page to choose from while faults were held,
  // stayed above that line all through and did not bring RSS down by the slack (by more
  // than the pages it skipped as first seen could have given): what is left is not the
  // reclaimer's to take. Pages shared with a forked process (UFFDIO_MOVE refuses them; in a
  // forked child under its parent's target most of RSS can be the parent's pages),
  // incompressible ones, pages beyond TMC_POOL_MAX, memory outside the heap. Each page the
  // program faults in is evicted again and RSS stays where it is: with the line at the
  // slack, every fault would wait the whole TMC_TARGET_HOLD (a forked child reading its
  // heap crawled at one page per hold). Progress is what counts, not whether a pass evicted
  // anything: it always evicts the pages just faulted in. The floor falls as soon as RSS
  // gets below it by the slack (the child has exited, shared pages were written), and goes
  // once RSS is within the target. Above the floor the hold works as before: RSS stays at
  // the least the reclaimer can reach.
  void note_floor() {
    const int64_t over = e_.over_target_.load(std::memory_order_relaxed);
    const int64_t slack = static_cast<int64_t>(policy::hold_slack(target_));
    const bool well_above = over > slack;
    last_fell_short_ = above_at_start_ && well_above;
    if (!well_above) {
      floor_rss_ = 0;
    } else if (strict_ && pass_min_over_ > floor_over() + slack && over_at_start_ - over < slack &&
               static_cast<int64_t>(pass_first_seen_ * kPageSize) < slack) {
      floor_rss_ = target_ + static_cast<uint64_t>(pass_min_over_);
      if (!floor_logged_) {
        floor_logged_ = true;
        log::info().str("RSS cannot be brought within ").u64(static_cast<uint64_t>(pass_min_over_) >> 20)
            .str(" MiB of TMC_TARGET: the rest is shared with a forked process, incompressible or outside the heap; faults are held only above that (target_floor_bytes; said once)")
            .flush();
      }
    }
    publish_hold();
  }

  // Follows the lowest Engine::over_target_ of the pass (note_floor), and lowers the floor
  // at once when RSS falls below it: room can be made again.
  void note_over() {
    const int64_t over = e_.over_target_.load(std::memory_order_relaxed);
    if (over < pass_min_over_) pass_min_over_ = over;
    const int64_t slack = static_cast<int64_t>(policy::hold_slack(target_));
    if (floor_rss_ != 0 && over < floor_over() - slack) {
      floor_rss_ = over > slack ? target_ + static_cast<uint64_t>(over) : 0;
      publish_hold();
    }
  }

  // The floor as bytes over the current target. It is kept as an RSS, which does not depend
  // on the target: a target moved live (or a percentage of a growing peak) keeps it.
  int64_t floor_over() const {
    return floor_rss_ > target_ ? static_cast<int64_t>(floor_rss_ - target_) : 0;
  }

  void publish_hold() {
    e_.target_floor_.store(target_ != 0 ? static_cast<uint64_t>(floor_over()) : 0, std::memory_order_relaxed);
    e_.hold_.store(target_ != 0 && control::option(OptionId::target_hold) != 0, std::memory_order_relaxed);
  }

  // Whether pages younger than the cold age are evicted now: while RSS is above the target
  // less its slack, as Engine::over_target_ follows it through the pass.
  bool evicting_for_target() const {
    return target_ != 0 &&
           e_.over_target_.load(std::memory_order_relaxed) > -static_cast<int64_t>(policy::hold_slack(target_));
  }

  // Sets Engine::over_target_ from VmRSS, at most every kRssRefreshNs.
  void refresh_over_target() {
    if (target_ == 0) return;
    uint64_t t = now_ns();
    if (t - rss_read_ns_ < kRssRefreshNs) return;
    rss_read_ns_ = t;
    set_over_target(platform::process_rss_bytes());
    note_over();
  }

  void set_over_target(uint64_t rss) {
    e_.over_target_.store(static_cast<int64_t>(rss) - static_cast<int64_t>(target_), std::memory_order_relaxed);
  }

  // The pass's age threshold: the cold age, lowered to what the RSS target needs given the
  // previous pass's ages. Also refreshes the pool limit and the pressure flag, which sets
  // the pace. With TMC_COLD_AGE=0 every page qualifies at once.
  uint32_t decide_threshold() {
    e_.pool_.set_limit(control::option(OptionId::pool_max));
    uint32_t cold = control::option(OptionId::cold_age) == 0 ? 0 : e_.cold_age_epochs();
    control::OptionValue t = control::option_value(OptionId::target);
    uint64_t target = t.is_percent ? platform::process_peak_rss_bytes() / 100 * t.value : t.value;
    e_.target_bytes_.store(target, std::memory_order_relaxed);
    uint32_t threshold = cold;
    bool above = false;
    strict_ = false;
    over_at_start_ = 0;
    pass_min_over_ = 0;
    target_ = target != 0 && cold != 0 ? target : 0;
    if (target_ == 0) floor_rss_ = 0;
    if (target_ != 0) {
      uint64_t rss = platform::process_rss_bytes();
      set_over_target(rss);
      rss_read_ns_ = now_ns();
      over_at_start_ = static_cast<int64_t>(rss) - static_cast<int64_t>(target);
      pass_min_over_ = over_at_start_;
      uint64_t pool = e_.pool_.pool_bytes();
      uint64_t pages = e_.compressed_pages_.load(std::memory_order_relaxed);
      double ratio = pool != 0 ? static_cast<double>(pages * kPageSize) / static_cast<double>(pool) : 2.0;
      uint64_t needed = policy::pages_to_target(rss, target, ratio);
      above = needed != 0;
      uint32_t for_target = policy::threshold_for_target(last_ages_, needed);
      if (for_target < threshold) threshold = for_target;
      // The target is the user's limit, like a balloon: when pages held back by their heat
      // are all that is left to evict, or the last pass, which respected heat, ended still
      // well above the target, every resident page is a candidate (heat and this epoch's
      // use ignored) rather than the target being missed.
      const bool well_above = rss > target + policy::hold_slack(target);
      strict_ = above && (needed > last_ages_.total() - last_ages_.pages[0] || (last_fell_short_ && well_above));
    }
    double psi = platform::memory_pressure_avg10();
    above_at_start_ = above;
    publish_hold();
    e_.pressure_.store(above || psi >= kPsiPressure, std::memory_order_relaxed);
    uint64_t idle = 0, total = 0;
    if (platform::machine_cpu_ticks(&idle, &total) && total > total_ticks_) {
      machine_idle_ = static_cast<double>(idle - idle_ticks_) / static_cast<double>(total - total_ticks_) >= kIdleMachineShare;
      idle_ticks_ = idle;
      total_ticks_ = total;
    }
    cold_threshold_ = cold;
    e_.age_threshold_.store(threshold, std::memory_order_relaxed);
    return threshold;
  }

  // Sleeps as long as TMC_CPU_BUDGET asks. Called between blocks and batches, never with a
  // lock held.
  void pace() {
    refresh_over_target();
    compact_pool_if_sparse();
    if (control::option(OptionId::cold_age) == 0) return;  // "as fast as possible" (tests)
    const uint64_t cpu = platform::thread_cpu_ns();
    report_cpu(cpu);
    if (making_room() || (evicting_for_target() && target_demands_room())) {
      // Faults are waiting for this work, or were lately and will again: it is the
      // application's, as direct reclaim is in the kernel, not background work, and a pause
      // here would stall the application. No debt is carried over either.
      pacer_.reset(now_ns(), cpu);
      return;
    }
    double share = static_cast<double>(control::option(OptionId::cpu_budget)) / 100.0;
    if (!e_.pressure_.load(std::memory_order_relaxed) && !machine_idle_) share *= kQuietBudgetShare;
    uint64_t pause = pacer_.charge(now_ns(), cpu, share);
    if (pause == 0) return;
    const uint64_t start = now_ns();
    pause_unless_room_wanted(pause);
    e_.throttle_ns_.fetch_add(now_ns() - start, std::memory_order_relaxed);
  }

  static bool any_resident(const PageEntry* words, size_t pages) {
    for (size_t i = 0; i < pages; ++i)
      if (words[i].load().state() == PageState::kResident) return true;
    return false;
  }

  uint64_t scan_block(const heap::RegionView& v, uintptr_t block, uint32_t now, uint32_t threshold) {
    uintptr_t end = block + heap::kBlockSize < v.frontier ? block + heap::kBlockSize : v.frontier;
    size_t pages = (end - block) / kPageSize;
    // Only a Resident page can be a candidate. Once a block is all evicted, reading its
    // page words is far cheaper than the pagemap, whose read walks every entry in the kernel
    // (most of an idle pass over a cold heap).
    if (!any_resident(&v.pages[(block - v.base) / kPageSize], pages)) return 0;
    if (!pagemap_file_.entries(block, pages, pagemap_)) return 0;
    uint64_t evicted = 0;
    count_ = 0;
    for (size_t i = 0; i < pages; ++i) {
      uint64_t pm = pagemap_[i];
      if ((pm & kPagemapPresent) == 0) {
        // Gone: a purge that was still to zap this page has done so.
        PageEntry* gone = &v.pages[(block + i * kPageSize - v.base) / kPageSize];
        PageWord g = gone->load();
        if (g.state() == PageState::kResident && (g.flags() & heap::kFlagZapPending) != 0)
          gone->cas(g, PageWord{g.raw & ~(uint64_t{heap::kFlagZapPending} << 4)});
        continue;
      }
      if ((pm & kPagemapExclusive) == 0) {  // shared with a child or KSM: MOVE would fail
        // The zero page (a read of a page never written, or the fault thread's zero_ahead)
        // holds nothing to evict.
        if (zero_frame_ != 0 && (pm & platform::kPagemapFrameMask) == zero_frame_) continue;
        e_.busy_skips_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      uintptr_t page = block + i * kPageSize;
      PageEntry* entry = &v.pages[(page - v.base) / kPageSize];
      PageWord w = entry->load();
      if (w.state() != PageState::kResident) continue;
      if ((w.flags() & heap::kFlagZapPending) != 0) continue;  // a purge's zap may still come
      if ((w.flags() & heap::kFlagIncompressible) != 0 && w.age(now) < kIncompressibleRetryEpochs) continue;
      if (threshold != 0) {
        if (w.epoch() == 0) {  // first seen: its age counts from now
          entry->cas(w, PageWord::make(PageState::kResident, now, w.retained(), w.retained_flags(), w.heat()));
          ++pass_first_seen_;
          continue;
        }
        uint32_t age = w.age(now);
        ages_.add(age >> w.heat());  // what the target sees: back-off makes a page younger
        if (w.heat() != 0) ++backoff_;
        if (!policy::eligible(age, w.heat(), cold_threshold_)) {
          // Younger than the cold age: evicted for the target only, and only while RSS is
          // still above it (the threshold's power-of-two buckets would overshoot). In
          // strict mode the pages used in this very epoch go too: under a load that
          // touches everything, they are all there is.
          if (!evicting_for_target()) continue;
          if (!policy::eligible(age, strict_ ? 0 : w.heat(), strict_ ? 0 : threshold)) continue;
        }
      }
      slots_[count_++] = Slot{page, entry, w, {}, 0, 0, false, w.retained(), (w.retained_flags() & heap::kFlagDict) != 0, false, 0};
      if (count_ == Engine::kBatchPages) {
        evicted += evict_batch(v, block, now);
        count_ = 0;
        pace();
      }
    }
    if (count_ > 0) evicted += evict_batch(v, block, now);
    return evicted;
  }

  bool ensure_registered(const heap::RegionView& v, uintptr_t block) {
    auto& flag = v.blocks[(block - v.base) / heap::kBlockSize];
    uint8_t f = flag.load(std::memory_order_acquire);
    if ((f & kBlockLocked) != 0) return false;
    if ((f & kBlockRegistered) != 0) return true;
    // Moving a 4 KiB page out of a transparent huge page would split it anyway.
    platform::raw_madvise(reinterpret_cast<void*>(block), heap::kBlockSize, MADV_NOHUGEPAGE);
    int err = e_.uffd_.register_missing(reinterpret_cast<void*>(block), heap::kBlockSize);
    if (err != 0) {
      e_.fail("registering a heap block with userfaultfd", err);
      return false;
    }
    flag.fetch_or(kBlockRegistered, std::memory_order_acq_rel);
    return true;
  }

  uint64_t evict_batch(const heap::RegionView& v, uintptr_t block, uint32_t now) {
    pthread_mutex_lock(&e_.reclaim_lock_);
    uint64_t done = 0;
    if (!e_.failed_.load() && !e_.eviction_suspended() && drop_pinned() && ensure_registered(v, block) && make_room()) {
      locked_block_ = false;
      if (e_.probation_.enabled() && (e_.probation_.has_room(count_) || graduate_head(now))) {
        done = move_to_probation(now);
      } else {
        uint32_t staged = move_out(now, first_slot_);
        e_.recycler_.offer_up_to(e_.staging_ + size_t{first_slot_} * kPageSize);  // the batches before this one
        encode(slots_, staged);
        done = commit(slots_, staged, now);
        // After a failure, slots still referenced by a Staged page must keep their bytes:
        // the fault thread serves those pages from them from now on (the ring is never
        // emptied again).
        first_slot_ += staged;
      }
      if (locked_block_) {
        v.blocks[(block - v.base) / heap::kBlockSize].fetch_or(kBlockLocked, std::memory_order_acq_rel);
        if (!e_.locked_seen_.exchange(true))
          log::info().str("memory locked with mlock stays resident; libtmc leaves it alone").flush();
      }
    }
    pthread_mutex_unlock(&e_.reclaim_lock_);
    return done;
  }

  // ---- probation (reclaim/probation.h) ------------------------------------------------
  // The batch's pages go uncompressed into probation's last chunk, Staged there. Returns
  // how many went. With reclaim_lock_ held; probation has room for the batch.
  uint64_t move_to_probation(uint32_t now) {
    uint32_t first_free = 0;
    Probation::Chunk& c = e_.probation_.open(count_, now_ns(), &first_free);
    const uint32_t staged = move_out(now, first_free);
    uint64_t live = 0;
    for (uint32_t i = 0; i < staged; ++i) {
      const Slot& s = slots_[i];
      c.pages[c.count + i] = Probation::Page{s.page, s.entry, s.staged.raw, s.retained, s.retained_dict};
      live += s.entry != nullptr;
    }
    c.count += staged;
    e_.probation_pages_.fetch_add(live, std::memory_order_relaxed);
    return live;
  }

  // Compresses the pages of probation's head chunk that are still out (their word names
  // their slot), as a batch of their own, and empties the chunk's slots. The others came
  // back (copied from the slot by a fault) or were purged: only a retained blob of theirs
  // is left to release. False after an internal error (the chunk's slots may still be
  // named by Staged words: they keep their bytes). With reclaim_lock_ held.
  bool graduate_head(uint32_t now) {
    Probation& p = e_.probation_;
    Probation::Chunk& c = p.head();
    uint32_t n = 0;
    uint64_t live = 0;
    for (uint32_t i = 0; i < c.count; ++i) {
      const Probation::Page& pg = c.pages[i];
      if (pg.entry == nullptr) continue;
      ++live;
      Slot s{pg.page, pg.entry, PageWord{pg.word}, {}, 0, 0, false, pg.retained, pg.retained_dict, false,
             p.head_slot() + i};
      if ((c.inherited && in_place_since_fork(pg, now)) || pg.entry->load().raw != pg.word) {
        give_up_retained(s);
        e_.probation_returned_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      graduating_[n++] = s;
    }
    encode(graduating_, n);
    const uint64_t done = commit(graduating_, n, now);
    e_.probation_pages_.fetch_sub(live, std::memory_order_relaxed);
    e_.probation_graduated_.fetch_add(done, std::memory_order_relaxed);
    // Pages whose word changed between the look above and the commit came back too.
    if (n > done) e_.probation_returned_.fetch_add(n - done, std::memory_order_relaxed);
    if (e_.failed_.load()) return false;
    if (!empty_slots(p.head_slot(), Probation::kChunkPages)) return false;
    p.pop();
    return true;
  }

  // A page of a chunk this forked child inherited that is in place although its word still
  // names its slot: the parent served the child's fault on it during the fork window. The
  // page in place is the current one (the program may have written it since); the slot's
  // copy is stale. The word says so now; true if it did. A page table that cannot be read
  // says nothing (the commit then takes the slot's copy, as before any fault).
  bool in_place_since_fork(const Probation::Page& pg, uint32_t now) {
    uint64_t pm = 0;
    if (!pagemap_file_.entries(pg.page, 1, &pm) || (pm & kPagemapPresent) == 0) return false;
    const PageWord staged{pg.word};
    return pg.entry->cas(staged, PageWord::make(PageState::kResident, now, 0, 0, staged.heat()));
  }

  // Drops the pages of `count` staging slots from `first` on, which no page word names any
  // more. Unregistered around the madvise, as the ring is (empty_ring).
  bool empty_slots(uint32_t first, uint32_t count) {
    char* start = e_.staging_ + size_t{first} * kPageSize;
    const size_t len = size_t{count} * kPageSize;
    int err = e_.uffd_.unregister(start, len);
    if (err == 0) {
      platform::raw_madvise(start, len, MADV_DONTNEED);
      err = e_.uffd_.register_write_protect(start, len);
    }
    if (err != 0) e_.fail("re-registering probation's slots", err);
    return err == 0;
  }

  // Drops pinned pages from the batch (heap/eviction_gate.h), with reclaim_lock_ held. False
  // when nothing is left to evict in it.
  bool drop_pinned() {
    const heap::EvictionGate& gate = heap::eviction_gate();
    if (!gate.has_pins()) return true;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count_; ++i)
      if (!gate.pinned(slots_[i].page)) slots_[kept++] = slots_[i];
    count_ = kept;
    return count_ != 0;
  }

  // Leaves Evicting for `to`. If the fault thread flagged the page purged meanwhile (a
  // REMOVE/UNMAP event was read), the page goes to Resident with no age instead; returns
  // false then, and the caller makes sure the page is not there.
  static bool leave_evicting(PageEntry* entry, PageWord evicting, PageWord to) {
    if (entry->cas(evicting, to)) return true;
    // Only an unguarded purge can meet a page mid-eviction (the guard holds reclaim_lock_):
    // its zap may still come, so a page left in place is not taken again until it is gone.
    entry->cas(evicting.with_flags(heap::kFlagPurged),
               PageWord::make(PageState::kResident, 0, 0, heap::kFlagZapPending));
    return false;
  }

  // UFFDIO_MOVE can move pages it then reports as not moved. In Linux 6.18's move loop, a
  // page whose first try fails with -EAGAIN inside the kernel (its page-table entry changed
  // between two reads, e.g. the CPU set the accessed bit) is moved by the retry, with the
  // rest of the run, but the loop keeps the stale -EAGAIN: it counts nothing and tries the
  // same page again, whose destination is taken now. The ioctl returns EEXIST and nothing
  // moved, or EAGAIN and only the pages before that one (tests/repro/move_eexist.c shows
  // it without libtmc). Believed, the report left pages "resident" whose bytes were in a
  // staging slot: the next touch read zeros, and every later run failed on the taken slot.
  // So after a failed move the page tables decide.
  //
  // Page k of a run that moved sits in slot dst + k and no longer at src + k. Fills
  // arrived_[k] for k in [done, run) and returns how many of the run's slots hold a page
  // (one past the last), at least `done`. If the page tables cannot be read, the report
  // stands and eviction stops (nothing would tell which pages are where).
  // *slot_taken: some slot holds a page that did not come from the run.
  uint32_t reconcile_run(char* dst, uintptr_t src, uint32_t run, uint32_t done, bool* slot_taken) {
    uint64_t* at_dst = probe_;
    uint64_t* at_src = probe_ + Engine::kBatchPages;
    for (uint32_t k = done; k < run; ++k) arrived_[k] = false;
    if (!pagemap_file_.entries(reinterpret_cast<uintptr_t>(dst), run, at_dst) ||
        !pagemap_file_.entries(src, run, at_src)) {
      e_.fail("reading the page tables after a failed UFFDIO_MOVE", EIO);
      return done;
    }
    uint32_t used = done, misreported = 0;
    for (uint32_t k = done; k < run; ++k) {
      bool in_slot = (at_dst[k] & kPagemapPresent) != 0;
      arrived_[k] = arrived(at_dst[k], at_src[k]);
      misreported += arrived_[k];
      *slot_taken |= in_slot && !arrived_[k];
      if (in_slot) used = k + 1;
    }
    note_misreported(misreported);
    return used;
  }

  // Pagemap entries of a move's destination and source: the page is at the destination and
  // no longer at the source.
  static bool arrived(uint64_t at_dst, uint64_t at_src) {
    return (at_dst & kPagemapPresent) != 0 && (at_src & kPagemapPresent) == 0;
  }

  void note_misreported(uint32_t pages) {
    if (pages == 0) return;
    e_.move_misreports_.fetch_add(pages, std::memory_order_relaxed);
    if (move_misreport_seen_) return;
    move_misreport_seen_ = true;
    log::info().str("UFFDIO_MOVE moved pages it reported as not moved (a kernel bug); libtmc follows the page tables").flush();
  }

  // After a failed one-page move from `from` to `to`: whether the page moved anyway (it is
  // at `to` and no longer at `from`). A page table that cannot be read says no.
  bool landed(void* to, void* from) {
    uint64_t at_to = 0, at_from = 0;
    if (!pagemap_file_.entries(reinterpret_cast<uintptr_t>(to), 1, &at_to) ||
        !pagemap_file_.entries(reinterpret_cast<uintptr_t>(from), 1, &at_from))
      return false;
    return arrived(at_to, at_from);
  }

  // Step 1. Slots that could not be moved are dropped from the batch; a page purged while it
  // was moved leaves a dead slot (entry == nullptr) whose bytes are dropped with the ring,
  // and so does a slot that a failed run found taken.
  // Returns the number of staged slots, first_slot_ onwards.
  static PageWord evicting_word(uint32_t now, const Slot& s) {
    return PageWord::make(PageState::kEvicting, now, 0, 0, s.staged.heat());
  }

  uint32_t move_out(uint32_t now, uint32_t first_slot) {
    uint32_t staged = 0;
    for (uint32_t i = 0; i < count_;) {
      // From taking the pages to leaving Evicting, no event is read (move_fence.h): an event
      // that names a page of the run is handled before or after, never in between.
      MoveScope fenced(e_.move_fence_);
      // A run: consecutive candidates at consecutive addresses that we now own.
      uint32_t run = 0;
      while (i + run < count_ && (run == 0 || slots_[i + run].page == slots_[i].page + run * kPageSize)) {
        Slot& s = slots_[i + run];
        if (!s.entry->cas(s.staged, evicting_word(now, s))) break;  // changed since the scan
        ++run;
      }
      if (run == 0) {
        ++i;
        continue;
      }
      uint32_t slot = first_slot + staged;
      char* dst = e_.staging_ + size_t{slot} * kPageSize;
      size_t moved = 0;
      int err = e_.uffd_.move(dst, reinterpret_cast<void*>(slots_[i].page), run * kPageSize, false, &moved);
      uint32_t done = static_cast<uint32_t>(moved / kPageSize);
      // Slots [slot, slot + used) are the run's: its pages that moved, and any slot found
      // taken (never reused, or every later run would fail on it).
      uint32_t used = done;
      bool slot_taken = false;
      if (err != 0 && done < run) used = reconcile_run(dst, slots_[i].page, run, done, &slot_taken);
      uint32_t moved_prefix = done;  // pages [0, moved_prefix) of the run moved
      while (moved_prefix < used && arrived_[moved_prefix]) ++moved_prefix;
      // The first page that did not move (EBUSY: unshare() looks at it); read before the
      // loop below, which may overwrite its slot.
      Slot failed = moved_prefix < run ? slots_[i + moved_prefix] : Slot{};
      // In order: slots_[staged] may be an entry of this run already read (staged <= i + k).
      for (uint32_t k = 0; k < run; ++k) {
        Slot s = slots_[i + k];
        if (k < done || (k < used && arrived_[k])) {
          PageWord staged_word = PageWord::make(PageState::kStaged, now, slot + k, 0, s.staged.heat());
          if (!leave_evicting(s.entry, evicting_word(now, s), staged_word)) {  // purged: dead
            s.entry = nullptr;
            give_up_retained(s);
          }
          s.staged = staged_word;
          s.slot = slot + k;
          slots_[staged++] = s;
        } else {
          // Not moved: it stays where it is. ENOENT: purged since the scan; EBUSY: shared or
          // pinned; EAGAIN: an address-space event is pending. Back in place, the word holds
          // its retained blob again; purged, the blob goes.
          if (leave_evicting(s.entry, evicting_word(now, s), s.staged)) s.retained = 0;
          else give_up_retained(s);
          if (k < used) {  // its slot holds nothing of ours: a dead slot, never read
            s.entry = nullptr;
            slots_[staged++] = s;
          }
        }
      }
      fenced.leave();  // before unshare(), which touches the application's page
      if (err != 0) {
        if (err == EINVAL && platform::process_locked_bytes() != 0) {
          // mlock()ed memory (the kernel refuses to move it) stays resident: the block is
          // left alone from now on.
          locked_block_ = true;
          break;
        }
        if (err == EBUSY) {
          e_.busy_skips_.fetch_add(1, std::memory_order_relaxed);
          if (failed.entry != nullptr) unshare(failed);
        } else if (err != ENOENT && err != EAGAIN && err != EEXIST) {
          e_.fail("UFFDIO_MOVE", err);
        }
        if (err == EEXIST && slot_taken) {
          // A slot held a page that is not ours: something outside libtmc faulted the ring's
          // free slots in (mlockall does, every mapping). The next batch empties the whole ring.
          ring_populated_ = true;
          break;
        }
        if (err == EAGAIN) break;  // the rest of the batch waits for the next pass
        // The page after the moved ones is the one that failed; those after it (and after
        // any slot the run used) are tried again in the next run.
        uint32_t next = used > moved_prefix + 1 ? used : moved_prefix + 1;
        i += next < run ? next : run;
      } else {
        i += run;
      }
    }
    return staged;
  }

  // A page the pagemap showed mapped by this process alone that UFFDIO_MOVE still refused:
  // after a fork, a page stays marked shared (copy-on-write) after the child exits or
  // execs, until this process writes it, and the kernel moves only pages it knows are
  // exclusive. An atomic add of zero is such a write, which changes no byte whatever the
  // application writes at the same time; the page is then taken in a later pass. Without
  // it, every page a forked child (Redis's BGSAVE) once shared would stay resident until
  // written. A page that really is shared (the pagemap said so) was skipped before.
  void unshare(const Slot& s) {
    PageWord w = s.entry->load();
    // Only a page still in place: one a purge named may be gone, and touching it would be a
    // fault of libtmc's own.
    if (w.state() != PageState::kResident || (w.flags() & heap::kFlagZapPending) != 0) return;
    // The word cannot say everything: a raw madvise(MADV_DONTNEED) whose REMOVE event the
    // fault thread has read but not yet handled empties the page under a Resident word (the
    // kernel lets a purge go on once its event is read). The write then faults; the fault
    // thread serves it as the purged page it is and, seeing this address announced, counts
    // it as unshare_purged rather than a self fault. It never waits for the reclaimer to
    // serve a fault (it takes no lock the reclaimer holds here), so the write cannot hang.
    e_.unshare_page_.store(reinterpret_cast<uintptr_t>(s.page), std::memory_order_release);
    if (e_.unshare_delay_us_ != 0) usleep(e_.unshare_delay_us_);
    __atomic_fetch_add(reinterpret_cast<uint64_t*>(s.page), 0, __ATOMIC_RELAXED);
    e_.unshare_page_.store(0, std::memory_order_release);
    e_.unshared_pages_.fetch_add(1, std::memory_order_relaxed);
  }

  // Step 2, outside any lock the fault thread needs.
  void encode(Slot* slots, uint32_t staged) {
    const codec::Dictionary* dict = e_.dictionary();
    for (uint32_t i = 0; i < staged; ++i) {
      Slot& s = slots[i];
      s.handle = 0;
      s.hash = 0;
      s.shared = false;
      s.reused = false;
      if (s.entry == nullptr) continue;  // dead: commit drops it (its slot may even be empty)
      const char* page = e_.staging_ + size_t{s.slot} * kPageSize;
      if (s.retained != 0 && reuse_retained(s, page)) continue;
      const bool looked_up = e_.dedup_ && dedup_candidate(page);
      uint64_t looked_up_hash = 0;
      if (looked_up && share_duplicate(s, page, &looked_up_hash)) continue;
      s.encoded = codec_.encode(page, blob_, 2 * kPageSize, max_blob_, dict);
      if (s.encoded.kind == codec::Encoded::Kind::kCompressed && (verify_ || looked_up)) {
        // Hashed again after compressing, not taken from the lookup: a lazily freed page
        // (MADV_FREE) can be discarded from its slot in between, and the hash must be that
        // of the bytes the blob holds.
        s.hash = codec::page_hash(page, e_.hash_seed_);
      }
      if (dict == nullptr && s.encoded.kind == codec::Encoded::Kind::kCompressed)
        dict = sample_for_dictionary(page);
      if (s.encoded.kind == codec::Encoded::Kind::kCompressed) {
        s.handle = e_.pool_.store(blob_, s.encoded.size, e_.recycler_.is_open() ? &e_.recycler_ : nullptr);
        if (s.handle == 0) {  // the pool is at TMC_POOL_MAX, or out of memory: keep the page
          s.encoded.kind = codec::Encoded::Kind::kIncompressible;
          if (e_.pool_.limit() != 0) e_.pool_full_.fetch_add(1, std::memory_order_relaxed);
        } else if (looked_up && s.hash == looked_up_hash) {  // the bytes did not change meanwhile
          index_blob(s);
        }
      } else if (s.encoded.kind == codec::Encoded::Kind::kIncompressible) {
        e_.incompressible_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  // TMC_RETAIN (heap/page_state.h): a page that kept its blob when it came back is evicted
  // again. If the blob decodes to exactly the bytes moved out, it is the page's blob again
  // and nothing is compressed; otherwise it goes, and the page is compressed as any other.
  // The comparison is what makes this exact: nothing tracks writes to resident pages.
  bool reuse_retained(Slot& s, const char* page) {
    const pool::Handle h = s.retained;
    s.retained = 0;
    uint32_t size = 0;
    // Without pool_lock_: only this thread compacts the pool, and the blob is this slot's.
    const void* blob = e_.pool_.fetch(h, file_blob_, &size);
    const bool same = blob != nullptr && codec_.decode(blob, size, candidate_, s.retained_dict ? &e_.dict_ : nullptr) &&
                      memcmp(candidate_, page, kPageSize) == 0;
    e_.forget_retained(size, /*released=*/!same);
    if (!same) {
      e_.pool_.release(h);
      e_.retained_changed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    s.handle = h;
    s.reused = true;
    s.encoded = codec::Encoded{codec::Encoded::Kind::kCompressed, 0, size, s.retained_dict};
    // The hash the entry keeps must be that of the blob's bytes: those compared equal.
    s.hash = verify_ ? codec::page_hash(candidate_, e_.hash_seed_) : 0;
    e_.retained_reused_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // A retained blob the slot owns whose page was purged under the move: it goes.
  void give_up_retained(Slot& s) {
    if (s.retained == 0) return;
    const uint32_t size = e_.pool_.size_of(s.retained);
    e_.pool_.release(s.retained);
    e_.forget_retained(size, /*released=*/true);
    e_.retained_changed_.fetch_add(1, std::memory_order_relaxed);
    s.retained = 0;
  }

  // Pool dedup (dedup/content_index.h). Whether dedup looks at this page: not a same-filled
  // one (encode() stores only its word), and as often as the sampler says.
  bool dedup_candidate(const char* page) {
    uint64_t word;
    return !codec::is_same_filled(page, &word) && sampler_.take();
  }

  uint64_t dedup_key(uint64_t hash) const { return e_.dedup_collide_ ? 0 : hash; }

  // Looks the page up by its hash (returned in *hash); true if it now shares the blob of a
  // pooled page with the same bytes (s.handle then holds a reference of its own, taken
  // before the comparison, so the blob cannot be freed under it). A match is believed only
  // after the candidate's blob, decoded, compares equal byte for byte (design invariant 6),
  // and the hash stands for the bytes compared.
  bool share_duplicate(Slot& s, const char* page, uint64_t* hash) {
    const uint64_t start = now_ns();
    *hash = codec::page_hash(page, e_.hash_seed_);
    const uint64_t key = dedup_key(*hash);
    dedup::Match m;
    bool equal = false;
    if (e_.dedup_index_.find(key, &m)) {
      if (!e_.pool_.retain(m.handle)) {
        e_.dedup_index_.forget(key, m.handle);  // freed since (a fault brought its page back)
      } else {
        equal = same_bytes(m, page, key);
        if (!equal) e_.pool_.release(m.handle);
      }
    }
    if (equal) {
      s.handle = m.handle;
      s.shared = true;
      s.hash = *hash;
      const uint32_t size = e_.pool_.size_of(m.handle);
      s.encoded = codec::Encoded{codec::Encoded::Kind::kCompressed, 0, size, m.with_dict};
      sampler_.found();
    }
    e_.cpu_ns_dedup_.fetch_add(now_ns() - start, std::memory_order_relaxed);
    return equal;
  }

  // Whether the blob of m (a reference held) decodes to exactly `page`. A blob of other
  // bytes is either a hash collision (its bytes hash to `key` too: counted, and both pages
  // keep blobs of their own) or a stale entry (its handle was freed and reused for another
  // blob since: the entry goes).
  bool same_bytes(const dedup::Match& m, const char* page, uint64_t key) {
    uint32_t size = 0;
    // Reading without pool_lock_: only this thread compacts the pool, and the reference
    // keeps the blob alive.
    const void* blob = e_.pool_.fetch(m.handle, file_blob_, &size);
    e_.dedup_compared_.fetch_add(1, std::memory_order_relaxed);
    if (blob == nullptr || !codec_.decode(blob, size, candidate_, m.with_dict ? &e_.dict_ : nullptr)) {
      e_.dedup_index_.forget(key, m.handle);
      return false;
    }
    if (memcmp(candidate_, page, kPageSize) == 0) return true;
    if (dedup_key(codec::page_hash(candidate_, e_.hash_seed_)) == key)
      e_.dedup_collisions_.fetch_add(1, std::memory_order_relaxed);
    else
      e_.dedup_index_.forget(key, m.handle);
    return false;
  }

  // A page dedup looked at and did not find goes in the index with its new blob.
  void index_blob(const Slot& s) {
    const uint64_t start = now_ns();
    e_.dedup_index_.insert(dedup_key(s.hash), s.handle, s.encoded.with_dict, e_.pool_);
    e_.dedup_index_bytes_.store(e_.dedup_index_.memory_bytes(), std::memory_order_relaxed);
    e_.cpu_ns_dedup_.fetch_add(now_ns() - start, std::memory_order_relaxed);
  }

  // Until the dictionary is full, one compressible page in kDictSampleStride goes into it,
  // so the samples spread over the first few MiB evicted rather than one neighbourhood
  // (on Redis heaps any spread measured alike: bench/results/dictionary.md). Returns the
  // dictionary once it is sealed and published, nullptr before.
  const codec::Dictionary* sample_for_dictionary(const char* page) {
    codec::Dictionary& d = e_.dict_;
    if (d.memory_bytes() == 0 || d.sealed() || dict_samples_seen_++ % kDictSampleStride != 0) return nullptr;
    if (!d.add_sample(page)) return nullptr;
    if (!d.seal()) return nullptr;  // said why; pages go on without one
    if (!codec_.self_test(&d)) {
      log::warn().str("the compression dictionary failed its self-test; pages are compressed without one").flush();
      return nullptr;
    }
    e_.dict_ready_.store(true, std::memory_order_release);
    log::info().str("compression dictionary ready (").u64(d.content_size() >> 10).str(" KiB of samples)").flush();
    return &d;
  }

  // Step 3.
  uint64_t commit(Slot* slots, uint32_t staged, uint32_t now) {
    uint64_t done = 0;
    int64_t freed = 0;  // bytes of RSS the batch gives back, for the target's hold
    bool ok = true;
    SpinLockGuard guard(e_.staging_lock_);
    for (uint32_t i = 0; i < staged && ok; ++i) {
      Slot& s = slots[i];
      if (s.entry == nullptr || s.entry->load().raw != s.staged.raw) {  // faulted back or purged
        if (s.handle != 0) e_.pool_.release(s.handle);
        continue;
      }
      switch (s.encoded.kind) {
        case codec::Encoded::Kind::kSameFilled:
          s.entry->fill = s.encoded.fill_word;
          if (s.entry->cas(s.staged, PageWord::make(PageState::kSameFilled, now, 0, 0, s.staged.heat()))) {
            (s.encoded.fill_word == 0 ? e_.zero_pages_ : e_.same_pages_).fetch_add(1, std::memory_order_relaxed);
            freed += kPageSize;
            ++done;
          }
          break;
        case codec::Encoded::Kind::kCompressed:
          s.entry->fill = s.hash;  // read by whoever loads the Compressed word (acquire)
          if (s.entry->cas(s.staged, PageWord::make(PageState::kCompressed, now, s.handle,
                                                    s.encoded.with_dict ? heap::kFlagDict : 0, s.staged.heat()))) {
            e_.compressed_pages_.fetch_add(1, std::memory_order_relaxed);
            freed += static_cast<int64_t>(kPageSize) - (s.shared || s.reused ? 0 : s.encoded.size);
            ++done;
          } else {
            e_.pool_.release(s.handle);
          }
          break;
        case codec::Encoded::Kind::kIncompressible:
          ok = move_back(s, s.slot, now);
          break;
      }
    }
    e_.evictions_.fetch_add(done, std::memory_order_relaxed);
    e_.over_target_.fetch_sub(freed, std::memory_order_relaxed);
    note_over();
    return done;
  }

  // An incompressible page goes back where it was, untouched, flagged so that it is retried
  // only later. It is owned (Evicting) while it moves, so a fault waits for it; a purge's
  // event is handled before it is taken (it then stays out: the purge found it gone) or
  // after it is back in place (move_fence.h). Called with staging_lock_ held.
  // Returns false after an internal error: the page stays Staged, served from its slot.
  bool move_back(const Slot& s, uint32_t slot_index, uint32_t now) {
    char* slot = e_.staging_ + size_t{slot_index} * kPageSize;
    void* page = reinterpret_cast<void*>(s.page);
    PageWord evicting = evicting_word(now, s);
    // A probation slot may have been there at a fork: its page is then shared with the
    // child's copy of the staging area (or stays marked so after the child has gone), and
    // UFFDIO_MOVE refuses it (EBUSY). A write of nothing to our own slot makes it ours alone.
    if (slot_index >= Engine::kStagingSlots) __atomic_fetch_add(reinterpret_cast<uint64_t*>(slot), 0, __ATOMIC_RELAXED);
    for (int attempt = 0;; ++attempt) {
      // Until the page leaves Evicting, no event is read (move_fence.h): a purge is applied
      // before the page is taken (it is then not moved back) or after it is in place again.
      MoveScope fenced(e_.move_fence_);
      if (!s.entry->cas(s.staged, evicting)) return true;  // faulted back or purged meanwhile
      size_t moved = 0;
      int err = e_.uffd_.move(page, slot, kPageSize, true, &moved);
      if (err != 0 && landed(page, slot)) {  // moved after all (reconcile_run); a failed move wakes nobody
        note_misreported(1);
        e_.uffd_.wake(page, kPageSize);
        err = 0;
      }
      if (err == 0) return settle_moved_back(s, slot, evicting, now);
      if (err == EEXIST) {
        // A page is in place already, put there without the word learning of it: a page the
        // application mapped anew before its UNMAP event was read, or (a probation slot in a
        // forked child) one its parent served during the fork window. That page is the
        // current one; the slot's copy is stale.
        leave_evicting(s.entry, evicting, PageWord::make(PageState::kResident, now, 0, 0, s.staged.heat()));
        return true;
      }
      if (err == ENOENT) {
        // The slot is empty: the page was lazily freed (MADV_FREE) and memory pressure
        // discarded it there. It reads as zeros from now on, as it would have in place.
        leave_evicting(s.entry, evicting, PageWord::make(PageState::kResident, now, 0, 0, s.staged.heat()));
        return true;
      }
      // Not moved: the bytes are still in the slot, where a fault can find them again.
      bool purged = !leave_evicting(s.entry, evicting, s.staged);
      if (purged) return true;
      // EAGAIN: an address-space event is pending (a purge made around the guard, which can
      // come during a batch). It ends when the fault thread reads it; on a loaded machine
      // that can take longer than any fixed number of yields, so the bound is time: 10 s.
      if (attempt == 0) move_back_since_ = now_ns();
      if (err != EAGAIN || now_ns() - move_back_since_ > 10'000'000'000ull) {
        e_.fail("moving an incompressible page back", err);
        return false;
      }
      // Let the fault thread read it (it may need staging_lock_ for a fault it read
      // first), then try again.
      fenced.leave();
      e_.staging_lock_.unlock();
      if (attempt < 100) {
        sched_yield();
      } else {
        timespec ts{0, 100000};
        nanosleep(&ts, nullptr);
      }
      e_.staging_lock_.lock();
    }
  }

  // The page is in place again: it leaves Evicting inside the fence. (A purge flagged on it
  // meanwhile could only be one that bypassed both the fence and the guard; its zap may
  // have come before the move back, so the bytes go out again: invariant 2.)
  bool settle_moved_back(const Slot& s, char* slot, PageWord evicting, uint32_t now) {
    void* page = reinterpret_cast<void*>(s.page);
    if (leave_evicting(s.entry, evicting,
                       PageWord::make(PageState::kResident, now, 0, heap::kFlagIncompressible, s.staged.heat())))
      return true;
    size_t moved = 0;
    int err = e_.uffd_.move(slot, page, kPageSize, false, &moved);
    if (err != 0 && err != ENOENT && !landed(slot, page)) {
      e_.fail("dropping a purged page", err);
      return false;
    }
    return true;
  }

  // Empties the ring of staging slots when the next batch might not fit. The staging area
  // is unregistered around the madvise: on a registered range MADV_DONTNEED raises a REMOVE
  // event and waits for the fault thread to read it, while the fault thread may be waiting
  // for a lock the reclaimer holds. Called with reclaim_lock_ held, between batches (no
  // slot is referenced by a page state then).
  bool make_room() {
    if (first_slot_ + Engine::kBatchPages <= Engine::kStagingSlots && !ring_populated_) return true;
    return empty_ring();
  }

  // Drops every page of the ring (make_room), with reclaim_lock_ held between batches.
  bool empty_ring() {
    size_t len = Engine::kStagingSlots * kPageSize;
    int err = e_.uffd_.unregister(e_.staging_, len);
    if (err == 0) {
      platform::raw_madvise(e_.staging_, ring_populated_ ? len : first_slot_ * kPageSize, MADV_DONTNEED);
      ring_populated_ = false;
      err = e_.uffd_.register_write_protect(e_.staging_, len);  // as in Engine::start
    }
    if (err != 0) {
      e_.fail("re-registering the staging area", err);
      return false;
    }
    first_slot_ = 0;
    e_.recycler_.restart(e_.staging_);
    return true;
  }

  Engine& e_;
  codec::PageCodec codec_;
  DeepRecompressor deep_;  // TMC_DEEP_AGE
  FileMover file_mover_;   // TMC_FILE_AGE
  char* blob_ = nullptr;
  uint64_t* pagemap_ = nullptr;  // one block's entries
  uint64_t* probe_ = nullptr;    // a failed run's destination and source entries (reconcile_run)
  bool arrived_[Engine::kBatchPages] = {};  // reconcile_run: page k of the run is in its slot
  bool move_misreport_seen_ = false;        // logged once
  platform::Pagemap pagemap_file_;
  uint64_t zero_frame_ = 0;  // the shared zero page's frame (0: unknown)
  policy::AgeHistogram ages_, last_ages_;  // this pass's evictable pages by age, the last pass's
  uint64_t backoff_ = 0;                  // this pass's resident pages with heat
  policy::Pacer pacer_;
  uint64_t idle_ticks_ = 0, total_ticks_ = 0;
  bool machine_idle_ = false;
  // RSS is above the target and only heated pages are left, or the last pass fell short:
  // every resident page is a candidate (heat and this epoch's use ignored).
  bool strict_ = false;
  uint64_t target_ = 0;         // the target in bytes this pass (0: none, or no cold age)
  uint32_t cold_threshold_ = 0;  // the cold age in epochs (0: none, every page goes)
  bool above_at_start_ = false;  // RSS was above the target when this pass began
  uint64_t floor_rss_ = 0;  // the RSS the reclaimer cannot bring RSS below (note_floor; 0: none)
  bool floor_logged_ = false;
  int64_t over_at_start_ = 0;   // bytes RSS was over the target when this pass began
  int64_t pass_min_over_ = 0;   // the least RSS was over the target during this pass
  uint64_t pass_first_seen_ = 0;  // pages this pass skipped because it saw them first
  bool last_fell_short_ = false;  // the last pass began above the target and ended well above it
  uint64_t rss_read_ns_ = 0;
  uint64_t held_seen_ = 0;     // Engine::held_faults_ when target_demands_room last saw it grow
  uint64_t held_seen_ns_ = 0;  // and when (0: never)
  uint64_t cpu_reported_ = 0;  // the thread's CPU clock when last added to Engine::cpu_ns_reclaim_
  size_t max_blob_ = 0;
  bool verify_ = false;  // TMC_VERIFY
  dedup::Sampler sampler_;     // which pages dedup looks at
  char* candidate_ = nullptr;  // a pooled page decoded, to compare with a page being evicted
  char* file_blob_ = nullptr;  // a blob read back from the file tier (Pool::fetch)
  Slot slots_[Engine::kBatchPages];
  uint32_t count_ = 0;
  Slot graduating_[Engine::kBatchPages];  // probation's head chunk, as a batch (graduate_head)
  // The ring's next free slot. It starts full, so the first batch empties the ring: a forked
  // child's ring holds its parent's slots, where no page could be moved (EEXIST).
  uint32_t first_slot_ = Engine::kStagingSlots;
  bool ring_populated_ = false;  // a free slot was found there (move_out): empty the whole ring
  bool locked_block_ = false;  // the batch met memory the kernel refuses to move (mlock)
  uint64_t move_back_since_ = 0;  // when the current move-back first met EAGAIN
  uint64_t compact_checked_ns_ = 0;  // when compact_pool_if_sparse last looked
  static constexpr uint64_t kDictSampleStride = 16;
  uint64_t dict_samples_seen_ = 0;
};

void sleep_ms(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, nullptr);
}

// A libtmc thread never exits: glibc's thread exit frees the thread's TLS vector, which it
// allocated from the heap, where it may be evicted (libtmc would fault on itself).
[[noreturn]] void park() {
  for (;;) sleep_ms(3600 * 1000);
}

}  // namespace

void clear_block_registrations(heap::RegionSet* regions) {
  for (int r = 0; r < regions->region_count(); ++r) {
    heap::RegionView v = regions->view(r);
    for (uintptr_t block = v.base; block < v.frontier; block += heap::kBlockSize)
      v.blocks[(block - v.base) / heap::kBlockSize].fetch_and(static_cast<uint8_t>(~kBlockRegistered),
                                                               std::memory_order_relaxed);
  }
}

void* reclaimer_main(void* arg) {
  Engine& e = *static_cast<Engine*>(arg);
  e.add_own_thread(static_cast<int32_t>(gettid()));
  // Metadata memory: libtmc's threads never use malloc (design invariant 4). A new one per
  // start, so a forked child reopens its own /proc/self/pagemap.
  void* memory = base::meta_alloc(sizeof(Reclaimer));
  if (memory == nullptr) park();
  auto* reclaimer = new (memory) Reclaimer(e);
  if (!reclaimer->init()) park();  // init() said why
  // With a cold age an epoch is a second of wall time, however long passes take (the CPU
  // budget may stretch them); without one it is a pass.
  const uint32_t first_epoch = e.epoch_.load(std::memory_order_relaxed);
  const uint64_t started = now_ns();
  uint64_t faults_before_pass = e.faults_.load(std::memory_order_relaxed);
  while (!e.failed_.load(std::memory_order_relaxed)) {
    uint64_t evicted = reclaimer->pass();
    reclaimer->graduate_expired();
    const bool cold_age = control::option(control::OptionId::cold_age) != 0;
    uint32_t next = e.epoch_.load(std::memory_order_relaxed) + (cold_age ? 0 : 1);
    if (cold_age) {
      uint32_t by_clock = first_epoch + static_cast<uint32_t>((now_ns() - started) / 1000000000ull);
      if (by_clock > next) next = by_clock;
    }
    e.epoch_.store(next, std::memory_order_relaxed);
    const uint64_t faults = e.faults_.load(std::memory_order_relaxed);
    reclaimer->compact_pool_if_sparse(/*quiet=*/evicted == 0 && faults == faults_before_pass);
    faults_before_pass = faults;
    if (evicted == 0) reclaimer->release_idle_ring();
    reclaimer->recompress_idle(evicted);
    reclaimer->move_idle_to_file();
    reclaimer->report_cpu(platform::thread_cpu_ns());
    // With a cold age, one pass per epoch (a second); with none, as fast as there is work.
    if (cold_age) {
      // Until the next epoch, unless faults are waiting for room meanwhile (the fault thread
      // starts holding them once RSS is past the target by its slack): then a pass at once.
      // While the target demands room, already once RSS is past the target, before faults wait.
      reclaimer->wait_for_next_epoch(1'000'000'000, reclaimer->target_demands_room());
    }
    else if (evicted == 0) sleep_ms(20);
  }
  park();
}

}  // namespace tmc::reclaim
