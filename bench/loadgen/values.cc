// Record generators (values.h). Strings we generate need no JSON escaping: the word lists,
// tokens and text hold no quote, backslash or control character.
#include "values.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "rng.h"
#include "text.h"

namespace tmc::loadgen {
namespace {

constexpr int64_t kT0 = 1704067200;  // 2024-01-01T00:00:00Z

// Kinds of string records, with their share of the string keys.
struct Kind {
  const char* prefix;
  int weight;
};
enum { kUser, kOrder, kEvent, kPost, kMetricsKind, kSession, kStringKinds, kHashKind = kStringKinds, kListKind };
constexpr Kind kKinds[] = {{"user", 20}, {"order", 12}, {"event", 8}, {"post", 12},
                           {"metrics", 5}, {"sess", 8}, {"h", 0}, {"l", 0}};

void append_int(std::string* s, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s->append(buf, r.ptr);
}
void append_fixed(std::string* s, double v, int decimals) {
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  s->append(buf, static_cast<size_t>(n));
}
// ISO 8601 UTC from Unix seconds (days-to-civil, Howard Hinnant's algorithm).
void append_iso(std::string* s, int64_t t) {
  int64_t days = t / 86400, sod = t % 86400;
  days += 719468;
  const int64_t era = days / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(y), static_cast<int>(m),
                        static_cast<int>(d), static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60),
                        static_cast<int>(sod % 60));
  s->append(buf, static_cast<size_t>(n));
}
void append_uuid(Rng& r, std::string* s) {
  char buf[40];
  uint64_t a = r.next(), b = r.next();
  int n = std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                        static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                        static_cast<unsigned>((b >> 48) | 0x8000), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  s->append(buf, static_cast<size_t>(n));
}
void append_ipv4(Rng& r, std::string* s) {
  append_int(s, r.range(1, 223));
  for (int k = 0; k < 3; ++k) {
    s->push_back('.');
    append_int(s, r.range(k == 2 ? 1 : 0, k == 2 ? 254 : 255));
  }
}
void append_sku(Rng& r, std::string* s) {
  std::string_view c = kCategories.pick(r);
  for (size_t k = 0; k < 3 && k < c.size(); ++k) s->push_back(static_cast<char>(c[k] - 'a' + 'A'));
  char buf[16];
  int n = std::snprintf(buf, sizeof buf, "-%05d", static_cast<int>(r.below(100000)));
  s->append(buf, static_cast<size_t>(n));
}

// A JSON object written straight into a string: Obj o(&s); o.str("a", "x").num("b", 1); o.end();
class Obj {
 public:
  explicit Obj(std::string* s) : s_(s) { s_->push_back('{'); }
  std::string* key(std::string_view k) {
    if (!first_) s_->push_back(',');
    first_ = false;
    s_->push_back('"');
    s_->append(k);
    s_->append("\":");
    return s_;
  }
  Obj& str(std::string_view k, std::string_view v) {
    key(k)->push_back('"');
    s_->append(v);
    s_->push_back('"');
    return *this;
  }
  // open_str(k): the key and the opening quote; the caller appends the contents, then close_str().
  std::string* open_str(std::string_view k) {
    key(k)->push_back('"');
    return s_;
  }
  Obj& close_str() {
    s_->push_back('"');
    return *this;
  }
  Obj& num(std::string_view k, int64_t v) {
    append_int(key(k), v);
    return *this;
  }
  Obj& fixed(std::string_view k, double v, int decimals) {
    append_fixed(key(k), v, decimals);
    return *this;
  }
  Obj& boolean(std::string_view k, bool v) {
    key(k)->append(v ? "true" : "false");
    return *this;
  }
  Obj& iso(std::string_view k, int64_t t) {
    key(k)->push_back('"');
    append_iso(s_, t);
    s_->push_back('"');
    return *this;
  }
  void end() { s_->push_back('}'); }

 private:
  std::string* s_;
  bool first_ = true;
};

