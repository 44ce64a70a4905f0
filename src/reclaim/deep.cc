// See deep.h.
#include "reclaim/deep.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <cstring>

#include "base/log.h"
#include "base/meta_alloc.h"
#include "codec/dictionary.h"
#include "control/options.h"
#include "reclaim/engine.h"

namespace tmc::reclaim {

using heap::kPageSize;
using heap::PageEntry;
using heap::PageState;
using heap::PageWord;

bool DeepRecompressor::init(codec::PageCodec* decoder, const platform::Pagemap* pagemap) {
  decoder_ = decoder;
  pagemap_ = pagemap;
  enabled_ = false;
  if (control::option(control::OptionId::deep_age) == 0) return true;
  age_epochs_ = e_.deep_age_epochs();
  const int level = static_cast<int>(control::option(control::OptionId::deep_level));
  page_ = static_cast<char*>(base::meta_alloc(kPageSize));
  check_ = static_cast<char*>(base::meta_alloc(kPageSize));
  blob_ = static_cast<char*>(base::meta_alloc(2 * kPageSize));
  if (page_ == nullptr || check_ == nullptr || blob_ == nullptr ||
      !codec_.init(codec::CodecKind::kZstd, level, Engine::kDeepDictBytes)) {
    log::warn().str("TMC_DEEP_AGE: no memory or codec for recompression; blobs stay as they are").flush();
    return false;
  }
  // A forked child inherits the parent's deep dictionary, sealed or half filled.
  if (e_.deep_dict_.memory_bytes() == 0 &&
      !e_.deep_dict_.init(codec::CodecKind::kZstd, level, Engine::kDeepDictBytes)) {
    log::warn().str("TMC_DEEP_AGE: no memory for the deep dictionary; blobs stay as they are").flush();
    return false;
  }
  enabled_ = true;
  return true;
}

bool DeepRecompressor::candidate(PageWord w, uint32_t now) const {
  if (w.state() != PageState::kCompressed) return false;
  if ((w.flags() & (heap::kFlagDeep | heap::kFlagDeepTried)) != 0) return false;
  if (w.age(now) < age_epochs_) return false;
  // A blob dedup shares between pages would have to change in all of their words at once;
  // one in the file tier has left memory already.
  return e_.pool_.ref_count(w.payload()) == 1 && !e_.pool_.in_file(w.payload());
}

bool DeepRecompressor::scan(uint32_t now, bool count_only) {
  cand_count_ = 0;
  PageEntry* entry;
  uintptr_t page;
  for (uint32_t looked = 0; looked < kScanPerStep && cand_count_ < kBatch; ++looked) {
    if (!sweep_.next(*e_.regions_, &entry, &page)) {
      if (e_.deep_dict_ready_.load(std::memory_order_relaxed)) {
        e_.deep_sweep_candidates_.store(sweep_found_, std::memory_order_relaxed);
        e_.deep_sweeps_.fetch_add(1, std::memory_order_relaxed);
      }
      sweep_found_ = 0;
      return false;
    }
    if (!candidate(entry->load(), now)) continue;
    ++sweep_found_;
    if (count_only) {
      ++counted_;
      continue;
    }
    cand_page_[cand_count_] = page;
    cand_entry_[cand_count_] = entry;
    ++cand_count_;
  }
  return true;
}

bool DeepRecompressor::step(uint32_t now) {
  if (!enabled_) return false;
  pthread_mutex_lock(&e_.reclaim_lock_);
  bool more = false;
  // The fork window opens and closes under reclaim_lock_: none can start during the step.
  if (!e_.failed_.load() && !e_.eviction_suspended() && !e_.fork_window_.load(std::memory_order_acquire)) {
    if (!e_.deep_dict_ready_.load(std::memory_order_acquire)) {
      more = fill_dictionary(now);
    } else if (e_.deep_dict_.compression_tables_dropped()) {
      more = await_bulk(now);
    } else {
      more = scan(now);
      Taken taken[kBatch];
      uint32_t n = 0;
      for (uint32_t i = 0; i < cand_count_; ++i) {
        PageWord w = cand_entry_[i]->load();
        if (candidate(w, now) && take(cand_page_[i], cand_entry_[i], w, &taken[n])) ++n;
      }
      cand_count_ = 0;
      if (n != 0) {
        wait_for_fault_loads();
        for (uint32_t i = 0; i < n; ++i) {
          uint64_t pm = 0;
          if (!pagemap_->entries(taken[i].page, 1, &pm)) {
            // Without the page tables nothing tells whether a fault put the page back: it
            // keeps its old blob, as if never taken, and eviction stops.
            e_.fail("reading the page tables while recompressing", EIO);
            put_back(taken[i]);
            continue;
          }
          settle(taken[i], (pm & platform::kPagemapPresent) != 0, now);
        }
      }
      // Caught up: the compression tables wait for the next bulk without their memory.
      if (!more && e_.deep_sweep_candidates_.load(std::memory_order_relaxed) < bulk_pages())
        e_.deep_dict_.drop_compression_tables();
    }
  }
  pthread_mutex_unlock(&e_.reclaim_lock_);
  return more && !dict_failed_;
}

uint64_t DeepRecompressor::bulk_pages() const {
  const uint64_t share = e_.compressed_pages_.load(std::memory_order_relaxed) / 100;
  return share > kBulkMinPages ? share : kBulkMinPages;
}

// While the compression tables are dropped: sweeps that only count candidates; once one
// finds a bulk of them, the tables are built again and the next sweep takes them.
bool DeepRecompressor::await_bulk(uint32_t now) {
  if (scan(now, /*count_only=*/true)) return true;
  counted_ = 0;
  if (e_.deep_sweep_candidates_.load(std::memory_order_relaxed) >= bulk_pages() &&
      !e_.deep_dict_.restore_compression_tables()) {
    log::warn().str("TMC_DEEP_AGE: the deep dictionary's compression tables could not be rebuilt; recompression stops")
        .flush();
    dict_failed_ = true;
    enabled_ = false;
  }
  return false;
}

// The dictionary sweeps: a counting one, repeated until at least half of the compressed
// pages are candidates, then a sampling one that decodes every
// sample_stride_-th candidate into the deep dictionary, so the samples spread over the
// whole cold heap. Sealed when full, or at the end of the sampling sweep if it is at least
// half full; otherwise (candidates went away) it counts again.
bool DeepRecompressor::fill_dictionary(uint32_t now) {
  codec::Dictionary& d = e_.deep_dict_;
  const uint64_t wanted = Engine::kDeepDictBytes / kPageSize;
  if (sample_stride_ == 0) {
    if (scan(now, /*count_only=*/true)) return true;
    // Sampled once at least half of the pool's pages, and enough to fill it, are old
    // enough: the samples come from the cold heap as it settles, not from the first pages
    // that went out (a heap with less than the dictionary's size of cold pages has little
    // to gain from recompression).
    const uint64_t compressed = e_.compressed_pages_.load(std::memory_order_relaxed);
    if (counted_ < wanted || counted_ * 2 < compressed) {
      counted_ = 0;
      return false;
    }
    sample_stride_ = counted_ / wanted;
    sample_seen_ = 0;
    counted_ = 0;
    return true;
  }
  const bool more = scan(now);
  bool full = d.full();
  for (uint32_t i = 0; i < cand_count_ && !full; ++i) {
    PageWord w = cand_entry_[i]->load();
    if (!candidate(w, now) || sample_seen_++ % sample_stride_ != 0) continue;
    if (decode_old(w) == 0) continue;
    full = d.add_sample(page_);
  }
  cand_count_ = 0;
  if (!full && more) return true;
  const bool enough = full || d.content_size() * 2 >= Engine::kDeepDictBytes;
  sample_stride_ = 0;
  if (!enough) {
    d.discard_samples();  // taken again, at the next count's stride
    return false;
  }
  if (!d.seal() || !codec_.self_test(&d)) {
    log::warn().str("TMC_DEEP_AGE: the deep dictionary could not be built; blobs stay as they are").flush();
    dict_failed_ = true;
    enabled_ = false;
    return false;
  }
  e_.deep_dict_ready_.store(true, std::memory_order_release);
  log::info().str("deep dictionary ready (").u64(d.content_size() >> 10).str(" KiB of samples)").flush();
  // Recompression starts a sweep of its own from the heap's start, so that deep_sweeps
  // counts whole sweeps of it (the dictionary usually fills before its sweep ends).
  sweep_.restart();
  sweep_found_ = 0;
  return true;
}

// Decodes Compressed word w's blob into page_ under a reference of our own; returns the
// blob's size, 0 if it is gone or does not decode. With reclaim_lock_ held (nothing compacts
// the pool meanwhile: only this thread does).
uint32_t DeepRecompressor::decode_old(PageWord w) {
  const pool::Handle h = w.payload();
  if (!e_.pool_.retain(h)) return 0;
  uint32_t size = 0;
  const void* blob = e_.pool_.data(h, &size);
  const bool ok = blob != nullptr && decoder_->decode(blob, size, page_, e_.dictionary_for(w));
  e_.pool_.release(h);
  return ok ? size : 0;
}

// Steps 1 and 2 (deep.h) for one page; true if the page is now taken (Evicting), with the
// new blob stored and a reference of ours on the old one.
bool DeepRecompressor::take(uintptr_t page, PageEntry* entry, PageWord w, Taken* out) {
  const pool::Handle old = w.payload();
  if (!e_.pool_.retain(old)) return false;
  uint32_t old_size = 0;
  const void* blob = e_.pool_.data(old, &old_size);
  if (blob == nullptr || !decoder_->decode(blob, old_size, page_, e_.dictionary_for(w))) {
    e_.pool_.release(old);  // a fault on the page will say so
    return false;
  }
  const codec::Dictionary* dict = &e_.deep_dict_;
  codec::Encoded enc = codec_.encode(page_, blob_, 2 * kPageSize, old_size * kKeepPercent / 100, dict);
  const bool shrank = enc.kind == codec::Encoded::Kind::kCompressed && enc.with_dict;
  // Checked by decoding it again: once the old blob goes, this one is the only copy.
  if (!shrank || !codec_.decode(blob_, enc.size, check_, dict) || memcmp(check_, page_, kPageSize) != 0) {
    if (shrank) log::warn().str("TMC_DEEP_AGE: a recompressed page did not decode back equal; it keeps its blob").flush();
    entry->cas(w, w.with_flags(heap::kFlagDeepTried));
    e_.pool_.release(old);
    return false;
  }
  const pool::Handle fresh = e_.pool_.store(blob_, enc.size);
  if (fresh == pool::kNoHandle) {  // the pool is at TMC_POOL_MAX or out of memory
    e_.pool_.release(old);
    return false;
  }
  if (!entry->cas(w, taken_word(w))) {  // faulted back or purged since the load
    e_.pool_.release(fresh);
    e_.pool_.release(old);
    return false;
  }
  *out = Taken{page, entry, w, old_size, fresh, enc.size};
  return true;
}

PageWord DeepRecompressor::taken_word(PageWord old) {
  return PageWord::make(PageState::kEvicting, old.epoch(), old.payload(), 0, old.heat());
}

// Step 3: until the fault thread has loaded another page word (a load that comes after the
// takes, so any fault that loaded an old word is over: fault thread is one thread) or is
// between sections. The fence pairs with FaultService::load_word's.
void DeepRecompressor::wait_for_fault_loads() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint64_t seen = e_.fault_word_loads_.load(std::memory_order_seq_cst);
  for (uint32_t i = 0;; ++i) {
    if (e_.fault_word_loads_.load(std::memory_order_seq_cst) != seen) return;
    if (!e_.dispatching_.load(std::memory_order_seq_cst)) return;
    if (i < 100) {
      sched_yield();
    } else {
      timespec ts{0, 50000};
      nanosleep(&ts, nullptr);
    }
  }
}

