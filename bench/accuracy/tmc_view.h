// libtmc's statistics as seen from inside the program, by name. The program is not linked
// to libtmc: tmc_stats_get comes from the preload through dlsym. Names and offsets come from
// include/tmc/stats.def as this tree has it, so a statistic added there (backoff_pages, ...)
// is reported here with no change, and one that does not exist reads as absent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace acc {

struct StatField {
  const char* name;
  const char* unit;
};

const StatField* stat_fields();
size_t stat_field_count();

// One snapshot of every field, in stat_fields() order.
struct StatsSnapshot {
  static constexpr size_t kMaxFields = 256;
  uint64_t values[kMaxFields] = {};
  std::optional<uint64_t> get(const char* name) const;
  uint64_t get_or_zero(const char* name) const { return get(name).value_or(0); }
};

class TmcView {
 public:
  // Finds tmc_stats_get and tmc_is_active; false if the program runs without the preload.
  bool load();
  bool active() const;
  // Exits with a message if libtmc refuses: the measurements need every snapshot.
  StatsSnapshot snapshot() const;
  // Sends one command of the control protocol (tmc/ctl_protocol.h: "target 512M") to this
  // process's own socket, as tmcctl would, and puts the reply (NUL-terminated) in reply.
  // False with a message on stderr if the socket cannot be reached (TMC_CONTROL=0).
  bool command(const char* line, char* reply, size_t size) const;

 private:
  int (*stats_get_)(void*) = nullptr;
  int (*is_active_)() = nullptr;
};

}  // namespace acc