// fill_text(o, key, s, target): a text field bringing the object to about target bytes
// (the closing brace included), when it is shorter.
void fill_text(Rng& r, Obj& o, std::string_view key, std::string* s, size_t target) {
  const size_t overhead = key.size() + 6;
  if (s->size() + overhead + 16 >= target) return;
  append_text(r, target - s->size() - overhead, o.open_str(key));
  o.close_str();
}

void address(Rng& r, Obj& parent, std::string_view key, std::string* s) {
  parent.key(key);
  Obj a(s);
  std::string* st = a.open_str("street");
  append_int(st, r.range(1, 9999));
  st->push_back(' ');
  st->append(kStreets.pick(r));
  st->append(" St");
  a.close_str().str("city", kCities.pick(r)).num("postcode", r.range(1000, 99999)).str("country", kLocales.pick(r).substr(3));
  a.end();
}

void person(Rng& r, Obj& o) {
  std::string_view first = kFirstNames.pick(r), last = kLastNames.pick(r);
  o.str("first_name", first).str("last_name", last);
  std::string* e = o.open_str("email");
  for (char c : first) e->push_back(static_cast<char>(c | 0x20));
  e->push_back('.');
  for (char c : last) e->push_back(static_cast<char>(c | 0x20));
  append_int(e, r.range(1, 999));
  e->push_back('@');
  e->append(kDomains.pick(r));
  o.close_str();
}

void user(Rng& r, uint64_t key, size_t target, std::string* s) {
  Obj o(s);
  append_uuid(r, o.open_str("id"));
  o.close_str().num("uid", static_cast<int64_t>(key));
  person(r, o);
  o.boolean("email_verified", r.chance(0.8));
  std::string* ph = o.open_str("phone");
  char buf[32];
  ph->append(buf, static_cast<size_t>(std::snprintf(buf, sizeof buf, "+%d %03d %03d %04d", static_cast<int>(r.range(1, 99)),
                                                     static_cast<int>(r.range(100, 999)), static_cast<int>(r.range(100, 999)),
                                                     static_cast<int>(r.below(10000)))));
  o.close_str();
  address(r, o, "address", s);
  const int64_t created = kT0 - r.range(0, 5 * 365 * 86400);
  o.iso("created_at", created).num("last_login", created + r.range(0, 100000000)).str("locale", kLocales.pick(r));
  static constexpr std::string_view kPlans[] = {"free", "free", "free", "pro", "team", "enterprise"};
  o.str("plan", kPlans[r.below(6)]).fixed("balance", r.unit() * 5000, 2).num("login_count", r.range(1, 4000));
  o.key("preferences");
  Obj p(s);
  static constexpr std::string_view kThemes[] = {"light", "dark", "system"};
  p.boolean("newsletter", r.chance(0.3)).str("theme", kThemes[r.below(3)]).str("notifications", r.chance(0.5) ? "email" : "push");
  p.end();
  append_words(r, static_cast<size_t>(r.range(1, 6)), o.open_str("tags"));
  o.close_str();
  fill_text(r, o, "bio", s, target);
  o.end();
}

