#include "heap/page_state.h"

namespace tmc::heap {

const char* page_state_name(PageState s) {
  switch (s) {
    case PageState::kResident: return "resident";
    case PageState::kEvicting: return "evicting";
    case PageState::kStaged: return "staged";
    case PageState::kCompressed: return "compressed";
    case PageState::kSameFilled: return "same-filled";
    case PageState::kFilling: return "filling";
  }
  return "unknown";
}

}  // namespace tmc::heap
