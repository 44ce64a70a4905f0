#include "tmcctl/ctl_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include "tmc/ctl_protocol.h"

namespace tmcctl {

std::optional<std::string> request(int pid, const std::string& command, std::string* error, int timeout_s) {
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

StatValues parse_flat_json(const std::string& s) {
  StatValues out;
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

std::optional<uint64_t> find_stat(const StatValues& values, const std::string& name) {
  for (auto& [key, value] : values)
    if (key == name) return value;
  return std::nullopt;
}

std::vector<int> discover_pids(std::string* error) {
  std::ifstream f("/proc/net/unix");
  if (!f) return *error = "cannot read /proc/net/unix", std::vector<int>{};
  std::set<int> pids;
  const std::string marker = std::string("@") + TMC_CTL_SOCKET_PREFIX;
  std::string line;
  while (std::getline(f, line)) {
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    std::string rest = line.substr(at + marker.size());
    if (rest.empty() || !isdigit(static_cast<unsigned char>(rest[0]))) continue;
    pids.insert(std::atoi(rest.c_str()));
  }
  return {pids.begin(), pids.end()};
}

}  // namespace tmcctl
