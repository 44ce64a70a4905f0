#!/usr/bin/python3
"""Tables for bench/redis_compress.sh and bench/memcached_compress.sh.

  compress_report.py meta OUT.json RATIO.json key=value...   the run's description as JSON
  compress_report.py redis CSV META.json OUT.md               prints the table, writes Markdown
  compress_report.py memcached CSV META.json OUT.md
"""
import csv
import json
import os
import sys

MIB = 1 << 20


def mib(x):
    return "%.1f MiB" % (int(x) / MIB) if x not in ("", None) else "—"


def num(x, fmt="%s"):
    return fmt % x if x not in ("", None) else "—"


def pct(x):
    return x + "%" if x not in ("", None) else "—"


def secs(x):
    return x + " s" if x not in ("", None) else "—"


def cpu(ns):
    return "%.1f s" % (int(ns) / 1e9) if ns not in ("", None) else "—"


def ok_word(x):
    return {"yes": "equal", "no": "**DIFFERENT**"}.get(x, "not reached")


def failed(r):
    return r.get("status", "ok") != "ok"


def run_name(r):
    return r["run"] + (" (FAILED)" if failed(r) else "")


def ratio(a, b):
    try:
        return "%.2f" % (int(a) / int(b))
    except (ValueError, ZeroDivisionError):
        return "—"


def us(ns):
    return "%.1f µs" % (int(ns) / 1000) if ns not in ("", None) else "—"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def console(head, rows):
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(str(c).ljust(n) for c, n in zip(r, w))
    return "\n".join([line(head), line(["-" * n for n in w])] + [line(r) for r in rows])


def meta_cmd(out, ratio_path, pairs):
    m = {}
    for p in pairs:
        k, _, v = p.partition("=")
        m[k] = v
    m["ratio"] = json.load(open(ratio_path))
    # The device's own 4 KiB pread latency (--file-age), kept in the metadata so that the
    # Markdown can be rendered again from the CSV and this file alone.
    if m.get("pread_json"):
        m["pread"] = json.load(open(m.pop("pread_json")))
    m.pop("pread_json", None)
    json.dump(m, open(out, "w"), indent=1)


def header(m, title, what):
    r = m["ratio"]
    lines = [
        "# " + title, "",
        "Produced by:", "", "```", m["command"], "```", "",
        "- Date: %s; the whole run took %.1f min" % (m["date"], int(m["duration_s"]) / 60),
        "- Machine: %s" % m["machine"],
        "- Server: %s" % m["server"],
        "- libtmc: %s" % m["libtmc"],
        "- Dataset: `bench/datasets/records.py` seed %s, %s keys (%s), %s of %s; values 100 B – 4 KiB: "
        "JSON users/orders/events, English-like text, numeric series, session blobs with base64 tokens"
        % (m["seed"], m["keys"], ("--size %s" % m["size"]) if m.get("size") else "--keys", mib(m["input_bytes"]), what),
        "- Compressibility of the values alone (16 MiB sample, Debian's lz4/zstd CLI): lz4 -1 %.2fx on the "
        "whole sample, %.2fx on each 4 KiB piece alone; zstd -1 %.2fx whole, %.2fx per 4 KiB piece (frame "
        "headers included)" % (r["lz4_1_file"], r["lz4_1_4k"], r["zstd_1_file"], r["zstd_1_4k"]),
        "- libtmc runs: `TMC_COLD_AGE=%s`, `TMC_CODEC=lz4` / `TMC_CODEC=zstd TMC_ZSTD_LEVEL=%s`%s%s, every other "
        "option at its default" % (m["cold_age"], m["zstd_level"],
                                   ", `TMC_DEEP_AGE=%s TMC_DEEP_LEVEL=%s`" % (m["deep_age"], m.get("deep_level", "6"))
                                   if m.get("deep_age", "0") != "0" else "",
                                   ", `TMC_FILE_AGE=%s`" % m["file_age"] if m.get("file_age", "0") != "0" else ""), "",
    ]
    return lines


