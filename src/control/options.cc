// See options.h. Parsing is hand-written on purpose: it runs inside the first malloc call,
// before libc's locale and stdio may be used, so it cannot call strtod or snprintf.
#include "control/options.h"

#include <atomic>
#include <cstring>

#include "base/log.h"
#include "platform/env.h"

extern "C" char** environ;

namespace tmc::control {
namespace {

constexpr OptionInfo kOptions[kOptionCount] = {
#define TMC_OPTION(id, env, type, def, min, max, doc) \
  {env, OptionType::type, def, static_cast<uint64_t>(min), static_cast<uint64_t>(max), doc},
#include "control/options.def"
#undef TMC_OPTION
};

// Values are stored as two relaxed atomics so readers on any thread see a whole value.
struct StoredValue {
  std::atomic<uint64_t> value{0};
  std::atomic<bool> is_percent{false};
};
StoredValue g_values[kOptionCount];
// Path options' text, written only while options are loaded (before any thread reads them).
char g_paths[kOptionCount][kMaxPath];

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(const char* a, size_t alen, const char* b) {
  size_t blen = strlen(b);
  if (alen != blen) return false;
  for (size_t i = 0; i < alen; ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Trims leading and trailing blanks; returns the length of the trimmed text.
const char* trim(const char* text, size_t* len) {
  while (*text == ' ' || *text == '\t') ++text;
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n')) --n;
  *len = n;
  return text;
}

// Parses "123" or "1.5" into a fixed-point number scaled by 2^20, so "1.5G" stays exact
// without floating point. Returns the number of characters consumed, 0 on failure.
size_t parse_decimal(const char* s, size_t len, unsigned __int128* scaled) {
  constexpr int kFracBits = 20;
  unsigned __int128 whole = 0;
  size_t i = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
    if (whole > (static_cast<unsigned __int128>(1) << 80)) return 0;  // absurdly large
    ++i;
  }
  size_t whole_digits = i;
  unsigned __int128 frac = 0, frac_div = 1;
  if (i < len && s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (frac_div < 1000000000000ull) {
        frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
        frac_div *= 10;
      }
      ++i;
    }
    if (i == start) return 0;  // "1." is not a number
  }
  if (whole_digits == 0) return 0;
  *scaled = (whole << kFracBits) + (frac << kFracBits) / frac_div;
  return i;
}

bool parse_bool(const char* s, size_t n, uint64_t* out) {
  for (const char* t : {"1", "true", "yes", "on"})
    if (equals_nocase(s, n, t)) return *out = 1, true;
  for (const char* f : {"0", "false", "no", "off"})
    if (equals_nocase(s, n, f)) return *out = 0, true;
  return false;
}

bool parse_uint(const char* s, size_t n, uint64_t* out) {
  if (n == 0 || n > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  *out = v;
  return true;
}

// Applies a unit multiplier to a 2^20-scaled number; fails on overflow or on a
// fraction that does not come out whole (e.g. "1.3" bytes).
bool apply_unit(unsigned __int128 scaled, uint64_t multiplier, uint64_t* out) {
  unsigned __int128 v = scaled * multiplier;
  if ((v & ((1u << 20) - 1)) != 0 && multiplier == 1) return false;
  v >>= 20;
  if (v > UINT64_MAX) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

bool parse_size(const char* s, size_t n, uint64_t* out) {
  unsigned __int128 scaled;
  size_t used = parse_decimal(s, n, &scaled);
  if (used == 0) return false;
  const char* unit = s + used;
  size_t ulen = n - used;
  struct Unit {
    const char* name;
    uint64_t mult;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},           {"b", 1},          {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
      {"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20}, {"g", 1ull << 30}, {"gb", 1ull << 30},
      {"gib", 1ull << 30}, {"t", 1ull << 40}, {"tb", 1ull << 40}, {"tib", 1ull << 40},
  };
  for (const Unit& u : kUnits)
    if (equals_nocase(unit, ulen, u.name)) return apply_unit(scaled, u.mult, out);
  return false;
}

bool parse_duration(const char* s, size_t n, uint64_t* out) {
  unsigned __int128 scaled;
  size_t used = parse_decimal(s, n, &scaled);
  if (used == 0) return false;
  const char* unit = s + used;
  size_t ulen = n - used;
  struct Unit {
    const char* name;
    uint64_t ns;
  };
  static constexpr Unit kUnits[] = {
      {"", 1000000000ull},  {"s", 1000000000ull}, {"sec", 1000000000ull}, {"ms", 1000000ull},
      {"us", 1000ull},      {"ns", 1ull},         {"m", 60000000000ull},  {"min", 60000000000ull},
      {"h", 3600000000000ull},
  };
  for (const Unit& u : kUnits) {
    if (!equals_nocase(unit, ulen, u.name)) continue;
    unsigned __int128 v = (scaled * u.ns) >> 20;
    if (v > UINT64_MAX) return false;
    *out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

// Enum values are the {a|b|c} list inside the doc line.
bool parse_enum(const OptionInfo& info, const char* s, size_t n, uint64_t* out) {
  const char* list = strchr(info.doc, '{');
  if (list == nullptr) return false;
  uint64_t index = 0;
  const char* p = list + 1;
  while (*p != '\0' && *p != '}') {
    const char* end = p;
    while (*end != '|' && *end != '}' && *end != '\0') ++end;
    if (static_cast<size_t>(end - p) == n) {
      bool same = true;
      for (size_t i = 0; i < n; ++i) same = same && lower(s[i]) == lower(p[i]);
      if (same) return *out = index, true;
    }
    ++index;
    p = (*end == '|') ? end + 1 : end;
  }
  return false;
}

bool in_range(const OptionInfo& info, uint64_t v) {
  return v >= info.min && (info.max == 0 || v <= info.max);
}

// Appends to a fixed buffer, truncating; keeps option code free of snprintf.
struct Appender {
  char* buf;
  size_t size;
  size_t len = 0;
  Appender(char* b, size_t s) : buf(b), size(s) {
    if (size) buf[0] = '\0';
  }
  Appender& add(const char* s, size_t n) {
    if (size == 0) return *this;
    if (n > size - 1 - len) n = size - 1 - len;
    memcpy(buf + len, s, n);
    len += n;
    buf[len] = '\0';
    return *this;
  }
  Appender& add(const char* s) { return add(s, strlen(s)); }
  Appender& add_u64(uint64_t v) {
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
      tmp[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    return add(tmp + i, sizeof(tmp) - i);
  }
};

// Writes a byte count the way a user would type it: 1G, 64M, 4096.
void add_size(Appender& a, uint64_t v) {
  static constexpr struct {
    uint64_t mult;
    const char* suffix;
  } kUnits[] = {{1ull << 40, "T"}, {1ull << 30, "G"}, {1ull << 20, "M"}, {1ull << 10, "K"}};
  for (const auto& u : kUnits)
    if (v != 0 && v % u.mult == 0) {
      a.add_u64(v / u.mult).add(u.suffix);
      return;
    }
  a.add_u64(v);
}

void add_duration(Appender& a, uint64_t ns) {
  static constexpr struct {
    uint64_t mult;
    const char* suffix;
  } kUnits[] = {{3600000000000ull, "h"}, {60000000000ull, "m"}, {1000000000ull, "s"},
                {1000000ull, "ms"},      {1000ull, "us"}};
  for (const auto& u : kUnits)
    if (ns != 0 && ns % u.mult == 0) {
      a.add_u64(ns / u.mult).add(u.suffix);
      return;
    }
  a.add_u64(ns).add(ns == 0 ? "" : "ns");
}

// text: what was parsed into v (a Path keeps it, trimmed).
void set_stored(OptionId id, const OptionValue& v, const char* text) {
  if (kOptions[static_cast<int>(id)].type == OptionType::Path) {
    size_t n;
    const char* s = trim(text, &n);
    memcpy(g_paths[static_cast<int>(id)], s, n);
    g_paths[static_cast<int>(id)][n] = '\0';
  }
  auto& slot = g_values[static_cast<int>(id)];
  slot.is_percent.store(v.is_percent, std::memory_order_relaxed);
  slot.value.store(v.value, std::memory_order_relaxed);
}

}  // namespace

const OptionInfo& option_info(OptionId id) { return kOptions[static_cast<int>(id)]; }

bool parse_option(OptionId id, const char* text, OptionValue* out) {
  if (text == nullptr) return false;
  const OptionInfo& info = option_info(id);
  size_t n;
  const char* s = trim(text, &n);
  uint64_t v = 0;
  bool percent = false;
  bool ok = false;
  switch (info.type) {
    case OptionType::Bool: ok = parse_bool(s, n, &v); break;
    case OptionType::Uint: ok = parse_uint(s, n, &v) && in_range(info, v); break;
    case OptionType::Size: ok = parse_size(s, n, &v) && in_range(info, v); break;
    case OptionType::SizeOrPercent:
      if (n > 1 && s[n - 1] == '%') {
        unsigned __int128 scaled;
        ok = parse_decimal(s, n - 1, &scaled) == n - 1 && (scaled >> 20) <= 100 &&
             (scaled & ((1u << 20) - 1)) == 0 && (scaled >> 20) > 0;
        v = static_cast<uint64_t>(scaled >> 20);
        percent = true;
      } else {
        ok = parse_size(s, n, &v) && in_range(info, v);
      }
      break;
    case OptionType::Duration: ok = parse_duration(s, n, &v) && in_range(info, v); break;
    case OptionType::Enum: ok = parse_enum(info, s, n, &v); break;
    case OptionType::Path:
      ok = n > 0 && n < kMaxPath && s[0] == '/';
      v = n;
      break;
  }
  if (!ok) return false;
  out->value = v;
  out->is_percent = percent;
  return true;
}

void describe_accepted(OptionId id, char* buf, size_t size) {
  const OptionInfo& info = option_info(id);
  Appender a(buf, size);
  auto add_bounds = [&](void (*fmt)(Appender&, uint64_t)) {
    if (info.min == 0 && info.max == 0) return;
    a.add(" (");
    if (info.min != 0) fmt(a, info.min), a.add(info.max ? " to " : " or more");
    else a.add("at most ");
    if (info.max != 0) fmt(a, info.max);
    a.add(")");
  };
  switch (info.type) {
    case OptionType::Bool: a.add("1/true/yes/on or 0/false/no/off"); break;
    case OptionType::Uint:
      a.add("a whole number");
      add_bounds([](Appender& x, uint64_t v) { x.add_u64(v); });
      break;
    case OptionType::Size:
      a.add("a size such as 512M or 2G");
      add_bounds(add_size);
      break;
    case OptionType::SizeOrPercent:
      a.add("a size such as 512M or 2G, or a percentage such as 60%");
      add_bounds(add_size);
      break;
    case OptionType::Duration:
      a.add("a duration such as 500ms, 30s or 5m");
      add_bounds(add_duration);
      break;
    case OptionType::Path: a.add("an absolute path (/...) shorter than 200 bytes"); break;
    case OptionType::Enum: {
      a.add("one of ");
      const char* list = strchr(info.doc, '{');
      const char* end = list ? strchr(list, '}') : nullptr;
      if (list && end) a.add(list + 1, static_cast<size_t>(end - list - 1));
      break;
    }
  }
}

void format_option(OptionId id, char* buf, size_t size) {
  const OptionInfo& info = option_info(id);
  OptionValue v = option_value(id);
  Appender a(buf, size);
  switch (info.type) {
    case OptionType::Bool: a.add(v.value ? "1" : "0"); break;
    case OptionType::Uint: a.add_u64(v.value); break;
    case OptionType::Size: add_size(a, v.value); break;
    case OptionType::SizeOrPercent:
      if (v.is_percent) a.add_u64(v.value).add("%");
      else add_size(a, v.value);
      break;
    case OptionType::Duration: add_duration(a, v.value); break;
    case OptionType::Path: a.add(option_path(id)); break;
    case OptionType::Enum: {
      const char* p = strchr(info.doc, '{');
      for (uint64_t i = 0; p && i < v.value; ++i) p = strchr(p + 1, '|');
      if (p == nullptr) break;
      const char* end = p + 1;
      while (*end != '|' && *end != '}' && *end != '\0') ++end;
      a.add(p + 1, static_cast<size_t>(end - p - 1));
      break;
    }
  }
}

void reset_options() {
  for (int i = 0; i < kOptionCount; ++i) {
    OptionValue v;
    bool ok = parse_option(static_cast<OptionId>(i), kOptions[i].default_text, &v);
    (void)ok;  // a default that does not parse is caught by the unit tests
    set_stored(static_cast<OptionId>(i), v, kOptions[i].default_text);
  }
}

void load_options_from_env() {
  reset_options();
  bool malformed[kOptionCount] = {};
  for (int i = 0; i < kOptionCount; ++i) {
    auto id = static_cast<OptionId>(i);
    const char* text = platform::env_get(kOptions[i].env);
    OptionValue v;
    if (text == nullptr) continue;
    if (parse_option(id, text, &v)) set_stored(id, v, text);
    else malformed[i] = true;
  }
  // TMC_LOG decides whether the warnings below are shown, so it is applied first.
  log::set_level(static_cast<log::Level>(option(OptionId::log_level)));
  for (int i = 0; i < kOptionCount; ++i) {
    if (!malformed[i]) continue;
    char accepted[160];
    describe_accepted(static_cast<OptionId>(i), accepted, sizeof(accepted));
    log::warn()
        .str(kOptions[i].env).str("=").str(platform::env_get(kOptions[i].env))
        .str(" is not valid: expected ").str(accepted)
        .str("; using the default ").str(kOptions[i].default_text)
        .flush();
  }
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (strncmp(*e, "TMC_", 4) != 0 || strncmp(*e, "TMC_TEST_", 9) == 0) continue;  // TMC_TEST_*: platform/uffd.cc
    const char* eq = strchr(*e, '=');
    if (eq == nullptr) continue;
    OptionId unused;
    char name[64];
    size_t n = static_cast<size_t>(eq - *e);
    if (n >= sizeof(name)) continue;
    memcpy(name, *e, n);
    name[n] = '\0';
    // A TMC_* name that is not an option is most likely a typo; scripts may use their own
    // TMC_* variables, so this is only said at info level.
    if (!find_option(name, &unused)) log::info().str("ignoring unknown variable ").str(name).flush();
  }
}

OptionValue option_value(OptionId id) {
  const auto& slot = g_values[static_cast<int>(id)];
  return {slot.value.load(std::memory_order_relaxed), slot.is_percent.load(std::memory_order_relaxed)};
}

const char* option_path(OptionId id) { return g_paths[static_cast<int>(id)]; }

bool set_option(OptionId id, const char* text) {
  OptionValue v;
  // A Path's text is not atomic: it is set only while options are loaded.
  if (option_info(id).type == OptionType::Path || !parse_option(id, text, &v)) return false;
  set_stored(id, v, text);
  return true;
}

bool find_option(const char* env_name, OptionId* out) {
  for (int i = 0; i < kOptionCount; ++i)
    if (strcmp(kOptions[i].env, env_name) == 0) return *out = static_cast<OptionId>(i), true;
  return false;
}

}  // namespace tmc::control
