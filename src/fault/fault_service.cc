// The fault thread: reads the userfaultfd and
//   - PAGEFAULT: brings the page back (copy from its staging slot, decompress its blob,
//     fill its word, or map zeros for a page that was never evicted but lies in a
//     registered block) and wakes the faulting thread;
//   - REMOVE / UNMAP: drops the state of the pages in the range, so purged memory reads as
//     zero and never gets old contents back (design invariant 2);
//   - FORK: sends the child's userfaultfd to the child (engine.cc, prefork).
// While RSS is above TMC_TARGET, faults that would add memory are held back, each for up
// to TMC_TARGET_HOLD, until the reclaimer has made room (policy::hold_fault); events and
// other faults go on meanwhile.
// Events are handled in the order the kernel delivers them. While a fork is in progress
// everything goes on being served (glibc's fork takes locks in heap memory after the
// atfork handlers); the fork window (reclaim/fork_window.h) keeps the forked child's copy
// of the page states and the pool exact instead.
//
// This thread never allocates and never touches managed memory (design invariant 4).
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "base/log.h"
#include "base/meta_alloc.h"
#include "control/options.h"
#include "platform/proc_fs.h"
#include "platform/uffd_compat.h"
#include "policy/policy.h"
#include "reclaim/engine.h"
#include "sites/sampler.h"

namespace tmc::reclaim {
namespace {

using heap::kPageSize;
using heap::PageEntry;
using heap::PageState;
using heap::PageWord;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

class FaultService {
 public:
  explicit FaultService(Engine& e) : e_(e) {}

  bool init() {
    auto kind = control::option(control::OptionId::codec) == 1 ? codec::CodecKind::kZstd : codec::CodecKind::kLz4;
    if (!codec_.init(kind, static_cast<int>(control::option(control::OptionId::zstd_level)))) return false;
    // Deep blobs (TMC_DEEP_AGE) are zstd whatever TMC_CODEC is; decoding needs no more than
    // the decompression context, so the level does not matter.
    if (control::option(control::OptionId::deep_age) != 0 &&
        !deep_codec_.init(codec::CodecKind::kZstd, 1, Engine::kDeepDictBytes))
      return false;
    spin_ns_ = control::option(control::OptionId::fault_spin);
    hold_max_ns_ = control::option(control::OptionId::target_hold);
    verify_ = control::option_bool(control::OptionId::verify);
    // The requests served so far, not the requests made: a restore_all() asked before this
    // thread got here (a fork at the very start of a process without fork events, whose
    // prefork restores every page) must still be served. Read from restore_asked_ it was
    // taken as served, and fork() waited for it forever.
    restore_seen_ = e_.restore_passes_.load(std::memory_order_acquire);
    page_ = static_cast<char*>(base::meta_alloc(kPageSize));
    zero_ = static_cast<char*>(base::meta_alloc(kPageSize));
    file_blob_ = static_cast<char*>(base::meta_alloc(kPageSize));
    return page_ != nullptr && zero_ != nullptr && file_blob_ != nullptr;
  }

  void run() {
    // A forked child's thread waits until the parent has stopped serving its faults.
    while (!e_.child_may_serve_.load(std::memory_order_acquire)) {
      timespec ts{0, 200000};
      nanosleep(&ts, nullptr);
    }
    uint64_t cpu_reported = platform::thread_cpu_ns();
    uint32_t rounds = 0;
    for (;;) {
      if (child_.is_open() && e_.stop_child_serve_.load(std::memory_order_acquire)) stop_serving_child();
      const bool restore_asked = e_.restore_asked_.load(std::memory_order_acquire) != restore_seen_;
      pollfd polls[2] = {{e_.uffd_.fd(), POLLIN, 0}, {child_.fd(), POLLIN, 0}};
      pollfd& p = polls[0];
      // Held faults are looked at every 50 us: room comes batch by batch, and a single-threaded
      // program waits on each one.
      timespec timeout{0, restore_asked ? 0 : held_count_ > 0 ? 50'000 : (child_.is_open() || retry_count_ > 0 ? 1'000'000 : 200'000'000)};
      int n = ppoll(polls, child_.is_open() ? 2 : 1, &timeout, nullptr);
      if (child_.is_open() && (polls[1].revents & POLLIN)) serve_child_messages();
      if (n < 0 && errno != EINTR) {
        e_.fail("poll on userfaultfd", errno);
        return;
      }
      if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
        log::warn().str("userfaultfd was closed under libtmc; compressed pages are lost to this process").flush();
        return;
      }
      if (section([this] { return read_and_dispatch(); }) && spin_ns_ != 0) {
        // Stay awake a little for the next message: waking an idle vCPU costs more than the
        // fault itself on virtual machines (design notes), and faults come in bursts.
        uint64_t last = now_ns();
        while (now_ns() - last < spin_ns_) {
          if (section([this] { return read_and_dispatch(); })) last = now_ns();
          else if (held_count_ == 0 || !section([this] { return release_held(); })) sched_yield();
        }
      }
      section([this] { return release_held(); });
      section([this] { return retry_pending(); });
      if (restore_asked) restore();
      // Reading the thread's CPU clock is a system call: do it when idle or every 256 rounds,
      // not on every fault's path.
      if (n == 0 || ++rounds % 256 == 0) {
        uint64_t cpu = platform::thread_cpu_ns();
        e_.cpu_ns_fault_.fetch_add(cpu - cpu_reported, std::memory_order_relaxed);
        cpu_reported = cpu;
      }
    }
  }

