// Compressibility of the generated values: lz4 (default level, as `lz4 -1`) and zstd -1,
// over the whole sample and over each 4 KiB piece on its own (as libtmc, zram and zswap
// compress pages). Raw blocks, no frame headers.
#pragma once

#include <cstdint>
#include <string>

#include "values.h"

namespace tmc::loadgen {

// sample_values(gen, keys, bytes, out): values of keys 0, 1, ... (version 1, flattened)
// one after another until *out holds `bytes` bytes. Returns the mean payload bytes of a
// value (Value::bytes: what --size counts).
double sample_values(const ValueGen& gen, uint64_t keys, uint64_t bytes, std::string* out);
// print_ratio(sample, mean, json): the four ratios (and the mean value size), as a line or
// a JSON object, on stdout.
void print_ratio(const std::string& sample, double mean_value_bytes, bool json);

}  // namespace tmc::loadgen
