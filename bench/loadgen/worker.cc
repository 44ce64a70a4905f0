// The client loop (worker.h). Each connection has up to `depth` requests in flight: a
// batch is built, sent in one write, and its replies parsed as they arrive; when the last
// reply of a batch is in, the next batch goes out. poll() waits on all of the thread's
// connections, so a slow one does not hold up the others' latency samples.
#include "worker.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <poll.h>

#include "key_dist.h"
#include "net.h"
#include "protocol.h"
#include "rng.h"

namespace tmc::loadgen {

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::kLoad: return "load";
    case Phase::kRun: return "run";
    case Phase::kCheck: return "check";
    case Phase::kReset: return "reset";
  }
  return "?";
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void PhaseStats::merge(const PhaseStats& o) {
  reads += o.reads;
  writes += o.writes;
  checked += o.checked;
  mismatches += o.mismatches;
  write_conflicts += o.write_conflicts;
  skipped += o.skipped;
  all.merge(o.all);
  read.merge(o.read);
  write.merge(o.write);
  if (per_second.size() < o.per_second.size()) per_second.resize(o.per_second.size());
  for (size_t i = 0; i < o.per_second.size(); ++i) per_second[i] += o.per_second[i];
}

void PhaseShared::fail(const std::string& why) {
  std::lock_guard<std::mutex> g(error_mu);
  if (!failed.exchange(true)) error = why;
}

namespace {

struct Op {
  uint64_t key;
  KeyType type;
  bool write;
  uint32_t version;  // write: the version sent; read: the key's version when sent
};

constexpr uint64_t kChunk = 256;  // keys a connection claims at a time in sequential phases

class Conn {
 public:
  Conn(PhaseShared* sh, int thread, int index)
      : sh_(sh),
        cfg_(*sh->cfg),
        proto_(cfg_.server == ServerKind::kRedis ? make_redis() : make_memcached()),
        rng_(mix(cfg_.seed ^ 0x5eed, static_cast<uint64_t>(thread) * 4096 + static_cast<uint64_t>(index), now_ns())),
        dist_(cfg_.dist, cfg_.keys),
        depth_(sh->phase == Phase::kRun ? cfg_.pipeline : cfg_.load_pipeline) {}

  bool connect() {
    std::string err;
    if (!c_.connect(cfg_.host, cfg_.port, &err)) {
      sh_->fail(err);
      return false;
    }
    return true;
  }
  int fd() const { return c_.fd(); }
  bool busy() const { return next_reply_ < inflight_.size(); }

  // issue(): sends the next batch; false when the phase has nothing more for this connection.
  bool issue(PhaseStats* st) {
    inflight_.clear();
    next_reply_ = 0;
    out_.clear();
    for (int i = 0; i < depth_; ++i) {
      Op op;
      if (!next_op(&op, st)) break;
      inflight_.push_back(op);
      if (op.write) {
        sh_->gen->generate(op.key, op.version, &value_);
        if (cfg_.verify || cfg_.check_all) sh_->versions->digest(op.key).store(proto_->digest(value_, op.version), std::memory_order_relaxed);
        name(op.key);
        proto_->append_write(key_, value_, &out_);
      } else {
        name(op.key);
        proto_->append_read(key_, op.type, &out_);
      }
    }
    if (inflight_.empty()) return false;
    t_send_ = now_ns();
    std::string err;
    if (!c_.send_all(out_, &err)) {
      sh_->fail(err);
      return false;
    }
    return true;
  }

  // on_readable(): parses the replies that have arrived; false on a failure.
  bool on_readable(PhaseStats* st) {
    std::string err;
    if (!c_.receive(&err)) {
      sh_->fail(std::string(proto_->name()) + ": " + err);
      return false;
    }
    while (busy()) {
      const Op& op = inflight_[next_reply_];
      ptrdiff_t n = op.write ? proto_->parse_write(c_.data(), c_.size(), op.type, &err)
                             : proto_->parse_read(c_.data(), c_.size(), op.type, &result_, &err);
      if (n == kIncomplete) return true;
      if (n == kProtocolError) {
        name(op.key);
        sh_->fail(std::string(proto_->name()) + ": " + (op.write ? "write" : "read") + " of " + key_ + ": " + err);
        return false;
      }
      const uint64_t t = now_ns();
      if (op.write) {
        sh_->versions->word(op.key).store(op.version, std::memory_order_release);
        ++st->writes;
      } else {
        ++st->reads;
        if (cfg_.verify || sh_->phase == Phase::kCheck) check(op, st);
      }
      c_.consume(static_cast<size_t>(n));
      record(op, t, st);
      ++next_reply_;
    }
    return true;
  }

 private:
  void name(uint64_t key) { sh_->gen->key_name(key, &key_); }

  bool next_op(Op* op, PhaseStats* st) {
    if (sh_->failed.load(std::memory_order_relaxed)) return false;
    if (sh_->phase != Phase::kRun) return next_sequential(op, st);
    if (cfg_.ops > 0 && sh_->issued.fetch_add(1, std::memory_order_relaxed) >= cfg_.ops) return false;
    if (cfg_.duration_s > 0 && now_ns() >= sh_->t_end_ns) return false;
    op->key = dist_.next(rng_);
    op->type = sh_->gen->type_of(op->key);
    op->write = rng_.unit() >= cfg_.read_ratio;
    std::atomic<uint32_t>& w = sh_->versions->word(op->key);
    uint32_t cur = w.load(std::memory_order_acquire);
    if (op->write) {
      // Take the key's write bit; a write already in flight (from any connection) turns
      // this one into a read, so writes of a key are applied in version order.
      if (!Versions::busy(cur) && w.compare_exchange_strong(cur, cur | Versions::kBusy, std::memory_order_acq_rel)) {
        op->version = Versions::version(cur) + 1;
        return true;
      }
      op->write = false;
      ++st->write_conflicts;
    }
    op->version = Versions::version(cur);
    return true;
  }