def memory_tables(rows, plain):
    mem = []
    for r in rows:
        if r["run"] == "plain":
            mem.append(["plain", mib(r["rss_peak"]), mib(r["rss_load"]), "—", "—", "100%", "—"])
        else:
            goal = "≤ %s%%: %s" % (r["goal_pct"], {"yes": "**met**", "no": "**not met**"}.get(r["goal_met"], "not measured"))
            mem.append([run_name(r), mib(r["rss_peak"]), mib(r["rss_load"]), mib(r["rss_after"]),
                        pct(r["after_peak_pct"]), pct(r["after_plain_pct"]), goal])
    mem_head = ["run", "peak after load (VmHWM)", "RSS at end of load", "RSS once cold", "cold / peak after load",
                "cold / plain RSS", "goal (cold / peak)"]
    comp = []
    for r in rows:
        if r["run"] == "plain":
            continue
        bugs = "%s / %s" % (num(r.get("self_faults")), num(r.get("libtmc_bug_lines")))
        if r["compressed_pages"] == "":
            comp.append([run_name(r)] + ["—"] * 13 + [bugs])
            continue
        comp.append([run_name(r), r["compressed_pages"], mib(r["orig_bytes"]), mib(r["compr_bytes"]),
                     mib(r["pool_bytes"]), ratio(r["orig_bytes"], r["compr_bytes"]),
                     ratio(r["orig_bytes"], r["pool_bytes"]), r["zero_pages"], r["evictions"], r["faults"],
                     r["refaults"], "%s / %s" % (us(r["fault_ns_p50"]), us(r["fault_ns_p99"])),
                     cpu(r["cpu_ns_background"]), "%s after %s s" % (r["settled"], r["settle_s"]), bugs])
    comp_head = ["run", "pages compressed", "original", "blobs", "pool", "ratio (orig / blobs)",
                 "orig / pool", "zero pages", "evictions", "faults", "refaults", "fault p50 / p99",
                 "libtmc CPU", "settled", "self_faults / 'libtmc: bug' log lines"]
    return mem_head, mem, comp_head, comp


def failures_section(rows, md_path):
    """Each failed run: its reason and, where the script saved one, the diagnosis."""
    out = []
    bad = [r for r in rows if failed(r)]
    if not bad:
        return out
    out += ["## Failures", ""]
    base = md_path[:-3] if md_path.endswith(".md") else md_path
    for r in bad:
        out += ["- **%s**: %s" % (r["run"], r["status"])]
        for suffix in (".bgsave-stuck.txt",):
            path = "%s.%s%s" % (base, r["run"], suffix)
            if os.path.exists(path):
                out += ["", "  Diagnosis (`%s`):" % os.path.basename(path), "", "  ```"]
                out += ["  " + ln for ln in open(path).read().splitlines()[:40]]
                out += ["  ```"]
    out += [""]
    return out


