// See ctl_server.h. Runs on libtmc's background thread only.
#include "control/ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "tmc/ctl_protocol.h"

namespace tmc::control {
namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Moves a descriptor of ours above 512, out of the low numbers the program's own open()
// expects to get and programs tend to reuse with dup2; *inode gets its inode, by which we
// later tell whether the program closed or reused the number.
int move_high(int fd, unsigned long* inode) {
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 512);
  if (high >= 0) {
    ::close(fd);
    fd = high;
  }
  struct stat st {};
  fstat(fd, &st);
  *inode = st.st_ino;
  return fd;
}

// Client sockets are non-blocking: a reply that does not fit the socket buffer at once
// waits for room, a second at most each time.
void write_all(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 1000) <= 0) return;
      continue;
    }
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
  fd_ = move_high(fd, &inode_);
  return true;
}

void CtlServer::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  for (auto& c : clients_) {
    if (c.fd >= 0 && client_still_ours(c)) ::close(c.fd);
    c.fd = -1;
  }
}

bool CtlServer::still_ours() const {
  struct stat st {};
  return fd_ >= 0 && fstat(fd_, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode_;
}

bool CtlServer::client_still_ours(const Client& c) const {
  struct stat st {};
  return c.fd >= 0 && fstat(c.fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == c.inode;
}

int CtlServer::poll_set(pollfd* fds, int max) const {
  int n = 0;
  bool room = false;
  for (const auto& c : clients_) room |= c.fd < 0;
  if (fd_ >= 0 && room && n < max) fds[n++] = pollfd{fd_, POLLIN, 0};
  for (const auto& c : clients_)
    if (c.fd >= 0 && n < max) fds[n++] = pollfd{c.fd, POLLIN, 0};
  return n;
}

void CtlServer::accept_clients() {
  for (auto& c : clients_) {
    if (c.fd >= 0) continue;
    int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: no one else is waiting
    if (!peer_allowed(fd)) {
      static const char kDenied[] = "error: permission denied (same user or root only)\n";
      write_all(fd, kDenied, sizeof(kDenied) - 1);
      ::close(fd);
      continue;
    }
    c.fd = move_high(fd, &c.inode);  // held until its request line arrives
    c.len = 0;
    c.deadline_ns = now_ns() + kRequestTimeoutNs;
  }
}

void CtlServer::drop(Client& c, const char* reply) {
  if (client_still_ours(c)) {
    if (reply != nullptr) write_all(c.fd, reply, strlen(reply));
    ::close(c.fd);
  }
  c.fd = -1;
}

void CtlServer::read_request(Client& c, const Command* commands, size_t count, char* out, size_t out_size) {
  if (!client_still_ours(c)) {  // the program closed the number: it is not ours to touch
    c.fd = -1;
    return;
  }
  bool complete = false;
  for (;;) {
    ssize_t n = ::read(c.fd, c.request + c.len, sizeof(c.request) - 1 - c.len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {  // the client closed its side: what came is the request
      complete = true;
      break;
    }
    c.len += static_cast<size_t>(n);
    if (memchr(c.request, '\n', c.len) != nullptr || c.len == sizeof(c.request) - 1) {
      complete = true;
      break;
    }
  }
  if (!complete) return;
  c.request[c.len] = '\0';
  char* nl = strchr(c.request, '\n');
  if (nl != nullptr) *nl = '\0';
  char* args = strchr(c.request, ' ');
  if (args != nullptr) *args++ = '\0';
  else args = c.request + strlen(c.request);
  size_t len = 0;
  bool found = false;
  for (size_t i = 0; i < count && !found; ++i) {
    if (strcmp(commands[i].name, c.request) != 0) continue;
    found = true;
    len = commands[i].handler(args, out, out_size);
  }
  if (!found) len = static_cast<size_t>(snprintf(out, out_size, "error: unknown command '%s'\n", c.request));
  write_all(c.fd, out, len < out_size ? len : out_size);
  drop(c, nullptr);
}

void CtlServer::serve_ready(const pollfd* fds, int n, const Command* commands, size_t count, char* out, size_t out_size) {
  for (int i = 0; i < n; ++i) {
    if (fds[i].revents == 0 || fds[i].fd == fd_) continue;
    for (auto& c : clients_)
      if (c.fd == fds[i].fd) read_request(c, commands, count, out, out_size);
  }
  for (int i = 0; i < n; ++i)
    if (fds[i].fd == fd_ && (fds[i].revents & POLLIN) != 0) accept_clients();
  const uint64_t now = now_ns();
  for (auto& c : clients_)
    if (c.fd >= 0 && now >= c.deadline_ns) drop(c, "error: no request line within 10 s\n");
}

}  // namespace tmc::control