  // Load, check, reset: claim chunks of consecutive keys until all are done.
  bool next_sequential(Op* op, PhaseStats* st) {
    for (;;) {
      if (chunk_next_ >= chunk_end_) {
        chunk_next_ = sh_->next_key.fetch_add(kChunk, std::memory_order_relaxed);
        if (chunk_next_ >= cfg_.keys) return false;
        chunk_end_ = std::min(cfg_.keys, chunk_next_ + kChunk);
      }
      op->key = chunk_next_++;
      op->type = sh_->gen->type_of(op->key);
      const uint32_t cur = sh_->versions->word(op->key).load(std::memory_order_acquire);
      switch (sh_->phase) {
        case Phase::kLoad:
          op->write = true;
          op->version = 1;
          return true;
        case Phase::kReset:
          if (cur == 1) {
            ++st->skipped;
            continue;
          }
          op->write = true;
          op->version = 1;
          return true;
        default:
          op->write = false;
          op->version = Versions::version(cur);
          return true;
      }
    }
  }

  // check(op): the reply must be one of the versions the key may hold: from the one it had
  // when the read was sent to the newest one written (or in flight) by now.
  void check(const Op& op, PhaseStats* st) {
    ++st->checked;
    const uint32_t now = sh_->versions->word(op.key).load(std::memory_order_acquire);
    const uint32_t hi = Versions::version(now) + (Versions::busy(now) ? 1 : 0);
    if (result_.absent && op.version == 0) return;
    std::atomic<uint64_t>& known = sh_->versions->digest(op.key);
    for (uint32_t v = std::max<uint32_t>(op.version, 1); v <= hi && !result_.absent; ++v) {
      if (proto_->digest(result_, op.type, v) == known.load(std::memory_order_relaxed)) return;
      sh_->gen->generate(op.key, v, &value_);
      if (proto_->matches(result_, value_)) {
        known.store(proto_->digest(value_, v), std::memory_order_relaxed);
        return;
      }
    }
    ++st->mismatches;
    if (sh_->reports.fetch_add(1) < 10) {
      name(op.key);
      size_t got = result_.str.size();
      for (auto s : result_.items) got += s.size();
      std::fprintf(stderr, "tmc_loadgen: MISMATCH %s: expected version %u..%u (%zu bytes at %u), got %s (%zu bytes in %zu parts)\n",
                   key_.c_str(), op.version, hi, value_.bytes(), hi, result_.absent ? "nothing" : "another value", got,
                   result_.items.size());
    }
  }

  void record(const Op& op, uint64_t t, PhaseStats* st) {
    const uint64_t since = t - sh_->t_start_ns;
    const size_t sec = static_cast<size_t>(since / 1000000000ull);
    if (st->per_second.size() <= sec) st->per_second.resize(sec + 1);
    ++st->per_second[sec];
    if (t_send_ < sh_->t_measure_ns) return;
    const uint64_t lat = t - t_send_;
    st->all.record(lat);
    (op.write ? st->write : st->read).record(lat);
  }

  PhaseShared* sh_;
  const Config& cfg_;
  std::unique_ptr<Protocol> proto_;
  Connection c_;
  Rng rng_;
  KeyDist dist_;
  int depth_;
  std::vector<Op> inflight_;
  size_t next_reply_ = 0;
  uint64_t t_send_ = 0;
  std::string out_, key_;
  Value value_;
  ReadResult result_;
  uint64_t chunk_next_ = 0, chunk_end_ = 0;
};

}  // namespace

void run_thread(PhaseShared* sh, int index, PhaseStats* st) {
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < sh->cfg->conns; ++i) {
    conns.push_back(std::make_unique<Conn>(sh, index, i));
    if (!conns.back()->connect()) return;
  }
  for (auto& c : conns) c->issue(st);
  // A server that stops answering (stopped, swapping hard, deadlocked) ends the phase with
  // an error instead of hanging the benchmark.
  constexpr uint64_t kStallNs = 300ull * 1000000000ull;
  uint64_t last_progress = now_ns();
  std::vector<pollfd> fds;
  std::vector<Conn*> who;
  for (;;) {
    fds.clear();
    who.clear();
    for (auto& c : conns) {
      if (!c->busy()) continue;
      fds.push_back({c->fd(), POLLIN, 0});
      who.push_back(c.get());
    }
    if (fds.empty() || sh->failed.load(std::memory_order_relaxed)) return;
    int n = poll(fds.data(), fds.size(), 1000);
    if (n < 0) {
      if (errno == EINTR) continue;
      sh->fail("poll failed");
      return;
    }
    if (n == 0 && now_ns() - last_progress > kStallNs) {
      sh->fail("no reply from the server for 300 s");
      return;
    }
    if (n > 0) last_progress = now_ns();
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (!who[i]->on_readable(st)) return;
      if (!who[i]->busy()) who[i]->issue(st);
    }
  }
}

}  // namespace tmc::loadgen
