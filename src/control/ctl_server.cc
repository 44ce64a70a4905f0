// See ctl_server.h. Runs on libtmc's background thread only.
#include "control/ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "tmc/ctl_protocol.h"

namespace tmc::control {
namespace {

// Reads one request line with a short deadline so a silent client cannot stall the thread.
ssize_t read_request(int fd, char* buf, size_t size) {
  size_t len = 0;
  while (len < size - 1) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) break;
    ssize_t n = ::read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
    if (memchr(buf, '\n', len) != nullptr) break;
  }
  buf[len] = '\0';
  char* nl = strchr(buf, '\n');
  if (nl != nullptr) *nl = '\0';
  return static_cast<ssize_t>(len);
}

void write_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

bool peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == geteuid();
}

}  // namespace

void ctl_socket_name(pid_t pid, char* out, size_t size) {
  snprintf(out, size, "%s%d", TMC_CTL_SOCKET_PREFIX, static_cast<int>(pid));
}

bool CtlServer::open(pid_t pid) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  char name[32];
  ctl_socket_name(pid, name, sizeof(name));
  size_t n = strlen(name);
  memcpy(addr.sun_path + 1, name, n);  // sun_path[0] = 0: abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 8) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return false;
  }
  // Keep the descriptor out of the low numbers programs tend to reuse with dup2.
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 512);
  if (high >= 0) {
    ::close(fd);
    fd = high;
  }
  struct stat st {};
  fstat(fd, &st);
  fd_ = fd;
  inode_ = st.st_ino;
  return true;
}

void CtlServer::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool CtlServer::still_ours() const {
  struct stat st {};
  return fd_ >= 0 && fstat(fd_, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode_;
}

void CtlServer::serve_one(const Command* commands, size_t count, char* out, size_t out_size) {
  int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) return;
  if (!peer_allowed(client)) {
    static const char kDenied[] = "error: permission denied (same user or root only)\n";
    write_all(client, kDenied, sizeof(kDenied) - 1);
    ::close(client);
    return;
  }
  char request[TMC_CTL_MAX_REQUEST];
  read_request(client, request, sizeof(request));
  char* args = strchr(request, ' ');
  if (args != nullptr) *args++ = '\0';
  else args = request + strlen(request);
  size_t len = 0;
  bool found = false;
  for (size_t i = 0; i < count && !found; ++i) {
    if (strcmp(commands[i].name, request) != 0) continue;
    found = true;
    len = commands[i].handler(args, out, out_size);
  }
  if (!found) len = static_cast<size_t>(snprintf(out, out_size, "error: unknown command '%s'\n", request));
  write_all(client, out, len < out_size ? len : out_size);
  ::close(client);
}

}  // namespace tmc::control