def redis_cmd(csv_path, meta_path, md_path):
    rows = list(csv.DictReader(open(csv_path)))
    m = json.load(open(meta_path))
    plain = next(r for r in rows if r["run"] == "plain")
    mem_head, mem, comp_head, comp = memory_tables(rows, plain)
    dig_head = ["run", "after load", "once cold", "BGSAVE, restart from RDB", "DEBUG RELOAD"]
    dig = [[run_name(r), ok_word(r["digest_load_ok"]), ok_word(r["digest_cold_ok"]), ok_word(r["digest_restart_ok"]),
            ok_word(r["digest_reload_ok"])] for r in rows if r["run"] != "plain"]
    time_head = ["run", "load", "DEBUG DIGEST (hot)", "DEBUG DIGEST once cold", "faults during it",
                 "BGSAVE", "restart from RDB"]
    tim = [["plain", secs(plain["load_s"]), secs(plain["digest_s"]), "—", "—", "—", "—"]]
    tim += [[run_name(r), secs(r["load_s"]), secs(r["digest_s"]), secs(r["digest_cold_s"]), num(r["faults_digest"]),
             secs(r["bgsave_s"]), secs(r["restart_s"])] for r in rows if r["run"] != "plain"]
    md = header(m, "Redis under libtmc: resident memory once the data is cold",
                "RESP (`redis-cli --pipe`: SET strings, HSET hashes, RPUSH lists)")
    md += ["## Resident memory", "", table(mem_head, mem), "",
           "Plain redis-server: RSS %s after the load; `used_memory` %s (Redis's own count)."
           % (mib(plain["rss_after"]), mib(plain["used_memory"])), "",
           "## Compression (tmcctl stats once settled)", "", table(comp_head, comp), ""]
    deep = [r for r in rows if r["run"] != "plain" and r.get("deep_pages")]
    if deep:
        md += ["## Recompression of idle blobs (`TMC_DEEP_AGE=%s`, zstd -%s, 512 KiB dictionary)" % (m.get("deep_age"), m.get("deep_level", "6")), "",
               table(["run", "pages with deep blobs", "of pages compressed", "bytes saved", "deep dictionary",
                      "CPU of recompression"],
                     [[run_name(r), num(r["deep_pages"]),
                       pct("%.1f" % (100.0 * int(r["deep_pages"]) / max(1, int(r["compressed_pages"])))),
                       mib(r["deep_saved_bytes"]), mib(r["deep_dict_bytes"]), cpu(r["cpu_ns_deep"])] for r in deep]),
               "", "Recompression has settled once a whole sweep over the heap found fewer than max(256, 1% of "
               "the compressed pages) to recompress (`deep_sweep_candidates`); *libtmc CPU* above includes it.", ""]
    filed = [r for r in rows if r["run"] != "plain" and r.get("file_blobs")]
    if filed:
        dev = m.get("pread", {})
        dev50, dev99 = dev.get("p50_ns"), dev.get("p99_ns")
        vs = lambda ns, base: ("%.2fx" % (int(ns) / int(base))) if ns not in ("", None) and base else "—"
        md += ["## File tier (`TMC_FILE_AGE=%s`)" % m.get("file_age"), "",
               table(["run", "blobs in the file", "blob bytes there", "disk used", "blobs left in memory",
                      "pool once settled", "faults from the file (cold digest)", "fault from the file p50 / p99",
                      "x device pread p50 / p99", "errors", "CPU of the moves"],
                     [[run_name(r), num(r["file_blobs"]), mib(r["file_bytes"]), mib(r["file_disk_bytes"]),
                       num(int(r["compressed_pages"]) - int(r["file_blobs"])), mib(r["pool_bytes"]),
                       num(r["file_reads_digest"]),
                       "%s / %s" % (us(r["file_fault_ns_p50"]), us(r["file_fault_ns_p99"])),
                       "%s / %s" % (vs(r["file_fault_ns_p50"], dev50), vs(r["file_fault_ns_p99"], dev99)),
                       num(r["file_errors"]), cpu(r["cpu_ns_file"])] for r in filed]), "",
               "The device's own latency: %s 4 KiB `pread`s at random offsets of a 256 MiB file in the same "
               "directory, each out of the page cache: p50 %s, p99 %s. A fault from the file is the whole "
               "fault (the fault thread's read, decode and install), measured by libtmc "
               "(`file_fault_ns_p50/p99`) over every fault that read its blob from the file." %
               (dev.get("reads", "—"), us(dev50) if dev50 else "—", us(dev99) if dev99 else "—"), ""]
    md += ["## Data (DEBUG DIGEST, compared with the plain run's `%s`)" % plain["digest"], "",
           table(dig_head, dig), "",
           "## Time", "", table(time_head, tim), ""]
    md += failures_section(rows, md_path)
    md += ["## How it is measured", "",
           "- One server at a time on 127.0.0.1, `--save \"\" --appendonly no --enable-debug-command local`; "
           "the same RESP file is loaded into each with `redis-cli --pipe` (no errors, DBSIZE checked).",
           "- *Peak after load* is the server's VmHWM right after the load, the base of *cold / peak*; "
           "under libtmc, pages already cold during a long load are compressed before it ends, so it can be "
           "lower than the plain RSS (*cold / plain RSS* compares with the plain run). *RSS once cold* is "
           "VmRSS when compression has settled: `tmcctl stats` polled every 5 s, at least the cold age + "
           "10 s after the load, until RSS moved (down or up) by less than max(4 MiB, 0.5% of peak) and "
           "evictions and faults each grew by less than max(256, 1% of the compressed pages) over 20 s "
           "(*quiet*), or RSS stayed that flat for "
           "60 s while pages kept cycling (*cycling*), or the timeout passed (*timeout*). VmRSS includes "
           "libtmc's pool: it is the whole cost.",
           "- *self_faults* (tmcctl, once settled) counts faults libtmc's own threads took on managed memory, "
           "and *'libtmc: bug' log lines* the lines libtmc wrote about such a bug in the servers' logs: "
           "both should be 0.",
           "- The digest once cold is taken after the RSS reading; it reads every value, so every "
           "compressed page faults back (the fault count and time of that digest are in the last table).",
           "- Goals from the issue: RSS once cold at most 60% of peak with lz4, at most 45% with zstd.", ""]
    open(md_path, "w").write("\n".join(md))
    print(console(mem_head, mem))
    print()
    print(console(comp_head, comp))
    print()
    print(console(time_head, tim))
    print()
    print(console(dig_head, dig))
    for r in rows:
        if failed(r):
            print("%s: %s" % (r["run"], r["status"]))


