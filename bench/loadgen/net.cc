// TCP connection (net.h).
#include "net.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tmc::loadgen {

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::connect(const std::string& host, int port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    *error = host + ": " + gai_strerror(rc);
    return false;
  }
  int err = 0;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd_ < 0) {
      err = errno;
      continue;
    }
    if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0) break;
    err = errno;
    ::close(fd_);
    fd_ = -1;
  }
  freeaddrinfo(res);
  if (fd_ < 0) {
    *error = "cannot connect to " + host + ":" + service + ": " + std::strerror(err);
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool Connection::send_all(std::string_view data, std::string* error) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Connection::receive(std::string* error) {
  constexpr size_t kChunk = 65536;
  for (;;) {
    // Make room: slide the unparsed bytes to the front, grow only when they fill the buffer.
    if (buf_.size() - tail_ < kChunk) {
      if (head_ > 0) {
        std::memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
        tail_ -= head_;
        head_ = 0;
      }
      if (buf_.size() - tail_ < kChunk) buf_.resize(tail_ + 2 * kChunk);
    }
    ssize_t n = ::recv(fd_, buf_.data() + tail_, buf_.size() - tail_, MSG_DONTWAIT);
    if (n > 0) {
      tail_ += static_cast<size_t>(n);
      continue;  // read until the socket is empty
    }
    if (n == 0) {
      *error = "the server closed the connection";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    *error = std::string("recv: ") + std::strerror(errno);
    return false;
  }
}

void Connection::consume(size_t n) {
  head_ += n;
  if (head_ == tail_) head_ = tail_ = 0;
}

}  // namespace tmc::loadgen
