// The pool's size classes, computed at compile time: a blob of b bytes (1..4096) is stored
// in a slot of the smallest class whose slot_size >= b, and each class carves spans of
// span_pages contiguous pages into `slots` slots. Waste is therefore the slot's slack
// (slot_size - b) plus the span's tail (span_pages * 4096 - slots * slot_size) shared by
// its slots.
//
// How the table is made (zsmalloc's recipe, with longer spans):
//  - candidate slot sizes every 16 bytes from 16 to 4096;
//  - for each, the span length is the smallest of 1..16 pages whose tail waste is at most
//    0.5%, or if none is, the length that wastes least;
//  - neighbouring candidates whose per-slot footprint (span bytes / slots) is the same are
//    one class: the larger slot costs nothing more, so the smaller one is dropped.
//
// The result (checked by tests/unit/pool/size_classes_test.cc):
//  - 196 classes; span lengths of 1..16 pages (15 classes use 1 page, 11 use 16);
//  - tail waste <= 0.5% in 182 classes, at most 1.32% (class 912: 15 pages, 67 slots);
//  - waste per blob (slack + tail share) relative to the blob, worst case / mean over
//    blob sizes drawn uniformly from the range:
//        1500..2500 bytes   3.2% (2049 in 2096) / 0.85%
//         500..3072 bytes   3.2% (529 in 544)   / 0.91%
//         256..4096 bytes   6.6% (3841 in 4096) / 1.14%
//    (slots near 4096 are coarse: 16 slots of 3840 need a 15-page span, the next step is
//    one page per blob). Small blobs waste more in relative terms (65 bytes use 80) but
//    pages rarely compress that far without being same-filled, which needs no blob.
//  Metadata per blob comes on top: a 16-byte handle entry and a 4-byte back reference in
//  its span's descriptor (about 1% of a 2 KiB blob).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::pool {

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kMinBlob = 1;
inline constexpr uint32_t kMaxBlob = 4096;
inline constexpr uint32_t kClassStep = 16;
inline constexpr uint32_t kMaxSpanPages = 16;
inline constexpr uint32_t kMaxClasses = kMaxBlob / kClassStep;

struct ClassInfo {
  uint16_t slot_size;   // bytes per slot; the class holds blobs of (previous slot_size, slot_size]
  uint16_t span_pages;  // pages per span
  uint16_t slots;       // slots per span
};

namespace detail {

struct ClassTable {
  ClassInfo classes[kMaxClasses];
  uint32_t count;
  uint8_t class_of_step[kMaxBlob / kClassStep + 1];  // index: (size + 15) / 16
};

constexpr ClassInfo best_span_for(uint32_t slot_size) {
  ClassInfo best{};
  for (uint32_t pages = 1; pages <= kMaxSpanPages; ++pages) {
    uint32_t bytes = pages * kPageSize;
    uint32_t slots = bytes / slot_size;
    uint32_t tail = bytes - slots * slot_size;
    ClassInfo c{static_cast<uint16_t>(slot_size), static_cast<uint16_t>(pages),
                static_cast<uint16_t>(slots)};
    if (tail * 200 <= bytes) return c;  // within 0.5%: the shortest such span
    // Otherwise keep the best use of span bytes: slots/pages largest.
    if (best.slots == 0 || slots * best.span_pages > best.slots * pages) best = c;
  }
  return best;
}

constexpr ClassTable build_class_table() {
  ClassTable t{};
  for (uint32_t size = kClassStep; size <= kMaxBlob; size += kClassStep) {
    ClassInfo c = best_span_for(size);
    if (t.count > 0) {
      ClassInfo& last = t.classes[t.count - 1];
      // Same bytes per slot: keep only the larger slot.
      if (uint32_t{last.span_pages} * c.slots == uint32_t{c.span_pages} * last.slots) {
        last = c;
        continue;
      }
    }
    t.classes[t.count++] = c;
  }
  uint32_t cls = 0;
  for (uint32_t step = 0; step <= kMaxBlob / kClassStep; ++step) {
    while (t.classes[cls].slot_size < step * kClassStep) ++cls;
    t.class_of_step[step] = static_cast<uint8_t>(cls);
  }
  return t;
}

inline constexpr ClassTable kClassTable = build_class_table();

}  // namespace detail

inline constexpr uint32_t kClassCount = detail::kClassTable.count;
static_assert(kClassCount <= 255, "class indexes are stored in a byte");

// The class for a blob of `size` bytes (kMinBlob..kMaxBlob).
constexpr uint32_t class_of(uint32_t size) {
  return detail::kClassTable.class_of_step[(size + kClassStep - 1) / kClassStep];
}
constexpr const ClassInfo& class_info(uint32_t cls) { return detail::kClassTable.classes[cls]; }

}  // namespace tmc::pool
