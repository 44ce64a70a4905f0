// Redis RESP2 client side (protocol.h): request encoding and reply parsing.
#include <algorithm>
#include <charconv>
#include <cstring>

#include "digest.h"
#include "protocol.h"

namespace tmc::loadgen {
namespace {

void append_bulk(std::string* out, std::string_view s) {
  char buf[24];
  out->push_back('$');
  out->append(buf, std::to_chars(buf, buf + sizeof buf, s.size()).ptr);
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}
void append_header(std::string* out, size_t args) {
  char buf[24];
  out->push_back('*');
  out->append(buf, std::to_chars(buf, buf + sizeof buf, args).ptr);
  out->append("\r\n");
}

// The line at p (without CRLF) or nullptr when it has not arrived in full.
const char* line_end(const char* p, const char* end) {
  const void* cr = std::memchr(p, '\r', static_cast<size_t>(end - p));
  if (!cr) return nullptr;
  const char* c = static_cast<const char*>(cr);
  return c + 1 < end ? c : nullptr;
}

bool parse_len(const char* p, const char* e, long long* v) {
  auto [q, ec] = std::from_chars(p, e, *v);
  return ec == std::errc() && q == e;
}

// One reply at p: returns the byte after it, nullptr when incomplete, or sets *bad.
// Bulk strings are appended to *items when given (nested arrays too: EXEC's replies).
const char* parse_one(const char* p, const char* end, std::vector<std::string_view>* items, bool* nil,
                      std::string* error, bool* bad, int depth = 0) {
  if (p >= end) return nullptr;
  const char* le = line_end(p + 1, end);
  if (!le) return nullptr;
  const char* next = le + 2;
  long long n = 0;
  switch (*p) {
    case '+':
    case ':':
      return next;
    case '-':
      *error = "server error: " + std::string(p + 1, le);
      *bad = true;
      return nullptr;
    case '$':
      if (!parse_len(p + 1, le, &n)) break;
      if (n < 0) {
        if (nil) *nil = true;
        return next;
      }
      if (end - next < n + 2) return nullptr;
      if (items) items->emplace_back(next, static_cast<size_t>(n));
      return next + n + 2;
    case '*':
      if (!parse_len(p + 1, le, &n) || depth > 2) break;
      if (n < 0) {
        if (nil) *nil = true;
        return next;
      }
      for (long long i = 0; i < n; ++i) {
        next = parse_one(next, end, items, nullptr, error, bad, depth + 1);
        if (!next) return nullptr;
      }
      return next;
    default:
      break;
  }
  *error = "malformed RESP reply starting with '" + std::string(p, std::min<const char*>(end, p + 16)) + "'";
  *bad = true;
  return nullptr;
}

class Redis final : public Protocol {
 public:
  const char* name() const override { return "redis"; }

  void append_read(std::string_view key, KeyType type, std::string* out) const override {
    switch (type) {
      case KeyType::kString:
        out->append("*2\r\n$3\r\nGET\r\n");
        append_bulk(out, key);
        break;
      case KeyType::kHash:
        out->append("*2\r\n$7\r\nHGETALL\r\n");
        append_bulk(out, key);
        break;
      case KeyType::kList:
        out->append("*4\r\n$6\r\nLRANGE\r\n");
        append_bulk(out, key);
        out->append("$1\r\n0\r\n$2\r\n-1\r\n");
        break;
    }
  }

  void append_write(std::string_view key, const Value& v, std::string* out) const override {
    if (v.type == KeyType::kString) {
      out->append("*3\r\n$3\r\nSET\r\n");
      append_bulk(out, key);
      append_bulk(out, v.str);
      return;
    }
    out->append("*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n");
    append_bulk(out, key);
    if (v.type == KeyType::kHash) {
      append_header(out, 2 + 2 * v.fields.size());
      out->append("$4\r\nHSET\r\n");
      append_bulk(out, key);
      for (const auto& [f, x] : v.fields) {
        append_bulk(out, f);
        append_bulk(out, x);
      }
    } else {
      append_header(out, 2 + v.elems.size());
      out->append("$5\r\nRPUSH\r\n");
      append_bulk(out, key);
      for (const auto& e : v.elems) append_bulk(out, e);
    }
    out->append("*1\r\n$4\r\nEXEC\r\n");
  }

  ptrdiff_t parse_read(const char* p, size_t n, KeyType type, ReadResult* r, std::string* error) const override {
    r->clear();
    bool bad = false;
    const char* q = parse_one(p, p + n, &r->items, &r->absent, error, &bad);
    if (bad) return kProtocolError;
    if (!q) return kIncomplete;
    if (type == KeyType::kString) {
      if (!r->absent && r->items.size() == 1) r->str = r->items[0];
      else if (!r->absent) {
        *error = "GET: not a bulk string reply";
        return kProtocolError;
      }
    } else if (r->items.empty()) {
      r->absent = true;  // HGETALL / LRANGE of a missing key: an empty array
    }
    return q - p;
  }

  ptrdiff_t parse_write(const char* p, size_t n, KeyType type, std::string* error) const override {
    // SET: one reply; MULTI/DEL/HSET|RPUSH/EXEC: four (+OK, +QUEUED, +QUEUED, *2).
    const int replies = type == KeyType::kString ? 1 : 4;
    const char* q = p;
    bool bad = false;
    for (int i = 0; i < replies; ++i) {
      q = parse_one(q, p + n, nullptr, nullptr, error, &bad);
      if (bad) return kProtocolError;
      if (!q) return kIncomplete;
    }
    return q - p;
  }

  bool matches(const ReadResult& r, const Value& e) const override {
    if (r.absent) return false;
    switch (e.type) {
      case KeyType::kString:
        return r.str == e.str;
      case KeyType::kList:
        return r.items.size() == e.elems.size() && std::equal(r.items.begin(), r.items.end(), e.elems.begin());
      case KeyType::kHash: {
        // HGETALL's order is the hash table's, not insertion order: compare as sorted pairs.
        if (r.items.size() != 2 * e.fields.size()) return false;
        std::vector<std::pair<std::string_view, std::string_view>> got, want;
        for (size_t i = 0; i + 1 < r.items.size(); i += 2) got.emplace_back(r.items[i], r.items[i + 1]);
        for (const auto& [f, x] : e.fields) want.emplace_back(f, x);
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        return got == want;
      }
    }
    return false;
  }

  uint64_t digest(const ReadResult& r, KeyType type, uint64_t seed) const override {
    switch (type) {
      case KeyType::kString:
        return digest_bytes(r.str, seed);
      case KeyType::kList:
        return digest_chain(r.items.begin(), r.items.end(), seed);
      case KeyType::kHash: {
        uint64_t sum = r.items.size();
        for (size_t i = 0; i + 1 < r.items.size(); i += 2) sum += digest_pair(r.items[i], r.items[i + 1], seed);
        return sum;
      }
    }
    return 0;
  }

  uint64_t digest(const Value& v, uint64_t seed) const override {
    switch (v.type) {
      case KeyType::kString:
        return digest_bytes(v.str, seed);
      case KeyType::kList:
        return digest_chain(v.elems.begin(), v.elems.end(), seed);
      case KeyType::kHash: {
        uint64_t sum = 2 * v.fields.size();
        for (const auto& [f, x] : v.fields) sum += digest_pair(f, x, seed);
        return sum;
      }
    }
    return 0;
  }
};

}  // namespace

std::unique_ptr<Protocol> make_redis() { return std::make_unique<Redis>(); }

}  // namespace tmc::loadgen
