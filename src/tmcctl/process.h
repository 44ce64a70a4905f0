// What /proc says about a process, for tmcctl's listings.
#pragma once

#include <string>

namespace tmcctl {

// The command line, arguments joined by spaces ("" once the process is gone).
std::string read_cmdline(int pid);
// The command name the kernel keeps (/proc/PID/comm, at most 15 bytes, any bytes but NUL).
std::string read_comm(int pid);
// True while /proc/PID exists (a zombie counts as running).
bool is_running(int pid);

}  // namespace tmcctl
