// `tmcctl sites PID`: the allocation-site profile of a process (TMC_SITES), symbolised.
//
// The process sends raw return addresses (ctl_protocol.h, "sites"); they are named here
// with elfutils' libdwfl, which reads the process's mappings and each object's symbol
// tables (.symtab, else .dynsym; separate debug info when installed). Two replies taken
// --interval apart give each site's faults per second.
#include "tmcctl/sites.h"

#include <cxxabi.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

#include "tmcctl/ctl_client.h"
#include "tmcctl/text.h"

namespace tmcctl {
namespace {

struct Counts {
  uint64_t samples = 0, objects = 0, bytes = 0, evicted = 0, faults = 0, freed = 0, lifetime_ns = 0;
};

struct SiteRow {
  uint32_t id = 0;
  Counts c;
  std::vector<uintptr_t> frames;
  double faults_per_s = 0;
};

struct Profile {
  uint64_t interval = 0, heap_bytes = 0, live_samples = 0, sites = 0, rest_sites = 0;
  Counts total, rest;
  std::vector<SiteRow> rows;
};

bool read_counts(std::istringstream& in, Counts* c) {
  return static_cast<bool>(in >> c->samples >> c->objects >> c->bytes >> c->evicted >> c->faults >> c->freed >> c->lifetime_ns);
}

std::optional<Profile> parse(const std::string& text, std::string* error) {
  std::istringstream lines(text);
  std::string line;
  Profile p;
  bool header = false, end = false;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string key;
    in >> key;
    bool ok = true;
    if (key == "error:") return *error = line.substr(7), std::nullopt;
    if (key == "tmc-sites") header = true;
    else if (key == "sample_interval_bytes") ok = static_cast<bool>(in >> p.interval);
    else if (key == "heap_bytes") ok = static_cast<bool>(in >> p.heap_bytes);
    else if (key == "live_samples") ok = static_cast<bool>(in >> p.live_samples);
    else if (key == "sites") ok = static_cast<bool>(in >> p.sites);
    else if (key == "total") ok = read_counts(in, &p.total);
    else if (key == "rest") ok = (in >> p.rest_sites) && read_counts(in, &p.rest);
    else if (key == "end") end = true;
    else if (key == "site") {
      SiteRow row;
      std::string frames;
      ok = (in >> row.id) && read_counts(in, &row.c) && (in >> frames);
      if (ok && frames != "-") {
        std::istringstream f(frames);
        std::string hex;
        while (std::getline(f, hex, ',')) row.frames.push_back(std::stoull(hex, nullptr, 16));
      }
      p.rows.push_back(row);
    }
    if (!ok) return *error = "malformed reply line: " + line, std::nullopt;
  }
  if (!header || !end) return *error = "incomplete reply (no 'tmc-sites' header or no 'end')", std::nullopt;
  return p;
}

// C++ names as people read them; anything else as it is.
std::string demangle(const char* name) {
  if (strncmp(name, "_Z", 2) != 0) return name;
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && readable != nullptr ? readable : name;
  free(readable);
  return out;
}

// Names addresses in the live process.
class Symbolizer {
 public:
  explicit Symbolizer(int pid) {
    static const Dwfl_Callbacks callbacks = {dwfl_linux_proc_find_elf, dwfl_standard_find_debuginfo, nullptr, nullptr};
    dwfl_ = dwfl_begin(&callbacks);
    if (dwfl_ != nullptr && (dwfl_linux_proc_report(dwfl_, pid) != 0 || dwfl_report_end(dwfl_, nullptr, nullptr) != 0)) {
      dwfl_end(dwfl_);
      dwfl_ = nullptr;
    }
  }
  ~Symbolizer() {
    if (dwfl_ != nullptr) dwfl_end(dwfl_);
  }
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  struct Frame {
    std::string function;  // empty if unknown
    uint64_t offset = 0;   // from the function's start (or the module's, if unknown)
    std::string module;    // file name
  };

