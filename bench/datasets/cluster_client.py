#!/usr/bin/python3
"""Cluster-aware client of bench/cluster.sh: a three-master Redis Cluster through
redis-py's RedisCluster (Debian's python3-redis), a memcached pool through pymemcache's
HashClient (python3-pymemcache, rendezvous hashing). The values are records.py's.

  cluster_client.py gen    --keys N [--seed S] --dir D [--procs P]
        generates every key's value once into D (marshal chunks) with a 64-bit digest of
        each (Redis form and memcached form), for the loads and the checks of every run
  cluster_client.py redis-load  --nodes H:P,... --dir D
  cluster_client.py redis-run   --nodes H:P,... --dir D --seconds T [--reads 0.9]
                                [--zipf 0.99] [--procs 2] [--pipeline 16] --state F --json F
  cluster_client.py redis-check --nodes H:P,... --dir D --state F [--reset] [--json F]
  cluster_client.py mc-load / mc-run / mc-check   --servers H:P,...   (the same, memcached)

redis-load / mc-load: every key, pipelined (1000 keys per pipeline), through the
cluster-aware client; Redis: the key count of every node is summed and must equal --keys.

redis-run / mc-run: for --seconds, --procs processes each send batches of --pipeline
requests: keys drawn by Zipf(--zipf) popularity over every key (ranks scattered by a
seeded permutation), a share --reads of them reads (GET, HGETALL, LRANGE; memcached
get_many), the rest writes of the key's next version (records.model(seed, i, version):
SET; DEL+HSET; DEL+RPUSH; memcached set_many). Process c owns the keys i % procs == c, so
the versions of a key are known to exactly one process and every read is checked against
the digest of the version last written (or the dataset's). Latency is the time of one
batch (send to the last reply), counted once per request in it. The versions written are
kept in --state (JSON) for the check.

redis-check / mc-check: reads EVERY key and compares it with the version --state says it
holds; --reset then writes version 0 back to every key the run changed (so DEBUG DIGEST
can be compared with a fresh load).

Reports are one JSON object (--json, or stdout); mismatches are also printed on stderr
(the first few). Exit status: 0 when every value was exact, 1 on a mismatch or a missing
key, 2 on a client error.
"""
import argparse
import bisect
import hashlib
import itertools
import json
import marshal
import multiprocessing as mp
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import records  # noqa: E402

CHUNK = 1000  # keys per marshal chunk and per load pipeline


# --------------------------------------------------------------------------- values

def h8(b):
    return hashlib.blake2b(b, digest_size=8).digest()


def _b(x):
    return x if isinstance(x, bytes) else x.encode()


def redis_digest(typ, v):
    """Digest of a Redis value as generated (str, dict, list of str) or as read back
    (bytes, dict of bytes, list of bytes): the same bytes give the same digest."""
    if typ == "string":
        return h8(b"s" + _b(v))
    parts = [b"h" if typ == "hash" else b"l"]
    for x in (itertools.chain.from_iterable(sorted((_b(k), _b(x)) for k, x in v.items())) if typ == "hash" else v):
        x = _b(x)
        parts += [b"%d:" % len(x), x]
    return h8(b"".join(parts))


def mc_digest(b):
    return h8(b"m" + b)


def key_type(seed, i):
    """(redis type, key name) of key i without generating its value."""
    typ, name, _ = records._TABLE[(i * 37 + seed) % 100]
    return typ, "%s:%d" % (name, i)


# --------------------------------------------------------------------------- the dataset

def _gen_part(args):
    d, seed, part, lo, hi = args
    rd = bytearray()
    md = bytearray()
    with open(os.path.join(d, "data.%d" % part), "wb") as f:
        for start in range(lo, hi, CHUNK):
            recs = [records.model(seed, i) for i in range(start, min(hi, start + CHUNK))]
            marshal.dump((start, recs), f)
            for typ, key, v in recs:
                rd += redis_digest(typ, v)
                md += mc_digest(records.mc_form(typ, key, v)[1])
    return part, bytes(rd), bytes(md)