def memcached_cmd(csv_path, meta_path, md_path):
    rows = list(csv.DictReader(open(csv_path)))
    m = json.load(open(meta_path))
    plain = next(r for r in rows if r["run"] == "plain")
    mem_head, mem, comp_head, comp = memory_tables(rows, plain)
    ver_head = ["run", "values read back", "equal", "missing", "wrong", "read-back time",
                "faults during it", "memcached evictions", "curr_items"]
    ver = [[run_name(r), r["keys"], num(r["verify_ok"]), num(r["verify_missing"]), num(r["verify_wrong"]),
            secs(r["verify_s"]), num(r["faults_verify"]), num(r["mc_evictions"]), num(r["curr_items"])] for r in rows]
    time_head = ["run", "load", "faults while cold (before the read-back)"]
    tim = [[run_name(r), secs(r["load_s"]), num(r["faults"])] for r in rows]
    md = header(m, "memcached under libtmc: resident memory once the data is cold",
                "memcached text protocol (`set` of each value, pipelined)")
    md += ["- memcached: `%s`" % m["mc_args"], "",
           "## Resident memory", "", table(mem_head, mem), "",
           "## Compression (tmcctl stats once settled)", "", table(comp_head, comp), "",
           "## Every value read back and compared with what was written", "", table(ver_head, ver), "",
           "## Time", "", table(time_head, tim), ""]
    md += failures_section(rows, md_path)
    md += ["## How it is measured", "",
           "- One memcached at a time on 127.0.0.1; the values are set by `records.py mc-load` (pipelined "
           "`set ... noreply`, then `version` to know all were read) from the stream `records.py memcached` "
           "generated once. After compression settled, `records.py mc-verify --from` reads every key back "
           "(multi-get of 100 keys at a time) and compares value and flags byte for byte with those in that "
           "stream, the bytes that were sent (without `--from` it regenerates them from the seed).",
           "- *Peak after load* is VmHWM right after the load, the base of *cold / peak*; *RSS once cold* is VmRSS when compression has settled (`tmcctl stats` "
           "polled every 5 s, at least the cold age + 10 s after the load, until RSS moved (down or up) by "
           "less than max(4 MiB, 0.5% of peak) and evictions and faults each grew by less than max(256, 1% "
           "of the compressed pages) over 20 s (*quiet*; memcached's LRU crawler, which walks every item "
           "about a minute after start, is not), or RSS stayed that flat for 60 s while pages kept cycling "
           "(*cycling*), or "
           "the timeout passed (*timeout*)). VmRSS includes libtmc's pool.",
           "- *self_faults* (tmcctl, once settled) counts faults libtmc's own threads took on managed memory, "
           "and *'libtmc: bug' log lines* the lines libtmc wrote about such a bug in memcached's log: both "
           "should be 0.",
           "- memcached's LRU maintainer and crawler threads walk items in the background; pages they touch "
           "fault back and count as *faults* here even with no client request.",
           "- Goals from the issue (set for Redis, applied here alike): RSS once cold at most 60% of peak "
           "with lz4, 45% with zstd.", ""]
    open(md_path, "w").write("\n".join(md))
    print(console(mem_head, mem))
    print()
    print(console(comp_head, comp))
    print()
    print(console(ver_head, ver))
    for r in rows:
        if failed(r):
            print("%s: %s" % (r["run"], r["status"]))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "meta" and len(sys.argv) >= 4:
        meta_cmd(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "redis" and len(sys.argv) == 5:
        redis_cmd(*sys.argv[2:])
    elif cmd == "memcached" and len(sys.argv) == 5:
        memcached_cmd(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