// A purge flagged the taken page: it reads zeros from now on (Resident, its zap pending).
void DeepRecompressor::leave_purged(const Taken& t) {
  t.entry->cas(taken_word(t.old).with_flags(heap::kFlagPurged),
               PageWord::make(PageState::kResident, 0, 0, heap::kFlagZapPending));
}

// Leaves a taken page as it was: Compressed with its old blob. The new blob goes.
void DeepRecompressor::put_back(const Taken& t) {
  const PageWord taken = taken_word(t.old);
  if (!t.entry->cas(taken, t.old)) {
    // Purged while taken: nothing of it is kept.
    leave_purged(t);
    e_.pool_.release(t.old.payload());
    e_.compressed_pages_.fetch_sub(1, std::memory_order_relaxed);
  }
  e_.pool_.release(t.new_handle);
  e_.pool_.release(t.old.payload());  // ours
}

// Step 4 (deep.h).
void DeepRecompressor::settle(const Taken& t, bool present, uint32_t now) {
  const PageWord taken = taken_word(t.old);
  const pool::Handle old = t.old.payload();
  int64_t freed = t.old_size;  // pool bytes given up, for the target's hold
  if (present) {
    // A fault that loaded the old word before the take put the page back from the old
    // blob, and its CAS failed: the page is Resident, and nothing else will release that
    // blob. A purge that named it meanwhile may still zap it.
    if (!t.entry->cas(taken, PageWord::make(PageState::kResident, now, 0, 0, t.old.heat())))
      leave_purged(t);
    e_.pool_.release(old);
    e_.compressed_pages_.fetch_sub(1, std::memory_order_relaxed);
    e_.deep_given_back_.fetch_add(1, std::memory_order_relaxed);
    e_.pool_.release(t.new_handle);
    freed = 0;  // the fault counted the old blob as released when it brought the page back
  } else if (t.entry->cas(taken, PageWord::make(PageState::kCompressed, t.old.epoch(), t.new_handle, heap::kFlagDeep,
                                                t.old.heat()))) {
    // The entry's second word, the hash of the page's bytes, stays: the bytes are the same.
    e_.pool_.release(old);
    e_.deep_pages_.fetch_add(1, std::memory_order_relaxed);
    e_.deep_recompressed_.fetch_add(1, std::memory_order_relaxed);
    e_.deep_saved_bytes_.fetch_add(t.old_size - t.new_size, std::memory_order_relaxed);
    freed = static_cast<int64_t>(t.old_size) - static_cast<int64_t>(t.new_size);
  } else {
    // Purged while taken (the fault thread flagged it): the page reads zeros from now on.
    leave_purged(t);
    e_.pool_.release(old);
    e_.compressed_pages_.fetch_sub(1, std::memory_order_relaxed);
    e_.pool_.release(t.new_handle);
  }
  e_.pool_.release(old);  // ours: the last reference now, so the old blob goes
  e_.over_target_.fetch_sub(freed, std::memory_order_relaxed);
}

}  // namespace tmc::reclaim