void order(Rng& r, uint64_t key, size_t target, std::string* s) {
  Obj o(s);
  std::string* id = o.open_str("order_id");
  id->append("ord_");
  append_int(id, static_cast<int64_t>(key));
  id->push_back('_');
  append_token(r, 6, id);
  o.close_str();
  o.key("customer");
  Obj c(s);
  append_uuid(r, c.open_str("id"));
  c.close_str();
  person(r, c);
  c.end();
  const int64_t ts = kT0 + r.range(0, 400 * 86400);
  o.iso("created_at", ts).str("currency", kCurrencies.pick(r));
  // About 120 bytes per line item: as many as the target size holds (1..40).
  int64_t items = std::clamp<int64_t>((static_cast<int64_t>(target) - 700) / 120 + r.range(-1, 1), 1, 40);
  double subtotal = 0;
  o.key("items")->push_back('[');
  for (int64_t k = 0; k < items; ++k) {
    if (k) s->push_back(',');
    Obj it(s);
    append_sku(r, it.open_str("sku"));
    std::string* nm = it.close_str().open_str("name");
    nm->append(kAdjectives.pick(r));
    nm->push_back(' ');
    nm->append(kNouns.pick(r));
    const int64_t qty = r.range(1, 5);
    const double price = 1.5 + r.unit() * 400;
    subtotal += static_cast<double>(qty) * price;
    it.close_str().num("qty", qty).fixed("unit_price", price, 2).str("category", kCategories.pick(r));
    it.end();
  }
  s->push_back(']');
  o.fixed("subtotal", subtotal, 2).fixed("tax", subtotal * 0.07, 2).fixed("total", subtotal * 1.07, 2);
  const int64_t states = r.range(1, 7);
  o.key("history")->push_back('[');
  int64_t t = ts;
  for (int64_t k = 0; k < states; ++k) {
    if (k) s->push_back(',');
    Obj h(s);
    h.str("status", kOrderStates.items[k]).iso("at", t);
    h.end();
    t += r.range(60, 2 * 86400);
  }
  s->push_back(']');
  o.str("status", kOrderStates.items[states - 1]);
  address(r, o, "shipping_address", s);
  fill_text(r, o, "note", s, target);
  o.end();
}

void event_into(Rng& r, Obj& o, std::string* s, size_t target) {
  const int64_t ts = kT0 + r.range(0, 400 * 86400);
  std::string_view ev = kEvents.pick(r);
  o.str("event", ev).num("ts", ts).iso("time", ts).num("user_id", r.range(1, 10000000));
  append_token(r, 9, o.open_str("session_id"));
  append_ipv4(r, o.close_str().open_str("ip"));
  o.close_str().str("ua", kAgents.pick(r));
  o.key("props");
  Obj p(s);
  p.str("page", kPages.pick(r)).num("duration_ms", r.range(5, 60000));
  if (ev == "search") {
    append_words(r, static_cast<size_t>(r.range(1, 4)), p.open_str("query"));
    p.close_str();
  }
  if (ev == "purchase" || ev == "add_to_cart") {
    append_sku(r, p.open_str("sku"));
    p.close_str().fixed("price", 1 + r.unit() * 400, 2);
  }
  fill_text(r, p, "message", s, target > 2 ? target - 2 : 0);
  p.end();
}

void event(Rng& r, size_t target, std::string* s) {
  Obj o(s);
  event_into(r, o, s, target);
  o.end();
}

void metrics(Rng& r, size_t target, std::string* s) {
  static constexpr int64_t kSteps[] = {1, 10, 15, 60, 300};
  const int64_t step = kSteps[r.below(5)];
  const int64_t ts = (kT0 + r.range(0, 400 * 86400)) / step * step;
  double v = r.unit() * 100;
  const double scale = std::pow(10.0, static_cast<double>(r.range(-2, 1)));
  const bool csv = r.chance(0.5);
  std::optional<Obj> o;  // the JSON form only
  if (csv) {
    s->append("ts,value");
  } else {
    o.emplace(s);
    std::string* h = o->str("metric", kMetrics.pick(r)).open_str("host");
    h->append("web-");
    append_int(h, r.range(1, 64));
    o->close_str().num("start", ts).num("step", step).key("values")->push_back('[');
  }
  for (int64_t k = 0; s->size() + 2 < target || k < 12; ++k) {
    // A random walk (Irwin-Hall approximation of a normal step).
    v = std::max(0.0, v + (r.unit() + r.unit() + r.unit() - 1.5) * 1.5);
    if (csv) {
      s->push_back('\n');
      append_int(s, ts + k * step);
      s->push_back(',');
    } else if (k) {
      s->push_back(',');
    }
    append_fixed(s, v * scale, 3);
  }
  if (!csv) {
    s->push_back(']');
    o->end();
  }
}

