#!/usr/bin/python3
"""Report of bench/compare_zram.sh: medians and ratios, a Markdown table and two plots.

  scripts/compare_report.py OUT_DIR

reads OUT_DIR/compare.csv (one row per run), OUT_DIR/compare.meta.json, the loadgen
reports OUT_DIR/compare_runs/*.json and, when present, OUT_DIR/compare.notes.md
(observations on the runs, included as they are); writes OUT_DIR/compare.md,
compare_memory_throughput.png (memory each run cost during the timed load against its
throughput) and compare_latency_cdf.png (the latency percentiles of the run with the
median throughput of each scenario). Needs Debian's python3-matplotlib for the plots; the
Markdown is written without it.
"""
import csv
import json
import os
import statistics
import sys

ORDER = ["plain", "tmc-default", "tmc-tuned", "zram", "zswap"]
LABEL = {"plain": "plain", "tmc-default": "libtmc (default)", "tmc-tuned": "libtmc (tuned)",
         "zram": "cgroup + zram", "zswap": "cgroup + zswap"}
COLOR = {"plain": "#444444", "tmc-default": "#1f77b4", "tmc-tuned": "#2ca02c", "zram": "#d62728",
         "zswap": "#ff7f0e"}


def num(row, key):
    try:
        return float(row.get(key, ""))
    except ValueError:
        return None


def mib(b):
    return "-" if b is None else "%.0f" % (b / 2**20)


def med(rows, key):
    xs = [num(r, key) for r in rows]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec="%.0f"):
    return "-" if x is None else spec % x


def ratio(a, b):
    return "-" if a is None or not b else "%.2f" % (a / b)


def scenario_rows(rows, server):
    by = {}
    for r in rows:
        if r["server"] == server:
            by.setdefault(r["scenario"], []).append(r)
    return [(s, by[s]) for s in ORDER if s in by]


def summary(rows, server):
    """Medians of the runs that passed, per scenario, with ratios to plain."""
    out = []
    plain = [r for r in rows if r["server"] == server and r["scenario"] == "plain" and r["status"] == "ok"]
    p_mem, p_ops, p_p99 = med(plain, "mem_run_mean"), med(plain, "ops_per_s"), med(plain, "p99_us")
    for scen, rs in scenario_rows(rows, server):
        ok = [r for r in rs if r["status"] == "ok"]
        skipped = [r for r in rs if r["status"].startswith("skipped")]
        if not ok:
            out.append({"scenario": scen, "runs": "0/%d" % len(rs),
                        "note": skipped[0]["status"] if skipped else rs[0]["status"]})
            continue
        m = {k: med(ok, k) for k in ("mem_cold", "mem_run_mean", "mem_run_max", "ops_per_s", "p50_us", "p99_us",
                                      "p999_us", "limit", "faults_run", "swapins_run", "client_cpu_pct")}
        m.update(scenario=scen, runs="%d/%d" % (len(ok), len(rs) - len(skipped)),
                 mem_ratio=ratio(m["mem_run_mean"], p_mem), cold_ratio=ratio(m["mem_cold"], med(plain, "mem_cold")),
                 ops_ratio=ratio(m["ops_per_s"], p_ops), p99_ratio=ratio(m["p99_us"], p_p99),
                 checks="all equal" if all(r["check_all_ok"] == "yes" and r["mismatches"] == "0" and
                                           r.get("digest_ok", "") in ("yes", "") for r in ok) else "MISMATCH",
                 env=ok[0].get("env", ""))
        out.append(m)
    return out


