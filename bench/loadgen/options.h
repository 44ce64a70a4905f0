// The load generator's command line (tmc_loadgen --help prints it).
#pragma once

#include <cstdint>
#include <string>

#include "key_dist.h"
#include "values.h"

namespace tmc::loadgen {

enum class ServerKind { kRedis, kMemcached };

struct Config {
  ServerKind server = ServerKind::kRedis;
  std::string host = "127.0.0.1";
  int port = 0;
  uint64_t keys = 100000;
  uint64_t seed = 1;
  DistSpec dist;
  double read_ratio = 0.9;
  int threads = 1;
  int conns = 4;       // per thread
  int pipeline = 8;    // requests in flight per connection in the timed run
  int load_pipeline = 64;  // ... in the load, check and reset phases
  double duration_s = 0;
  uint64_t ops = 0;
  double warmup_s = 0;
  TypeMix types;
  std::string types_text = "string:65,hash:20,list:15";
  SizeRange sizes;
  uint32_t distinct = 0;  // --distinct: 0 = every value its own; N = one of N contents per type
  bool load = false, verify = false, check_all = false, reset = false;
  std::string state_path;
  std::string json_path;  // "-" = stdout
  int cdf_points = 60;
  // compressibility of the generated values
  bool ratio = false;
  std::string sample_path;
  uint64_t sample_bytes = 16u << 20;
  bool quiet = false;

  bool run_phase() const { return duration_s > 0 || ops > 0; }
  const char* server_name() const { return server == ServerKind::kRedis ? "redis" : "memcached"; }
};

// parse_args: 0 = go on; otherwise the exit status (0 after --help, 2 on bad input, with
// the message already printed).
int parse_args(int argc, char** argv, Config* cfg, bool* exit_now);

// "30s", "500ms", "2m", bare seconds; "16M", "1G", bare bytes. False on malformed input.
bool parse_duration(const std::string& s, double* seconds);
bool parse_bytes(const std::string& s, uint64_t* bytes);

}  // namespace tmc::loadgen