void session(Rng& r, size_t target, std::string* s) {
  Obj o(s);
  append_token(r, 24, o.open_str("sid"));
  const int64_t uid = r.range(1, 10000000), exp = kT0 + r.range(0, 400 * 86400);
  o.close_str().num("uid", uid);
  append_token(r, 16, o.open_str("csrf"));
  std::string* roles = o.close_str().open_str("roles");
  roles->append(kRoles.pick(r));
  if (r.chance(0.5)) {
    roles->push_back(' ');
    roles->append(kRoles.pick(r));
  }
  o.close_str().num("issued", exp - 86400).num("expires", exp);
  append_ipv4(r, o.open_str("ip"));
  o.close_str().str("ua", kAgents.pick(r)).str("locale", kLocales.pick(r));
  o.key("flags");
  Obj f(s);
  f.boolean("mfa", r.chance(0.4)).boolean("remember", r.chance(0.5)).boolean("beta", r.chance(0.1));
  f.end();
  if (r.chance(0.5)) {
    o.key("oauth");
    Obj a(s);
    static constexpr size_t kLens[] = {32, 48, 96};
    append_token(r, kLens[r.below(3)], a.open_str("access_token"));
    append_token(r, 32, a.close_str().open_str("refresh_token"));
    a.close_str().str("scope", "read write profile");
    a.end();
  }
  // A cart grows with the session: items until the target is reached (40 at most).
  o.key("cart")->push_back('[');
  for (int k = 0; k < 40 && s->size() + 60 < target; ++k) {
    if (k) s->push_back(',');
    Obj it(s);
    append_sku(r, it.open_str("sku"));
    it.close_str().num("qty", r.range(1, 3)).fixed("price", 1 + r.unit() * 300, 2);
    it.end();
  }
  s->push_back(']');
  fill_text(r, o, "flash", s, target);
  o.end();
}

void hash_fields(Rng& r, uint64_t key, size_t target, Value* v) {
  auto add = [&](std::string_view k) -> std::string* {
    v->fields.emplace_back(std::string(k), std::string());
    return &v->fields.back().second;
  };
  size_t fixed = 0;
  std::string* text_field;
  if (r.chance(0.5)) {  // a user profile
    add("first_name")->append(kFirstNames.pick(r));
    add("last_name")->append(kLastNames.pick(r));
    append_int(add("uid"), static_cast<int64_t>(key));
    append_iso(add("created_at"), kT0 - r.range(0, 100000000));
    add("locale")->append(kLocales.pick(r));
    append_int(add("login_count"), r.range(1, 9000));
    append_ipv4(r, add("last_ip"));
    std::string* a = add("address");
    Obj o(a);
    o.num("n", r.range(1, 9999)).str("street", kStreets.pick(r)).str("city", kCities.pick(r));
    o.end();
    text_field = add("about");
  } else {  // a product
    append_sku(r, add("sku"));
    std::string* nm = add("name");
    nm->append(kAdjectives.pick(r));
    nm->push_back(' ');
    nm->append(kNouns.pick(r));
    add("category")->append(kCategories.pick(r));
    append_fixed(add("price"), 1 + r.unit() * 900, 2);
    add("currency")->append(kCurrencies.pick(r));
    append_int(add("stock"), r.range(0, 5000));
    append_fixed(add("rating"), 1 + r.unit() * 4, 1);
    append_int(add("reviews"), r.range(0, 20000));
    append_iso(add("updated_at"), kT0 + r.range(0, 400 * 86400));
    std::string* d = add("dimensions");
    Obj o(d);
    o.num("w", r.range(1, 200)).num("h", r.range(1, 200)).num("d", r.range(1, 200)).str("unit", "cm");
    o.end();
    text_field = add("description");
  }
  for (const auto& [k, x] : v->fields) fixed += k.size() + x.size();
  const size_t want = target > fixed + 16 ? target - fixed : 16;
  append_text(r, want, text_field);
}

