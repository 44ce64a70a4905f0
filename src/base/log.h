// Logging that is safe inside malloc and in signal handlers: no allocation, no stdio,
// one write(2) per line. Lines start with "libtmc: " so users can grep for them.
//
// Messages that explain a degraded mode (fail open, bad option) go through warn_once()
// so that a process prints each reason at most once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::log {

enum class Level : int { kQuiet = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Set once from the options table at start-up; warn is the default.
void set_level(Level level);

// The calling thread has a descriptor table of its own (platform/fd_table.h): its lines go
// to the application's stderr, fetched from the process's main thread for each line (lines
// are rare), not to a copy the application may have closed or replaced.
void use_application_stderr();
Level level();

// Builds one line in a fixed stack buffer; flush() writes it to stderr if the level allows.
// Overlong lines are truncated, never allocated.
class Line {
 public:
  explicit Line(Level level);
  Line& str(const char* s);
  Line& str(const char* s, size_t n);
  Line& u64(uint64_t v);
  Line& i64(int64_t v);
  Line& hex(uint64_t v);
  void flush();

 private:
  static constexpr size_t kCapacity = 512;
  Level level_;
  size_t len_ = 0;
  char buf_[kCapacity];
};

inline Line warn() { return Line(Level::kWarn); }
inline Line info() { return Line(Level::kInfo); }
inline Line debug() { return Line(Level::kDebug); }

// Formats a byte count as "1.5 GiB" into out (at least 16 bytes); returns out.
char* format_bytes(uint64_t bytes, char* out, size_t out_size);

}  // namespace tmc::log