 private:
  // Runs one section of work that may change page states or free blobs: from the read of a
  // message to its handling, with the fork window read once at the start (Engine::
  // dispatching_ tells prefork when this thread is between sections; fork_window.h).
  template <typename F>
  bool section(F work) {
    e_.dispatching_.store(true, std::memory_order_seq_cst);
    window_ = e_.fork_window_.load(std::memory_order_seq_cst);
    bool did = work();
    e_.dispatching_.store(false, std::memory_order_release);
    return did;
  }

  // Reads what is there (non-blocking) and handles it; false if there was nothing.
  // Address-space events of one read go before its faults: the kernel lets a purge go on to
  // its zap as soon as its REMOVE event is read, so a fault on the same page read in the same
  // batch, served first, could put the old contents back after the zap. Served after the
  // drop, it gets a zero page, as if the purge had come first (it raced the access anyway).
  // No page moves from the read to the end of the events' handling (reclaim/move_fence.h).
  bool read_and_dispatch() {
    uffd_msg msgs[16];
    e_.move_fence_.enter_read();
    ssize_t got = read(e_.uffd_.fd(), msgs, sizeof(msgs));
    if (got <= 0) {
      e_.move_fence_.leave_read();
      return false;
    }
    ssize_t n = got / static_cast<ssize_t>(sizeof(uffd_msg));
    for (ssize_t i = 0; i < n; ++i)
      if (msgs[i].event != UFFD_EVENT_PAGEFAULT) dispatch(msgs[i]);
    e_.move_fence_.leave_read();
    for (ssize_t i = 0; i < n; ++i)
      if (msgs[i].event == UFFD_EVENT_PAGEFAULT) dispatch(msgs[i]);
    return true;
  }

  void dispatch(const uffd_msg& msg) {
    if (msg.event == UFFD_EVENT_FORK) {
      hand_over(static_cast<int>(msg.arg.fork.ufd));
      return;
    }
    // A fault of libtmc's own thread is never held: the reclaimer is what makes the room
    // the held faults wait for.
    if (msg.event == UFFD_EVENT_PAGEFAULT && should_hold() &&
        !e_.is_own_thread(static_cast<int32_t>(msg.arg.pagefault.feat.ptid))) {
      hold(msg);
      return;
    }
    handle(msg);
  }

  // ---- holding faults while RSS is above the target ----------------------------------
  // A fault waits in held_ (in arrival order) until the reclaimer has brought RSS back
  // within the target's slack, or for TMC_TARGET_HOLD. Served afterwards, it is handled like
  // a retried fault: after the events read meanwhile, which is the order a purge racing
  // the access could have had anyway.
  bool should_hold() const {
    if (held_count_ != 0) return true;  // behind the ones already waiting
    // After an internal error the reclaimer makes no more room.
    return e_.hold_.load(std::memory_order_relaxed) && !e_.failed_.load(std::memory_order_relaxed) &&
           policy::hold_fault(e_.over_target_.load(std::memory_order_relaxed), hold_line(), 0, hold_max_ns_);
  }

  // How far RSS may be above the target before faults wait: the slack, plus the floor the
  // reclaimer cannot get below (Engine::target_floor_).
  uint64_t hold_line() const {
    return policy::hold_slack(e_.target_bytes_.load(std::memory_order_relaxed)) +
           e_.target_floor_.load(std::memory_order_relaxed);
  }

  void hold(const uffd_msg& msg) {
    if (held_count_ == kMaxQueued) {  // cannot happen: each faulting thread waits
      handle(msg);
      return;
    }
    held_[(held_first_ + held_count_) % kMaxQueued] = {msg, now_ns()};
    ++held_count_;
    e_.faults_held_.store(held_count_, std::memory_order_relaxed);
    if (held_count_ == 1) e_.room_wanted_.notify();  // the reclaimer may be pausing
    e_.held_faults_.fetch_add(1, std::memory_order_relaxed);
  }

  // Lets go of the held faults whose wait is over; true if it let any go.
  bool release_held() {
    if (held_count_ == 0) return false;
    const uint64_t line = hold_line();
    const bool on = e_.hold_.load(std::memory_order_relaxed) && !e_.failed_.load(std::memory_order_relaxed);
    bool any = false;
    while (held_count_ != 0) {
      Held& h = held_[held_first_];
      uint64_t waited = now_ns() - h.since;
      if (on && policy::hold_fault(e_.over_target_.load(std::memory_order_relaxed), line, waited, hold_max_ns_)) break;
      e_.hold_ns_.fetch_add(waited, std::memory_order_relaxed);
      uffd_msg msg = h.msg;
      held_first_ = (held_first_ + 1) % kMaxQueued;
      --held_count_;
      e_.faults_held_.store(held_count_, std::memory_order_relaxed);
      handle(msg);
      any = true;
    }
    return any;
  }

