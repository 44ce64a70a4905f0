#!/usr/bin/python3
"""Deterministic Redis dataset for tests/programs/redis_test.sh.

  redis_dataset.py resp   --keys N         RESP for the dataset on stdout (for redis-cli --pipe)
  redis_dataset.py mutate --keys N         RESP for a deterministic mix of updates on stdout
  redis_dataset.py check  --keys N --port P [--samples S]
                                           checks DBSIZE and S sampled keys against the model

Each key's type and value depend only on its index, so the checker regenerates any key
without generating the whole dataset. Types: strings (JSON-like records, text, integers,
floats, a few 100 KiB blobs), hashes, lists, sets and sorted sets.
"""
import argparse
import json
import random
import socket
import sys

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zen", "qua", "bel", "dor", "fin",
             "gra", "hul", "jor", "pex", "tri", "umb", "wex", "yal", "cor", "ost", "ilm"]
CITIES = ["Lisbon", "Osaka", "Quito", "Tartu", "Accra", "Perth", "Bergen", "Cusco", "Hanoi", "Lyon"]


WORDS = []
_wr = random.Random(1)
for _ in range(4096):
    WORDS.append("".join(_wr.choice(SYLLABLES) for _ in range(_wr.randint(1, 4))))


def word(r):
    return WORDS[int(r.random() * 4096)]


def text(r, words):
    return " ".join(word(r) for _ in range(words)).capitalize() + "."


def record(i, r):
    return json.dumps({
        "id": i,
        "name": word(r).capitalize() + " " + word(r).capitalize(),
        "email": "%s.%d@example.org" % (word(r), i),
        "age": r.randint(18, 95),
        "score": round(r.uniform(-1000, 1000), 3),
        "active": r.random() < 0.5,
        "tags": [word(r) for _ in range(r.randint(0, 6))],
        "address": {"city": r.choice(CITIES), "zip": "%05d" % r.randint(0, 99999),
                    "street": text(r, 3)},
        "bio": text(r, r.randint(3, 25)),
    }, sort_keys=True, separators=(",", ":"))


def key_name(i):
    return "k:%d:%s" % (i, ("str", "str", "str", "str", "hash", "hash", "list", "list", "set", "zset")[i % 10])


def model(i):
    """Returns (type, value) of key i."""
    r = random.Random(i * 7919 + 17)
    kind = i % 10
    if kind < 4:
        sub = i % 7
        if i % 1000 == 3:
            v = "".join(r.choice("abcdefghij0123456789") for _ in range(100 * 1024))  # large blob
        elif sub in (0, 1, 2):
            v = record(i, r)
        elif sub == 3:
            v = str(r.randint(-10**15, 10**15))
        elif sub == 4:
            v = repr(r.uniform(-1e6, 1e6))
        else:
            v = text(r, r.randint(1, 200))
        return "string", v
    if kind < 6:
        return "hash", {"f%d_%s" % (j, word(r)): (text(r, r.randint(1, 12)) if j % 3 else str(r.randint(0, 10**9)))
                        for j in range(r.randint(3, 30))}
    if kind < 8:
        return "list", [(record(i * 100 + j, r) if j % 10 == 0 else text(r, r.randint(1, 8)))
                        for j in range(r.randint(5, 40))]
    if kind == 8:
        return "set", {"m:%s:%d" % (word(r), r.randint(0, 10**6)) for _ in range(r.randint(5, 50))}
    return "zset", {"p:%s:%d" % (word(r), j): float(r.randint(-5000, 5000)) / 4 for j in range(r.randint(5, 50))}


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def command_for(i):
    t, v = model(i)
    k = key_name(i)
    if t == "string":
        return resp("SET", k, v)
    if t == "hash":
        args = ["HSET", k]
        for f, x in v.items():
            args += [f, x]
        return resp(*args)
    if t == "list":
        return resp("RPUSH", k, *v)
    if t == "set":
        return resp("SADD", k, *sorted(v))
    args = ["ZADD", k]
    for m, s in v.items():
        args += [repr(s), m]
    return resp(*args)


