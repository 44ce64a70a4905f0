// One round of "stats" requests to every libtmc process: what `tmcctl metrics` prints and
// what `tmcctl top` takes deltas of.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tmcctl/ctl_client.h"

namespace tmcctl {

struct ProcessSnapshot {
  int pid = 0;
  std::string command;  // /proc/PID/comm
  bool answered = false;  // false: running, with a control socket, but no stats reply
  StatValues stats;       // empty unless answered
  std::chrono::steady_clock::time_point taken;  // when the reply arrived
};

// Every process discovery finds (or only `only`, which must be among them), in pid order.
// A process gone by the time it is asked is left out: processes come and go, that is no
// error. Returns nullopt with *error set when discovery itself fails or `only` is not a
// libtmc process.
std::optional<std::vector<ProcessSnapshot>> snapshot_processes(std::optional<int> only, std::string* error);

}  // namespace tmcctl
