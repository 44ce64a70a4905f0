// Talking to one libtmc process over its control socket (include/tmc/ctl_protocol.h), and
// finding every process that has one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tmcctl {

// Sends one request and returns the whole reply, or an error message in *error. The reply
// must start within timeout_s seconds.
std::optional<std::string> request(int pid, const std::string& command, std::string* error, int timeout_s = 5);

// The flat {"name": integer, ...} object the stats command returns, in its order.
using StatValues = std::vector<std::pair<std::string, uint64_t>>;
StatValues parse_flat_json(const std::string& s);
// The value of one field, if the reply has it.
std::optional<uint64_t> find_stat(const StatValues& values, const std::string& name);

// Processes with a libtmc control socket, in pid order, read from /proc/net/unix (abstract
// names show up there as "@tmc.PID"). Empty with *error set if that file cannot be read.
std::vector<int> discover_pids(std::string* error);

}  // namespace tmcctl
