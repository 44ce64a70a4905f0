#!/usr/bin/env python3
"""Writes a RESP stream of realistic Redis data (JSON-like records, text, numbers,
hashes, lists) for `redis-cli --pipe`. Deterministic for a given seed.
usage: target_load_records.py MEGABYTES [SEED] [PREFIX]"""
import random, sys, json
mb = float(sys.argv[1]); seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
prefix = sys.argv[3] if len(sys.argv) > 3 else "k"
rnd = random.Random(seed)
W = ("account active address alpha amount api archive balance basket beta billing blue brown cache "
     "cart catalog category checkout city client cloud code comment config country coupon created "
     "currency customer data date default delivery device discount display domain draft email enabled "
     "error event expires feature field file filter first green group guest history host image index "
     "invoice item key label language last level limit list locale location login manager market "
     "member message method mobile name network note number offer order owner page paid password "
     "payment pending phone plan price primary product profile promo quantity queue rating red region "
     "release report request review role sales score search secret segment server session shipping "
     "size sku source state status stock store street subscription summary tag tax team theme time "
     "title token total tracking type unit update user value vendor version warehouse weight zone").split()
def text(n): return " ".join(rnd.choice(W) for _ in range(n))
def record(i):
    return json.dumps({"id": i, "user": f"{rnd.choice(W)}_{rnd.randint(1,99999)}",
        "email": f"{rnd.choice(W)}.{rnd.choice(W)}@example.{rnd.choice(['com','org','net'])}",
        "created": 1700000000 + rnd.randint(0, 30000000), "active": rnd.random() < 0.8,
        "score": round(rnd.uniform(0, 1000), 2), "tags": [rnd.choice(W) for _ in range(rnd.randint(1, 6))],
        "address": {"street": f"{rnd.randint(1,999)} {text(2)} st", "city": rnd.choice(W).title(),
                    "zip": f"{rnd.randint(10000,99999)}"},
        "items": [{"sku": f"SKU-{rnd.randint(1000,99999)}", "qty": rnd.randint(1, 9),
                   "price": round(rnd.uniform(1, 500), 2)} for _ in range(rnd.randint(0, 12))],
        "note": text(rnd.randint(0, 60))})
out = sys.stdout.buffer
def cmd(*a):
    parts = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(x), x))
    out.write(b"".join(parts))
total, i, limit = 0, 0, int(mb * 1024 * 1024)
while total < limit:
    r = rnd.random()
    if r < 0.6:
        v = record(i); cmd("SET", f"{prefix}:rec:{i}", v); total += len(v)
    elif r < 0.8:
        fields = []
        for f in range(rnd.randint(4, 20)):
            fields += [rnd.choice(W) + str(f), text(rnd.randint(1, 12)) if rnd.random() < 0.5 else str(rnd.randint(0, 10**9))]
        cmd("HSET", f"{prefix}:h:{i}", *fields); total += sum(len(x) for x in fields)
    elif r < 0.9:
        vals = [text(rnd.randint(3, 30)) for _ in range(rnd.randint(5, 40))]
        cmd("RPUSH", f"{prefix}:l:{i}", *vals); total += sum(len(x) for x in vals)
    else:
        v = text(rnd.randint(200, 700)); cmd("SET", f"{prefix}:txt:{i}", v); total += len(v)
    i += 1
