// The two wire protocols behind one interface: a request for a read or a write of one key,
// and the parse of its whole reply. The worker pipelines requests and calls parse() on the
// bytes received so far; parse() returns 0 until the reply is complete, so a reply split
// across receives is simply parsed again when more bytes arrive (replies are small).
//
//   Redis (RESP2)   string  SET k v                    / GET k
//                   hash    MULTI DEL k HSET k f v.. EXEC / HGETALL k
//                   list    MULTI DEL k RPUSH k e.. EXEC  / LRANGE k 0 -1
//                   (a hash or list write replaces the whole value atomically, so a read
//                   sees one version or the next, never a mixture)
//   memcached       set k 0 0 n / get k; hashes and lists are stored flattened (values.h)
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "values.h"

namespace tmc::loadgen {

// What a read returned: absent, or the bytes (a string / flattened memcached value), or the
// elements of an array reply (list elements; hash field, value, field, value...). Views
// into the connection's receive buffer, valid until the bytes are consumed.
struct ReadResult {
  bool absent = false;
  std::string_view str;
  std::vector<std::string_view> items;
  void clear() {
    absent = false;
    str = {};
    items.clear();
  }
};

// parse() results besides a byte count.
constexpr ptrdiff_t kIncomplete = 0;
constexpr ptrdiff_t kProtocolError = -1;

class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual const char* name() const = 0;
  virtual void append_read(std::string_view key, KeyType type, std::string* out) const = 0;
  virtual void append_write(std::string_view key, const Value& v, std::string* out) const = 0;
  // parse_read / parse_write(p, n, ...): bytes of the complete reply at p, kIncomplete, or
  // kProtocolError (with *error: the server's error reply, or what was malformed). A read
  // fills *r.
  virtual ptrdiff_t parse_read(const char* p, size_t n, KeyType type, ReadResult* r, std::string* error) const = 0;
  virtual ptrdiff_t parse_write(const char* p, size_t n, KeyType type, std::string* error) const = 0;
  // matches(r, expected): the read returned exactly this value.
  virtual bool matches(const ReadResult& r, const Value& expected) const = 0;
  // digest(r, seed) / digest(v, seed): equal when r holds v (digest.h); r must not be absent.
  virtual uint64_t digest(const ReadResult& r, KeyType type, uint64_t seed) const = 0;
  virtual uint64_t digest(const Value& v, uint64_t seed) const = 0;
};

std::unique_ptr<Protocol> make_redis();
std::unique_ptr<Protocol> make_memcached();

}  // namespace tmc::loadgen
