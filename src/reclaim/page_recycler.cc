// See page_recycler.h.
#include "reclaim/page_recycler.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "heap/page_state.h"
#include "platform/uffd_compat.h"

namespace tmc::reclaim {

using heap::kPageSize;

bool PageRecycler::open() {
  if (uffd_.is_open()) return true;
  const char* why = nullptr;
  given_up_ = uffd_.open(UFFD_FEATURE_MOVE, UFFD_FEATURE_MOVE, &why) != 0;
  return !given_up_;
}

void PageRecycler::close_after_fork(bool in_this_table) {
  if (in_this_table) uffd_.close();
  else uffd_.forget();
  next_ = end_ = nullptr;
  given_up_ = false;
}

void PageRecycler::give_up(const char* what, int err) {
  given_up_ = true;
  const char* name = strerrorname_np(err);
  log::info().str("pool pages are taken fresh from the kernel from now on (").str(what).str(": ")
      .str(name != nullptr ? name : "?").str(")").flush();
}

bool PageRecycler::adopt(void* chunk, size_t bytes) {
  if (given_up_ || !uffd_.is_open()) return false;
  if (int err = uffd_.register_write_protect(chunk, bytes)) {
    give_up("registering a pool chunk", err);
    return false;
  }
  return true;
}

size_t PageRecycler::fill(void* dst, size_t pages) {
  char* to = static_cast<char*>(dst);
  size_t done = 0;
  int busy_retries = 0;
  while (done < pages && next_ < end_ && !given_up_) {
    size_t run = pages - done;
    size_t offered = static_cast<size_t>(end_ - next_) / kPageSize;
    if (run > offered) run = offered;
    size_t moved = 0;
    int err = uffd_.move(to + done * kPageSize, next_, run * kPageSize, false, &moved);
    size_t k = moved / kPageSize;
    done += k;
    next_ += k * kPageSize;
    recycled_.fetch_add(k, std::memory_order_relaxed);
    switch (err) {
      case 0:
        break;
      case ENOENT:  // an empty slot: its page went back to the heap (incompressible)
      case EBUSY:   // shared with a forked child: it stays for the ring to drop
        next_ += kPageSize;
        break;
      case EEXIST:  // this pool page is there already (it was a free span's dirty page)
        ++done;
        break;
      case EAGAIN:  // a short move (a page being reclaimed or migrated): the pool faults in the rest
        if (++busy_retries > 2) return done;
        break;
      default:
        give_up("UFFDIO_MOVE into the pool", err);
        return done;
    }
  }
  return done;
}

}  // namespace tmc::reclaim
