#!/usr/bin/python3
"""Realistic, deterministic records for the Redis and memcached compression benchmarks.

  records.py keys      --size 1G                   key count whose values total about SIZE
  records.py resp      --keys N [--seed S]         RESP on stdout, for `redis-cli --pipe`
  records.py memcached --keys N [--seed S]         memcached text protocol (set ... noreply)
  records.py mc-load   --keys N --port P [--seed S] [--from FILE]
                                                   sets every key in memcached (pipelined)
  records.py mc-verify --keys N --port P [--seed S] [--from FILE]
                                                   reads EVERY key back, compares bytes/flags
                       (--from: the values of a stream `records.py memcached` wrote, which are
                       the same bytes; faster than regenerating them)
  records.py sample    --keys N [--seed S]         the raw values, one after another (no keys)
  records.py ratio     [--sample 16M] [--seed S]   lz4 -1 / zstd -1 ratio of generated values
  records.py show      --keys N [--seed S]         a few values, readable, for a look

Stdlib only (Debian's /usr/bin/python3). Every key's name, type and value depend only on
(seed, index): any key can be regenerated on its own, so the checkers never need the
whole dataset in memory.

What the values are (each 100 B .. 4 KiB; nothing is zero or repeated filler, nothing is
random bytes alone):
  user     JSON user profile: UUID-ish id, names and e-mail from word lists, phone, street
           address, timestamps, preferences, tags, a short English-like bio
  order    JSON order: customer id, 1-12 line items (SKU, product name, quantity, price),
           totals, currency, status history with timestamps, shipping address
  event    JSON analytics event: type, timestamp, user/session ids, IPv4, user agent, page,
           properties
  text     English-like text (comments, reviews, articles) from a 1,000-word vocabulary
           plus a syllable-made long tail, word frequencies Zipf-like (1/(rank+1)), and
           common short phrases ("one of the", "as well as") in about one word slot of five
  series   numeric series: timestamps and random-walk readings of a sensor/metric, as CSV
           or as a JSON array
  session  session blob: base64url tokens (random, incompressible), JSON with user id,
           roles, expiry, a CSRF token, a small cart and flags

Redis key types (by index): SET strings (user, order, event, text, series, session; 65%),
HSET hashes with 8-13 fields of a profile/product/settings object (20%), RPUSH lists of
3-16 events or comments (15%). memcached gets the same value kinds as strings (hashes as
a JSON object, lists as newline-separated JSON lines).
"""
import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

# --------------------------------------------------------------------------- word lists

