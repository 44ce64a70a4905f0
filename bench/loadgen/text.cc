// English-like text generation and word lists (text.h).
#include "text.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tmc::loadgen {
namespace {

constexpr std::string_view kCommon[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are",
    "with", "as", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "hot",
    "word", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there", "when", "up",
    "use", "your", "how", "said", "an", "each", "she", "which", "do", "their", "time", "if", "will",
    "way", "about", "many", "then", "them", "write", "would", "like", "so", "these", "her", "long",
    "make", "thing", "see", "him", "two", "has", "look", "more", "day", "could", "go", "come", "did",
    "number", "sound", "no", "most", "people", "my", "over", "know", "water", "than", "call", "first",
    "who", "may", "down", "side", "been", "now", "find", "any", "new", "work", "part", "take", "get",
    "place", "made", "live", "where", "after", "back", "little", "only", "round", "man", "year",
    "came", "show", "every", "good", "me", "give", "our", "under", "name", "very", "through", "just",
    "form", "sentence", "great", "think", "say", "help", "low", "line", "differ", "turn", "cause",
    "much", "mean", "before", "move", "right", "boy", "old", "too", "same", "tell", "does", "set",
    "three", "want", "air", "well", "also", "play", "small", "end", "put", "home", "read", "hand",
    "port", "large", "spell", "add", "even", "land", "here", "must", "big", "high", "such", "follow",
    "act", "why", "ask", "men", "change", "went", "light", "kind", "off", "need", "house", "picture",
    "try", "us", "again", "animal", "point", "mother", "world", "near", "build", "self", "earth",
    "father", "head", "stand", "own", "page", "should", "country", "found", "answer", "school",
    "grow", "study", "still", "learn", "plant", "cover", "food", "sun", "four", "between", "state",
    "keep", "eye", "never", "last", "let", "thought", "city", "tree", "cross", "farm", "hard",
    "start", "might", "story", "saw", "far", "sea", "draw", "left", "late", "run", "don't", "while",
    "press", "close", "night", "real", "life", "few", "north", "open", "seem", "together", "next",
    "white", "children", "begin", "got", "walk", "example", "ease", "paper", "group", "always",
    "music", "those", "both", "mark", "often", "letter", "until", "mile", "river", "car", "feet",
    "care", "second", "book", "carry", "took", "science", "eat", "room", "friend", "began", "idea",
    "fish", "mountain", "stop", "once", "base", "hear", "horse", "cut", "sure", "watch", "color",
    "face", "wood", "main", "enough", "plain", "girl", "usual", "young", "ready", "above", "ever",
    "red", "list", "though", "feel", "talk", "bird", "soon", "body", "dog", "family", "direct",
    "leave", "song", "measure", "door", "product", "black", "short", "class", "wind", "question",
    "happen", "complete", "ship", "area", "half", "rock", "order", "fire", "south", "problem",
    "piece", "told", "knew", "pass", "since", "top", "whole", "king", "space", "heard", "best",
    "hour", "better", "true", "during", "hundred", "five", "remember", "step", "early", "hold",
    "west", "ground", "interest", "reach", "fast", "sing", "listen", "six", "table", "travel",
    "less", "morning", "ten", "simple", "several", "toward", "war", "lay", "against", "pattern",
    "slow", "center", "love", "person", "money", "serve", "appear", "road", "map", "rain", "rule",
    "pull", "cold", "notice", "voice", "unit", "power", "town", "fine", "certain", "fly", "fall",
    "lead", "cry", "dark", "machine", "note", "wait", "plan", "figure", "star", "box", "field",
    "rest", "correct", "able", "done", "beauty", "drive", "stood", "contain", "front", "teach",
    "week", "final", "gave", "green", "quick", "develop", "ocean", "warm", "free", "minute",
    "strong", "special", "mind", "behind", "clear", "produce", "fact", "street", "course", "stay",
    "wheel", "full", "force", "blue", "object", "decide", "surface", "deep", "moon", "island",
    "foot", "system", "busy", "test", "record", "boat", "common", "gold", "possible", "plane",
    "wonder", "laugh", "thousand", "ago", "ran", "check", "game", "shape", "miss", "brought",
    "heat", "snow", "bring", "yes", "distant", "fill", "east", "paint", "language", "among",
    "delivery", "shipping", "price", "refund", "review", "recommend", "battery", "screen",
    "quality", "customer", "service", "account", "password", "update", "release", "feature",
    "bug", "fix", "version", "server", "support", "order", "market", "station", "original",
    "share", "experience", "similar", "guide", "condition", "total", "basic", "track", "offer"};

constexpr std::string_view kSyllables[] = {
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zen", "qua", "bel", "dor", "fin", "gra",
    "hul", "jor", "pex", "tri", "umb", "wex", "yal", "cor", "ost", "ilm", "ber", "tion", "ing",
    "er", "ly", "ment", "ous", "ant", "ic", "al", "ure"};

constexpr std::string_view kPhrases[] = {
    "of the", "in the", "to the", "on the", "and the", "for the", "to be", "at the", "it is",
    "with the", "from the", "by the", "that the", "is a", "as a", "there is", "there are",
    "one of the", "as well as", "in order to", "at the end of", "it was", "this is", "we have",
    "I think", "you can", "do not", "does not", "will be", "would be", "can be", "has been",
    "have been", "a lot of", "more than", "such as", "in this", "for a", "with a", "is not",
    "the same", "part of the", "each other", "out of", "some of the", "all of the", "the first",
    "the most", "in a", "is the", "if you", "you will", "should be", "in fact", "so that",
    "at least", "right now", "on the other hand", "for example", "thank you", "let me know",
    "I would like to", "please note that", "make sure", "a few", "as soon as possible",
    "in the future", "a little", "we are", "they are", "up to", "according to", "because of",
    "instead of", "due to", "rather than", "even though", "in addition", "over the", "into the",
    "about the", "after the", "before the", "during the", "between the", "through the"};

// The vocabulary and the two sampling tables, built once: a 65,536-entry table holding
// each word in proportion to its weight (at least once), indexed by 16 random bits, and a
// 256-entry phrase table with weights falling as 1/sqrt(rank).
struct Tables {
  std::vector<std::string> vocab;
  std::vector<std::string_view> words;  // 65,536
  std::vector<std::string_view> phrases;  // 256
  Tables() {
    Rng r(20240101);
    for (auto w : kCommon) vocab.emplace_back(w);
    constexpr size_t kVocab = 6000;
    vocab.reserve(kVocab);
    while (vocab.size() < kVocab) {
      std::string w;
      for (int k = static_cast<int>(r.range(2, 4)); k > 0; --k) w += kSyllables[r.below(std::size(kSyllables))];
      vocab.push_back(std::move(w));  // a repeated made-up word only shifts weight a little
    }
    double sum = 0;
    for (size_t k = 0; k < vocab.size(); ++k) sum += 1.0 / static_cast<double>(k + 2);
    const double scale = static_cast<double>(65536 - vocab.size()) / sum;
    for (size_t k = 0; k < vocab.size() && words.size() < 65536; ++k) {
      size_t n = 1 + static_cast<size_t>(scale / static_cast<double>(k + 2));
      for (size_t j = 0; j < n && words.size() < 65536; ++j) words.push_back(vocab[k]);
    }
    while (words.size() < 65536) words.push_back(vocab[0]);
    std::vector<std::string_view> weighted;
    for (size_t k = 0; k < std::size(kPhrases); ++k) {
      size_t n = std::max<size_t>(1, static_cast<size_t>(24 / std::sqrt(static_cast<double>(k + 2))));
      for (size_t j = 0; j < n; ++j) weighted.push_back(kPhrases[k]);
    }
    for (size_t x = 0; x < 256; ++x) phrases.push_back(weighted[x * weighted.size() / 256]);
  }
};

const Tables& tables() {
  static const Tables t;  // thread-safe initialisation (C++11 magic statics)
  return t;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

void append_words(Rng& rng, size_t n, std::string* out) {
  const Tables& t = tables();
  for (size_t j = 0; j < n; ++j) {
    if (j) out->push_back(' ');
    out->append(t.words[rng.next() & 0xffff]);
  }
}

void append_text(Rng& rng, size_t n, std::string* out) {
  const Tables& t = tables();
  const size_t start = out->size();
  std::string s;
  while (out->size() - start < n) {
    s.clear();
    const int words = static_cast<int>(rng.range(5, 22));
    const int comma = words > 9 && rng.chance(0.4) ? static_cast<int>(rng.range(2, words - 3)) : -1;
    for (int j = 0; j < words; ++j) {
      if (j) s.push_back(' ');
      const uint64_t bits = rng.next();
      // about one slot in five (52/256) is a phrase
      if ((bits & 0xff) < 52) s.append(t.phrases[(bits >> 8) & 0xff]);
      else s.append(t.words[(bits >> 16) & 0xffff]);
      if (j == comma) s.push_back(',');
    }
    if (s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
    s.push_back(".....?!"[rng.below(7)]);
    if (out->size() != start) out->push_back(' ');
    out->append(s);
  }
  if (out->size() - start > n) out->resize(start + n);
  while (out->size() > start && out->back() == ' ') out->pop_back();
}

void append_token(Rng& rng, size_t n, std::string* out) {
  // 3 random bytes -> 4 characters; a trailing partial group gives 2 or 3 characters.
  size_t chars = (n * 4 + 2) / 3;
  uint64_t bits = 0;
  int have = 0;
  for (size_t j = 0; j < chars; ++j) {
    if (have < 6) {
      bits = rng.next();
      have = 64;
    }
    out->push_back(kB64[bits & 63]);
    bits >>= 6;
    have -= 6;
  }
}

#define TMC_WORDS(name, ...)                                     \
  namespace {                                                    \
  constexpr std::string_view name##_items[] = {__VA_ARGS__};     \
  }                                                              \
  const Words name{name##_items, std::size(name##_items)};

TMC_WORDS(kFirstNames, "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
          "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
          "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Margaret",
          "Mark", "Sandra", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Amanda",
          "Brian", "George", "Melissa", "Edward", "Rebecca", "Jason", "Laura", "Ryan", "Jacob", "Amy",
          "Eric", "Anna", "Stephen", "Emma", "Scott", "Nicole", "Samuel", "Rachel", "Frank", "Maria",
          "Olivia", "Henry", "Noah", "Ethan", "Hannah", "Grace", "Yuki", "Hiroshi", "Wei", "Mei",
          "Arjun", "Priya", "Ahmed", "Fatima", "Lars", "Ingrid", "Pierre", "Amelie", "Mateo", "Lucia",
          "Kwame", "Amara", "Sven", "Freya", "Dmitri", "Olga", "Chen", "Lin")
TMC_WORDS(kLastNames, "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
          "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
          "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
          "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
          "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
          "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Tanaka", "Suzuki", "Sato",
          "Wang", "Li", "Zhang", "Singh", "Kumar", "Muller", "Schmidt", "Dubois", "Rossi", "Novak",
          "Kowalski", "Hansen", "Larsen", "Johansson", "Virtanen", "Ivanov", "Okafor", "Mensah")
TMC_WORDS(kCities, "Lisbon", "Osaka", "Quito", "Tartu", "Accra", "Perth", "Bergen", "Cusco", "Hanoi",
          "Lyon", "Austin", "Denver", "Seattle", "Boston", "Chicago", "Portland", "Atlanta", "Toronto",
          "Vancouver", "Manchester", "Glasgow", "Dublin", "Hamburg", "Munich", "Vienna", "Zurich",
          "Milan", "Madrid", "Porto", "Krakow", "Prague", "Budapest", "Oslo", "Uppsala", "Helsinki",
          "Seoul", "Pune", "Nairobi", "Lagos", "Santiago", "Bogota", "Monterrey", "Auckland")
TMC_WORDS(kStreets, "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
          "Church", "Mill", "River", "Spring", "Sunset", "Highland", "Forest", "Meadow", "Market",
          "Harbor", "Station", "Garden", "Orchard", "Bridge", "Willow", "Valley", "Lincoln", "Union")
TMC_WORDS(kDomains, "example.com", "example.org", "mail.example.net", "corp.example", "inbox.example.io")
TMC_WORDS(kAdjectives, "Classic", "Smart", "Ultra", "Compact", "Wireless", "Organic", "Premium",
          "Portable", "Vintage", "Ergonomic", "Rugged", "Sleek", "Deluxe", "Eco", "Heavy-Duty",
          "Lightweight", "Modular", "Handmade", "Insulated", "Waterproof", "Foldable")
TMC_WORDS(kNouns, "Headphones", "Backpack", "Kettle", "Lamp", "Keyboard", "Mouse", "Bottle", "Jacket",
          "Sneakers", "Blender", "Chair", "Desk", "Monitor", "Charger", "Speaker", "Notebook", "Pen",
          "Mug", "Tent", "Blanket", "Watch", "Camera", "Router", "Drill", "Toaster", "Umbrella")
TMC_WORDS(kCategories, "electronics", "home", "kitchen", "outdoor", "office", "fashion", "sports", "toys",
          "books", "garden", "beauty", "tools", "grocery")
TMC_WORDS(kCurrencies, "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK")
TMC_WORDS(kEvents, "page_view", "click", "add_to_cart", "remove_from_cart", "search", "login", "logout",
          "checkout_start", "purchase", "video_play", "scroll", "share", "signup", "error")
TMC_WORDS(kPages, "/", "/search", "/cart", "/checkout", "/account", "/orders", "/help", "/blog",
          "/product", "/category", "/deals", "/wishlist", "/settings")
TMC_WORDS(kAgents,
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
          "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
          "okhttp/4.12.0", "curl/8.5.0", "python-requests/2.31.0")
TMC_WORDS(kRoles, "viewer", "editor", "admin", "billing", "support", "developer", "owner")
TMC_WORDS(kLocales, "en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "ko-KR", "it-IT", "nl-NL")
TMC_WORDS(kMetrics, "cpu.user", "cpu.system", "mem.used", "disk.read_bytes", "net.rx_bytes", "temp.c",
          "latency.ms", "requests.per_s", "queue.depth", "humidity.pct")
TMC_WORDS(kOrderStates, "created", "paid", "picked", "packed", "shipped", "in_transit", "delivered")

}  // namespace tmc::loadgen