  // A fault of one of libtmc's own threads: the race Reclaimer::unshare() describes (its
  // write met a page the application had just purged), or a bug (invariant 4), said once
  // with the thread and the address.
  void note_own_fault(const uffd_msg& msg, uintptr_t page) {
    if (page == e_.unshare_page_.load(std::memory_order_acquire)) {
      e_.unshare_purged_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (e_.self_faults_.fetch_add(1, std::memory_order_relaxed) != 0) return;
    char path[64], comm[32] = "?";
    snprintf(path, sizeof(path), "/proc/self/task/%u/comm", msg.arg.pagefault.feat.ptid);
    if (platform::read_small_file(path, comm, sizeof(comm)) > 0) comm[strcspn(comm, "\n")] = '\0';
    log::warn().str("bug: a libtmc thread (").str(comm).str(", tid ").u64(msg.arg.pagefault.feat.ptid)
        .str(") faulted on managed memory at ").hex(msg.arg.pagefault.address).flush();
  }

  void handle(const uffd_msg& msg) {
    switch (msg.event) {
      case UFFD_EVENT_PAGEFAULT: {
        const uintptr_t page = msg.arg.pagefault.address & ~(kPageSize - 1);
        if (e_.is_own_thread(static_cast<int32_t>(msg.arg.pagefault.feat.ptid))) note_own_fault(msg, page);
        Outcome o = resolve(page, (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0);
        if (o == Outcome::kRetry) retry_later(msg);
        return;
      }
      case UFFD_EVENT_REMOVE:
        drop(msg.arg.remove.start, msg.arg.remove.end);
        break;
      case UFFD_EVENT_UNMAP:
        drop(msg.arg.remove.start, msg.arg.remove.end);
        break;
      case UFFD_EVENT_REMAP:
        // jemalloc never mremaps its extents; a program that moves heap pages itself would
        // take evicted pages' holes with it.
        log::warn().str("a managed range was mremapped; its evicted pages are dropped").flush();
        drop(msg.arg.remap.from, msg.arg.remap.from + msg.arg.remap.len);
        break;
      default:
        break;
    }
  }

  // EAGAIN from COPY/ZEROPAGE: the kernel has a REMOVE/UNMAP/REMAP event for us that we
  // have not read yet, and the address space is changing. The fault waits until the events
  // read after it are handled, so a purge is applied before the page is filled (a fill
  // before the purge's zap would be undone; after it, old bytes would come back).
  void retry_later(const uffd_msg& msg) {
    if (retry_count_ < kMaxQueued) {
      retry_[retry_count_++] = msg;
      return;
    }
    // No room (more faulting threads than kMaxQueued): a message read and not answered
    // would leave its thread waiting for good. Woken, the thread faults again, and the new
    // message is read after the pending events.
    e_.uffd_.wake(reinterpret_cast<void*>(msg.arg.pagefault.address & ~(kPageSize - 1)), kPageSize);
  }

  bool retry_pending() {
    if (retry_count_ == 0) return false;
    uint32_t n = retry_count_;
    retry_count_ = 0;
    for (uint32_t i = 0; i < n; ++i) handle(retry_[i]);
    return true;
  }

  // The FORK event put the child's userfaultfd in this thread's table: keep it, to serve
  // the child's faults until the child's own thread runs; postfork_parent sends the child a
  // copy (engine.cc).
  void hand_over(int child_fd) {
    if (e_.fork_socket_.load(std::memory_order_acquire) < 0) {
      // A fork that bypassed libc's fork() (raw clone): there is no child to hand it to.
      log::warn().str("a child was forked without fork(); its evicted pages will read as zero").flush();
      close(child_fd);
    } else {
      child_.adopt(child_fd, e_.uffd_.features());
      e_.child_serve_fd_.store(child_.fd(), std::memory_order_release);
    }
    e_.handed_over_.store(true, std::memory_order_release);
  }

  // A fault of the forked child, before its own fault thread runs: served from the page
  // word the child holds (this process's, or the word a page had before this thread changed
  // it during the fork window) and from this process's pool and staging slots, where nothing
  // is freed, compacted or reused until the child serves itself (reclaim/fork_window.h).
  // Nothing here is changed: the child's own copies of the page state and the blob stay as
  // they are (a page the child has back in place is never faulted on again; its copy of the
  // blob is released when the page is).
  void serve_child(const uffd_msg& msg) {
    if (msg.event != UFFD_EVENT_PAGEFAULT) {
      // Nothing that runs in the child before its fault thread purges or unmaps heap memory;
      // if something did, the child's copy of the page state would not know.
      log::warn().str("forked child changed its address space before its fault thread ran (")
          .str(platform::uffd_event_name(msg.event)).str(")").flush();
      return;
    }
    uintptr_t page = msg.arg.pagefault.address & ~(kPageSize - 1);
    bool write = (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
    PageEntry* entry = e_.regions_->page_entry(page);
    PageWord w = entry != nullptr ? entry->load() : PageWord{};
    if (entry != nullptr && !e_.fork_log_.old_word(entry, &w) && e_.fork_log_.overflowed_now()) {
      // Changes went unlogged: read the child's own word instead.
      if (!read_child_word(msg.arg.pagefault.feat.ptid, entry, &w)) {
        log::warn().str("cannot read a forked child's page state (").str(strerror(errno))
            .str("); its page at ").hex(page).str(" is served from this process's").flush();
      }
    }
    const void* src = zero_;
    switch (w.state()) {
      case PageState::kCompressed: {
        uint32_t size = 0;
        // No compaction or file move while forking: no pool_lock_ needed.
        const void* blob = e_.pool_.fetch(w.payload(), file_blob_, &size);
        if (blob == nullptr || !decode_blob(blob, size, w)) {
          // The child's fault thread would find the same blob: say so here, in the parent,
          // and give the child zeros rather than stop this process.
          log::warn().str("corrupt compressed page at ").hex(page).str(" of a forked child").flush();
          e_.verify_failures_.fetch_add(1, std::memory_order_relaxed);
          break;
        }
        verify(page, entry, w, page_, "forked child (served by its parent)");
        src = page_;
        break;
      }
      case PageState::kSameFilled:
        if (entry->fill != 0) {
          codec::PageCodec::fill(page_, entry->fill);
          src = page_;
        }
        break;
      case PageState::kStaged:  // cannot be: the reclaimer is between batches while forking
        src = e_.staging_ + w.payload() * kPageSize;
        break;
      default:  // not evicted: a page that was not there
        if (!write) {
          answer_child(page, child_.zeropage(reinterpret_cast<void*>(page), kPageSize, true));
          return;
        }
        break;
    }
    answer_child(page, child_.copy(reinterpret_cast<void*>(page), src, kPageSize, true));
  }

  // A child's fault read here must not be left unanswered: its thread would wait for good.
  // EAGAIN (an address-space event of the child's is pending): wake the thread instead, so
  // that it faults again and the new message is read with the event (here, or by the
  // child's own fault thread once this one has let go). EEXIST woke it already; ESRCH: the
  // child is gone.
  void answer_child(uintptr_t page, int err) {
    if (err == EAGAIN) err = child_.wake(reinterpret_cast<void*>(page), kPageSize);
    if (err == 0 || err == EEXIST || err == ESRCH) return;
    log::warn().str("cannot serve a forked child's fault at ").hex(page).str(" (").str(strerrorname_np(err))
        .str(")").flush();
  }

  // The word and second word of `entry` in the child whose thread `tid` faulted.
  static bool read_child_word(uint32_t tid, const PageEntry* entry, PageWord* w) {
    uint64_t words[2];
    iovec local{words, sizeof(words)};
    iovec remote{const_cast<PageEntry*>(entry), sizeof(words)};
    if (tid == 0 || process_vm_readv(static_cast<pid_t>(tid), &local, 1, &remote, 1, 0) != sizeof(words)) return false;
    w->raw = words[0];
    return true;
  }

  void serve_child_messages() {
    uffd_msg msgs[16];
    ssize_t got = read(child_.fd(), msgs, sizeof(msgs));
    for (ssize_t i = 0; i < got / static_cast<ssize_t>(sizeof(uffd_msg)); ++i) serve_child(msgs[i]);
  }

  void stop_serving_child() {
    close(child_.fd());
    child_ = platform::Uffd{};
    e_.stop_child_serve_.store(false, std::memory_order_relaxed);
    e_.child_serve_fd_.store(-1, std::memory_order_release);
  }

  // Returns 0, EEXIST (already there: woken) or EAGAIN (retry after pending events).
  // ENOMEM (a memory limit) is retried too: the faulting thread must not be left waiting.
  int install(uintptr_t page, const void* bytes) {
    int err = e_.uffd_.copy(reinterpret_cast<void*>(page), bytes, kPageSize, true);
    if (err == ENOMEM) {
      sched_yield();
      return EAGAIN;
    }
    if (err != 0 && err != EEXIST && err != EAGAIN) e_.fail("UFFDIO_COPY", err);
    return err;
  }

  enum class Outcome { kDone, kRetry };

  // ---- changing a page's word back to Resident --------------------------------------------
  // Every path that brings an evicted page back (or drops it) ends here, after the page is
  // installed (or known gone): `old` → `now`, and what `old` held is given up. During a fork
  // window the change is logged first and the blob is kept (reclaim/fork_window.h); the
  // counters change at once either way. False if the word was no longer `old`.
  // With keep_blob (a Compressed page coming back with its blob retained: `now` names it),
  // the blob is not released.
  bool retire(PageEntry* entry, PageWord old, PageWord now, bool keep_blob = false) {
    // Every change is logged, not only those that free a blob: a forked child served from
    // here must see the word it holds (a SameFilled page that came back after the fork is
    // still SameFilled there).
    const bool logged = window_ && e_.fork_log_.append(entry, old);
    if (!entry->cas(old, now)) {
      if (logged) e_.fork_log_.drop_last();
      return false;
    }
    switch (old.state()) {
      case PageState::kCompressed:
        // In a window the blob stays: settle() frees it once the child serves itself (or
        // never, if the log was full: leaked rather than freed under the child's copy).
        if (!window_ && !keep_blob) e_.pool_.release(old.payload());
        e_.compressed_pages_.fetch_sub(1, std::memory_order_relaxed);
        if (Engine::is_deep(old)) e_.deep_pages_.fetch_sub(1, std::memory_order_relaxed);
        break;
      case PageState::kSameFilled:
        (entry->fill == 0 ? e_.zero_pages_ : e_.same_pages_).fetch_sub(1, std::memory_order_relaxed);
        break;
      default:  // Staged: the slot is the reclaimer's; Resident: only flags changed
        break;
    }
    return true;
  }

  // TMC_VERIFY: a Compressed page's entry carries the xxh3 of its bytes at eviction (the
  // reclaimer's commit), checked against what decoding gave. A mismatch is logged with all
  // that is known of the page and counted (verify_failures); the bytes are installed anyway,
  // since the blob is the only copy.
  void verify(uintptr_t page, const PageEntry* entry, PageWord w, const void* bytes, const char* path) {
    if (!verify_ || entry == nullptr || w.state() != PageState::kCompressed) return;
    uint64_t want = entry->fill;
    uint64_t got = codec::page_hash(bytes, e_.hash_seed_);
    if (got == want) return;
    e_.verify_failures_.fetch_add(1, std::memory_order_relaxed);
    log::warn().str("verify: page ").hex(page).str(" came back with other bytes than it left with (path: ").str(path)
        .str("; word: ").str(heap::page_state_name(w.state())).str(", handle ").u64(w.payload())
        .str(", flags ").u64(w.flags()).str(", heat ").u64(w.heat()).str(", left in epoch ").u64(w.epoch())
        .str(", now ").u64(e_.epoch_.load(std::memory_order_relaxed)).str("; hash ").hex(got)
        .str(", expected ").hex(want).str(")").flush();
  }

  // Decodes a Compressed page's blob into page_ (and checks it). Returns the blob's size,
  // 0 if the blob is gone or does not decode. from_file_ says whether it was read from the
  // file tier.
  uint32_t decode(uintptr_t page, const PageEntry* entry, PageWord w, const char* path) {
    SpinLockGuard guard(e_.pool_lock_);  // against compaction or the file mover moving the blob
    uint32_t size = 0;
    const void* blob = e_.pool_.fetch(w.payload(), file_blob_, &size);
    from_file_ = blob == file_blob_;
    if (blob == nullptr && e_.pool_.in_file(w.payload())) {
      const char* name = strerrorname_np(errno);
      log::warn().str("cannot read the blob of page ").hex(page).str(" back from the file tier (")
          .str(name ? name : "?").str(")").flush();
    }
    if (blob == nullptr || !decode_blob(blob, size, w)) return 0;
    verify(page, entry, w, page_, path);
    return size;
  }

  // Decodes the blob of Compressed word w into page_, with the codec and dictionary it was
  // made with.
  bool decode_blob(const void* blob, uint32_t size, PageWord w) {
    codec::PageCodec& c = Engine::is_deep(w) ? deep_codec_ : codec_;
    return c.decode(blob, size, page_, e_.dictionary_for(w));
  }

  // Every load of a page word from which a page may be brought back goes through here:
  // the count tells a recompressor (reclaim/deep.h) that loads made before it took a page
  // are over. The fence pairs with the recompressor's, between its CAS and its read of
  // the count.
  PageWord load_word(const PageEntry* entry) {
    e_.fault_word_loads_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return entry->load();
  }

  Outcome resolve(uintptr_t page, bool write) {
    uint64_t start = now_ns();
    PageEntry* entry = e_.regions_->page_entry(page);
    uint32_t now = e_.epoch_.load(std::memory_order_relaxed);
    if (entry == nullptr) {  // not managed memory: nothing of ours; let the thread go on
      return install(page, zero_) == EAGAIN ? Outcome::kRetry : Outcome::kDone;
    }
    const uint32_t threshold = e_.age_threshold_.load(std::memory_order_relaxed);
    for (;;) {
      PageWord w = load_word(entry);
      // Back from eviction (Staged, Compressed, SameFilled): w.epoch() is when it left, and
      // coming back soon raises its heat (thrash back-off, policy/policy.h).
      const uint32_t distance = w.age(now);
      PageWord resident = PageWord::make(PageState::kResident, now, 0, 0,
                                         policy::next_heat(w.heat(), distance, threshold, heap::kMaxHeat));
      switch (w.state()) {
        case PageState::kResident: {
          Outcome o;
          if (fill_fresh(page, entry, w, write, &o)) return o;
          continue;  // the word changed under us
        }
        case PageState::kFilling:  // only this thread sets it, and always clears it
          e_.fail("a page left in the Filling state", EINVAL);
          return Outcome::kDone;
        case PageState::kEvicting:
          sched_yield();  // the reclaimer's move is under way
          continue;
        case PageState::kStaged: {
          SpinLockGuard guard(e_.staging_lock_);
          if (entry->load().raw != w.raw) continue;  // committed or moved back meanwhile
          // A slot whose page was discarded (MADV_FREE, memory pressure) reads as zeros.
          if (install(page, e_.staging_ + w.payload() * kPageSize) == EAGAIN) return Outcome::kRetry;
          retire(entry, w, resident);
          brought_back(kPageSize);  // a copy: the slot stays resident until the ring is emptied
          break;
        }
        case PageState::kCompressed: {
          uint32_t size = decode(page, entry, w, "fault");
          if (size == 0) {
            // The blob is the only copy: nothing can be done but say so loudly.
            log::warn().str("corrupt compressed page at ").hex(page).str("; aborting rather than returning wrong data").flush();
            abort();
          }
          if (install(page, page_) == EAGAIN) return Outcome::kRetry;
          const bool keep = may_retain(size, w);
          come_back(entry, w, now, resident.heat(), size, keep);
          brought_back(keep ? kPageSize : kPageSize - size);
          if (extends_run(page)) fault_around(page, now);  // moves last_fault_ on
          break;
        }
        case PageState::kSameFilled: {
          uint64_t fill = entry->fill;
          if (fill != 0) codec::PageCodec::fill(page_, fill);
          if (install(page, fill == 0 ? zero_ : page_) == EAGAIN) return Outcome::kRetry;
          retire(entry, w, resident);
          brought_back(kPageSize);
          break;
        }
      }
      if (w.state() != PageState::kCompressed) extends_run(page);
      e_.faults_.fetch_add(1, std::memory_order_relaxed);
      sites::note_fault(page);
      const uint32_t soon = threshold == policy::kNoThreshold || threshold == 0 ? e_.cold_age_epochs() : threshold;
      if (distance <= soon) e_.refaults_.fetch_add(1, std::memory_order_relaxed);
      if (soon != 0 && distance <= 4 * uint64_t{soon}) e_.refault_distance_ms_.record(uint64_t{distance} * 1000);
      const uint64_t took = now_ns() - start;
      e_.fault_latency_.record(took);
      if (w.state() == PageState::kCompressed && from_file_) e_.file_fault_latency_.record(took);
      return Outcome::kDone;
    }
  }

  // TMC_RETAIN: whether a page coming back from Compressed word w may keep its blob of
  // `size` bytes. Never in a fork window: there every blob of a page brought back is the
  // fork log's to release. Nor a deep blob (reclaim/deep.h): the reclaimer, which compares
  // a kept blob with the page, decodes with TMC_CODEC's codec only.
  bool may_retain(uint32_t size, PageWord w) const {
    if (window_ || e_.retain_max_ == 0 || Engine::is_deep(w)) return false;
    return e_.retained_bytes_.load(std::memory_order_relaxed) + static_cast<int64_t>(size) <=
           static_cast<int64_t>(e_.retain_max_);
  }

  // A Resident page with a retained blob whose bytes are gone (purged):
  // the word drops the handle (adding `flags`), then the blob is released. Outside a fork
  // window only; in one the handle stays, and the reclaimer's comparison drops it later.
  // False if the word changed first.
  bool drop_retained(PageEntry* entry, PageWord w, uint8_t flags) {
    const uint32_t h = w.retained();
    const PageWord bare = PageWord::make(PageState::kResident, w.epoch(), 0,
                                         static_cast<uint8_t>((w.flags() & ~heap::kFlagDict) | flags), w.heat());
    if (!entry->cas(w, bare)) return false;
    const uint32_t size = e_.pool_.size_of(h);
    e_.pool_.release(h);
    e_.forget_retained(size, /*released=*/true);
    e_.retained_changed_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // A fault on a Resident page: never evicted, or purged; a page in a registered block that
  // was not there. It gets zeros. Outside a fork window the page is owned (Filling) while the
  // zero page goes in: the fault may be stale (another thread's fault on the same page was
  // served first), and the reclaimer must not move the page out under the fill. In a fork
  // window the reclaimer is stopped, and no transient state may reach the child's copy.
  // Either way the fault shows that the page is not there: a purge that was still to zap it
  // (kFlagZapPending) is done, so the reclaimer may take it again once it is filled.
  // False if the word changed before the fill began (the caller looks again).
  bool fill_fresh(uintptr_t page, PageEntry* entry, PageWord w, bool write, Outcome* outcome) {
    PageWord done = PageWord{w.raw & ~(uint64_t{heap::kFlagZapPending} << 4)};
    PageWord filling = filling_word(done);
    if (!window_ && !entry->cas(w, filling)) return false;
    int err = write ? e_.uffd_.copy(reinterpret_cast<void*>(page), zero_, kPageSize, true)
                    : e_.uffd_.zeropage(reinterpret_cast<void*>(page), kPageSize, true);
    // Only this thread leaves Filling. On EAGAIN (an event is pending) the page may still
    // be there to zap: the flag stays until the retried fault.
    entry->cas(window_ ? w : filling, err == EAGAIN ? w : done);
    *outcome = Outcome::kDone;
    if (err == EAGAIN) *outcome = Outcome::kRetry;
    else if (err != 0 && err != EEXIST) e_.fail("resolving a fresh page", err);
    if (err == 0 && write) brought_back(kPageSize);  // a read maps the shared zero page
    if (err == 0 && !window_) zero_ahead(page);
    return true;
  }

  // Brings an evicted page back without a fault of its own (fault-around, restore): the
  // page goes in without a wake-up (a thread faulting on it meanwhile is woken when its own
  // message is served). Returns false if it was not brought back (not evicted, cannot be
  // decoded, or cannot be installed at once); *blob_size gets the size of the blob given
  // up (0 if none, or if the page keeps it).
  // With keep_age the page keeps its epoch and heat: it is as cold as before and is evicted
  // again at the reclaimer's next pass that finds it eligible (a fork's restore).
  // With may_keep the page may keep its blob (TMC_RETAIN): fault-around, whose pages are
  // brought back ahead of use and often evicted again unchanged. A restore keeps none: it
  // is asked for when every page must be in memory (mlockall, a core dump, a debugger).
  bool bring_back(uintptr_t page, PageEntry* entry, uint32_t now, const char* path, uint32_t* blob_size,
                  bool keep_age = false, bool may_keep = false) {
    PageWord w = load_word(entry);
    const void* src = nullptr;
    *blob_size = 0;
    switch (w.state()) {
      case PageState::kCompressed:
        *blob_size = decode(page, entry, w, path);
        if (*blob_size == 0) return false;  // the fault on it, if one comes, says so
        src = page_;
        break;
      case PageState::kSameFilled:
        codec::PageCodec::fill(page_, entry->fill);
        src = page_;
        break;
      case PageState::kStaged: {
        SpinLockGuard guard(e_.staging_lock_);
        if (entry->load().raw != w.raw) return false;
        if (e_.uffd_.copy(reinterpret_cast<void*>(page), e_.staging_ + w.payload() * kPageSize, kPageSize, false) != 0)
          return false;
        return retire(entry, w, PageWord::make(PageState::kResident, keep_age ? w.epoch() : now, 0, 0, w.heat()));
      }
      default:
        return false;
    }
    if (e_.uffd_.copy(reinterpret_cast<void*>(page), src, kPageSize, false) != 0) return false;
    // Brought back ahead of use: as much a refault as a faulting page, for the back-off.
    const uint32_t epoch = keep_age ? w.epoch() : now;
    const uint8_t heat = keep_age ? w.heat()
                                  : policy::next_heat(w.heat(), w.age(now),
                                                      e_.age_threshold_.load(std::memory_order_relaxed), heap::kMaxHeat);
    const bool keep = may_keep && w.state() == PageState::kCompressed && may_retain(*blob_size, w);
    if (!come_back(entry, w, epoch, heat, *blob_size, keep)) return false;
    if (keep) *blob_size = 0;
    return true;
  }

  // A Compressed or SameFilled page is in place again (installed): its word becomes
  // Resident with `epoch` and `heat`, keeping the blob (of blob_size bytes) if `keep`.
  bool come_back(PageEntry* entry, PageWord w, uint32_t epoch, uint8_t heat, uint32_t blob_size, bool keep) {
    if (keep) {
      PageWord kept = PageWord::make(PageState::kResident, epoch, w.payload(), w.flags() & heap::kFlagDict, heat);
      if (!retire(entry, w, kept, /*keep_blob=*/true)) return false;
      e_.retained_bytes_.fetch_add(blob_size, std::memory_order_relaxed);
      e_.retained_pages_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    return retire(entry, w, PageWord::make(PageState::kResident, epoch, 0, 0, heat));
  }

  // Counts faults on consecutive pages, and says whether this one makes a sequential run
  // (a scan, a forked child writing its snapshot, a large value read) that fault-around
  // should get ahead of: the third page of a run. Two in a row are most often one object
  // across a page boundary (an object of s bytes lies across one with a chance of about
  // s / 4 KiB), after which the next pages hold other objects: under a Zipf load at a 50%
  // target, 36% of the pages Redis got back came by fault-around from such pairs, each a
  // decode now and a compression at its next eviction.
  bool extends_run(uintptr_t page) {
    run_ = page == last_fault_ + kPageSize ? run_ + 1 : 1;
    last_fault_ = page;
    return run_ >= kFaultAroundRun;
  }

  // In a sequential run (extends_run), bring back the following compressed pages too,
  // before they are asked for, each without a wake-up. Stops at the first page that is
  // not compressed or cannot be installed at once. The run goes on from the last page
  // brought back, so a scan that reaches it gets the next ones at its next fault.
  void fault_around(uintptr_t page, uint32_t now) {
    for (uint32_t k = 1; k <= kFaultAroundPages; ++k) {
      uintptr_t next = page + k * kPageSize;
      PageEntry* entry = e_.regions_->page_entry(next);
      if (entry == nullptr || entry->load().state() != PageState::kCompressed) return;
      // A page that may hold a sampled object (a page of its own, sites/sampler.h) comes
      // back only when that object is touched: its state is the object's temperature.
      if (sites::g_table.maybe_sampled_page(next)) return;
      uint32_t size = 0;
      if (!bring_back(next, entry, now, "fault-around", &size, /*keep_age=*/false, /*may_keep=*/true)) return;
      e_.fault_around_.fetch_add(1, std::memory_order_relaxed);
      brought_back(kPageSize - size);
      last_fault_ = next;
    }
  }

  // restore_all(): every evicted page of every region comes back. A block at a time, with
  // the messages that arrived meanwhile served between blocks, so faulting threads do not
  // wait for the whole heap.
  void restore() {
    const uint32_t asked = e_.restore_asked_.load(std::memory_order_acquire);
    const bool keep_age = e_.restore_keep_age_.exchange(false, std::memory_order_acq_rel);
    uint64_t count = 0, left = 0;
    const uint32_t now = e_.epoch_.load(std::memory_order_relaxed);
    for (int r = 0; r < e_.regions_->region_count(); ++r) {
      heap::RegionView v = e_.regions_->view(r);
      for (uintptr_t block = v.base; block < v.frontier; block += heap::kBlockSize) {
        section([&] {
          uintptr_t end = block + heap::kBlockSize < v.frontier ? block + heap::kBlockSize : v.frontier;
          for (uintptr_t page = block; page < end; page += kPageSize) {
            PageEntry* entry = &v.pages[(page - v.base) / kPageSize];
            PageState st = entry->load().state();
            // A page the reclaimer is moving is left to it: the caller stops eviction first
            // when it needs every page (mlock).
            if (st != PageState::kCompressed && st != PageState::kSameFilled && st != PageState::kStaged) continue;
            uint32_t size = 0;
            if (bring_back(page, entry, now, "restore", &size, keep_age)) {
              ++count;
              brought_back(kPageSize - size);
            } else {
              ++left;
            }
          }
          return true;
        });
        section([this] { return read_and_dispatch(); });
      }
    }
    restore_seen_ = asked;
    e_.restore_last_count_.store(count, std::memory_order_relaxed);
    e_.restore_last_left_.store(left, std::memory_order_relaxed);
    e_.restore_passes_.store(asked, std::memory_order_release);
    e_.restore_done_.notify();
  }

  // A fault on a page that was never there (fresh, or purged) in a registered block: the
  // pages after it are usually touched next (jemalloc hands extents out front to back; a
  // memset or a load runs through them). Up to kZeroAheadPages of them that are not there
  // either get the shared zero page, without a wake-up: a read of one then costs nothing and
  // a write a kernel copy-on-write fault (about 4 us here) instead of a userfaultfd round
  // trip (about 25 us), and the zero page takes no memory. Each page is owned (Filling)
  // meanwhile, like the faulting page, so the reclaimer cannot move one out under the fill;
  // a page that is there stops the run (EEXIST) and never gets zeros. Not in a fork window,
  // where no page may be seen Filling.
  void zero_ahead(uintptr_t page) {
    PageEntry* entries[kZeroAheadPages];
    PageWord words[kZeroAheadPages];
    uint32_t n = 0;
    const uintptr_t block_end = (page & ~(heap::kBlockSize - 1)) + heap::kBlockSize;  // registered as one
    for (uintptr_t next = page + kPageSize; n < kZeroAheadPages && next < block_end; next += kPageSize) {
      PageEntry* entry = e_.regions_->page_entry(next);
      if (entry == nullptr) break;
      PageWord w = entry->load();
      // A page a purge has still to zap may be there: stop rather than guess.
      if (w.state() != PageState::kResident || (w.flags() & heap::kFlagZapPending) != 0 ||
          !entry->cas(w, filling_word(w)))
        break;
      entries[n] = entry;
      words[n] = w;
      ++n;
    }
    // Whatever it returns, nothing is lost: pages it did not reach fault as before.
    if (n != 0) (void)e_.uffd_.zeropage(reinterpret_cast<void*>(page + kPageSize), n * kPageSize, false);
    for (uint32_t i = 0; i < n; ++i) entries[i]->cas(filling_word(words[i]), words[i]);  // only this thread leaves Filling
  }

  static PageWord filling_word(PageWord resident) {
    return PageWord::make(PageState::kFilling, resident.epoch(), 0, resident.flags());
  }

  // RSS grew by `bytes` (a page in, its blob released): the target's hold sees it before
  // the reclaimer next reads VmRSS.
  // Crossing the target (plus the floor the reclaimer cannot get below) wakes a reclaimer
  // that waits for that (it does while the target demands room: Reclaimer::
  // target_demands_room), so that it makes room before faults have to wait for it. A notify
  // with nobody waiting makes no system call.
  void brought_back(uint32_t bytes) {
    const int64_t before = e_.over_target_.fetch_add(bytes, std::memory_order_relaxed);
    const auto line = static_cast<int64_t>(e_.target_floor_.load(std::memory_order_relaxed));
    if (before <= line && before + static_cast<int64_t>(bytes) > line && e_.hold_.load(std::memory_order_relaxed))
      e_.room_wanted_.notify();
  }

  // Purged (REMOVE), unmapped (UNMAP), moved away (REMAP): whatever was evicted there is
  // gone and the next touch reads zeros. The kernel zaps a purged range only after this
  // event is read, so a page there may still be present for a while: it is marked
  // kFlagZapPending, and the reclaimer does not move it out until it sees it gone (or a
  // fault shows it gone): moved out before the zap, its old bytes would come back later.
  void drop(uint64_t start, uint64_t end) {
    // A purge made through libtmc's madvise or jemalloc's hooks holds reclaim_lock_ until
    // its zap is done, so the reclaimer cannot race it: nothing to mark.
    const bool guarded = start >= e_.guarded_purge_start_.load(std::memory_order_acquire) &&
                         end <= e_.guarded_purge_end_.load(std::memory_order_acquire);
    const uint8_t zap = guarded ? 0 : heap::kFlagZapPending;
    for (uintptr_t page = start & ~(kPageSize - 1); page < end; page += kPageSize) {
      PageEntry* entry = e_.regions_->page_entry(page);
      if (entry == nullptr) continue;
      for (;;) {
        PageWord w = entry->load();
        if (w.state() == PageState::kFilling) break;  // only in zero_ahead, on this thread: cannot be
        if (w.state() == PageState::kEvicting) {
          // The reclaimer owns it; it sees the flag and leaves the page not there. Waiting
          // here instead could deadlock: the purging thread may hold what the reclaimer needs.
          if ((w.flags() & heap::kFlagPurged) != 0 || entry->cas(w, w.with_flags(heap::kFlagPurged))) break;
          continue;
        }
        if (w.state() == PageState::kResident) {
          if (w.retained() != 0 && !window_) {
            if (drop_retained(entry, w, zap)) break;
            continue;
          }
          if ((w.flags() & zap) == zap || entry->cas(w, w.with_flags(zap))) break;
          continue;
        }
        // A Staged page's slot is dropped by the reclaimer's failed commit.
        if (retire(entry, w, PageWord::make(PageState::kResident, 0, 0, zap))) break;
      }
    }
  }

  static constexpr uint32_t kMaxQueued = 4096;
  static constexpr uint32_t kFaultAroundPages = 8;
  static constexpr uint32_t kFaultAroundRun = 3;  // pages in a row before fault-around
  static constexpr uint32_t kZeroAheadPages = 16;
  Engine& e_;
  codec::PageCodec codec_;
  codec::PageCodec deep_codec_;  // zstd, for deep blobs (TMC_DEEP_AGE)
  char* page_ = nullptr;
  char* zero_ = nullptr;
  char* file_blob_ = nullptr;  // a blob read back from the file tier (Pool::fetch)
  bool from_file_ = false;     // the last decode() read its blob from the file tier
  uint64_t spin_ns_ = 0;  // TMC_FAULT_SPIN
  uintptr_t last_fault_ = 0;  // the last page served (or brought back ahead), for extends_run
  uint32_t run_ = 0;          // consecutive pages faulted up to last_fault_
  platform::Uffd child_;      // a forked child's descriptor while serving its faults
  uffd_msg retry_[kMaxQueued];  // waiting for pending address-space events (EAGAIN)
  uint32_t retry_count_ = 0;
  struct Held {
    uffd_msg msg;
    uint64_t since;  // when it was held
  };
  Held held_[kMaxQueued];  // a ring: waiting for room under the RSS target
  uint32_t held_first_ = 0, held_count_ = 0;
  uint64_t hold_max_ns_ = 0;  // TMC_TARGET_HOLD
  bool verify_ = false;       // TMC_VERIFY
  bool window_ = false;       // the fork window, as read at the start of the current section
  uint32_t restore_seen_ = 0;  // restore_all() requests served
};

}  // namespace

void* fault_service_main(void* arg) {
  Engine& e = *static_cast<Engine*>(arg);
  e.fault_tid_.store(static_cast<int32_t>(gettid()), std::memory_order_relaxed);
  // Testing only (TMC_TEST_FAULT_START_DELAY_MS): a thread that starts late, as it may on a
  // loaded machine.
  if (e.fault_start_delay_ms_ != 0) {
    timespec ts{static_cast<time_t>(e.fault_start_delay_ms_ / 1000), static_cast<long>(e.fault_start_delay_ms_ % 1000) * 1000000};
    nanosleep(&ts, nullptr);
  }
  void* memory = base::meta_alloc(sizeof(FaultService));
  if (memory == nullptr) {
    e.fail("allocating the fault service", ENOMEM);
  } else {
    auto* service = new (memory) FaultService(e);
    if (!service->init()) {
      log::warn().str("the fault thread could not set up its codec").flush();
      abort();  // pages may already be evicted in a forked child: they could never come back
    }
    service->run();
  }
  // Never exit: glibc's thread exit frees the thread's TLS vector, which lives in the heap
  // and may be evicted, and an exiting thread's faults are not served.
  for (;;) pause();
}

}  // namespace tmc::reclaim