COMMON = """
the of and to a in is it you that he was for on are with as I his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country
found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left late
run don't while press close night real life few north open seem together next white children
begin got walk example ease paper group always music those both mark often letter until mile
river car feet care second book carry took science eat room friend began idea fish mountain
stop once base hear horse cut sure watch color face wood main enough plain girl usual young
ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb
sing listen six table travel less morning ten simple several vowel toward war lay against
pattern slow center love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star
box noun field rest correct able pound done beauty drive stood contain front teach week final
gave green oh quick develop ocean warm free minute strong special mind behind clear tail
produce fact street inch multiply nothing course stay wheel full force blue object decide
surface deep moon island foot system busy test record boat common gold possible plane stead
dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring
yes distant fill east paint language among grand ball yet wave drop heart present heavy dance
engine position arm wide sail material size vary settle speak weight general ice matter circle
pair include divide syllable felt perhaps pick sudden count square reason length represent art
subject region energy hunt probable bed brother egg ride cell believe fraction forest sit race
window store summer train sleep prove lone leg exercise wall catch mount wish sky board joy
winter sat written wild instrument kept glass grass cow job edge sign visit past soft fun
bright gas weather month million bear finish happy hope flower clothe strange gone jump baby
eight village meet root buy raise solve metal whether push seven paragraph third shall held
hair describe cook floor either result burn hill safe cat century consider type law bit coast
copy phrase silent tall sand soil roll temperature finger industry value fight lie beat excite
natural view sense ear else quite broke case middle kill son lake moment scale loud spring
observe child straight consonant nation dictionary milk speed method organ pay age section
dress cloud surprise quiet stone tiny climb cool design poor lot experiment bottom key iron
single stick flat twenty skin smile crease hole trade melody trip office receive row mouth
exact symbol die least trouble shout except wrote seed tone join suggest clean break lady yard
rise bad blow oil blood touch grew cent mix team wire cost lost brown wear garden equal sent
choose fell fit flow fair bank collect save control decimal gentle woman captain practice
separate difficult doctor please protect noon whose locate ring character insect caught period
indicate radio spoke atom human history effect electric expect crop modern element hit student
corner party supply bone rail imagine provide agree thus capital won't chair danger fruit rich
thick soldier process operate guess necessary sharp wing create neighbor wash bat rather crowd
corn compare poem string bell depend meat rub tube famous dollar stream fear sight thin
triangle planet hurry chief colony clock mine tie enter major fresh search send yellow gun
allow print dead spot desert suit current lift rose continue block chart hat sell success
company subtract event particular deal swim term opposite wife shoe shoulder spread arrange
camp invent cotton born determine quart nine truck noise level chance gather shop stretch throw
shine property column molecule select wrong gray repeat require broad prepare salt nose plural
anger claim continent oxygen sugar death pretty skill women season solution magnet silver thank
branch match suffix especially fig afraid huge sister steel discuss forward similar guide
experience score apple bought led pitch coat mass card band rope slip win dream evening
condition feed tool total basic smell valley nor double seat arrive master track parent shore
division sheet substance favor connect post spend chord fat glad original share station dad
bread charge proper bar offer segment slave duck instant market degree populate chick dear
enemy reply drink occur support speech nature range steam motion path liquid log meant
quotient teeth shell neck delivery shipping price refund review recommend battery screen
quality customer service account password update release feature bug fix version server
""".split()

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zen", "qua", "bel", "dor", "fin",
             "gra", "hul", "jor", "pex", "tri", "umb", "wex", "yal", "cor", "ost", "ilm", "ber",
             "tion", "ing", "er", "ly", "ment", "ous", "ant", "ic", "al", "ure"]

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew
Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua
Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie
Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela
Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen
Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn
Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam
Olivia Henry Joyce Nathan Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina
Noah Joan Ethan Evelyn Jeremy Judith Walter Megan Christian Andrea Keith Cheryl Roger Hannah
Terry Jacqueline Austin Martha Sean Gloria Gerald Teresa Carl Ann Harold Sara Dylan Madison
Arthur Frances Lawrence Kathryn Jordan Janice Jesse Jean Bryan Abigail Billy Alice Bruce Judy
Gabriel Sophia Joe Grace Logan Denise Alan Amber Juan Doris Albert Marilyn Willie Danielle Elijah
Beverly Wayne Isabella Randy Theresa Vincent Diana Mason Natalie Roy Brittany Ralph Charlotte
Bobby Marie Russell Kayla Bradley Alexis Philip Lori Eugene Yuki Hiroshi Wei Mei Arjun Priya
Ahmed Fatima Lars Ingrid Pierre Amelie Mateo Lucia Kwame Amara Sven Freya Dmitri Olga Chen Lin""".split()

LAST = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez
Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green
Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz
Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan
Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood
James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster
Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher
Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno
West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall
Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb
Tanaka Suzuki Sato Wang Li Zhang Singh Kumar Muller Schmidt Schneider Dubois Lefevre Rossi Russo
Novak Kowalski Andersen Hansen Nielsen Larsen Johansson Virtanen Ivanov Petrov Okafor Mensah""".split()

CITIES = [("Lisbon", "PT"), ("Osaka", "JP"), ("Quito", "EC"), ("Tartu", "EE"), ("Accra", "GH"),
          ("Perth", "AU"), ("Bergen", "NO"), ("Cusco", "PE"), ("Hanoi", "VN"), ("Lyon", "FR"),
          ("Austin", "US"), ("Denver", "US"), ("Seattle", "US"), ("Boston", "US"), ("Chicago", "US"),
          ("Portland", "US"), ("Atlanta", "US"), ("Phoenix", "US"), ("Toronto", "CA"),
          ("Vancouver", "CA"), ("Manchester", "GB"), ("Leeds", "GB"), ("Glasgow", "GB"),
          ("Dublin", "IE"), ("Hamburg", "DE"), ("Munich", "DE"), ("Cologne", "DE"), ("Vienna", "AT"),
          ("Zurich", "CH"), ("Milan", "IT"), ("Turin", "IT"), ("Madrid", "ES"), ("Valencia", "ES"),
          ("Porto", "PT"), ("Krakow", "PL"), ("Prague", "CZ"), ("Budapest", "HU"), ("Oslo", "NO"),
          ("Uppsala", "SE"), ("Aarhus", "DK"), ("Helsinki", "FI"), ("Seoul", "KR"), ("Pune", "IN"),
          ("Bangalore", "IN"), ("Nairobi", "KE"), ("Lagos", "NG"), ("Santiago", "CL"),
          ("Bogota", "CO"), ("Monterrey", "MX"), ("Curitiba", "BR"), ("Auckland", "NZ")]
