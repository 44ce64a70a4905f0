// libtmc's options: parsed once from TMC_* environment variables at start-up, readable
// everywhere without locks, and settable at run time through the control socket where
// an option allows it. The rows live in options.def; nothing else defines an option.
//
// A malformed value never stops the host program: it gets one warning that names the
// variable and what it accepts, and the default is used.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tmc::control {

enum class OptionType { Bool, Uint, Size, SizeOrPercent, Duration, Enum, Path };

enum class OptionId : int {
#define TMC_OPTION(id, env, type, def, min, max, doc) id,
#include "control/options.def"
#undef TMC_OPTION
  kCount
};
inline constexpr int kOptionCount = static_cast<int>(OptionId::kCount);

struct OptionInfo {
  const char* env;           // variable name, e.g. "TMC_ENABLE"
  OptionType type;
  const char* default_text;  // the default, written as a user would write it
  uint64_t min;              // bounds for Uint/Size/Duration (max 0 = unbounded)
  uint64_t max;
  const char* doc;           // one line; Enum values appear as {a|b|c}
};

// A parsed value. Sizes are bytes, durations nanoseconds, Bool 0/1, Enum the index of the
// accepted value. For SizeOrPercent, is_percent says `value` is a percentage in 0..100.
// A Path is text, kept apart (option_path); its value is its length.
struct OptionValue {
  uint64_t value = 0;
  bool is_percent = false;
};

const OptionInfo& option_info(OptionId id);

// Parses `text` as option `id`. Returns true and sets *out on success; leaves *out alone
// otherwise. Pure: no logging, no global state (the unit tests drive it directly).
bool parse_option(OptionId id, const char* text, OptionValue* out);

// Writes what option `id` accepts ("1/true/yes/on or 0/false/no/off", "a size such as
// 512M or 2G (64.0 MiB to 1.0 TiB)") into buf. Used in warnings and `tmcctl options`.
void describe_accepted(OptionId id, char* buf, size_t size);

// Writes the current value of `id` in the form a user would type it into buf.
void format_option(OptionId id, char* buf, size_t size);

// Reads every TMC_* variable from the environment, warning once per malformed one and
// once per unknown TMC_* name (a likely typo). Call once, before anything reads options.
void load_options_from_env();

// Restores every option to its default (tests only).
void reset_options();

// The current value; a relaxed load, safe on any thread and inside malloc.
OptionValue option_value(OptionId id);
inline uint64_t option(OptionId id) { return option_value(id).value; }
inline bool option_bool(OptionId id) { return option(id) != 0; }
// A Path option's text (an absolute path, at most kMaxPath - 1 bytes).
inline constexpr size_t kMaxPath = 200;
const char* option_path(OptionId id);

// Sets an option at run time (control socket). Returns false if `text` does not parse, or
// for a Path, which is read once at start.
bool set_option(OptionId id, const char* text);

// Looks an option up by its variable name; returns false if there is none.
bool find_option(const char* env_name, OptionId* out);

}  // namespace tmc::control
