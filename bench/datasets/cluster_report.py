#!/usr/bin/python3
"""The report of bench/cluster.sh: cluster.csv (a row per node and a total row per run)
into Markdown, printed and written.

  cluster_report.py CSV OUT.md key=value...   (the run's description: command, date, ...)
"""
import csv
import sys

MIB = 1 << 20


def v(r, k):
    x = (r or {}).get(k, "")
    return x if x not in ("", None) else None


def mib(x):
    return "%.1f" % (int(x) / MIB) if x is not None else "—"


def ratio(a, b, fmt="%.2f"):
    try:
        return fmt % (float(a) / float(b))
    except (TypeError, ValueError, ZeroDivisionError):
        return "—"


def saved(plain, tmc):
    try:
        p, t = int(plain), int(tmc)
        return "%.1f (%.0f%%)" % ((p - t) / MIB, 100.0 * (p - t) / p)
    except (TypeError, ValueError, ZeroDivisionError):
        return "—"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main():
    csv_path, out_path = sys.argv[1], sys.argv[2]
    m = dict(p.partition("=")[::2] for p in sys.argv[3:])
    rows = list(csv.DictReader(open(csv_path)))
    get = {(r["system"], r["mode"], r["node"]): r for r in rows}
    md = ["# Redis Cluster and memcached pool under libtmc", ""]
    md.append("Made by `bench/cluster.sh`. Command: `%s`" % m.get("command", ""))
    md.append("")
    md.append("- Date: %s; libtmc from %s; the whole run took %.1f min" % (
        m.get("date"), m.get("commit"), int(m.get("duration_s", "0")) / 60))
    md.append("- Machine: %s" % m.get("machine"))
    md.append("- Load average (1, 5, 15 min): %s at the start, %s at the end; the 1-min value at the end of "
              "each timed load is in the throughput tables. Other jobs ran on this machine at the same "
              "time: throughput and latency are only comparable between runs of similar load." % (
                  m.get("loadavg_start"), m.get("loadavg_end")))
    md.append("- Servers: %s; %s. Clients: %s, run by Debian's python3." % (m.get("redis"), m.get("memcached"), m.get("clients")))
    md.append("- libtmc: %s" % m.get("libtmc"))
    md.append("- Dataset: %s keys (%s of values%s, seed %s) of bench/datasets/records.py: strings, hashes and "
              "lists of JSON records, text, series and session blobs; memcached gets the same values as "
              "strings." % (m.get("keys"), m.get("size") or "--keys", "" if not m.get("size") else " in total", m.get("seed")))
    md.append("- libtmc runs: every node under `LD_PRELOAD=libtmc.so TMC_COLD_AGE=%s` (other settings at their "
              "defaults); *once cold* is when evictions and RSS stopped moving on every node (or %s)." % (
                  m.get("cold_age"), "the timeout"))
    md.append("- Timed load: %s s, %s client processes, batches of %s requests, Zipf(%s) key popularity over every "
              "key, %s reads (GET, HGETALL, LRANGE; memcached get_many), the rest writes of a new value of the "
              "key (SET, DEL+HSET, DEL+RPUSH; memcached set_many). Every value read is checked against the "
              "version last written. Latency is the round trip of a batch, counted for each of its requests; "
              "the client (Python) is the bottleneck, so ops/s shows slowdowns of the servers only in part, "
              "p99 more directly." % (m.get("load_seconds"), m.get("procs"), m.get("pipeline"), m.get("zipf"), m.get("reads")))
    md.append("- RSS is VmRSS of each server process from /proc (libtmc's pool and its own memory are in it).")
    md.append("")
    console = []
    for system, title in (("redis", "Redis Cluster, three masters"), ("memcached", "memcached pool, three nodes")):
        if not any(r["system"] == system for r in rows):
            continue
        md += ["## " + title, ""]
        head = ["node", "keys", "plain RSS loaded (MiB)", "libtmc RSS once cold (MiB)", "libtmc / plain",
                "saved MiB", "plain RSS after the load (MiB)", "libtmc RSS after the load (MiB)", "libtmc / plain",
                "libtmc mean / max RSS during the load (MiB)", "compressed: pages, MiB before → blobs, pool MiB"]
        body = []
        for node in ("n1", "n2", "n3", "total"):
            p = get.get((system, "plain", node))
            t = get.get((system, "libtmc", node))
            body.append([
                "**total**" if node == "total" else node,
                v(p, "keys") or v(t, "keys") or "—",
                mib(v(p, "rss_cold")), mib(v(t, "rss_cold")), ratio(v(t, "rss_cold"), v(p, "rss_cold")),
                saved(v(p, "rss_cold"), v(t, "rss_cold")),
                mib(v(p, "rss_after")), mib(v(t, "rss_after")), ratio(v(t, "rss_after"), v(p, "rss_after")),
                "%s / %s" % (mib(v(t, "rss_run_mean")), mib(v(t, "rss_run_max"))),
                "%s, %s → %s, %s" % (v(t, "compressed_pages") or "—", mib(v(t, "orig_bytes")),
                                     mib(v(t, "compr_bytes")), mib(v(t, "pool_bytes"))),
            ])
        md += [table(head, body), ""]
        console.append((title, head, body))
        head2 = ["run", "ops/s", "vs plain", "p50 ms", "p99 ms", "p99 vs plain", "reads (wrong, missing)",
                 "writes", "libtmc faults in the load", "every key read back (equal, wrong, missing)",
                 "DEBUG DIGEST per node" if system == "redis" else "memcached evictions",
                 "load avg at the end", "status"]
        body2 = []
        pt = get.get((system, "plain", "total"))
        for mode in ("plain", "libtmc"):
            t = get.get((system, mode, "total"))
            if t is None:
                continue
            if system == "redis":
                nodes = [get.get((system, mode, n)) for n in ("n1", "n2", "n3")]
                if mode == "plain":
                    dg = "equal after load and reset" if all(v(n, "digest_reset") and v(n, "digest_reset") == v(n, "digest_load") for n in nodes) else "—"
                else:
                    oks = [v(n, "digest_plain_ok") for n in nodes]
                    dg = "equal to plain's" if oks == ["yes"] * 3 else ", ".join(o or "—" for o in oks)
            else:
                dg = v(t, "mc_evictions") or "—"
            body2.append([
                mode, v(t, "ops_per_s") or "—", ratio(v(t, "ops_per_s"), v(pt, "ops_per_s")) if mode != "plain" else "1",
                v(t, "p50_ms") or "—", v(t, "p99_ms") or "—",
                ratio(v(t, "p99_ms"), v(pt, "p99_ms")) if mode != "plain" else "1",
                "%s (%s, %s)" % (v(t, "reads") or "—", v(t, "mismatches") or "—", v(t, "missing") or "—"),
                v(t, "writes") or "—", v(t, "faults_run") or ("—" if mode == "libtmc" else "n/a"),
                "%s, %s, %s" % (v(t, "check_equal") or "—", v(t, "check_wrong") or "—", v(t, "check_missing") or "—"),
                dg, v(t, "loadavg") or "—", v(t, "status") or "—",
            ])
        md += [table(head2, body2), ""]
        console.append(("", head2, body2))
        lt = [get.get((system, "libtmc", n)) for n in ("n1", "n2", "n3")]
        if any(lt):
            md.append("libtmc per node: settled %s; self_faults %s; 'libtmc: bug' log lines %s." % (
                ", ".join("%s after %s s" % (v(n, "settled") or "—", v(n, "settle_s") or "—") for n in lt),
                "/".join(v(n, "self_faults") or "—" for n in lt), "/".join(v(n, "bug_lines") or "—" for n in lt)))
            md.append("")
    md += ["The raw numbers, a row per node and one per run's total, are in `cluster.csv`.", ""]
    open(out_path, "w").write("\n".join(md))
    for title, head, body in console:
        if title:
            print("\n" + title)
        w = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        for r in [head] + body:
            print("  ".join(str(c).ljust(n) for c, n in zip(r, w)))


if __name__ == "__main__":
    main()
