#include "reclaim/probation.h"

#include "base/meta_alloc.h"

namespace tmc::reclaim {

bool Probation::init(uint32_t chunks, uint32_t first_slot) {
  if (chunks == 0) return true;
  chunks_ = static_cast<Chunk*>(base::meta_alloc(size_t{chunks} * sizeof(Chunk)));
  if (chunks_ == nullptr) return false;
  chunk_count_ = chunks;
  first_slot_ = first_slot;
  return true;
}

}  // namespace tmc::reclaim