void list_elems(Rng& r, size_t target, Value* v) {
  const bool events = r.chance(0.6);
  size_t total = 0;
  for (int k = 0; k < 64 && (total < target || k < 3); ++k) {
    std::string e;
    if (events) {
      event(r, 0, &e);
    } else {
      Obj o(&e);
      std::string* a = o.num("id", r.range(1, 1000000000)).open_str("author");
      a->append(kFirstNames.pick(r));
      a->push_back(' ');
      a->push_back(kLastNames.pick(r)[0]);
      a->push_back('.');
      o.close_str().iso("at", kT0 + r.range(0, 400 * 86400)).num("likes", r.range(0, 500));
      const size_t body = std::min<size_t>(1500, 30 + static_cast<size_t>(-std::log(1 - r.unit()) * 250));
      append_text(r, body, o.open_str("body"));
      o.close_str();
      o.end();
    }
    total += e.size();
    v->elems.push_back(std::move(e));
  }
}

int pick_weighted(uint64_t h, const int* weights, int n) {
  int sum = 0;
  for (int k = 0; k < n; ++k) sum += weights[k];
  int x = static_cast<int>(h % static_cast<uint64_t>(sum));
  for (int k = 0; k < n; ++k) {
    if (x < weights[k]) return k;
    x -= weights[k];
  }
  return n - 1;
}

}  // namespace

// ---- parsing -------------------------------------------------------------------------------

