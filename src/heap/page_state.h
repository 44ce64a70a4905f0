// THE states of a managed OS page and the one 64-bit word that holds them. Every module
// that reads or changes a page's state goes through these definitions.
//
//   Resident ──(reclaimer: CAS, then UFFDIO_MOVE out)──► Evicting ──► Staged
//   Staged ──(reclaimer commits, at once or after TMC_PROBATION_AGE)──► Compressed | SameFilled
//   Staged ──(incompressible, pool full: reclaimer, via Evicting)──► Resident  (moved back)
//   Staged | Compressed | SameFilled ──(fault: copied back)──► Resident
//   Staged | Compressed | SameFilled ──(REMOVE/UNMAP event: purged)──► Resident  (reads zero)
//   Resident ──(REMOVE of an unguarded purge)──► Resident+ZapPending ──(seen gone)──► Resident
//   Evicting ──(MOVE failed: not present, shared, pinned)──► Resident
//   Resident ──(fault on a page that is not there: fault thread)──► Filling ──► Resident
//   Compressed ──(recompressor: reclaim/deep.h)──► Evicting ──► Compressed (deep blob)
//                                                          └──► Resident  (a fault had it back)
//
// Only the reclaimer moves a page into or out of Evicting, and only the fault thread into or
// out of Filling: while one of them owns a page that way, the other leaves it alone, so a
// page is never moved out while a zero page is being put in (or the other way round). The
// fault thread alone brings pages back (faults and REMOVE events are handled in order on
// it), so each transition has one writer and a CAS settles the rest.
//
// A REMOVE/UNMAP event for a page the reclaimer owns (Evicting) cannot wait for the
// reclaimer (the purging thread is blocked until the event is handled), so the fault thread
// sets kFlagPurged on the word instead; the reclaimer sees the flag when it tries to leave
// Evicting and makes sure the page ends up not there (it moves it out again if it had just
// moved it back), so purged memory reads as zero (design invariant 2).
//
// Entry's second word: SameFilled: the fill word; Compressed: the xxh3 of the page's bytes at
// eviction (TMC_VERIFY).
//
// Word layout: state (bits 0-3) | flags (4-7) | epoch (8-31) | payload (32-58) | heat (59-63).
//   epoch:   the reclaimer epoch (a second, or a pass without a cold age) in which the page
//            was last seen used (faulted back, seen written) or was evicted
//   payload: Staged: staging slot (of the ring, or of probation: reclaim/probation.h); Compressed: pool handle (< 2^27, Pool::kMaxHandles).
//            Evicting: 0, or the old handle of a blob being recompressed (reclaim/deep.h).
//            SameFilled keeps its fill word in the entry's second word.
//            Resident: 0, or the handle of the page's *retained* blob (TMC_RETAIN).
//
// Retained blobs. A page a fault brings back from Compressed may keep its blob (outside a
// fork window, up to TMC_RETAIN bytes of such blobs): the Resident word then carries the
// handle, and kFlagDict if the blob decodes with the dictionary. The blob is a copy of
// bytes the page held once, nothing more: the program may have written the page since
// (nothing tracks writes), so the reclaimer reuses it only after decoding it and comparing
// it byte for byte with the page it has just moved out. The handle belongs to whoever owns
// the word: the fault thread releases it when a purge names the page, the reclaimer when it
// takes the page (Resident -> Evicting) and the bytes differ; a word that changes drops it
// only through those two.
//   heat:    thrash back-off, carried through every state: raised when a page comes back
//            sooner than it had waited to be evicted, lowered when it stayed out long; a
//            page of heat h waits 2^h times the age threshold before its next eviction
//            (policy::next_heat).
#pragma once

#include <atomic>
#include <cstdint>

