#include "tmcctl/top.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "tmcctl/text.h"
#include "tmcctl/snapshot.h"

namespace tmcctl {
namespace {

// One process's row. Rates need an earlier snapshot of the same process; without one (it
// just appeared, or its counters went back: a new process under a reused pid) they are
// unknown.
struct TopRow {
  int pid = 0;
  std::string command;
  bool answered = false;
  uint64_t rss = 0;
  int64_t saved = 0;
  double saved_percent = 0;
  double ratio = 0;  // 0: nothing compressed
  bool has_rates = false;
  double faults_per_s = 0, evictions_per_s = 0, cpu_percent = 0;
};

uint64_t stat(const ProcessSnapshot& p, const char* name) { return find_stat(p.stats, name).value_or(0); }

// Memory saved: the evicted pages' original size, less what holds them now (the pool and
// the dictionary). Zero- and same-filled pages are held by no blob at all.
int64_t saved_bytes(const ProcessSnapshot& p) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t evicted = stat(p, "orig_bytes") + (stat(p, "zero_pages") + stat(p, "same_pages")) * page;
  return static_cast<int64_t>(evicted) - static_cast<int64_t>(stat(p, "pool_bytes") + stat(p, "dict_bytes"));
}

TopRow make_row(const ProcessSnapshot* before, const ProcessSnapshot& now) {
  TopRow row;
  row.pid = now.pid;
  row.command = now.command;
  row.answered = now.answered;
  if (!now.answered) return row;
  row.rss = stat(now, "rss_bytes");
  row.saved = saved_bytes(now);
  // The share of what the process would hold without libtmc: RSS + saved.
  const double without = static_cast<double>(row.rss) + static_cast<double>(row.saved);
  row.saved_percent = without > 0 ? 100.0 * static_cast<double>(row.saved) / without : 0;
  if (uint64_t compr = stat(now, "compr_bytes"); compr != 0)
    row.ratio = static_cast<double>(stat(now, "orig_bytes")) / static_cast<double>(compr);
  if (before == nullptr || !before->answered) return row;
  const double seconds = std::chrono::duration<double>(now.taken - before->taken).count();
  auto delta = [&](const char* name) { return static_cast<double>(stat(now, name)) - static_cast<double>(stat(*before, name)); };
  const double faults = delta("faults"), evictions = delta("evictions"), cpu_ns = delta("cpu_ns_background");
  if (seconds <= 0 || faults < 0 || evictions < 0 || cpu_ns < 0) return row;
  row.has_rates = true;
  row.faults_per_s = faults / seconds;
  row.evictions_per_s = evictions / seconds;
  row.cpu_percent = 100.0 * cpu_ns / (seconds * 1e9);
  return row;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// The command name as a column of `width` characters: control bytes (an escape sequence in a
// process name would drive the terminal) become '?', and the padding counts UTF-8
// characters, not bytes.
std::string command_column(const std::string& name, size_t width) {
  std::string out;
  size_t chars = 0;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? '?' : c;
    if ((u & 0xc0) != 0x80) ++chars;  // not a continuation byte: a new character
  }
  if (chars < width) out.append(width - chars, ' ');
  return out;
}

std::string signed_bytes(int64_t v) {
  return v < 0 ? "-" + human_bytes(static_cast<uint64_t>(-v)) : human_bytes(static_cast<uint64_t>(v));
}

void print_table(const std::vector<TopRow>& rows, double interval_s) {
  char stamp[16];
  time_t now = time(nullptr);
  strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
  printf("tmcctl top - %s - %zu libtmc process%s - every %gs\n", stamp, rows.size(),
         rows.size() == 1 ? "" : "es", interval_s);
  printf("%8s %-15s %10s %10s %6s %6s %9s %9s %6s\n", "PID", "COMMAND", "RSS", "SAVED", "SAVED%", "RATIO",
         "FAULTS/s", "EVICTS/s", "CPU%");
  for (const TopRow& r : rows) {
    if (!r.answered) {
      printf("%8d %s %10s\n", r.pid, command_column(r.command, 15).c_str(), "(no reply)");
      continue;
    }
    const std::string dash = "-";
    printf("%8d %s %10s %10s %6s %6s %9s %9s %6s\n", r.pid, command_column(r.command, 15).c_str(), human_bytes(r.rss).c_str(),
           signed_bytes(r.saved).c_str(), fixed(r.saved_percent, 1).c_str(),
           r.ratio > 0 ? fixed(r.ratio, 2).c_str() : dash.c_str(),
           r.has_rates ? fixed(r.faults_per_s, 0).c_str() : dash.c_str(),
           r.has_rates ? fixed(r.evictions_per_s, 0).c_str() : dash.c_str(),
           r.has_rates ? fixed(r.cpu_percent, 1).c_str() : dash.c_str());
  }
  fflush(stdout);
}

}  // namespace

int cmd_top(const TopOptions& options) {
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  const auto interval = std::chrono::duration<double>(options.interval_s);
  std::string error;
  auto previous = snapshot_processes(std::nullopt, &error);
  if (!previous) return std::cerr << "tmcctl: " << error << "\n", 1;
  for (int shown = 0; options.iterations == 0 || shown < options.iterations; ++shown) {
    std::this_thread::sleep_for(interval);
    auto current = snapshot_processes(std::nullopt, &error);
    if (!current) return std::cerr << "tmcctl: " << error << "\n", 1;
    std::map<int, const ProcessSnapshot*> before;
    for (auto& p : *previous) before[p.pid] = &p;
    std::vector<TopRow> rows;
    for (auto& p : *current) {
      auto it = before.find(p.pid);
      rows.push_back(make_row(it == before.end() ? nullptr : it->second, p));
    }
    if (terminal) fputs("\x1b[H\x1b[2J", stdout);  // home, clear: the table replaces the last one
    else if (shown > 0) putchar('\n');
    print_table(rows, options.interval_s);
    previous = std::move(current);
  }
  return 0;
}

}  // namespace tmcctl
