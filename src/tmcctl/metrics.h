// `tmcctl metrics`: every libtmc process's statistics in the Prometheus text exposition
// format 0.0.4, for node_exporter's textfile collector (packaging/prometheus/).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tmcctl/snapshot.h"

namespace tmcctl {

// Prints the exposition of every libtmc process (or only `pid`); returns the exit status.
int cmd_metrics(std::optional<int> pid);

// The exposition text of these snapshots: libtmc_up, then one family per statistic of
// tmc/stats.def, each with its HELP and TYPE lines before its samples.
std::string format_metrics(const std::vector<ProcessSnapshot>& processes);

}  // namespace tmcctl