def markdown(out, meta, rows, servers):
    L = []
    L.append("# Redis and memcached: plain, libtmc, and the kernel's zram / zswap")
    L.append("")
    L.append("Made by:")
    L.append("")
    L.append("    " + meta["command"])
    L.append("")
    L.append("%s; %s; libtmc %s; %s; %s. cgroup %s." % (
        meta["date"], meta["machine"], meta["libtmc"], meta.get("redis", ""), meta.get("memcached", ""),
        meta.get("cgroup", "?")))
    L.append("")
    L.append("Dataset: %d keys (%s of values, %.0f B on average: JSON records, English-like text, numeric "
             "series, session blobs with tokens; Redis strings, hashes and lists) from `tmc_loadgen`. "
             "Compressibility of the values (16 MiB sample): lz4 %.2fx whole, %.2fx per 4 KiB; zstd -1 "
             "%.2fx whole, %.2fx per 4 KiB." % (
                 meta["keys"], meta.get("size") or "-", meta["mean_value_bytes"], meta["lz4_whole"],
                 meta["lz4_4k"], meta["zstd1_whole"], meta["zstd1_4k"]))
    L.append("")
    L.append("Load: %s timed (the first %s left out), `--dist %s`, %s reads, %d client thread(s) x %d "
             "connections, pipeline %d; every value read is checked against what was written. "
             "%d repetition(s), scenarios interleaved; the numbers are medians over the repetitions." % (
                 meta["duration"], meta["warmup"], meta["dist"], meta["reads"], meta["threads"], meta["conns"],
                 meta["pipeline"], meta["reps"]))
    L.append("")
    L.append("Memory is what the scenario really costs: VmRSS for plain and libtmc; for the cgroup runs "
             "the cgroup's charge plus zram's `mem_used_total`, or plus the zswap pool "
             "(`/proc/meminfo` Zswap; on cgroup v2 the pool is charged to the cgroup already). The cgroup "
             "limit is the memory libtmc (default) used once cold in the same repetition. zswap compressor: "
             "%s%s." % (meta.get("zswap_compressor", "?"),
                        " (this kernel's crypto API has no lz4)" if meta.get("zswap_compressor") != "lz4" else ""))
    if meta.get("quick"):
        L.append("")
        L.append("**Quick mode** (CI smoke run): a small dataset, one short repetition; tmc-default is not "
                 "run (its cold age is 2 minutes). These numbers only show that the harness works.")
    for k, v in sorted(meta.get("skipped", {}).items()):
        L.append("")
        L.append("Scenario **%s** was skipped: %s." % (k, v))
    for server in servers:
        L.append("")
        L.append("## %s" % server)
        L.append("")
        L.append("| scenario | runs ok | memory once cold MiB | memory during load MiB (x plain) | ops/s (x plain) "
                 "| p50 us | p99 us (x plain) | p99.9 us | faults / swap-ins in the load | data checks | set-up |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for m in summary(rows, server):
            if "note" in m:
                L.append("| %s | %s | %s | | | | | | | | |" % (LABEL[m["scenario"]], m["runs"], m["note"]))
                continue
            ev = {"tmc-default": "faults_run", "tmc-tuned": "faults_run", "zram": "swapins_run",
                  "zswap": "swapins_run"}.get(m["scenario"])
            ev = m[ev] if ev else None
            if m["scenario"] == "zswap" and not ev:
                ev = "not counted"  # runs made before zswap loads (zswpin) were added to pswpin
            L.append("| %s | %s | %s (x%s) | %s (x%s) | %s (x%s) | %s | %s (x%s) | %s | %s | %s | %s |" % (
                LABEL[m["scenario"]], m["runs"], mib(m["mem_cold"]), m["cold_ratio"], mib(m["mem_run_mean"]),
                m["mem_ratio"], fmt(m["ops_per_s"]), m["ops_ratio"], fmt(m["p50_us"], "%.0f"),
                fmt(m["p99_us"], "%.0f"), m["p99_ratio"], fmt(m["p999_us"], "%.0f"),
                ev if isinstance(ev, str) else fmt(ev),
                m["checks"], m["env"] or "-"))
    notes = os.path.join(out, "compare.notes.md")
    if os.path.exists(notes):  # observations on the runs, written after looking at them
        L.append("")
        L.append("## Notes on these runs")
        L.append("")
        L.append(open(notes).read().strip())
    L.append("")
    L.append("![memory against throughput](compare_memory_throughput.png)")
    L.append("![latency percentiles](compare_latency_cdf.png)")
    L.append("")
    L.append("## Every run")
    L.append("")
    L.append("| server | scenario | rep | status | memory cold MiB | during load MiB (max) | ops/s | p50 us | p99 us "
             "| p99.9 us | values checked | client CPU % | load avg |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        L.append("| %s | %s | %s | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s |" % (
            r["server"], r["scenario"], r["rep"], r["status"], mib(num(r, "mem_cold")), mib(num(r, "mem_run_mean")),
            mib(num(r, "mem_run_max")), fmt(num(r, "ops_per_s")), fmt(num(r, "p50_us")), fmt(num(r, "p99_us")),
            fmt(num(r, "p999_us")), r.get("checked", "") or "-", r.get("client_cpu_pct", "") or "-",
            r.get("loadavg", "") or "-"))
    L.append("")
    L.append("Client CPU is the load generator's share of one core during the timed load: well below 100% "
             "means the client was not the bottleneck. Raw data: `compare.csv`, `compare_runs/*.json` "
             "(latency CDF and ops per second of every run), `compare.meta.json`.")
    return "\n".join(L) + "\n"


