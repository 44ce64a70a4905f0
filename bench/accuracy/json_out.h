// A minimal JSON writer for the report: objects, arrays, numbers, strings, booleans, with
// the commas placed for the caller. Writes straight to a FILE (no string building).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace acc {

class JsonOut {
 public:
  explicit JsonOut(FILE* f) : f_(f) {}

  void begin_object(const char* key = nullptr) { open(key, '{'); }
  void end_object() { close('}'); }
  void begin_array(const char* key = nullptr) { open(key, '['); }
  void end_array() { close(']'); }

  void num(const char* key, double v) {
    item(key);
    // NaN and infinities are not JSON: a value that could not be measured is null.
    if (std::isfinite(v)) fprintf(f_, "%.6g", v);
    else fputs("null", f_);
  }
  void num(const char* key, uint64_t v) {
    item(key);
    fprintf(f_, "%llu", static_cast<unsigned long long>(v));
  }
  void boolean(const char* key, bool v) {
    item(key);
    fputs(v ? "true" : "false", f_);
  }
  void str(const char* key, const char* v) {
    item(key);
    quoted(v);
  }

 private:
  void item(const char* key) {
    if (need_comma_) fputc(',', f_);
    need_comma_ = true;
    if (key != nullptr) {
      quoted(key);
      fputc(':', f_);
    }
  }
  void open(const char* key, char c) {
    item(key);
    fputc(c, f_);
    need_comma_ = false;
  }
  void close(char c) {
    fputc(c, f_);
    need_comma_ = true;
  }
  void quoted(const char* s) {
    fputc('"', f_);
    for (; *s; ++s) {
      unsigned char c = static_cast<unsigned char>(*s);
      if (c == '"' || c == '\\') fprintf(f_, "\\%c", c);
      else if (c < 0x20) fprintf(f_, "\\u%04x", c);
      else fputc(c, f_);
    }
    fputc('"', f_);
  }

  FILE* f_;
  bool need_comma_ = false;
};

}  // namespace acc
