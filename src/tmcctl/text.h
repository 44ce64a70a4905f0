// Text helpers: numbers for people (sizes in binary units, durations in the unit that
// fits) and suffix tests.
#pragma once

#include <cstdint>
#include <string>

namespace tmcctl {

std::string human_bytes(uint64_t v);  // "512 B", "1.5 MiB"
std::string human_ns(uint64_t v);     // "850 ns", "1.2 us", "3.40 ms", "2.00 s"
bool ends_with(const std::string& s, const std::string& suffix);

}  // namespace tmcctl
