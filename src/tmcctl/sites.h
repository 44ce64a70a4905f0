// `tmcctl sites PID`: which code holds the heap, how much of it is compressed, and which
// keeps it hot (sites.cc).
#pragma once

#include <string>

namespace tmcctl {

struct SitesOptions {
  bool json = false;
  std::string sort = "bytes";  // bytes | evicted | cold | faults
  double interval_s = 1.0;     // between the two readings faults/s come from; 0: none
  int top = 30;                // rows of the table
  int frames = 3;              // frames shown per site in the table
};

int cmd_sites(int pid, const SitesOptions& options);

}  // namespace tmcctl
