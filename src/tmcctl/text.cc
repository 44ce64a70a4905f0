#include "tmcctl/text.h"

#include <cstdio>

namespace tmcctl {

std::string human_bytes(uint64_t v) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double d = static_cast<double>(v);
  int u = 0;
  while (d >= 1024 && u < 4) d /= 1024, ++u;
  char buf[32];
  snprintf(buf, sizeof(buf), u ? "%.1f %s" : "%.0f %s", d, units[u]);
  return buf;
}

std::string human_ns(uint64_t v) {
  char buf[32];
  if (v >= 1000000000ull) snprintf(buf, sizeof(buf), "%.2f s", v / 1e9);
  else if (v >= 1000000ull) snprintf(buf, sizeof(buf), "%.2f ms", v / 1e6);
  else if (v >= 1000ull) snprintf(buf, sizeof(buf), "%.1f us", v / 1e3);
  else snprintf(buf, sizeof(buf), "%llu ns", static_cast<unsigned long long>(v));
  return buf;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace tmcctl