def passed_runs(rows, server):
    """(scenario, its runs that passed) for each scenario with at least one."""
    for scen, rs in scenario_rows(rows, server):
        ok = [r for r in rs if r["status"] == "ok"]
        if ok:
            yield scen, ok


def draw_memory_throughput(ax, rows, server):
    for scen, ok in passed_runs(rows, server):
        xs = [num(r, "mem_run_mean") / 2**20 for r in ok]
        ys = [num(r, "ops_per_s") / 1000 for r in ok]
        ax.scatter(xs, ys, color=COLOR[scen], alpha=0.35, s=18)
        ax.scatter([statistics.median(xs)], [statistics.median(ys)], color=COLOR[scen], s=90,
                   label=LABEL[scen], edgecolor="black")
    ax.set_xlabel("memory during the load (MiB)")
    ax.set_ylabel("throughput (thousand ops/s)")
    ax.set_title("%s: memory and throughput (each run; large = median)" % server)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def draw_latency(ax, rows, server, out):
    for scen, ok in passed_runs(rows, server):
        ok.sort(key=lambda r: num(r, "ops_per_s"))
        r = ok[len(ok) // 2]  # the run with the median throughput
        path = os.path.join(out, "compare_runs", "%s-%s-%s.json" % (server, scen, r["rep"]))
        try:
            cdf = json.load(open(path))["phases"]["run"]["cdf_us"]
        except (OSError, KeyError, ValueError):
            continue
        # x: latency; y: 1 / (1 - fraction), so p50, p90, p99, p99.9 are evenly spaced.
        pts = [(v, q) for v, q in cdf if q < 1]
        ax.plot([v for v, _ in pts], [1 / (1 - q) for _, q in pts], color=COLOR[scen], label=LABEL[scen])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_yticks([2, 10, 100, 1000, 10000])
    ax.set_yticklabels(["p50", "p90", "p99", "p99.9", "p99.99"])
    ax.set_xlabel("latency (us)")
    ax.set_ylabel("percentile")
    ax.set_title("%s: latency percentiles (median run)" % server)
    ax.grid(alpha=0.3, which="both")


def plots(out, rows, servers):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("compare_report: matplotlib is not installed (python3-matplotlib): no plots", file=sys.stderr)
        return
    for name, draw in (("compare_memory_throughput.png", lambda ax, s: draw_memory_throughput(ax, rows, s)),
                       ("compare_latency_cdf.png", lambda ax, s: draw_latency(ax, rows, s, out))):
        fig, axes = plt.subplots(1, len(servers), figsize=(6.5 * len(servers), 4.8), squeeze=False)
        for ax, server in zip(axes[0], servers):
            draw(ax, server)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    meta = json.load(open(os.path.join(out, "compare.meta.json")))
    rows = list(csv.DictReader(open(os.path.join(out, "compare.csv"))))
    servers = list(dict.fromkeys(r["server"] for r in rows))
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(markdown(out, meta, rows, servers))
    plots(out, rows, servers)
    for server in servers:
        for m in summary(rows, server):
            if "note" in m:
                print("%-10s %-12s %s" % (server, m["scenario"], m["note"]))
            else:
                print("%-10s %-12s memory %s MiB (x%s)  %s ops/s (x%s)  p99 %s us (x%s)  %s" % (
                    server, m["scenario"], mib(m["mem_run_mean"]), m["mem_ratio"], fmt(m["ops_per_s"]),
                    m["ops_ratio"], fmt(m["p99_us"]), m["p99_ratio"], m["checks"]))


if __name__ == "__main__":
    main()
