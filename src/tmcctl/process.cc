#include "tmcctl/process.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

namespace tmcctl {
namespace {

std::string read_proc_file(int pid, const char* name) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

std::string read_cmdline(int pid) {
  std::string s = read_proc_file(pid, "cmdline");
  for (char& c : s)
    if (c == '\0') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string read_comm(int pid) {
  std::string s = read_proc_file(pid, "comm");
  if (!s.empty() && s.back() == '\n') s.pop_back();  // the kernel's, not the name's
  return s;
}

bool is_running(int pid) { return access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0; }

}  // namespace tmcctl
