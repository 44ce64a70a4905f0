// The control socket: how tmcctl talks to a running process.
//
// An abstract unix socket named "@tmc.PID" (no file to clean up; listed in
// /proc/net/unix, which is how `tmcctl list` finds processes). Only a peer with the same
// effective uid, or root, is answered (SO_PEERCRED). One request per connection: a single
// line "COMMAND [ARGS]\n"; the reply is the command's output, then the server closes.
// The wire format is described in include/tmc/ctl_protocol.h.
//
// The server does no work of its own: the runtime registers a table of commands, so this
// module depends on nothing above control/.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "tmc/ctl_protocol.h"

struct pollfd;

namespace tmc::control {

// Writes the reply for `args` into out (at most `size` bytes); returns its length.
using CommandHandler = size_t (*)(const char* args, char* out, size_t size);

struct Command {
  const char* name;
  CommandHandler handler;
};

class CtlServer {
 public:
  // Binds @tmc.<pid> and listens. Returns false (errno set) on failure.
  bool open(pid_t pid);
  // Closes our socket. After fork the child calls it on the inherited copy.
  void close();
  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  // False if our descriptor was closed or replaced by the host program (daemons close all
  // descriptors; some dup2 over them). Then the caller reopens; the old number is left alone.
  bool still_ours() const;
  void forget() { fd_ = -1; }
  // Fills fds with what to wait for: the socket (while a client slot is free), then the
  // clients whose request line is still coming. Returns how many entries it filled.
  int poll_set(struct pollfd* fds, int max) const;
  // After poll() on poll_set's entries: accepts new clients, reads request lines, answers
  // the complete ones (`out` is the reply buffer) and drops clients silent for
  // kRequestTimeoutNs. A client is never waited for: one preempted between connect() and
  // send() (a loaded machine) must not get an empty request answered, nor hold up others.
  void serve_ready(const struct pollfd* fds, int n, const Command* commands, size_t count, char* out, size_t out_size);

  static constexpr int kMaxClients = 4;
  static constexpr uint64_t kRequestTimeoutNs = 10'000'000'000ull;

 private:
  struct Client {
    int fd = -1;
    unsigned long inode = 0;  // the host program may close the number and reuse it
    uint64_t deadline_ns = 0;
    size_t len = 0;
    char request[TMC_CTL_MAX_REQUEST] = {};
  };
  void accept_clients();
  void read_request(Client& c, const Command* commands, size_t count, char* out, size_t out_size);
  void drop(Client& c, const char* reply);
  bool client_still_ours(const Client& c) const;

  int fd_ = -1;
  unsigned long inode_ = 0;
  Client clients_[kMaxClients];
};

// The abstract socket name for a pid, without the leading NUL: "tmc.1234".
void ctl_socket_name(pid_t pid, char* out, size_t size);

}  // namespace tmc::control
