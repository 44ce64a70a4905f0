// tmcctl: the operator's client for processes running libtmc.
//
//   tmcctl list                    processes answering on a libtmc control socket
//   tmcctl stats PID [--json]      statistics as a table, or the raw JSON
//   tmcctl options PID             options the process runs with
//   tmcctl restore PID             bring every evicted page back (before a debugger attaches)
//   tmcctl version PID
//
// Talks the protocol of include/tmc/ctl_protocol.h. Never linked into libtmc.so.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tmc/ctl_protocol.h"

namespace {

int usage() {
  std::cerr << "usage: tmcctl list\n"
               "       tmcctl stats PID [--json]\n"
               "       tmcctl options PID\n"
               "       tmcctl target PID SIZE|N%|off   (e.g. 1G, 60% of peak RSS)\n"
               "       tmcctl restore PID   bring every evicted page back (debuggers, core dumps)\n"
               "       tmcctl version PID\n";
  return 2;
}

// Sends one request and returns the whole reply, or an error message in *error. The reply
// must start within timeout_s seconds.
std::optional<std::string> request(int pid, const std::string& command, std::string* error, int timeout_s = 5) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return *error = strerror(errno), std::nullopt;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = TMC_CTL_SOCKET_PREFIX + std::to_string(pid);
  memcpy(addr.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    *error = "process " + std::to_string(pid) + " is not running libtmc with a control socket (" +
             strerror(errno) + ")";
    close(fd);
    return std::nullopt;
  }
  timeval tv{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string line = command + "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    *error = std::string("send: ") + strerror(errno);
    close(fd);
    return std::nullopt;
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (reply.empty()) return *error = "no reply from process " + std::to_string(pid), std::nullopt;
  if (reply.rfind("error: ", 0) == 0) {
    *error = reply.substr(7);
    while (!error->empty() && error->back() == '\n') error->pop_back();
    return std::nullopt;
  }
  return reply;
}

// Parses the flat {"name": integer, ...} object the stats command returns, keeping order.
std::vector<std::pair<std::string, unsigned long long>> parse_flat_json(const std::string& s) {
  std::vector<std::pair<std::string, unsigned long long>> out;
  size_t i = 0;
  while ((i = s.find('"', i)) != std::string::npos) {
    size_t end = s.find('"', i + 1);
    if (end == std::string::npos) break;
    std::string key = s.substr(i + 1, end - i - 1);
    size_t colon = s.find(':', end);
    if (colon == std::string::npos) break;
    out.emplace_back(key, std::strtoull(s.c_str() + colon + 1, nullptr, 10));
    i = s.find_first_of(",}", colon);
    if (i == std::string::npos) break;
  }
  return out;
}

std::string human_bytes(unsigned long long v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double d = static_cast<double>(v);
  int u = 0;
  while (d >= 1024 && u < 4) d /= 1024, ++u;
  char buf[32];
  snprintf(buf, sizeof(buf), u ? "%.1f %s" : "%.0f %s", d, units[u]);
  return buf;
}

std::string human_ns(unsigned long long v) {
  char buf[32];
  if (v >= 1000000000ull) snprintf(buf, sizeof(buf), "%.2f s", v / 1e9);
  else if (v >= 1000000ull) snprintf(buf, sizeof(buf), "%.2f ms", v / 1e6);
  else if (v >= 1000ull) snprintf(buf, sizeof(buf), "%.1f us", v / 1e3);
  else snprintf(buf, sizeof(buf), "%llu ns", v);
  return buf;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int cmd_stats(int pid, bool json) {
  std::string error;
  auto reply = request(pid, "stats", &error);
  if (!reply) return std::cerr << "tmcctl: " << error << "\n", 1;
  if (json) return std::cout << *reply, 0;
  auto fields = parse_flat_json(*reply);
  std::cout << "libtmc stats for pid " << pid << "\n";
  unsigned long long orig = 0, compr = 0;
  int width = static_cast<int>(strlen("compression_ratio"));
  for (auto& field : fields) width = std::max(width, static_cast<int>(field.first.size()));
  for (auto& [name, value] : fields) {
    std::string shown = std::to_string(value);
    if (ends_with(name, "_bytes")) shown = human_bytes(value) + "  (" + std::to_string(value) + ")";
    else if (ends_with(name, "_ns") || name.find("_ns_") != std::string::npos) shown = human_ns(value);
    else if (ends_with(name, "_ms")) shown = std::to_string(value) + " ms";
    printf("  %-*s %s\n", width, name.c_str(), shown.c_str());
    if (name == "orig_bytes") orig = value;
    if (name == "compr_bytes") compr = value;
  }
  if (compr != 0) printf("  %-*s %.2f\n", width, "compression_ratio", static_cast<double>(orig) / compr);
  return 0;
}

int cmd_simple(int pid, const char* command, int timeout_s = 5) {
  std::string error;
  auto reply = request(pid, command, &error, timeout_s);
  if (!reply) return std::cerr << "tmcctl: " << error << "\n", 1;
  std::cout << *reply;
  return 0;
}

std::string read_cmdline(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (char& c : s)
    if (c == '\0') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Finds control sockets in /proc/net/unix: abstract names show up as "@tmc.PID".
int cmd_list() {
  std::ifstream f("/proc/net/unix");
  if (!f) return std::cerr << "tmcctl: cannot read /proc/net/unix\n", 1;
  std::string line;
  std::map<int, bool> pids;
  const std::string marker = std::string("@") + TMC_CTL_SOCKET_PREFIX;
  while (std::getline(f, line)) {
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    std::string rest = line.substr(at + marker.size());
    if (rest.empty() || !isdigit(static_cast<unsigned char>(rest[0]))) continue;
    pids[std::atoi(rest.c_str())] = true;
  }
  printf("%-8s %-12s %-12s %s\n", "PID", "RSS", "HEAP", "COMMAND");
  for (auto& [pid, _] : pids) {
    std::string error;
    auto reply = request(pid, "stats", &error);
    if (!reply) continue;  // gone, or not ours to see
    unsigned long long rss = 0, heap = 0;
    for (auto& [name, value] : parse_flat_json(*reply)) {
      if (name == "rss_bytes") rss = value;
      if (name == "heap_bytes") heap = value;
    }
    printf("%-8d %-12s %-12s %s\n", pid, human_bytes(rss).c_str(), human_bytes(heap).c_str(),
           read_cmdline(pid).c_str());
  }
  return 0;
}

std::optional<int> parse_pid(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0 || v > 0x3fffffff) return std::nullopt;
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  if (cmd == "list") return cmd_list();
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(), 0;
  if (argc < 3) return usage();
  auto pid = parse_pid(argv[2]);
  if (!pid) return std::cerr << "tmcctl: '" << argv[2] << "' is not a process id\n", 2;
  if (cmd == "stats") return cmd_stats(*pid, argc > 3 && std::string(argv[3]) == "--json");
  if (cmd == "options") return cmd_simple(*pid, "options");
  if (cmd == "version") return cmd_simple(*pid, "version");
  // Decompressing a large heap takes a while (about 5 us a page).
  if (cmd == "restore") return cmd_simple(*pid, "restore", 3600);
  if (cmd == "target") {
    if (argc != 4) return usage();
    return cmd_simple(*pid, (std::string("target ") + argv[3]).c_str());
  }
  return usage();
}
