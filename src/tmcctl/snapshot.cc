#include "tmcctl/snapshot.h"

#include <algorithm>

#include "tmcctl/process.h"

namespace tmcctl {

std::optional<std::vector<ProcessSnapshot>> snapshot_processes(std::optional<int> only, std::string* error) {
  std::string discovery_error;
  std::vector<int> pids = discover_pids(&discovery_error);
  if (!discovery_error.empty()) return *error = discovery_error, std::nullopt;
  if (only) {
    if (std::find(pids.begin(), pids.end(), *only) == pids.end())
      return *error = "process " + std::to_string(*only) + " is not running libtmc with a control socket", std::nullopt;
    pids = {*only};
  }
  std::vector<ProcessSnapshot> out;
  for (int pid : pids) {
    ProcessSnapshot snap;
    snap.pid = pid;
    snap.command = read_comm(pid);
    std::string request_error;
    auto reply = request(pid, "stats", &request_error);
    snap.taken = std::chrono::steady_clock::now();
    // Discovery and the request are not one step: a process may exit in between. A failed
    // request to a pid /proc no longer has is such a process (skipped); one still running
    // did not answer (reported as down).
    if (!reply && !is_running(pid)) continue;
    if (reply) {
      snap.answered = true;
      snap.stats = parse_flat_json(*reply);
    }
    out.push_back(std::move(snap));
  }
  return out;
}

}  // namespace tmcctl
