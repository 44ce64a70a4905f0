// tmcctl: the operator's client for processes running libtmc.
//
//   tmcctl list                    processes answering on a libtmc control socket
//   tmcctl stats PID [--json]      statistics as a table, or the raw JSON
//   tmcctl options PID             options the process runs with
//   tmcctl target PID SIZE|N%|off  the RSS target, live
//   tmcctl restore PID             bring every evicted page back (before a debugger attaches)
//   tmcctl version PID
//   tmcctl sites PID [--sort bytes|evicted|cold|faults] [--interval S] [--top N] [--frames N] [--json]
//                                  the allocation-site profile, symbolised (sites.cc)
//   tmcctl metrics [--pid PID]     every libtmc process in the Prometheus text format (metrics.cc)
//   tmcctl top [--interval S] [--iterations N]   a live table of them all (top.cc)
//
// Talks the protocol of include/tmc/ctl_protocol.h (ctl_client.cc). Never linked into
// libtmc.so. This file parses the command line and holds the one-process commands.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tmcctl/ctl_client.h"
#include "tmcctl/metrics.h"
#include "tmcctl/process.h"
#include "tmcctl/sites.h"
#include "tmcctl/text.h"
#include "tmcctl/top.h"

namespace tmcctl {
namespace {

int usage() {
  std::cerr << "usage: tmcctl list\n"
               "       tmcctl stats PID [--json]\n"
               "       tmcctl options PID\n"
               "       tmcctl target PID SIZE|N%|off   (e.g. 1G, 60% of peak RSS)\n"
               "       tmcctl restore PID   bring every evicted page back (debuggers, core dumps)\n"
               "       tmcctl version PID\n"
               "       tmcctl sites PID [--sort bytes|evicted|cold|faults] [--interval S] [--top N]\n"
               "                        [--frames N] [--json]\n"
               "           allocation sites (TMC_SITES): estimated live bytes per call stack, the\n"
               "           share on evicted (compressed) pages, faults/s on their pages over S\n"
               "           seconds (default 1; 0 skips), mean object lifetime\n"
               "       tmcctl metrics [--pid PID]\n"
               "           every libtmc process (or one) in the Prometheus text format, for\n"
               "           node_exporter's textfile collector (see packaging/prometheus/)\n"
               "       tmcctl top [--interval S] [--iterations N]\n"
               "           live table of every libtmc process: RSS, memory saved, compression\n"
               "           ratio, faults/s, evictions/s, CPU of libtmc's threads; refreshed\n"
               "           every S seconds (default 1), exits after N refreshes if given\n";
  return 2;
}

int cmd_stats(int pid, bool json) {
  std::string error;
  auto reply = request(pid, "stats", &error);
  if (!reply) return std::cerr << "tmcctl: " << error << "\n", 1;
  if (json) return std::cout << *reply, 0;
  auto fields = parse_flat_json(*reply);
  std::cout << "libtmc stats for pid " << pid << "\n";
  unsigned long long orig = 0, compr = 0;
  int width = static_cast<int>(strlen("compression_ratio"));
  for (auto& field : fields) width = std::max(width, static_cast<int>(field.first.size()));
  for (auto& [name, value] : fields) {
    std::string shown = std::to_string(value);
    if (ends_with(name, "_bytes")) shown = human_bytes(value) + "  (" + std::to_string(value) + ")";
    else if (ends_with(name, "_ns") || name.find("_ns_") != std::string::npos) shown = human_ns(value);
    else if (ends_with(name, "_ms")) shown = std::to_string(value) + " ms";
    printf("  %-*s %s\n", width, name.c_str(), shown.c_str());
    if (name == "orig_bytes") orig = value;
    if (name == "compr_bytes") compr = value;
  }
  if (compr != 0) printf("  %-*s %.2f\n", width, "compression_ratio", static_cast<double>(orig) / compr);
  return 0;
}

int cmd_simple(int pid, const char* command, int timeout_s = 5) {
  std::string error;
  auto reply = request(pid, command, &error, timeout_s);
  if (!reply) return std::cerr << "tmcctl: " << error << "\n", 1;
  std::cout << *reply;
  return 0;
}

int cmd_list() {
  std::string error;
  std::vector<int> pids = discover_pids(&error);
  if (!error.empty()) return std::cerr << "tmcctl: " << error << "\n", 1;
  // Where each process's memory is: resident (the pool included), what the application
  // holds, the compressed pool within RSS, and the blobs moved out to the file tier.
  printf("%-8s %-10s %-10s %-10s %-10s %s\n", "PID", "RSS", "HEAP", "POOL", "FILE", "COMMAND");
  for (int pid : pids) {
    auto reply = request(pid, "stats", &error);
    if (!reply) continue;  // gone, or not ours to see
    auto fields = parse_flat_json(*reply);
    auto bytes = [&](const char* name) { return human_bytes(find_stat(fields, name).value_or(0)); };
    printf("%-8d %-10s %-10s %-10s %-10s %s\n", pid, bytes("rss_bytes").c_str(), bytes("heap_bytes").c_str(),
           bytes("pool_bytes").c_str(), bytes("file_bytes").c_str(), read_cmdline(pid).c_str());
  }
  return 0;
}

std::optional<int> parse_pid(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0 || v > 0x3fffffff) return std::nullopt;
  return static_cast<int>(v);
}

std::optional<double> parse_seconds(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || !(v >= 0.01 && v <= 3600)) return std::nullopt;
  return v;
}

