// Which pages are hot: hot_pages of the heap's pages, as one run (contiguous) or every
// stride-th page (strided). The accessors draw k uniformly in [0, hot_pages) and touch
// page_of(k); shifted() is the window --shift moves to, disjoint from this one.
#pragma once

#include <cstddef>

#include "options.h"

namespace acc {

struct HotWindow {
  Layout layout = Layout::kContiguous;
  size_t total = 0;      // pages of the heap
  size_t hot_pages = 0;  // pages in the window
  size_t start = 0;      // contiguous: first page; strided: phase within the stride
  size_t stride = 1;     // strided only

  static HotWindow first(Layout layout, size_t total, double hot_percent) {
    HotWindow w;
    w.layout = layout;
    w.total = total;
    w.hot_pages = static_cast<size_t>(static_cast<double>(total) * hot_percent / 100.0);
    if (w.hot_pages == 0) w.hot_pages = 1;
    w.stride = layout == Layout::kStrided ? total / w.hot_pages : 1;
    return w;
  }

  // Contiguous: the run half the heap further on; strided: the pages half a stride further
  // on. Disjoint from this window because hot_percent <= 50 (options.cc).
  HotWindow shifted() const {
    HotWindow w = *this;
    if (layout == Layout::kContiguous) w.start = (start + total / 2) % total;
    else w.start = (start + stride / 2) % stride;
    return w;
  }

  size_t page_of(size_t k) const {
    if (layout == Layout::kStrided) return k * stride + start;
    size_t p = start + k;  // start, k < total: one subtraction wraps it (no division per access)
    return p >= total ? p - total : p;
  }

  bool contains(size_t page) const {
    if (layout == Layout::kContiguous) return (page + total - start) % total < hot_pages;
    return page % stride == start && page / stride < hot_pages;
  }
};

}  // namespace acc
