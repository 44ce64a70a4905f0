#include "tmcctl/metrics.h"

#include <cstdint>
#include <cstdio>
#include <iostream>

#include "tmcctl/text.h"

namespace tmcctl {
namespace {

enum class Kind { counter, gauge };

struct StatDef {
  const char* name;
  Kind kind;
  const char* unit;
  const char* doc;
};

// The table as this tmcctl was built with it. A process built from another stats.def may
// reply with fields missing here (not exported: no HELP to give them) or lack some (no
// sample).
constexpr StatDef kStats[] = {
#define TMC_STAT(name, kind, unit, doc) {#name, Kind::kind, unit, doc},
#include "tmc/stats.def"
#undef TMC_STAT
};

// Units counted in fractions of a second, as the power of ten per second: Prometheus wants
// base units, so these are exported in seconds.
int seconds_exponent(const std::string& unit) {
  if (unit == "ns") return 9;
  if (unit == "ms") return 3;
  return 0;
}

// libtmc_ + the name, a time unit replaced by a _seconds suffix, _total after a counter
// (cpu_ns_background -> libtmc_cpu_background_seconds_total). scripts/gen_docs.py holds
// the same rule for docs/stats.md, and the metrics test checks the two agree.
std::string metric_name(const StatDef& s) {
  std::string name = s.name;
  const std::string unit = s.unit;
  if (seconds_exponent(unit) != 0) {
    std::string kept;
    size_t start = 0;
    while (start <= name.size()) {
      size_t end = name.find('_', start);
      if (end == std::string::npos) end = name.size();
      std::string part = name.substr(start, end - start);
      if (part != unit) kept += (kept.empty() ? "" : "_") + part;
      start = end + 1;
    }
    name = kept + "_seconds";
  } else if (unit == "bytes" && !ends_with(name, "_bytes")) {
    name += "_bytes";
  }
  return "libtmc_" + name + (s.kind == Kind::counter ? "_total" : "");
}

// v / 10^exponent written exactly (no binary floating point on the way): 1500000 ns is
// "0.0015" seconds.
std::string scaled_decimal(uint64_t v, int exponent) {
  if (exponent == 0) return std::to_string(v);
  uint64_t scale = 1;
  for (int i = 0; i < exponent; ++i) scale *= 10;
  std::string frac = std::to_string(v % scale);
  frac.insert(0, static_cast<size_t>(exponent) - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return std::to_string(v / scale) + (frac.empty() ? "" : "." + frac);
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one.
size_t utf8_sequence(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  if (n == 2 && c < 0xc2) return 0;  // overlong
  return n;
}

// A label value: quotes, backslashes and newlines escaped as the format says. Label values
// must be UTF-8, and comm is any bytes cut at 15 (maybe inside a character): other bytes
// become '?'.
std::string label_value(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (s[i] == '\\') out += "\\\\";
    else if (s[i] == '"') out += "\\\"";
    else if (s[i] == '\n') out += "\\n";
    else out.append(s, i, n);
    i += n;
  }
  return out;
}

// HELP text: backslashes and newlines escaped (quotes are fine there).
std::string help_text(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void family_header(std::string& out, const std::string& name, const char* type, const std::string& help) {
  out += "# HELP " + name + " " + help_text(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

std::string labels(const ProcessSnapshot& p) {
  return "{pid=\"" + std::to_string(p.pid) + "\",command=\"" + label_value(p.command) + "\"}";
}

}  // namespace

std::string format_metrics(const std::vector<ProcessSnapshot>& processes) {
  std::string out;
  family_header(out, "libtmc_up", "gauge",
                "1 if the process answered on its libtmc control socket, 0 if it runs but did not answer");
  for (auto& p : processes) out += "libtmc_up" + labels(p) + " " + (p.answered ? "1" : "0") + "\n";
  // Family by family, every process under each: the format wants a family's samples together.
  for (const StatDef& s : kStats) {
    const std::string name = metric_name(s);
    family_header(out, name, s.kind == Kind::counter ? "counter" : "gauge", s.doc);
    for (auto& p : processes) {
      auto value = find_stat(p.stats, s.name);
      if (!value) continue;
      out += name + labels(p) + " " + scaled_decimal(*value, seconds_exponent(s.unit)) + "\n";
    }
  }
  return out;
}

int cmd_metrics(std::optional<int> pid) {
  std::string error;
  auto processes = snapshot_processes(pid, &error);
  if (!processes) return std::cerr << "tmcctl: " << error << "\n", 1;
  std::string text = format_metrics(*processes);
  // One write of the whole text, checked: a full disk must not leave a truncated .prom
  // file that the caller then renames into place.
  if (fwrite(text.data(), 1, text.size(), stdout) != text.size() || fflush(stdout) != 0)
    return std::cerr << "tmcctl: writing the metrics failed\n", 1;
  return 0;
}

}  // namespace tmcctl
