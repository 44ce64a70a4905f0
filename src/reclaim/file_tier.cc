// See file_tier.h.
#include "reclaim/file_tier.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "base/log.h"
#include "control/options.h"
#include "reclaim/engine.h"

namespace tmc::reclaim {

using heap::kPageSize;
using heap::PageEntry;
using heap::PageState;
using heap::PageWord;

void FileMover::init() {
  enabled_ = e_.pool_.files() != nullptr && e_.pool_.files()->enabled();
  age_epochs_ = e_.file_age_epochs();
  if (enabled_) e_.files_.set_writer_thread();
}

bool FileMover::candidate(PageWord w, uint32_t now) const {
  return w.state() == PageState::kCompressed && w.age(now) >= age_epochs_ && !e_.pool_.in_file(w.payload());
}

bool FileMover::scan(uint32_t now) {
  count_ = 0;
  PageEntry* entry;
  uintptr_t page;
  for (uint32_t looked = 0; looked < kScanPerStep && count_ < kBatch; ++looked) {
    if (!sweep_.next(*e_.regions_, &entry, &page)) return false;
    const PageWord w = entry->load();
    if (!candidate(w, now)) continue;
    // A blob dedup shares appears once per page: once is enough.
    bool seen = false;
    for (uint32_t i = 0; i < count_ && !seen; ++i) seen = handles_[i] == w.payload();
    if (!seen) handles_[count_++] = w.payload();
  }
  return true;
}

bool FileMover::move_batch() {
  uint64_t locations[kBatch];
  uint32_t sizes[kBatch];
  uint32_t taken = 0;
  bool ok = true;
  for (uint32_t i = 0; i < count_ && ok; ++i) {
    const uint32_t h = handles_[i];
    if (e_.pool_.ref_count(h) == 0) continue;  // freed since the scan
    const uint64_t location = e_.pool_.write_to_file(h, &sizes[taken]);
    if (location == pool::FileStore::kNoLocation) {
      const int err = errno;
      ok = false;
      if (err != last_errno_ && err != ENOSPC) {
        const char* name = strerrorname_np(err);
        log::warn().str("file tier: cannot write to the file (").str(name ? name : "?")
            .str("); blobs stay in memory until it can").flush();
      }
      last_errno_ = err;
      break;
    }
    handles_[taken] = h;
    locations[taken++] = location;
  }
  e_.files_.flush();
  {
    SpinLockGuard guard(e_.pool_lock_);  // no fault reads a blob whose slot is freed
    for (uint32_t i = 0; i < taken; ++i) e_.pool_.commit_to_file(handles_[i], locations[i], sizes[i]);
  }
  count_ = 0;
  if (ok) last_errno_ = 0;
  return ok;
}

bool FileMover::step(uint32_t now) {
  if (!enabled_) return false;
  pthread_mutex_lock(&e_.reclaim_lock_);
  bool more = false;
  // The fork window opens and closes under reclaim_lock_: none can start during the step.
  if (!e_.failed_.load() && !e_.eviction_suspended() && !e_.fork_window_.load(std::memory_order_acquire)) {
    more = scan(now);
    if (count_ != 0 && !move_batch()) more = false;
  }
  // Under the lock too: a fork takes descriptors of the open files meanwhile.
  e_.files_.close_drained();
  pthread_mutex_unlock(&e_.reclaim_lock_);
  return more;
}

}  // namespace tmc::reclaim