namespace tmc::heap {

enum class PageState : uint8_t {
  kResident = 0,  // in the application's page tables, or never touched, or purged
  kEvicting = 1,  // the reclaimer is moving it out; the fault thread waits
  kStaged = 2,    // moved to a staging slot, being compressed (or waiting in probation)
  kCompressed = 3,
  kSameFilled = 4,  // one repeated 8-byte word (zero included), no blob
  kFilling = 5,     // the fault thread is putting a fresh (zero) page in; the reclaimer waits
};

// Flags (bits 4-7 of the word).
inline constexpr uint8_t kFlagPurged = 1;         // purged while the reclaimer owned it
inline constexpr uint8_t kFlagIncompressible = 2;  // Resident: did not compress; retry later
inline constexpr uint8_t kFlagDict = 4;            // Compressed, or Resident with a retained blob: with the engine's dictionary
// Resident: a purge the application made without libtmc's madvise (a raw system call,
// io_uring) named this page, and the kernel zaps it only after the event is read: until a
// fault or the pagemap shows the page gone, the reclaimer leaves it where it is (moved out
// before the zap, its old bytes would come back). A MADV_FREE made that way (no zap) keeps
// its pages resident until they are next faulted in.
inline constexpr uint8_t kFlagZapPending = 8;
// Compressed only (the bits mean the above on Resident words, and no word carries both):
// the blob was recompressed at TMC_DEEP_LEVEL with the engine's deep dictionary
// (reclaim/deep.h), and decodes only with that; or recompression was tried and did not
// save enough, so it is not tried again.
inline constexpr uint8_t kFlagDeep = 8;
inline constexpr uint8_t kFlagDeepTried = 2;

const char* page_state_name(PageState s);

inline constexpr uint32_t kPayloadMask = (uint32_t{1} << 27) - 1;
inline constexpr uint8_t kMaxHeat = 5;  // 2^5 = 32 times the age threshold at most

struct PageWord {
  uint64_t raw = 0;

  PageState state() const { return static_cast<PageState>(raw & 0xf); }
  uint8_t flags() const { return static_cast<uint8_t>((raw >> 4) & 0xf); }
  uint32_t epoch() const { return static_cast<uint32_t>((raw >> 8) & 0xffffff); }
  uint32_t payload() const { return static_cast<uint32_t>(raw >> 32) & kPayloadMask; }
  uint8_t heat() const { return static_cast<uint8_t>(raw >> 59); }
  // Epochs from this word's epoch to epoch `now`. The field keeps 24 bits, so the difference
  // is taken modulo 2^24: a plain subtraction would make every page look 2^24 epochs old
  // once the counter passed 2^24 (194 days at a second an epoch; 4 days of 20 ms passes
  // without a cold age). A word stamped ahead of `now` is age 0, and so is a page untouched
  // for 2^23 epochs or more (97 days of seconds), which then ages again from there.
  uint32_t age(uint32_t now) const {
    uint32_t d = (now - epoch()) & 0xffffff;
    return d >= 0x800000 ? 0 : d;
  }

  static PageWord make(PageState s, uint32_t epoch, uint32_t payload, uint8_t flags = 0, uint8_t heat = 0) {
    return PageWord{static_cast<uint64_t>(s) | (static_cast<uint64_t>(flags & 0xf) << 4) |
                    (static_cast<uint64_t>(epoch & 0xffffff) << 8) |
                    (static_cast<uint64_t>(payload & kPayloadMask) << 32) |
                    (static_cast<uint64_t>(heat > kMaxHeat ? kMaxHeat : heat) << 59)};
  }
  PageWord with_flags(uint8_t f) const { return PageWord{raw | (static_cast<uint64_t>(f & 0xf) << 4)}; }
  // Resident: the handle of the page's retained blob (0: none), and its dictionary flag.
  uint32_t retained() const { return state() == PageState::kResident ? payload() : 0; }
  uint8_t retained_flags() const { return retained() != 0 ? static_cast<uint8_t>(flags() & kFlagDict) : 0; }
};

// One per managed OS page, in a region's page table.
struct PageEntry {
  std::atomic<uint64_t> word;  // a PageWord
  uint64_t fill;               // SameFilled: the repeated word; Compressed: the page's hash (both written before the state)

  PageWord load() const { return PageWord{word.load(std::memory_order_acquire)}; }
  bool cas(PageWord expected, PageWord desired) {
    return word.compare_exchange_strong(expected.raw, desired.raw, std::memory_order_acq_rel);
  }
};
static_assert(sizeof(PageEntry) == 16);

// Eviction registers address space with userfaultfd in blocks of this size, so never-
// evicted parts of the heap keep the kernel's own page faults.
inline constexpr uintptr_t kBlockSize = uintptr_t{2} << 20;
inline constexpr uintptr_t kPageSize = 4096;
inline constexpr uint32_t kPagesPerBlock = kBlockSize / kPageSize;

}  // namespace tmc::heap