STREETS = """Main Oak Pine Maple Cedar Elm Washington Lake Hill Park Church Mill River Spring
Sunset Highland Forest Meadow Railroad Market Harbor Station Garden Orchard Bridge Willow Valley
Chestnut Franklin Lincoln Jefferson Madison Jackson Ridge Prospect Union Broad Center""".split()
STREET_KINDS = ["St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct", "Pl", "Terrace"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example", "inbox.example.io"]
ADJ = """Classic Smart Ultra Compact Wireless Organic Premium Portable Vintage Ergonomic Rugged
Sleek Deluxe Eco Heavy-Duty Lightweight Modular Handmade Insulated Waterproof Foldable""".split()
NOUN = """Headphones Backpack Kettle Lamp Keyboard Mouse Bottle Jacket Sneakers Blender Chair Desk
Monitor Charger Speaker Notebook Pen Mug Tent Blanket Watch Camera Router Drill Toaster Umbrella
Pillow Scarf Wallet Grinder""".split()
CATEGORIES = ["electronics", "home", "kitchen", "outdoor", "office", "fashion", "sports", "toys",
              "books", "garden", "beauty", "tools", "grocery"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK"]
ORDER_STATES = ["created", "paid", "picked", "packed", "shipped", "in_transit", "delivered"]
EVENTS = ["page_view", "click", "add_to_cart", "remove_from_cart", "search", "login", "logout",
          "checkout_start", "purchase", "video_play", "scroll", "share", "signup", "error"]
PAGES = ["/", "/search", "/cart", "/checkout", "/account", "/orders", "/help", "/blog",
         "/product", "/category", "/deals", "/wishlist", "/settings"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "okhttp/4.12.0", "curl/8.5.0", "python-requests/2.31.0"]
ROLES = ["viewer", "editor", "admin", "billing", "support", "developer", "owner"]
LANGS = ["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "pt-BR", "ja-JP", "ko-KR", "it-IT", "nl-NL"]
METRICS = ["cpu.user", "cpu.system", "mem.used", "disk.read_bytes", "net.rx_bytes", "temp.c",
           "latency.ms", "requests.per_s", "queue.depth", "humidity.pct"]
T0 = 1704067200  # 2024-01-01T00:00:00Z


def _vocabulary():
    r = random.Random(20240101)
    words = list(dict.fromkeys(w.lower() for w in COMMON if w != "I"))
    tail = set(words)
    while len(words) < 6000:  # the long tail: rare, made-up words
        w = "".join(r.choice(SYLLABLES) for _ in range(r.randint(2, 4)))
        if w not in tail:
            tail.add(w)
            words.append(w)
    # Zipf-like (Zipf-Mandelbrot): the word of rank k (from 1) has weight 1 / (k + 1); so
    # "the" is about 6% of the words, as in English. Common words keep their order.
    # Sampling is a lookup in a 65,536-entry table holding each word in proportion to its
    # weight (at least once), indexed by two random bytes: fast in pure Python.
    weights = [1.0 / (k + 2) for k in range(len(words))]
    scale = (65536 - len(words)) / sum(weights)
    table = []
    for w, x in zip(words, weights):
        table += [w] * (1 + int(x * scale))
    table += [words[0]] * (65536 - len(table))
    return words, table[:65536]


VOCAB, ZIPF_TABLE = _vocabulary()


def zipf_words(r, n):
    t = ZIPF_TABLE
    return [t[x] for x in memoryview(r.randbytes(2 * n)).cast("H")]


# Real prose repeats short phrases far more than independent words would; about one word
# slot in five is one of these (rank-weighted), which brings the generated text's lz4 and
# zstd ratios per 4 KiB to those of real English documentation measured on Debian's own
# files (GPL-3, vim's help: lz4 -1 1.3-1.65x, zstd -1 1.9-2.3x).
PHRASES = """of the|in the|to the|on the|and the|for the|to be|at the|it is|with the|from the|
by the|that the|is a|as a|there is|there are|one of the|as well as|in order to|at the end of|
it was|this is|we have|I think|you can|do not|does not|will be|would be|can be|has been|have
been|a lot of|more than|such as|in this|for a|with a|is not|the same|part of the|each other|
out of|some of the|all of the|the first|the most|in a|is the|was the|if you|you will|it can
be|should be|in fact|so that|as long as|at least|right now|on the other hand|for example|
thank you|let me know|I would like to|please note that|make sure|the end of the|a few|as soon
as possible|in the future|a little|we are|they are|there was|up to|look at|according to|
because of|instead of|due to|rather than|even though|as if|in addition|at first|over the|
into the|about the|under the|after the|before the|during the|between the|through the""".replace("\n", " ").split("|")


def _phrase_table():
    ps = [p.strip() for p in PHRASES if p.strip()]
    table = []
    for k, p in enumerate(ps):
        table += [p] * max(1, int(24 / (k + 2) ** 0.5))
    return [table[int(x * len(table) / 256)] for x in range(256)]


PHRASE_TABLE = _phrase_table()


def text(r, nbytes):
    """English-like sentences of about nbytes bytes."""
    out, size = [], 0
    pt = PHRASE_TABLE
    while size < nbytes:
        n = r.randint(5, 22)
        ws = zipf_words(r, n)
        flags = r.randbytes(2 * n)
        for j in range(n):
            if flags[j] < 52:
                ws[j] = pt[flags[n + j]]
        if n > 9 and r.random() < 0.4:
            ws[r.randint(2, n - 3)] += ","
        s = " ".join(ws)
        s = s[0].upper() + s[1:] + r.choice(".....?!")
        out.append(s)
        size += len(s) + 1
    return " ".join(out)[:nbytes].rstrip()


def uuid(r):
    h = "%032x" % r.getrandbits(128)
    return "%s-%s-4%s-%s-%s" % (h[:8], h[8:12], h[13:16], h[16:20], h[20:32])


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def token(r, nbytes):
    return base64.urlsafe_b64encode(r.randbytes(nbytes)).rstrip(b"=").decode()


def address(r):
    city, country = r.choice(CITIES)
    return {"street": "%d %s %s" % (r.randint(1, 9999), r.choice(STREETS), r.choice(STREET_KINDS)),
            "city": city, "postcode": "%05d" % r.randint(1000, 99999), "country": country}


def person(r):
    first, last = r.choice(FIRST), r.choice(LAST)
    return first, last, "%s.%s%d@%s" % (first.lower(), last.lower(), r.randint(1, 999), r.choice(DOMAINS))


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


# --------------------------------------------------------------------------- value kinds

def user(r, i):
    first, last, email = person(r)
    created = T0 - r.randint(0, 5 * 365 * 86400)
    obj = {
        "id": uuid(r), "uid": i, "username": "%s_%s%d" % (first.lower(), r.choice(VOCAB[:400]), r.randint(1, 99)),
        "first_name": first, "last_name": last, "email": email, "email_verified": r.random() < 0.8,
        "phone": "+%d %03d %03d %04d" % (r.randint(1, 99), r.randint(100, 999), r.randint(100, 999), r.randint(0, 9999)),
        "address": address(r), "created_at": iso(created),
        "last_login": created + r.randint(0, 10**8), "locale": r.choice(LANGS),
        "plan": r.choice(["free", "free", "free", "pro", "team", "enterprise"]),
        "balance": round(r.uniform(0, 5000), 2), "login_count": r.randint(1, 4000),
        "preferences": {"newsletter": r.random() < 0.3, "theme": r.choice(["light", "dark", "system"]),
                        "notifications": r.sample(["email", "sms", "push", "none"], r.randint(1, 3))},
        "tags": r.sample(VOCAB[:300], r.randint(0, 6)),
    }
    if r.random() < 0.6:
        obj["bio"] = text(r, r.randint(40, 900))
    return dumps(obj)


def order(r, i):
    first, last, email = person(r)
    ts = T0 + r.randint(0, 400 * 86400)
    items, subtotal = [], 0.0
    for _ in range(r.randint(1, 12)):
        qty, price = r.randint(1, 5), round(r.uniform(1.5, 400), 2)
        subtotal += qty * price
        items.append({"sku": "%s-%05d" % (r.choice(CATEGORIES)[:3].upper(), r.randint(0, 99999)),
                      "name": "%s %s" % (r.choice(ADJ), r.choice(NOUN)), "qty": qty, "unit_price": price,
                      "category": r.choice(CATEGORIES)})
    history, t = [], ts
    for state in ORDER_STATES[:r.randint(1, len(ORDER_STATES))]:
        history.append({"status": state, "at": iso(t)})
        t += r.randint(60, 2 * 86400)
    tax = round(subtotal * r.choice([0.0, 0.05, 0.07, 0.1, 0.2]), 2)
    ship = round(r.choice([0, 0, 4.99, 9.99, 14.5]), 2)
    obj = {"order_id": "ord_%d_%s" % (i, token(r, 6)), "customer": {"id": uuid(r), "name": first + " " + last,
           "email": email}, "created_at": iso(ts), "currency": r.choice(CURRENCIES), "items": items,
           "subtotal": round(subtotal, 2), "tax": tax, "shipping": ship,
           "total": round(subtotal + tax + ship, 2), "status": history[-1]["status"], "history": history,
           "shipping_address": address(r), "payment": {"method": r.choice(["card", "paypal", "bank", "wallet"]),
           "last4": "%04d" % r.randint(0, 9999)}}
    if r.random() < 0.3:
        obj["note"] = text(r, r.randint(20, 300))
    return dumps(obj)


def event_obj(r, uid=None):
    ts = T0 + r.randint(0, 400 * 86400)
    ev = r.choice(EVENTS)
    props = {"page": r.choice(PAGES), "referrer": r.choice(["", "google", "newsletter", "direct", "ads"]),
             "duration_ms": r.randint(5, 60000)}
    if ev in ("add_to_cart", "remove_from_cart", "purchase"):
        props["sku"] = "%s-%05d" % (r.choice(CATEGORIES)[:3].upper(), r.randint(0, 99999))
        props["price"] = round(r.uniform(1, 400), 2)
    if ev == "search":
        props["query"] = " ".join(zipf_words(r, r.randint(1, 4)))
    if ev == "error":
        props["message"] = text(r, r.randint(30, 120))
    return {"event": ev, "ts": ts, "time": iso(ts), "user_id": uid if uid is not None else r.randint(1, 10**7),
            "session_id": token(r, 9), "ip": "%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255),
            r.randint(0, 255), r.randint(1, 254)), "ua": r.choice(AGENTS), "props": props}


def event(r, i):
    return dumps(event_obj(r))


def prose(r, i):
    return text(r, int(min(4096, 100 + r.expovariate(1 / 900.0))))


def series(r, i):
    n = r.randint(12, 200)
    step = r.choice([1, 10, 15, 60, 300])
    ts = T0 + r.randint(0, 400 * 86400) // step * step
    v = r.uniform(0, 100)
    scale = r.choice([0.01, 0.1, 1.0, 10.0])
    vals = []
    for _ in range(n):
        v = max(0.0, v + r.gauss(0, 1.5))
        vals.append(round(v * scale, 3))
    if r.random() < 0.5:
        lines = ["ts,value"] + ["%d,%s" % (ts + k * step, x) for k, x in enumerate(vals)]
        return "\n".join(lines)
    return dumps({"metric": r.choice(METRICS), "host": "web-%02d.%s" % (r.randint(1, 64), r.choice(CITIES)[0].lower()),
                  "start": ts, "step": step, "values": vals})


def session(r, i):
    uid = r.randint(1, 10**7)
    exp = T0 + r.randint(0, 400 * 86400)
    obj = {"sid": token(r, 24), "uid": uid, "csrf": token(r, 16), "roles": r.sample(ROLES, r.randint(1, 3)),
           "issued": exp - 86400, "expires": exp, "ip": "10.%d.%d.%d" % (r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)),
           "ua": r.choice(AGENTS), "locale": r.choice(LANGS), "flags": {"mfa": r.random() < 0.4,
           "remember": r.random() < 0.5, "beta": r.random() < 0.1}, "cart": [
               {"sku": "%s-%05d" % (r.choice(CATEGORIES)[:3].upper(), r.randint(0, 99999)), "qty": r.randint(1, 3)}
               for _ in range(r.randint(0, 6))]}
    if r.random() < 0.5:
        obj["oauth"] = {"access_token": token(r, r.choice([32, 48, 96])), "refresh_token": token(r, 32),
                        "scope": " ".join(r.sample(["read", "write", "profile", "email", "orders", "admin"], 3))}
    if r.random() < 0.3:
        obj["flash"] = text(r, r.randint(20, 200))
    # Like a signed cookie: base64 payload (JSON inside), a dot, an HMAC-ish signature.
    if r.random() < 0.35:
        payload = base64.urlsafe_b64encode(dumps({"uid": uid, "exp": exp, "r": obj["roles"]}).encode()).decode()
        obj["cookie"] = payload + "." + token(r, 32)
    return dumps(obj)


def hash_fields(r, i):
    """A profile, product or settings object as about 8-13 hash fields."""
    kind = r.random()
    f = {}
    if kind < 0.45:
        first, last, email = person(r)
        f = {"first_name": first, "last_name": last, "email": email, "uid": str(i),
             "created_at": iso(T0 - r.randint(0, 10**8)), "plan": r.choice(["free", "pro", "team"]),
             "address": dumps(address(r)), "locale": r.choice(LANGS), "login_count": str(r.randint(1, 9000))}
        if r.random() < 0.6:
            f["about"] = text(r, r.randint(40, 700))
        if r.random() < 0.5:
            f["last_ip"] = "%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))
    elif kind < 0.8:
        f = {"sku": "%s-%05d" % (r.choice(CATEGORIES)[:3].upper(), r.randint(0, 99999)),
             "name": "%s %s" % (r.choice(ADJ), r.choice(NOUN)), "category": r.choice(CATEGORIES),
             "price": "%.2f" % r.uniform(1, 900), "currency": r.choice(CURRENCIES),
             "stock": str(r.randint(0, 5000)), "rating": "%.1f" % r.uniform(1, 5),
             "reviews": str(r.randint(0, 20000)), "description": text(r, r.randint(80, 1500)),
             "updated_at": iso(T0 + r.randint(0, 400 * 86400))}
        if r.random() < 0.5:
            f["dimensions"] = dumps({"w": r.randint(1, 200), "h": r.randint(1, 200), "d": r.randint(1, 200),
                                     "unit": "cm", "weight_g": r.randint(10, 30000)})
    else:
        f = {"theme": r.choice(["light", "dark", "system"]), "timezone": r.choice(
                ["UTC", "Europe/Lisbon", "America/Chicago", "Asia/Tokyo", "Australia/Perth"]),
             "digest": r.choice(["daily", "weekly", "never"]), "api_key": token(r, 24),
             "webhook": "https://hooks.%s/%s" % (r.choice(DOMAINS), token(r, 12)),
             "limits": dumps({"requests_per_min": r.choice([60, 600, 6000]), "storage_gb": r.choice([1, 10, 100])}),
             "updated_at": iso(T0 + r.randint(0, 400 * 86400)), "version": str(r.randint(1, 400))}
        for k in range(r.randint(0, 5)):
            f["flag_%s" % r.choice(VOCAB[:200])] = r.choice(["on", "off", "beta"])
    return f


def list_elems(r, i):
    """3-16 events of one user, or comments of one thread."""
    if r.random() < 0.6:
        uid = r.randint(1, 10**7)
        return [dumps(event_obj(r, uid)) for _ in range(r.randint(3, 12))]
    return [dumps({"id": r.randint(1, 10**9), "author": r.choice(FIRST) + " " + r.choice(LAST)[0] + ".",
                   "at": iso(T0 + r.randint(0, 400 * 86400)), "likes": r.randint(0, 500),
                   "body": text(r, int(min(1500, 30 + r.expovariate(1 / 250.0))))})
            for _ in range(r.randint(3, 16))]


STRING_KINDS = [("user", user, 20), ("order", order, 12), ("event", event, 8), ("post", prose, 12),
                ("metrics", series, 5), ("sess", session, 8)]
# type mix: strings 65, hashes 20, lists 15 (per 100 keys)
_TABLE = []
for _name, _fn, _w in STRING_KINDS:
    _TABLE += [("string", _name, _fn)] * _w
_TABLE += [("hash", "h", hash_fields)] * 20 + [("list", "l", list_elems)] * 15
assert len(_TABLE) == 100


def clamp(v, lo=100, hi=4096):
    """Keeps a string value within 100 B .. 4 KiB without padding it with filler."""
    if len(v) > hi:
        v = v[:hi]
    return v


def model(seed, i, version=0):
    """(redis type, key, value) of key i; value is str, dict or list. A version above 0
    is another value of the same key and type (an update: bench/datasets/cluster_client.py),
    from a generator seeded by (seed, i, version)."""
    r = random.Random(seed * 1000003 + i) if version == 0 else random.Random("%d/%d/%d" % (seed, i, version))
    typ, name, fn = _TABLE[(i * 37 + seed) % 100]
    key = "%s:%d" % (name, i)
    v = fn(r, i)
    if typ == "string":
        while len(v) < 100:  # a short record: a longer one of the same kind, never filler
            v = fn(r, i)
        v = clamp(v)
    elif typ == "hash":
        total = sum(len(k) + len(x) for k, x in v.items())
        if total > 4096:  # keep the object within 4 KiB: trim the longest text field
            big = max(v, key=lambda k: len(v[k]))
            v[big] = v[big][:max(16, len(v[big]) - (total - 4096))]
    else:
        while sum(map(len, v)) > 4096:
            v.pop()
        v = [clamp(x, hi=4096) for x in v]
    return typ, key, v


def mc_form(typ, key, v):
    """memcached's (key bytes, value bytes) of a model() record: hashes as a JSON object,
    lists as newline-separated lines."""
    if typ == "hash":
        v = dumps(v)
    elif typ == "list":
        v = "\n".join(v)
    return ("mc:" + key).encode(), v.encode()[:4096]


def mc_value(seed, i):
    """memcached: (key bytes, flags, value bytes)."""
    k, b = mc_form(*model(seed, i))
    return k, (i * 2654435761) & 0xFFFF, b


def values_bytes(seed, i):
    """Total payload bytes of key i (values only, the measure --size counts)."""
    typ, key, v = model(seed, i)
    if typ == "string":
        return len(v.encode())
    if typ == "hash":
        return sum(len(k) + len(x.encode()) for k, x in v.items())
    return sum(len(x.encode()) for x in v)


# --------------------------------------------------------------------------- output

def bulk(s):
    if isinstance(s, str):
        s = s.encode()
    return b"$%d\r\n%s\r\n" % (len(s), s)


def resp_command(seed, i):
    typ, key, v = model(seed, i)
    if typ == "string":
        args = [b"SET", key, v]
    elif typ == "hash":
        args = [b"HSET", key]
        for f, x in v.items():
            args += [f, x]
    else:
        args = [b"RPUSH", key] + v
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


def parse_size(s):
    s = s.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    if s.endswith("B"):
        return parse_size(s[:-1])
    return int(s)


def keys_for_size(seed, size):
    sample = 3000
    mean = sum(values_bytes(seed, i) for i in range(sample)) / sample
    return max(1, int(size / mean + 0.5)), mean


def write_stream(chunks, out):
    buf, n = [], 0
    for c in chunks:
        buf.append(c)
        n += len(c)
        if n >= 1 << 20:
            out.write(b"".join(buf))
            buf, n = [], 0
    out.write(b"".join(buf))
    out.flush()


def cmd_resp(a):
    write_stream((resp_command(a.seed, i) for i in range(a.keys)), sys.stdout.buffer)


def mc_set(seed, i):
    k, fl, v = mc_value(seed, i)
    return b"set %s %d 0 %d noreply\r\n%s\r\n" % (k, fl, len(v), v)


def cmd_memcached(a):
    write_stream((mc_set(a.seed, i) for i in range(a.keys)), sys.stdout.buffer)


def cmd_sample(a):
    def vals():
        for i in range(a.keys):
            typ, key, v = model(a.seed, i)
            if typ == "string":
                yield v.encode()
            elif typ == "hash":
                for f, x in v.items():
                    yield f.encode() + x.encode()
            else:
                for x in v:
                    yield x.encode()
    write_stream(vals(), sys.stdout.buffer)


class Mc:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = bytearray()

    def fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise IOError("memcached closed the connection")
        self.buf += chunk

    def line(self):
        while True:
            j = self.buf.find(b"\r\n")
            if j >= 0:
                ln = bytes(self.buf[:j])
                del self.buf[:j + 2]
                return ln
            self.fill()

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.fill()
        data = bytes(self.buf[:n])
        if self.buf[n:n + 2] != b"\r\n":
            raise RuntimeError("value not followed by CRLF")
        del self.buf[:n + 2]
        return data


def mc_stream_items(path):
    """(key, flags, value) of each set in a file written by `records.py memcached`."""
    with open(path, "rb", buffering=1 << 20) as f:
        while True:
            head = f.readline()
            if not head:
                return
            p = head.split()
            if len(p) != 6 or p[0] != b"set":
                raise RuntimeError("%s: not a set line: %r" % (path, head[:80]))
            n = int(p[4])
            v = f.read(n + 2)
            if len(v) != n + 2 or v[n:] != b"\r\n":
                raise RuntimeError("%s: truncated value of %r" % (path, p[1]))
            yield p[1], int(p[2]), v[:n]


def cmd_mc_load(a):
    c = Mc(a.port)
    t = time.time()
    buf, n = [], 0
    if a.from_file:  # the stream as written; --keys must match it
        with open(a.from_file, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                c.s.sendall(chunk)
    else:
        for i in range(a.keys):
            s = mc_set(a.seed, i)
            buf.append(s)
            n += len(s)
            if n >= 1 << 20:
                c.s.sendall(b"".join(buf))
                buf, n = [], 0
    buf.append(b"version\r\n")  # noreply sets answer nothing; this reply says all were read
    c.s.sendall(b"".join(buf))
    ln = c.line()
    if not ln.startswith(b"VERSION"):
        print("mc-load: unexpected reply %r (a set failed?)" % ln, file=sys.stderr)
        sys.exit(1)
    print("mc-load: %d keys set in %.1f s" % (a.keys, time.time() - t))


def expected_batches(a, batch):
    """Batches of {key: (flags, value)}: regenerated from the seed, or read from --from."""
    if a.from_file:
        expect = {}
        for k, fl, v in mc_stream_items(a.from_file):
            expect[k] = (fl, v)
            if len(expect) == batch:
                yield expect
                expect = {}
        if expect:
            yield expect
        return
    for start in range(0, a.keys, batch):
        yield {k: (fl, v) for k, fl, v in (mc_value(a.seed, i) for i in range(start, min(a.keys, start + batch)))}


def cmd_mc_verify(a):
    c = Mc(a.port)
    t = time.time()
    ok = missing = wrong = seen = 0
    digest = hashlib.sha256()
    for expect in expected_batches(a, 100):
        seen += len(expect)
        c.s.sendall(b"get " + b" ".join(expect) + b"\r\n")
        got = {}
        while True:
            ln = c.line()
            if ln == b"END":
                break
            p = ln.split()
            if p[0] != b"VALUE":
                raise RuntimeError("unexpected reply %r" % ln)
            got[p[1]] = (int(p[2]), c.exact(int(p[3])))
        for k, (fl, v) in expect.items():
            g = got.get(k)
            if g is None:
                missing += 1
                if missing <= 5:
                    print("MISSING %s" % k.decode(), file=sys.stderr)
            elif g != (fl, v):
                wrong += 1
                if wrong <= 5:
                    print("WRONG %s: flags %d/%d, %d/%d bytes, first difference at byte %s" % (
                        k.decode(), g[0], fl, len(g[1]), len(v),
                        next((j for j in range(min(len(v), len(g[1]))) if v[j] != g[1][j]), "-")), file=sys.stderr)
            else:
                ok += 1
                digest.update(k + b"\0" + v)
    if seen != a.keys:
        print("mc-verify: expected %d keys, the source has %d" % (a.keys, seen), file=sys.stderr)
    print("mc-verify: %d keys: %d equal, %d missing, %d wrong (%.1f s) digest %s" % (
        a.keys, ok, missing, wrong, time.time() - t, digest.hexdigest()[:16]))
    sys.exit(0 if ok == a.keys == seen else 1)


def cmd_keys(a):
    n, mean = keys_for_size(a.seed, parse_size(a.size))
    print(n)
    print("keys: %d keys of %.0f value bytes on average for %s" % (n, mean, a.size), file=sys.stderr)


def cmd_ratio(a):
    """lz4 -1 and zstd -1 on a sample: whole file, and each 4 KiB piece on its own (as
    libtmc compresses pages). The CLI's frame headers are counted in the per-piece sizes
    (about 15 B of lz4 frame, 10-13 B of zstd frame per piece), so the per-page ratio is a
    slight underestimate of what a raw block codec gets."""
    for tool in ("lz4", "zstd"):
        if shutil.which(tool) is None:
            sys.exit("ratio: '%s' is not installed (scripts/install_deps.sh installs it)" % tool)
    target = parse_size(a.sample)
    work = tempfile.mkdtemp(prefix="tmc-records-ratio.")
    try:
        path = os.path.join(work, "sample.bin")
        size, i = 0, 0
        with open(path, "wb") as f:
            while size < target:
                typ, key, v = model(a.seed, i)
                if typ == "string":
                    b = v.encode()
                elif typ == "hash":
                    b = "".join(k + x for k, x in v.items()).encode()
                else:
                    b = "".join(v).encode()
                f.write(b)
                size += len(b)
                i += 1
        res = {"sample_bytes": size, "sample_keys": i}
        res["lz4_1_file"] = size / len(subprocess.run(["lz4", "-1", "-c", path], capture_output=True, check=True).stdout)
        res["zstd_1_file"] = size / len(subprocess.run(["zstd", "-1", "-c", path], capture_output=True, check=True).stdout)
        pages = os.path.join(work, "pages")
        os.mkdir(pages)
        subprocess.run(["split", "-b", "4096", "-a", "5", path, os.path.join(pages, "p")], check=True)
        files = sorted(os.path.join(pages, x) for x in os.listdir(pages))
        files = files[:-1] or files  # the last piece is short
        orig = sum(os.path.getsize(x) for x in files)
        lz = zs = 0
        for k in range(0, len(files), 500):
            part = files[k:k + 500]
            subprocess.run(["lz4", "-1", "-q", "-m", "--no-frame-crc"] + part, check=True)
            subprocess.run(["zstd", "-1", "-q", "--no-check"] + part, check=True)
            lz += sum(os.path.getsize(x + ".lz4") for x in part)
            zs += sum(os.path.getsize(x + ".zst") for x in part)
            for x in part:
                os.unlink(x + ".lz4")
                os.unlink(x + ".zst")
        res["lz4_1_4k"] = orig / lz
        res["zstd_1_4k"] = orig / zs
        if a.json:
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items()}))
        else:
            print("sample: %.1f MiB of values (%d keys, seed %d)" % (size / 2**20, i, a.seed))
            print("lz4 -1 : %.2fx whole file, %.2fx per 4 KiB piece" % (res["lz4_1_file"], res["lz4_1_4k"]))
            print("zstd -1: %.2fx whole file, %.2fx per 4 KiB piece" % (res["zstd_1_file"], res["zstd_1_4k"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cmd_show(a):
    for i in range(a.keys):
        typ, key, v = model(a.seed, i)
        print("%-7s %-14s %s" % (typ, key, v if isinstance(v, str) else dumps(v)))
        print()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn in [("resp", cmd_resp), ("memcached", cmd_memcached), ("sample", cmd_sample),
                     ("mc-load", cmd_mc_load), ("mc-verify", cmd_mc_verify), ("keys", cmd_keys),
                     ("ratio", cmd_ratio), ("show", cmd_show)]:
        s = sub.add_parser(name)
        s.set_defaults(fn=fn)
        s.add_argument("--seed", type=int, default=1)
        if name == "keys":
            s.add_argument("--size", default="1G")
        elif name == "ratio":
            s.add_argument("--sample", default="16M")
            s.add_argument("--json", action="store_true")
        else:
            s.add_argument("--keys", type=int, required=True)
        if name.startswith("mc-"):
            s.add_argument("--port", type=int, required=True)
            s.add_argument("--from", dest="from_file", metavar="FILE",
                           help="the stream `records.py memcached` wrote, instead of regenerating")
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