namespace {
bool parse_u32(std::string_view s, uint32_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

bool parse_types(std::string_view s, TypeMix* out, std::string* error) {
  TypeMix m{0, 0, 0};
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    size_t colon = item.find(':');
    uint32_t w = 0;
    if (colon == std::string_view::npos || !parse_u32(item.substr(colon + 1), &w) || w > 1000) {
      *error = "--types takes TYPE:WEIGHT,... with TYPE string, hash or list and WEIGHT 0..1000, e.g. string:65,hash:20,list:15";
      return false;
    }
    std::string_view t = item.substr(0, colon);
    if (t == "string") m.string = static_cast<int>(w);
    else if (t == "hash") m.hash = static_cast<int>(w);
    else if (t == "list") m.list = static_cast<int>(w);
    else {
      *error = "--types: unknown type '" + std::string(t) + "' (string, hash, list)";
      return false;
    }
  }
  if (m.string + m.hash + m.list == 0) {
    *error = "--types: the weights add up to 0";
    return false;
  }
  *out = m;
  return true;
}

bool parse_sizes(std::string_view s, SizeRange* out, std::string* error) {
  SizeRange r;
  size_t dash = s.find('-');
  bool ok = dash == std::string_view::npos ? parse_u32(s, &r.min) && ((r.max = r.min), true)
                                           : parse_u32(s.substr(0, dash), &r.min) && parse_u32(s.substr(dash + 1), &r.max);
  if (!ok || r.min < 16 || r.max < r.min || r.max > (1u << 20)) {
    *error = "--value-size takes BYTES or MIN-MAX with 16 <= MIN <= MAX <= 1048576, e.g. 100-4096";
    return false;
  }
  *out = r;
  return true;
}

// ---- Value ---------------------------------------------------------------------------------

void Value::clear() {
  str.clear();
  fields.clear();
  elems.clear();
}

size_t Value::bytes() const {
  size_t n = str.size();
  for (const auto& [k, v] : fields) n += k.size() + v.size();
  for (const auto& e : elems) n += e.size();
  return n;
}

void Value::flatten(std::string* out) const {
  out->clear();
  switch (type) {
    case KeyType::kString:
      *out = str;
      break;
    case KeyType::kHash: {
      Obj o(out);
      for (const auto& [k, v] : fields) o.str(k, v);
      o.end();
      break;
    }
    case KeyType::kList:
      for (size_t i = 0; i < elems.size(); ++i) {
        if (i) out->push_back('\n');
        out->append(elems[i]);
      }
      break;
  }
}

// ---- ValueGen ------------------------------------------------------------------------------

namespace {
// Pseudo-keys of --distinct start here, above any real key number (--keys <= 2^31).
constexpr uint64_t kPseudoBase = 1ull << 40;
constexpr uint64_t kContentSalt = 0xd15c;
}  // namespace

ValueGen::ValueGen(uint64_t seed, TypeMix types, SizeRange sizes, uint32_t distinct)
    : seed_(seed), types_(types), sizes_(sizes), distinct_(std::min(distinct, kMaxDistinct)) {
  if (distinct_ == 0) return;
  // The first distinct_ pseudo-keys of every type a key can have (types of weight 0 stay
  // empty), found in one pass over the key numbers from kPseudoBase.
  const int weights[] = {types_.string, types_.hash, types_.list};
  pseudo_.resize(3);
  size_t open_types = 0;
  for (size_t t = 0; t < 3; ++t)
    if (weights[t] > 0) pseudo_[t].reserve(distinct_), ++open_types;
  for (uint64_t key = kPseudoBase; open_types > 0; ++key) {
    const auto t = static_cast<size_t>(type_of(key));
    if (pseudo_[t].size() >= distinct_) continue;  // that type has all its contents
    pseudo_[t].push_back(key);
    if (pseudo_[t].size() == distinct_) --open_types;
  }
}

uint32_t ValueGen::content_of(uint64_t key, uint32_t version) const {
  return distinct_ ? static_cast<uint32_t>(mix(seed_ ^ kContentSalt, key, version) % distinct_) : 0;
}

KeyType ValueGen::type_of(uint64_t key) const {
  const int w[] = {types_.string, types_.hash, types_.list};
  return static_cast<KeyType>(pick_weighted(mix(seed_, key, 0x7e9e), w, 3));
}

int ValueGen::kind_of(uint64_t key) const {
  switch (type_of(key)) {
    case KeyType::kHash:
      return kHashKind;
    case KeyType::kList:
      return kListKind;
    case KeyType::kString:
      break;
  }
  int w[kStringKinds];
  for (int k = 0; k < kStringKinds; ++k) w[k] = kKinds[k].weight;
  return pick_weighted(mix(seed_, key, 0x4b1d), w, kStringKinds);
}

void ValueGen::key_name(uint64_t key, std::string* out) const {
  out->assign(kKinds[kind_of(key)].prefix);
  out->push_back(':');
  append_int(out, static_cast<int64_t>(key));
}

void ValueGen::generate(uint64_t key, uint32_t version, Value* out) const {
  if (distinct_ == 0) return generate_own(key, version, out);
  // The content's own bytes, whatever key and version hold them: its pseudo-key at version 1.
  const auto& keys = pseudo_[static_cast<size_t>(type_of(key))];
  generate_own(keys[content_of(key, version)], 1, out);
}

void ValueGen::generate_own(uint64_t key, uint32_t version, Value* out) const {
  out->clear();
  out->type = type_of(key);
  Rng r(mix(seed_, key, version));
  // Log-uniform target size: as many small values as large ones per doubling.
  const double lo = std::log(static_cast<double>(sizes_.min)), hi = std::log(static_cast<double>(sizes_.max) + 1);
  size_t target = static_cast<size_t>(std::exp(lo + r.unit() * (hi - lo)));
  target = std::clamp<size_t>(target, sizes_.min, sizes_.max);
  std::string* s = &out->str;
  switch (kind_of(key)) {
    case kUser: user(r, key, target, s); break;
    case kOrder: order(r, key, target, s); break;
    case kEvent: event(r, target, s); break;
    case kPost: append_text(r, target, s); break;
    case kMetricsKind: metrics(r, target, s); break;
    case kSession: session(r, target, s); break;
    case kHashKind: hash_fields(r, key, target, out); break;
    case kListKind: list_elems(r, target, out); break;
  }
  if (s->size() > sizes_.max) s->resize(sizes_.max);  // a record larger than the range: cut, like records.py
}

}  // namespace tmc::loadgen