  // A return address: looked up one byte back, inside the call instruction (a call that
  // ends a function would otherwise be named after the next one).
  Frame name(uintptr_t return_address) {
    auto cached = cache_.find(return_address);
    if (cached != cache_.end()) return cached->second;
    Frame f;
    Dwfl_Module* mod = dwfl_ != nullptr ? dwfl_addrmodule(dwfl_, return_address - 1) : nullptr;
    if (mod != nullptr) {
      Dwarf_Addr base = 0;
      const char* file = dwfl_module_info(mod, nullptr, &base, nullptr, nullptr, nullptr, nullptr, nullptr);
      if (file != nullptr) {
        const char* slash = strrchr(file, '/');
        f.module = slash != nullptr ? slash + 1 : file;
      }
      GElf_Off off = 0;
      GElf_Sym sym;
      const char* fn = dwfl_module_addrinfo(mod, return_address - 1, &off, &sym, nullptr, nullptr, nullptr);
      if (fn != nullptr) {
        f.function = demangle(fn);
        f.offset = off + 1;
      } else {
        f.offset = return_address - base;
      }
    }
    cache_[return_address] = f;
    return f;
  }

  std::string text(uintptr_t address) {
    Frame f = name(address);
    char buf[64];
    if (f.function.empty()) {
      snprintf(buf, sizeof(buf), "0x%" PRIxPTR, address);
      return f.module.empty() ? buf : f.module + "+" + (snprintf(buf, sizeof(buf), "0x%" PRIx64, f.offset), buf);
    }
    snprintf(buf, sizeof(buf), "+0x%" PRIx64, f.offset);
    return f.function + buf;
  }

 private:
  Dwfl* dwfl_ = nullptr;
  std::map<uintptr_t, Frame> cache_;
};

// Functions that only wrap malloc: a site is named by the first frame past them
// (Redis: ztrymalloc_usable_internal < zmalloc_usable < sdsnewlen ...).
bool is_wrapper(const std::string& fn) {
  static const char* const kPrefixes[] = {"ztrymalloc", "zmalloc", "ztrycalloc", "zcalloc", "ztryrealloc", "zrealloc",
                                          "zstrdup", "malloc", "calloc", "realloc", "operator new", "_Znwm", "_Znam",
                                          "xmalloc", "xcalloc", "xrealloc", "g_malloc", "g_realloc", "strdup",
                                          "__libc_", "__strdup"};
  for (const char* p : kPrefixes)
    if (fn.compare(0, strlen(p), p) == 0) return true;
  return false;
}

std::string site_label(Symbolizer& sym, const SiteRow& row, int frames) {
  size_t first = 0;
  while (first + 1 < row.frames.size() && is_wrapper(sym.name(row.frames[first]).function)) first++;
  std::string label;
  for (size_t i = first; i < row.frames.size() && static_cast<int>(i - first) < frames; ++i)
    label += (label.empty() ? "" : " < ") + sym.text(row.frames[i]);
  return label.empty() ? "(no stack)" : label;
}

double share(uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole); }

std::string lifetime_text(const Counts& c) {
  if (c.freed == 0) return "-";
  return human_ns(c.lifetime_ns / c.freed);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += static_cast<unsigned char>(ch) < 0x20 ? ' ' : ch;
  }
  return out;
}

void print_json(int pid, const Profile& p, Symbolizer& sym, double interval_s) {
  auto counts = [](const Counts& c) {
    std::ostringstream o;
    o << "\"live_samples\": " << c.samples << ", \"objects\": " << c.objects << ", \"bytes\": " << c.bytes
      << ", \"evicted_bytes\": " << c.evicted << ", \"faults\": " << c.faults << ", \"freed_objects\": " << c.freed
      << ", \"lifetime_ns_total\": " << c.lifetime_ns;
    return o.str();
  };
  std::cout << "{\"pid\": " << pid << ", \"sample_interval_bytes\": " << p.interval << ", \"heap_bytes\": " << p.heap_bytes
            << ", \"sites\": " << p.sites << ", \"rate_interval_s\": " << interval_s << ",\n \"total\": {" << counts(p.total)
            << "},\n \"rest\": {\"sites\": " << p.rest_sites << ", " << counts(p.rest) << "},\n \"listed\": [";
  for (size_t i = 0; i < p.rows.size(); ++i) {
    const SiteRow& r = p.rows[i];
    std::cout << (i ? ",\n  " : "\n  ") << "{\"id\": " << r.id << ", " << counts(r.c) << ", \"faults_per_s\": " << r.faults_per_s
              << ", \"label\": \"" << json_escape(site_label(sym, r, 3)) << "\", \"frames\": [";
    for (size_t f = 0; f < r.frames.size(); ++f) {
      Symbolizer::Frame fr = sym.name(r.frames[f]);
      char addr[32];
      snprintf(addr, sizeof(addr), "0x%" PRIxPTR, r.frames[f]);
      std::cout << (f ? ", " : "") << "{\"address\": \"" << addr << "\", \"function\": \"" << json_escape(fr.function)
                << "\", \"offset\": " << fr.offset << ", \"module\": \"" << json_escape(fr.module) << "\"}";
    }
    std::cout << "]}";
  }
  std::cout << "]}\n";
}