// `metrics [--pid PID]`
int run_metrics(int argc, char** argv) {
  std::optional<int> only;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--pid" && i + 1 < argc) {
      only = parse_pid(argv[++i]);
      if (!only) return std::cerr << "tmcctl: '" << argv[i] << "' is not a process id\n", 2;
    } else {
      return usage();
    }
  }
  return cmd_metrics(only);
}

// `sites PID [options]`
int run_sites(int pid, int argc, char** argv) {
  SitesOptions options;
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--sort" && i + 1 < argc) {
      options.sort = argv[++i];
      if (options.sort != "bytes" && options.sort != "evicted" && options.sort != "cold" && options.sort != "faults")
        return std::cerr << "tmcctl: --sort wants bytes, evicted, cold or faults, not '" << options.sort << "'\n", 2;
    } else if (arg == "--interval" && i + 1 < argc) {
      std::string v = argv[++i];
      auto s = v == "0" ? std::optional<double>(0) : parse_seconds(v.c_str());
      if (!s) return std::cerr << "tmcctl: --interval wants 0 or seconds between 0.01 and 3600, not '" << v << "'\n", 2;
      options.interval_s = *s;
    } else if ((arg == "--top" || arg == "--frames") && i + 1 < argc) {
      auto n = parse_pid(argv[++i]);  // the same shape: a positive whole number
      if (!n) return std::cerr << "tmcctl: " << arg << " wants a positive number, not '" << argv[i] << "'\n", 2;
      (arg == "--top" ? options.top : options.frames) = *n;
    } else {
      return usage();
    }
  }
  return cmd_sites(pid, options);
}

// `top [--interval S] [--iterations N]`
int run_top(int argc, char** argv) {
  TopOptions options;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--interval" && i + 1 < argc) {
      auto s = parse_seconds(argv[++i]);
      if (!s) return std::cerr << "tmcctl: --interval wants seconds between 0.01 and 3600, not '" << argv[i] << "'\n", 2;
      options.interval_s = *s;
    } else if (arg == "--iterations" && i + 1 < argc) {
      auto n = parse_pid(argv[++i]);  // the same shape: a positive whole number
      if (!n) return std::cerr << "tmcctl: --iterations wants a positive number, not '" << argv[i] << "'\n", 2;
      options.iterations = *n;
    } else {
      return usage();
    }
  }
  return cmd_top(options);
}

}  // namespace
}  // namespace tmcctl

int main(int argc, char** argv) {
  using namespace tmcctl;
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  if (cmd == "list") return cmd_list();
  if (cmd == "metrics") return run_metrics(argc, argv);
  if (cmd == "top") return run_top(argc, argv);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(), 0;
  if (argc < 3) return usage();
  auto pid = parse_pid(argv[2]);
  if (!pid) return std::cerr << "tmcctl: '" << argv[2] << "' is not a process id\n", 2;
  if (cmd == "stats") return cmd_stats(*pid, argc > 3 && std::string(argv[3]) == "--json");
  if (cmd == "options") return cmd_simple(*pid, "options");
  if (cmd == "version") return cmd_simple(*pid, "version");
  if (cmd == "sites") return run_sites(*pid, argc, argv);
  // Decompressing a large heap takes a while (about 5 us a page).
  if (cmd == "restore") return cmd_simple(*pid, "restore", 3600);
  if (cmd == "target") {
    if (argc != 4) return usage();
    return cmd_simple(*pid, (std::string("target ") + argv[3]).c_str());
  }
  return usage();
}
