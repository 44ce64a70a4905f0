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
  // Accepts one pending connection and answers it. `out` is the reply buffer.
  void serve_one(const Command* commands, size_t count, char* out, size_t out_size);

 private:
  int fd_ = -1;
  unsigned long inode_ = 0;
};

// The abstract socket name for a pid, without the leading NUL: "tmc.1234".
void ctl_socket_name(pid_t pid, char* out, size_t size);

}  // namespace tmc::control