void print_table(int pid, const Profile& p, Symbolizer& sym, const SitesOptions& o) {
  printf("allocation sites of pid %d: one sample per %s allocated on average; %" PRIu64 " live samples, %" PRIu64 " sites\n", pid,
         human_bytes(p.interval).c_str(), p.live_samples, p.sites);
  printf("sampled estimate of live bytes %s, heap %s (%.0f%%); %s of them on evicted pages (%.1f%%)\n",
         human_bytes(p.total.bytes).c_str(), human_bytes(p.heap_bytes).c_str(), share(p.total.bytes, p.heap_bytes),
         human_bytes(p.total.evicted).c_str(), share(p.total.evicted, p.total.bytes));
  printf("%10s %6s %8s %9s %10s %10s  %s\n", "BYTES", "HEAP%", "EVICTED%", "FAULTS/S*", "OBJECTS", "LIFETIME", "SITE (callers after <)");
  int shown = 0;
  for (const SiteRow& r : p.rows) {
    if (shown++ >= o.top) break;
    printf("%10s %5.1f%% %7.1f%% %9.0f %10" PRIu64 " %10s  %s\n", human_bytes(r.c.bytes).c_str(), share(r.c.bytes, p.total.bytes),
           share(r.c.evicted, r.c.bytes), r.faults_per_s, r.c.objects, lifetime_text(r.c).c_str(),
           site_label(sym, r, o.frames).c_str());
  }
  uint64_t hidden_bytes = p.rest.bytes, hidden_sites = p.rest_sites;
  for (size_t i = static_cast<size_t>(o.top); i < p.rows.size(); ++i) hidden_bytes += p.rows[i].c.bytes, hidden_sites++;
  if (hidden_sites != 0)
    printf("%10s %5.1f%%  (%" PRIu64 " more sites)\n", human_bytes(hidden_bytes).c_str(), share(hidden_bytes, p.total.bytes), hidden_sites);
  printf("* estimated from sampled objects: a fault counts once for each of the site's objects on the faulted\n"
         "  page, so a page of many small objects weighs more than the process's fault count. LIFETIME: mean\n"
         "  of the objects freed so far (\"-\": none yet).\n");
}

}  // namespace

int cmd_sites(int pid, const SitesOptions& o) {
  std::string error;
  auto first = request(pid, "sites", &error);
  if (!first) return std::cerr << "tmcctl: " << error << "\n", 1;
  auto profile = parse(*first, &error);
  if (!profile) return std::cerr << "tmcctl: " << error << "\n", 1;
  if (o.interval_s > 0) {
    usleep(static_cast<useconds_t>(o.interval_s * 1e6));
    auto second = request(pid, "sites", &error);
    auto later = second ? parse(*second, &error) : std::nullopt;
    if (!later) return std::cerr << "tmcctl: " << error << "\n", 1;
    std::map<uint32_t, uint64_t> before;
    for (const SiteRow& r : profile->rows) before[r.id] = r.c.faults;
    for (SiteRow& r : later->rows) {
      auto it = before.find(r.id);
      uint64_t was = it == before.end() ? 0 : it->second;
      r.faults_per_s = r.c.faults > was ? static_cast<double>(r.c.faults - was) / o.interval_s : 0;
    }
    profile = later;
  }
  auto key = [&](const SiteRow& r) -> double {
    if (o.sort == "evicted") return static_cast<double>(r.c.evicted);
    if (o.sort == "cold") return r.c.bytes == 0 ? 0 : static_cast<double>(r.c.evicted) / static_cast<double>(r.c.bytes);
    if (o.sort == "faults") return r.faults_per_s;
    return static_cast<double>(r.c.bytes);
  };
  std::stable_sort(profile->rows.begin(), profile->rows.end(), [&](const SiteRow& a, const SiteRow& b) { return key(a) > key(b); });
  Symbolizer sym(pid);
  if (o.json) print_json(pid, *profile, sym, o.interval_s);
  else print_table(pid, *profile, sym, o);
  return 0;
}

}  // namespace tmcctl
