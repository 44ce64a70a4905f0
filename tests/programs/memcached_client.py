#!/usr/bin/python3
"""memcached text-protocol client for tests/programs/memcached_test.sh.

  memcached_client.py --port P --keys N
  memcached_client.py --port P --keys N --only set|check


Sets N keys with deterministic binary/text values of 100 B .. 4 KiB (pipelined), reads
every one back with multi-get and compares bytes and flags; then deletes every 7th key,
overwrites every 5th with a value of another size class, appends/prepends to every 11th,
increments counters, and checks the whole key space again (deleted keys miss, the rest
hold exactly the expected bytes). Prints a digest of everything read back, so a run
under libtmc and a plain run can be compared. Exit status 1 on any mismatch.

--only set stores the N keys and reads them back once; --only check, later (once the pages
have gone cold), reads them back again: both print the digest of what they read.
"""
import argparse
import hashlib
import random
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise IOError("memcached closed the connection")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise IOError("memcached closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def get_many(self, keys):
        self.send(b"get " + b" ".join(keys) + b"\r\n")
        out = {}
        while True:
            ln = self.line()
            if ln == b"END":
                return out
            parts = ln.split()
            if parts[0] != b"VALUE":
                raise RuntimeError("unexpected reply %r" % ln)
            out[parts[1]] = (int(parts[2]), self.exact(int(parts[3])))


def key(i):
    return b"tmc:key:%07d" % i


def value(i, generation):
    r = random.Random(i * 1000003 + generation)
    size = r.randint(100, 4096) if generation == 0 else r.choice([100, 300, 1200, 4000])
    if i % 3 == 0:  # text
        words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta"]
        v = b" ".join(r.choice(words) for _ in range(size // 5))[:size]
        return v.ljust(size, b".")
    return r.randbytes(size)  # binary, may contain \r\n


def flags(i):
    return i % 65536


def batched(seq, n):
    for k in range(0, len(seq), n):
        yield seq[k:k + n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--only", choices=["set", "check"], help="one half of the first step")
    a = ap.parse_args()
    c = Conn(a.port)
    n = a.keys
    expect = {}
    bad = 0

    def store(cmd, idx_list, gen):
        nonlocal bad
        for chunk in batched(idx_list, 200):
            req = []
            for i in chunk:
                v = value(i, gen)
                req.append(b"%s %s %d 0 %d\r\n%s\r\n" % (cmd, key(i), flags(i), len(v), v))
                expect[key(i)] = (flags(i), v)
            c.send(b"".join(req))
            for i in chunk:
                r = c.line()
                if r != b"STORED":
                    print("%s %s: %r" % (cmd.decode(), key(i).decode(), r))
                    bad += 1

    def verify(label):
        nonlocal bad
        h = hashlib.sha256()
        hits = misses = wrong = 0
        keys = [key(i) for i in range(n)]
        for chunk in batched(keys, 100):
            got = c.get_many(chunk)
            for k in chunk:
                want = expect.get(k)
                have = got.get(k)
                if have is None:
                    misses += 1
                    h.update(k + b" miss\n")
                else:
                    hits += 1
                    h.update(k + b" %d %d\n" % (have[0], len(have[1])) + have[1])
                if have != want:
                    wrong += 1
                    if wrong <= 5:
                        print("%s: %s differs (got %s, want %s)" % (label, k.decode(),
                              "miss" if have is None else "%d bytes flags %d" % (len(have[1]), have[0]),
                              "miss" if want is None else "%d bytes flags %d" % (len(want[1]), want[0])))
        bad += wrong
        print("%s: %d hits, %d misses, %d wrong; digest %s" % (label, hits, misses, wrong, h.hexdigest()[:16]))
        return h.hexdigest()

    if a.only == "check":  # what --only set stored, from the same generator
        expect.update((key(i), (flags(i), value(i, 0))) for i in range(n))
        print("digest %s" % verify("get every key")[:32])
        return 1 if bad else 0
    total = sum(len(value(i, 0)) for i in range(n))
    store(b"set", list(range(n)), 0)
    print("set %d keys, %.1f MiB of values (100 B .. 4 KiB)" % (n, total / 2**20))
    d1 = verify("get every key")
    if a.only == "set":
        print("digest %s" % d1[:32])
        return 1 if bad else 0

    # deletes
    dels = list(range(0, n, 7))
    for chunk in batched(dels, 200):
        c.send(b"".join(b"delete %s\r\n" % key(i) for i in chunk))
        for i in chunk:
            r = c.line()
            if r != b"DELETED":
                print("delete %s: %r" % (key(i).decode(), r))
                bad += 1
            expect.pop(key(i), None)
    # overwrites with another size class
    store(b"set", [i for i in range(0, n, 5) if i % 7], 1)
    # append / prepend
    for chunk in batched([i for i in range(3, n, 11) if i % 7], 200):
        req = []
        for i in chunk:
            tail = b"<appended:%d>" % i
            req.append(b"append %s 0 0 %d\r\n%s\r\n" % (key(i), len(tail), tail))
            req.append(b"prepend %s 0 0 %d\r\n%s\r\n" % (key(i), len(tail), tail))
            f, v = expect[key(i)]
            expect[key(i)] = (f, tail + v + tail)
        c.send(b"".join(req))
        for _ in range(2 * len(chunk)):
            r = c.line()
            if r != b"STORED":
                print("append/prepend: %r" % r)
                bad += 1
    # counters
    for j in range(200):
        k = b"tmc:counter:%d" % j
        c.send(b"set %s 0 0 1\r\n0\r\n" % k)
        if c.line() != b"STORED":
            bad += 1
        for step in range(1, 11):
            c.send(b"incr %s %d\r\n" % (k, step * (j + 1)))
            c.line()
        c.send(b"decr %s 5\r\n" % k)
        got = c.line()
        if got != b"%d" % (55 * (j + 1) - 5):
            print("counter %d = %r, want %d" % (j, got, 55 * (j + 1) - 5))
            bad += 1
    d2 = verify("after deletes, overwrites, appends")

    c.send(b"stats\r\n")
    stats = {}
    while True:
        ln = c.line()
        if ln == b"END":
            break
        _, name, val = ln.split(b" ", 2)
        stats[name.decode()] = val.decode()
    want_items = len(expect) + 200
    if int(stats["curr_items"]) != want_items:
        print("stats curr_items %s, want %d" % (stats["curr_items"], want_items))
        bad += 1
    if int(stats["evictions"]) != 0:
        print("stats evictions %s, want 0" % stats["evictions"])
        bad += 1
    print("stats: curr_items %s, evictions %s, bytes %s" % (stats["curr_items"], stats["evictions"], stats["bytes"]))
    print("digest %s %s" % (d1[:32], d2[:32]))
    print("%d mismatches" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