def mutations(n):
    """Deterministic updates that grow, shrink, rewrite and delete values."""
    r = random.Random(4242)
    for step in range(n // 2):
        i = r.randrange(n)
        k = key_name(i)
        kind = i % 10
        if kind < 4:
            op = step % 4
            if op == 0:
                yield resp("APPEND", k, text(r, r.randint(1, 50)))
            elif op == 1:
                yield resp("SETRANGE", k, r.randint(0, 200), word(r) * r.randint(1, 30))
            elif op == 2:
                yield resp("SET", k, text(r, r.randint(1, 100)))
            else:
                yield resp("GETDEL", k)
        elif kind < 6:
            yield resp("HSET", k, "new_%d" % step, text(r, r.randint(1, 20)), "n", step)
            yield resp("HDEL", k, "f0_x", "f1_" + word(r))
        elif kind < 8:
            yield resp("LPUSH", k, *[word(r) for _ in range(r.randint(1, 10))])
            yield resp("RPOP", k, r.randint(1, 5))
            yield resp("LTRIM", k, 0, r.randint(3, 80))
        elif kind == 8:
            yield resp("SADD", k, *["add:%d:%d" % (step, j) for j in range(r.randint(1, 8))])
            yield resp("SREM", k, "add:%d:0" % (step - 1), "add:%d:1" % (step - 7))
        else:
            yield resp("ZINCRBY", k, r.randint(-100, 100) / 2, "p:new:%d" % (step % 50))
            yield resp("ZREMRANGEBYRANK", k, 0, 1)
    for j in range(0, n, 97):  # bulk deletes
        yield resp("DEL", key_name(j))


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise IOError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise IOError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.sock.sendall(resp(*args))
        return self._reply()


def check(port, n, samples):
    c = Client(port)
    bad = 0
    size = c.call("DBSIZE")
    if size != n:
        print("DBSIZE is %d, want %d" % (size, n))
        bad += 1
    r = random.Random(99)
    idx = sorted(set(r.randrange(n) for _ in range(samples)) | {0, 3, 1003, n - 1})
    for i in idx:
        k = key_name(i)
        t, v = model(i)
        got_t = c.call("TYPE", k)
        if got_t != t:
            print("%s: TYPE %s, want %s" % (k, got_t, t))
            bad += 1
            continue
        if t == "string":
            got = c.call("GET", k)
        elif t == "hash":
            flat = c.call("HGETALL", k)
            got = dict(zip(flat[::2], flat[1::2]))
        elif t == "list":
            got = c.call("LRANGE", k, 0, -1)
        elif t == "set":
            got = set(c.call("SMEMBERS", k))
        else:
            flat = c.call("ZRANGE", k, 0, -1, "WITHSCORES")
            got = {m: float(s) for m, s in zip(flat[::2], flat[1::2])}
            order = [m for m in flat[::2]]
            want_order = [m for m, _ in sorted(v.items(), key=lambda kv: (kv[1], kv[0]))]
            if order != want_order:
                print("%s: zset order differs" % k)
                bad += 1
        if got != v:
            print("%s: value differs (%r... vs %r...)" % (k, str(got)[:80], str(v)[:80]))
            bad += 1
    print("checked DBSIZE and %d sampled keys of every type: %d mismatches" % (len(idx), bad))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["resp", "mutate", "check"])
    ap.add_argument("--keys", type=int, default=50000)
    ap.add_argument("--port", type=int)
    ap.add_argument("--samples", type=int, default=2000)
    a = ap.parse_args()
    out = sys.stdout.buffer
    if a.mode == "resp":
        batch = []
        for i in range(a.keys):
            batch.append(command_for(i))
            if len(batch) >= 1000:
                out.write(b"".join(batch))
                batch = []
        out.write(b"".join(batch))
        return 0
    if a.mode == "mutate":
        count = 0
        for cmd in mutations(a.keys):
            out.write(cmd)
            count += 1
        sys.stderr.write("%d\n" % count)
        return 0
    return check(a.port, a.keys, a.samples)


if __name__ == "__main__":
    sys.exit(main())
