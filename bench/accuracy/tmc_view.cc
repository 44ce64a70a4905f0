#include "tmc_view.h"

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tmc/ctl_protocol.h"
#include "tmc/tmc.h"

namespace acc {
namespace {

const StatField kFields[] = {
#define TMC_STAT(name, kind, unit, doc) {#name, unit},
#include "tmc/stats.def"
#undef TMC_STAT
};

const size_t kOffsets[] = {
#define TMC_STAT(name, kind, unit, doc) offsetof(tmc_stats, name),
#include "tmc/stats.def"
#undef TMC_STAT
};

constexpr size_t kCount = sizeof(kFields) / sizeof(kFields[0]);
static_assert(kCount <= StatsSnapshot::kMaxFields, "raise StatsSnapshot::kMaxFields");

}  // namespace

const StatField* stat_fields() { return kFields; }
size_t stat_field_count() { return kCount; }

std::optional<uint64_t> StatsSnapshot::get(const char* name) const {
  for (size_t i = 0; i < kCount; ++i)
    if (strcmp(kFields[i].name, name) == 0) return values[i];
  return std::nullopt;
}

bool TmcView::load() {
  stats_get_ = reinterpret_cast<int (*)(void*)>(dlsym(RTLD_DEFAULT, "tmc_stats_get"));
  is_active_ = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "tmc_is_active"));
  return stats_get_ != nullptr;
}

bool TmcView::active() const { return is_active_ != nullptr && is_active_() != 0; }

StatsSnapshot TmcView::snapshot() const {
  // Room past struct tmc_stats as compiled here: a libtmc.so built from a newer stats.def
  // (more fields) than this binary writes them there instead of over the stack.
  union {
    tmc_stats s;
    unsigned char room[sizeof(tmc_stats) + 4096];
  } buf;
  memset(&buf, 0, sizeof(buf));
  if (stats_get_(&buf.s) != 0) {
    fprintf(stderr, "bench_hotset: tmc_stats_get failed\n");
    exit(2);
  }
  StatsSnapshot snap;
  const auto* base = reinterpret_cast<const unsigned char*>(&buf.s);
  for (size_t i = 0; i < kCount; ++i) memcpy(&snap.values[i], base + kOffsets[i], sizeof(uint64_t));
  return snap;
}

bool TmcView::command(const char* line, char* reply, size_t size) const {
  // The abstract socket "@tmc.PID": a NUL byte, then the name, not NUL-terminated.
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, TMC_CTL_SOCKET_PREFIX "%d", static_cast<int>(getpid()));
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + static_cast<size_t>(n));
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    fprintf(stderr, "bench_hotset: cannot reach libtmc's control socket @%s: %s (TMC_CONTROL=0?)\n", addr.sun_path + 1, strerror(errno));
    if (fd >= 0) close(fd);
    return false;
  }
  char request[TMC_CTL_MAX_REQUEST];
  const int rn = snprintf(request, sizeof(request), "%s\n", line);
  bool ok = rn > 0 && static_cast<size_t>(rn) < sizeof(request) && write(fd, request, static_cast<size_t>(rn)) == rn;
  size_t got = 0;
  // The server replies and closes: read to the end.
  while (ok && got + 1 < size) {
    const ssize_t r = read(fd, reply + got, size - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  reply[got] = '\0';
  close(fd);
  if (!ok) fprintf(stderr, "bench_hotset: control request '%s' could not be sent\n", line);
  return ok;
}

}  // namespace acc