def cmd_gen(a):
    t = time.time()
    os.makedirs(a.dir, exist_ok=True)
    parts = max(1, min(a.procs, a.keys // CHUNK + 1))
    per = (a.keys + parts - 1) // parts
    per = (per + CHUNK - 1) // CHUNK * CHUNK
    jobs = [(a.dir, a.seed, p, p * per, min(a.keys, (p + 1) * per)) for p in range(parts)]
    jobs = [j for j in jobs if j[3] < j[4]]
    with mp.get_context("fork").Pool(len(jobs)) as pool:
        res = sorted(pool.map(_gen_part, jobs))
    with open(os.path.join(a.dir, "digests.redis"), "wb") as f:
        for _, rd, _ in res:
            f.write(rd)
    with open(os.path.join(a.dir, "digests.mc"), "wb") as f:
        for _, _, md in res:
            f.write(md)
    meta = {"keys": a.keys, "seed": a.seed, "parts": len(jobs)}
    json.dump(meta, open(os.path.join(a.dir, "meta.json"), "w"))
    print("gen: %d keys (seed %d) in %.1f s" % (a.keys, a.seed, time.time() - t))


class Dataset:
    def __init__(self, d):
        self.dir = d
        self.meta = json.load(open(os.path.join(d, "meta.json")))
        self.keys = self.meta["keys"]
        self.seed = self.meta["seed"]
        self.rdig = open(os.path.join(d, "digests.redis"), "rb").read()
        self.mdig = open(os.path.join(d, "digests.mc"), "rb").read()
        assert len(self.rdig) == len(self.mdig) == 8 * self.keys, "digest files do not match meta.json"

    def chunks(self):
        """(start index, [(typ, key, value), ...]) in key order."""
        for p in range(self.meta["parts"]):
            with open(os.path.join(self.dir, "data.%d" % p), "rb") as f:
                while True:
                    try:
                        yield marshal.load(f)
                    except EOFError:
                        break

    def base(self, kind, i):
        d = self.rdig if kind == "redis" else self.mdig
        return d[8 * i:8 * i + 8]


# --------------------------------------------------------------------------- clients

def redis_client(nodes):
    from redis.cluster import ClusterNode, RedisCluster
    hosts = [ClusterNode(h, int(p)) for h, p in (n.rsplit(":", 1) for n in nodes.split(","))]
    return RedisCluster(startup_nodes=hosts, decode_responses=False, socket_timeout=300)


def mc_client(servers):
    from pymemcache.client.hash import HashClient
    order = [(h, int(p)) for h, p in (s.rsplit(":", 1) for s in servers.split(","))]

    class PoolClient(HashClient):
        # The hash ring is built on the servers' positions in --servers (node0, node1, ...),
        # not on their ports: the same key lands on the same node in every run.
        def _make_client_key(self, server):
            return "node%d" % order.index(tuple(server))

    return PoolClient(order, connect_timeout=30, timeout=300, default_noreply=False, retry_attempts=0)


def redis_queue_write(p, typ, key, v, fresh):
    if typ == "string":
        p.set(key, v)
        return 1
    n = 0
    if not fresh:
        p.delete(key)
        n = 1
    if typ == "hash":
        p.hset(key, mapping=v)
    else:
        p.rpush(key, *v)
    return n + 1


def redis_queue_read(p, typ, key):
    if typ == "string":
        p.get(key)
    elif typ == "hash":
        p.hgetall(key)
    else:
        p.lrange(key, 0, -1)


def redis_absent(typ, r):
    return r is None or (typ != "string" and len(r) == 0)


def report(a, obj):
    s = json.dumps(obj, sort_keys=True)
    if a.json and a.json != "-":
        with open(a.json, "w") as f:
            f.write(s + "\n")
    print(s)


# --------------------------------------------------------------------------- load

def cmd_redis_load(a):
    ds = Dataset(a.dir)
    rc = redis_client(a.nodes)
    t = time.time()
    n = 0
    for start, recs in ds.chunks():
        p = rc.pipeline()
        for typ, key, v in recs:
            redis_queue_write(p, typ, key, v, True)
        res = p.execute()
        bad = [r for r in res if isinstance(r, Exception)]
        if bad:
            sys.exit("redis-load: %d errors at key %d: %r" % (len(bad), start, bad[0]))
        n += len(recs)
    took = time.time() - t
    sizes = {}
    for node in rc.get_primaries():
        sizes["%s:%s" % (node.host, node.port)] = rc.dbsize(target_nodes=node)
    total = sum(sizes.values())
    report(a, {"keys": n, "seconds": round(took, 2), "dbsize": sizes, "dbsize_total": total})
    if n != ds.keys or total != ds.keys:
        sys.exit("redis-load: sent %d keys, the nodes hold %d, expected %d" % (n, total, ds.keys))


def cmd_mc_load(a):
    ds = Dataset(a.dir)
    mc = mc_client(a.servers)
    t = time.time()
    n = 0
    for start, recs in ds.chunks():
        vals = dict(records.mc_form(*r) for r in recs)
        failed = mc.set_many(vals, noreply=False)
        if failed:
            sys.exit("mc-load: %d sets failed at key %d (%r...)" % (len(failed), start, list(failed)[:3]))
        n += len(recs)
    took = time.time() - t
    items = {}
    for name, c in mc.clients.items():
        items["%s:%s" % c.server] = int(c.stats()[b"curr_items"])
    total = sum(items.values())
    report(a, {"keys": n, "seconds": round(took, 2), "curr_items": items, "curr_items_total": total})
    if n != ds.keys or total != ds.keys:
        sys.exit("mc-load: sent %d keys, the servers hold %d, expected %d" % (n, total, ds.keys))


# --------------------------------------------------------------------------- the timed load

def pct(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def _popularity(a, ds):
    """Per process: its keys by rank and their cumulative Zipf weights."""
    perm = list(range(ds.keys))
    random.Random(ds.seed * 7919 + 1).shuffle(perm)
    own = [[] for _ in range(a.procs)]
    cum = [[] for _ in range(a.procs)]
    tot = [0.0] * a.procs
    for rank, k in enumerate(perm):
        c = k % a.procs
        tot[c] += 1.0 / (rank + 1) ** a.zipf
        own[c].append(k)
        cum[c].append(tot[c])
    return own, cum


def _run_worker(kind, a, ds, own, cum, c, conn):
    try:
        res = _run_loop(kind, a, ds, own, cum, c)
    except Exception as e:  # reported to the parent, which fails the run
        res = {"error": "%s: %r" % (type(e).__name__, e)}
    conn.send(res)
    conn.close()


def _run_loop(kind, a, ds, own, cum, c):
    seed = ds.seed
    rng = random.Random(seed * 104729 + c)
    cli = redis_client(a.nodes) if kind == "redis" else mc_client(a.servers)
    ver = {}   # key -> version written
    dig = {}   # key -> digest of that version
    reads = writes = mismatches = missing = 0
    lats = []
    per_second = []
    t0 = time.time()
    deadline = t0 + a.seconds
    shown = 0
    while True:
        now = time.time()
        if now >= deadline:
            break
        keys = rng.choices(own, cum_weights=cum, k=a.pipeline)
        plan = []
        if kind == "redis":
            p = cli.pipeline()
            for k in keys:
                typ, key = key_type(seed, k)
                if rng.random() >= a.reads:
                    v = ver.get(k, 0) + 1
                    _, _, val = records.model(seed, k, v)
                    ver[k] = v
                    dig[k] = redis_digest(typ, val)
                    plan.append((False, k, typ, redis_queue_write(p, typ, key, val, False)))
                else:
                    redis_queue_read(p, typ, key)
                    plan.append((True, k, typ, dig.get(k) or ds.base("redis", k)))
            ts = time.perf_counter()
            res = p.execute(raise_on_error=True)
            lat = time.perf_counter() - ts
            j = 0
            for is_read, k, typ, x in plan:
                if not is_read:
                    j += x
                    writes += 1
                    continue
                r = res[j]
                j += 1
                reads += 1
                if redis_absent(typ, r):
                    missing += 1
                    if shown < 5:
                        shown += 1
                        print("MISSING %s" % key_type(seed, k)[1], file=sys.stderr)
                elif redis_digest(typ, r) != x:
                    mismatches += 1
                    if shown < 5:
                        shown += 1
                        print("WRONG %s (version %d)" % (key_type(seed, k)[1], ver.get(k, 0)), file=sys.stderr)
        else:
            sets = {}
            gets = []
            for k in keys:
                typ, key = key_type(seed, k)
                if rng.random() >= a.reads:
                    v = ver.get(k, 0) + 1
                    mk, b = records.mc_form(*records.model(seed, k, v))
                    ver[k] = v
                    dig[k] = mc_digest(b)
                    sets[mk] = b
                    writes += 1
                else:
                    gets.append((("mc:" + key).encode(), k))
            ts = time.perf_counter()
            if sets:
                failed = cli.set_many(sets, noreply=False)
                if failed:
                    raise RuntimeError("memcached: %d sets failed" % len(failed))
            got = cli.get_many([g[0] for g in gets]) if gets else {}
            lat = time.perf_counter() - ts
            for mk, k in gets:  # the sets went first: a read expects the newest version
                reads += 1
                b = got.get(mk)
                if b is None:
                    missing += 1
                    if shown < 5:
                        shown += 1
                        print("MISSING %s" % mk.decode(), file=sys.stderr)
                elif mc_digest(b) != (dig.get(k) or ds.base("mc", k)):
                    mismatches += 1
                    if shown < 5:
                        shown += 1
                        print("WRONG %s (version %d)" % (mk.decode(), ver.get(k, 0)), file=sys.stderr)
        lats.extend([lat] * len(keys))
        sec = int(time.time() - t0)
        while len(per_second) <= sec:
            per_second.append(0)
        per_second[sec] += len(keys)
    return {"reads": reads, "writes": writes, "mismatches": mismatches, "missing": missing,
            "seconds": time.time() - t0, "lats": lats, "per_second": per_second,
            "state": {str(k): [ver[k], dig[k].hex()] for k in ver}}


def cmd_run(a, kind):
    ds = Dataset(a.dir)
    own, cum = _popularity(a, ds)
    ctx = mp.get_context("fork")
    procs = []
    for c in range(a.procs):
        r, w = ctx.Pipe(False)
        pr = ctx.Process(target=_run_worker, args=(kind, a, ds, own[c], cum[c], c, w))
        pr.start()
        procs.append((pr, r))
    results = []
    for pr, r in procs:
        results.append(r.recv())
        pr.join()
    errors = [x["error"] for x in results if "error" in x]
    if errors:
        print("%s-run: client error: %s" % (kind, errors[0]), file=sys.stderr)
        sys.exit(2)
    lats = sorted(itertools.chain.from_iterable(x["lats"] for x in results))
    secs = max(x["seconds"] for x in results)
    per_second = [sum(x["per_second"][i] if i < len(x["per_second"]) else 0 for x in results)
                  for i in range(max(len(x["per_second"]) for x in results))]
    state = {}
    for x in results:
        state.update(x["state"])
    with open(a.state, "w") as f:
        json.dump(state, f)
    out = {k: sum(x[k] for x in results) for k in ("reads", "writes", "mismatches", "missing")}
    out["ops"] = out["reads"] + out["writes"]
    out.update({"seconds": round(secs, 2), "ops_per_s": round(out["ops"] / secs, 1),
                "p50_ms": round(pct(lats, 0.5) * 1e3, 3), "p99_ms": round(pct(lats, 0.99) * 1e3, 3),
                "p999_ms": round(pct(lats, 0.999) * 1e3, 3), "max_ms": round(lats[-1] * 1e3, 3) if lats else 0,
                "procs": a.procs, "pipeline": a.pipeline, "zipf": a.zipf, "read_share": a.reads,
                "keys_written": len(state), "per_second": per_second})
    report(a, out)
    sys.exit(1 if out["mismatches"] or out["missing"] else 0)


# --------------------------------------------------------------------------- the full check

def _load_state(path):
    if not path or not os.path.exists(path):
        return {}
    return {int(k): (v[0], bytes.fromhex(v[1])) for k, v in json.load(open(path)).items()}


def _check_worker(kind, a, ds, state, c, conn):
    try:
        res = _check_part(kind, a, ds, state, c)
    except Exception as e:
        res = {"error": "%s: %r" % (type(e).__name__, e)}
    conn.send(res)
    conn.close()


def _check_part(kind, a, ds, state, c):
    seed = ds.seed
    cli = redis_client(a.nodes) if kind == "redis" else mc_client(a.servers)
    equal = wrong = missing = 0
    shown = 0
    batch = 500
    mine = range(c, ds.keys, a.procs)
    for s in range(0, len(mine), batch):
        ks = mine[s:s + batch]
        if kind == "redis":
            p = cli.pipeline()
            for k in ks:
                typ, key = key_type(seed, k)
                redis_queue_read(p, typ, key)
            res = p.execute(raise_on_error=True)
            got = []
            for k, r in zip(ks, res):
                typ = key_type(seed, k)[0]
                got.append(None if redis_absent(typ, r) else redis_digest(typ, r))
        else:
            names = [("mc:" + key_type(seed, k)[1]).encode() for k in ks]
            res = cli.get_many(names)
            got = [None if res.get(n) is None else mc_digest(res[n]) for n in names]
        for k, g in zip(ks, got):
            want = state[k][1] if k in state else ds.base(kind, k)
            if g is None:
                missing += 1
            elif g != want:
                wrong += 1
            else:
                equal += 1
                continue
            if shown < 5:
                shown += 1
                print("%s %s (version %d)" % ("MISSING" if g is None else "WRONG", key_type(seed, k)[1],
                                              state[k][0] if k in state else 0), file=sys.stderr)
    reset = 0
    if a.reset:
        todo = sorted(k for k in state if k % a.procs == c)
        for s in range(0, len(todo), batch):
            ks = todo[s:s + batch]
            if kind == "redis":
                p = cli.pipeline()
                for k in ks:
                    typ, key, v = records.model(seed, k)
                    redis_queue_write(p, typ, key, v, False)
                p.execute(raise_on_error=True)
            else:
                failed = cli.set_many(dict(records.mc_form(*records.model(seed, k)) for k in ks), noreply=False)
                if failed:
                    raise RuntimeError("memcached: %d sets failed in the reset" % len(failed))
            reset += len(ks)
    return {"equal": equal, "wrong": wrong, "missing": missing, "reset": reset}


def cmd_check(a, kind):
    ds = Dataset(a.dir)
    state = _load_state(a.state)
    t = time.time()
    ctx = mp.get_context("fork")
    procs = []
    for c in range(a.procs):
        r, w = ctx.Pipe(False)
        pr = ctx.Process(target=_check_worker, args=(kind, a, ds, state, c, w))
        pr.start()
        procs.append((pr, r))
    results = []
    for pr, r in procs:
        results.append(r.recv())
        pr.join()
    errors = [x["error"] for x in results if "error" in x]
    if errors:
        print("%s-check: client error: %s" % (kind, errors[0]), file=sys.stderr)
        sys.exit(2)
    out = {k: sum(x[k] for x in results) for k in ("equal", "wrong", "missing", "reset")}
    out.update({"keys": ds.keys, "keys_changed": len(state), "seconds": round(time.time() - t, 2)})
    report(a, out)
    sys.exit(0 if out["equal"] == ds.keys else 1)


# --------------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--keys", type=int, required=True)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--dir", required=True)
    g.add_argument("--procs", type=int, default=2)
    for kind in ("redis", "mc"):
        for what in ("load", "run", "check"):
            s = sub.add_parser("%s-%s" % (kind, what))
            if kind == "redis":
                s.add_argument("--nodes", required=True, help="host:port,... (any of the cluster's nodes)")
            else:
                s.add_argument("--servers", required=True, help="host:port,... (the pool, in a fixed order)")
            s.add_argument("--dir", required=True)
            s.add_argument("--json", default="")
            if what == "run":
                s.add_argument("--seconds", type=float, required=True)
                s.add_argument("--reads", type=float, default=0.9)
                s.add_argument("--zipf", type=float, default=0.99)
                s.add_argument("--pipeline", type=int, default=16)
            if what != "load":
                s.add_argument("--procs", type=int, default=2)
                s.add_argument("--state", required=(what == "run"), default="")
            if what == "check":
                s.add_argument("--reset", action="store_true")
    a = p.parse_args()
    if a.cmd == "gen":
        return cmd_gen(a)
    kind, what = a.cmd.split("-")
    kind = "redis" if kind == "redis" else "mc"
    if what == "load":
        return cmd_redis_load(a) if kind == "redis" else cmd_mc_load(a)
    if what == "run":
        return cmd_run(a, kind)
    return cmd_check(a, kind)


if __name__ == "__main__":
    main()
