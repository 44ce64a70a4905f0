// memcached text protocol, client side (protocol.h). Every value is stored flattened
// (values.h) with flags 0 and no expiry.
#include <charconv>
#include <cstring>

#include "digest.h"
#include "protocol.h"

namespace tmc::loadgen {
namespace {

// The line at p (up to CRLF) or an empty view when it has not arrived in full.
std::string_view line_at(const char* p, size_t n) {
  const void* nl = std::memchr(p, '\n', n);
  if (!nl) return {};
  return std::string_view(p, static_cast<size_t>(static_cast<const char*>(nl) - p + 1));
}

class Memcached final : public Protocol {
 public:
  const char* name() const override { return "memcached"; }

  void append_read(std::string_view key, KeyType, std::string* out) const override {
    out->append("get ");
    out->append(key);
    out->append("\r\n");
  }

  void append_write(std::string_view key, const Value& v, std::string* out) const override {
    const std::string* data = &v.str;
    if (v.type != KeyType::kString) {
      v.flatten(&flat_);
      data = &flat_;
    }
    char buf[24];
    out->append("set ");
    out->append(key);
    out->append(" 0 0 ");
    out->append(buf, std::to_chars(buf, buf + sizeof buf, data->size()).ptr);
    out->append("\r\n");
    out->append(*data);
    out->append("\r\n");
  }

  ptrdiff_t parse_read(const char* p, size_t n, KeyType, ReadResult* r, std::string* error) const override {
    r->clear();
    std::string_view l = line_at(p, n);
    if (l.empty()) return kIncomplete;
    if (l == "END\r\n") {
      r->absent = true;
      return static_cast<ptrdiff_t>(l.size());
    }
    if (!l.starts_with("VALUE ")) return fail(l, error);
    // VALUE <key> <flags> <bytes>\r\n: the length is the last field.
    const size_t sp = l.rfind(' ');
    size_t len = 0;
    auto [q, ec] = std::from_chars(l.data() + sp + 1, l.data() + l.size() - 2, len);
    if (ec != std::errc() || q != l.data() + l.size() - 2) return fail(l, error);
    const size_t total = l.size() + len + 2 + 5;  // data, CRLF, "END\r\n"
    if (n < total) return kIncomplete;
    const char* d = p + l.size();
    if (std::memcmp(d + len, "\r\nEND\r\n", 7) != 0) return fail(l, error);
    r->str = std::string_view(d, len);
    return static_cast<ptrdiff_t>(total);
  }

  ptrdiff_t parse_write(const char* p, size_t n, KeyType, std::string* error) const override {
    std::string_view l = line_at(p, n);
    if (l.empty()) return kIncomplete;
    if (l != "STORED\r\n") return fail(l, error);
    return static_cast<ptrdiff_t>(l.size());
  }

  bool matches(const ReadResult& r, const Value& e) const override {
    if (r.absent) return false;
    if (e.type == KeyType::kString) return r.str == e.str;
    e.flatten(&flat_);
    return r.str == flat_;
  }

  uint64_t digest(const ReadResult& r, KeyType, uint64_t seed) const override { return digest_bytes(r.str, seed); }

  uint64_t digest(const Value& v, uint64_t seed) const override {
    if (v.type == KeyType::kString) return digest_bytes(v.str, seed);
    v.flatten(&flat_);
    return digest_bytes(flat_, seed);
  }

 private:
  static ptrdiff_t fail(std::string_view line, std::string* error) {
    *error = "memcached replied: " + std::string(line.substr(0, line.size() > 2 ? line.size() - 2 : 0));
    return kProtocolError;
  }
  mutable std::string flat_;  // scratch: one Protocol per connection, used by one thread
};

}  // namespace

std::unique_ptr<Protocol> make_memcached() { return std::make_unique<Memcached>(); }

}  // namespace tmc::loadgen
