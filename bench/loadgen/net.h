// A TCP connection to a server on this machine: blocking sends, non-blocking receives into
// a growing buffer (the caller polls the descriptor), TCP_NODELAY so a small request is
// not held back by Nagle's algorithm waiting for the previous reply's ACK.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tmc::loadgen {

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();
  // connect(host, port): false with *error on failure.
  bool connect(const std::string& host, int port, std::string* error);
  bool send_all(std::string_view data, std::string* error);
  // receive(): reads what has arrived (without blocking) and appends it to the buffer.
  // Returns false on EOF or error (with *error).
  bool receive(std::string* error);
  int fd() const { return fd_; }
  // The unparsed bytes; consume(n) drops n of them.
  const char* data() const { return buf_.data() + head_; }
  size_t size() const { return tail_ - head_; }
  void consume(size_t n);

 private:
  int fd_ = -1;
  std::string buf_;  // bytes [head_, tail_) are received and not yet parsed
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace tmc::loadgen
