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
NAMES = {"plain": "plain", "tmc-default": "libtmc (default)", "tmc-tuned": "libtmc (tuned)",
         "zram": "cgroup + zram", "zswap": "cgroup + zswap", "tmc": "libtmc", "zram@": "cgroup + zram"}
COLORS = {"plain": "#444444", "tmc-default": "#1f77b4", "tmc-tuned": "#2ca02c", "zram": "#d62728",
          "zswap": "#ff7f0e", "tmc": "#2ca02c"}


def frontier_point(scen):
    """("tmc" | "zram", P) for the frontier's scenarios tmc@P / zram@P, else None."""
    if "@" not in scen:
        return None
    base, pct = scen.split("@", 1)
    return base, int(pct)


def label(scen):
    f = frontier_point(scen)
    return NAMES[scen] if not f else "%s at %d%% of plain" % (NAMES[f[0] if f[0] == "tmc" else "zram@"], f[1])


def color(scen):
    f = frontier_point(scen)
    return COLORS[f[0] if f else scen]


def order_key(scen):
    f = frontier_point(scen)
    return (len(ORDER), -f[1], f[0]) if f else (ORDER.index(scen), 0, "")


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
    return [(s, by[s]) for s in sorted(by, key=order_key)]


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


def frontier(rows, server):
    """The frontier's points: {P: {"tmc": summary, "zram": summary}} from tmc@P / zram@P."""
    pts = {}
    for m in summary(rows, server):
        f = frontier_point(m["scenario"])
        if f:
            pts.setdefault(f[1], {})[f[0]] = m
    return dict(sorted(pts.items(), reverse=True))


def goal_verdict(t, z, plain_ops):
    """Issue goal at one point: libtmc's throughput at least 1.5x zram's, or 0.95x plain's if
    that is lower, and its p99 no higher than zram's."""
    if not plain_ops:
        return "-"
    need = min(1.5 * z["ops_per_s"], 0.95 * plain_ops)
    ok_ops, ok_p99 = t["ops_per_s"] >= need, t["p99_us"] <= z["p99_us"]
    return "%s (needs %.0f ops/s%s)" % ("**met**" if ok_ops and ok_p99 else "missed", need,
                                          "" if ok_p99 else "; p99 above zram's")


def frontier_markdown(rows, server):
    pts = frontier(rows, server)
    if not pts:
        return []
    plain = [r for r in rows if r["server"] == server and r["scenario"] == "plain" and r["status"] == "ok"]
    p_ops = med(plain, "ops_per_s")
    L = ["", "### %s: the frontier (libtmc's target against zram held to the same memory)" % server, "",
         "| share of plain's memory | libtmc memory MiB (x plain) | libtmc ops/s (x plain) | libtmc p99 us "
         "| libtmc faults per request | zram memory MiB (x plain) | zram ops/s (x plain) | zram p99 us "
         "| zram swap-ins per request | libtmc / zram ops/s | libtmc / zram p99 | goal | reached |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def per_request(m, key):
        xs = [num(r, key) / num(r, "run_ops") for r in rows if r["server"] == server and
              r["scenario"] == m["scenario"] and r["status"] == "ok" and num(r, key) is not None and num(r, "run_ops")]
        return "%.3f" % statistics.median(xs) if xs else "-"

    def side(m, key):
        if not m:
            return ["not run"] * 4
        if "note" in m:
            return [m["note"], "", "", ""]
        return ["%s (x%s)" % (mib(m["mem_run_mean"]), m["mem_ratio"]), "%s (x%s)" % (fmt(m["ops_per_s"]), m["ops_ratio"]),
                fmt(m["p99_us"]), per_request(m, key)]

    for pct, sides in pts.items():
        t, z = sides.get("tmc"), sides.get("zram")
        both = t and z and "note" not in t and "note" not in z
        reached = []
        for name, m in (("libtmc", t), ("zram", z)):
            if m and "note" not in m:
                st = [r.get("settled", "") for r in rows if r["server"] == server and r["scenario"] == m["scenario"]
                      and r["status"] == "ok"]
                reached.append("%s: %s" % (name, "; ".join(sorted(set(st))) or "-"))
        L.append("| %d%% | %s | %s | %s | %s | %s | %s |" % (
            pct, " | ".join(side(t, "faults_run")), " | ".join(side(z, "swapins_run")),
            ratio(t["ops_per_s"], z["ops_per_s"]) if both else "-", ratio(t["p99_us"], z["p99_us"]) if both else "-",
            goal_verdict(t, z, p_ops) if both else "-", "; ".join(reached) or "-"))
    L.append("")
    L.append("Memory is the mean over the timed load (VmRSS for libtmc; the cgroup's charge plus zram's "
             "`mem_used_total` for zram). Goal at each point: libtmc's ops/s at least 1.5x zram's, or 0.95x "
             "plain's where that is lower, and its p99 no higher than zram's.")
    L.append("")
    L.append("![frontier](compare_frontier.png)")
    return L


def series_markdown(out, rows, server):
    """Each run's timed load as 10-second means of ops/s and memory (compare_runs/*.series.csv
    has every second, warm-up included)."""
    L = []
    for r in rows:
        if r["server"] != server or r["status"] != "ok":
            continue
        path = os.path.join(out, "compare_runs", "%s-%s-%s.series.csv" % (server, r["scenario"], r["rep"]))
        try:
            pts = [x for x in csv.DictReader(open(path)) if x["phase"] == "run"]
        except OSError:
            continue
        if not pts:
            continue
        cells = []
        for i in range(0, len(pts), 10):
            chunk = pts[i:i + 10]
            ops = statistics.mean(float(x["ops"]) for x in chunk) / 1000
            mem = [float(x["mem_mib"]) for x in chunk if x["mem_mib"]]
            cells.append("%.1fk/%s" % (ops, "%.0f" % statistics.mean(mem) if mem else "-"))
        L.append("- %s rep %s (warm-up %s s, flat: %s): %s" % (r["scenario"], r["rep"], r.get("warmup_s") or "0",
                                                           r.get("steady") or "-", ", ".join(cells)))
    if L:
        L = ["", "### %s: the timed loads second by second" % server, "",
             "Ops/s (thousands) / memory (MiB), each the mean of 10 seconds of the timed load; every second, "
             "warm-up included, in `compare_runs/%s-*.series.csv`." % server, ""] + L
    return L


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
    warm = ("after a warm-up of 15 s rounds of the same load until ops/s moved by less than 5%% and memory "
            "by less than 1%% from one round to the next (at most %s)" % meta["steady"] if meta.get("steady")
            else "the first %s left out" % meta["warmup"])
    L.append("Load: %s timed (%s), `--dist %s`, %s reads, %d client thread(s) x %d "
             "connections, pipeline %d; every value read is checked against what was written. "
             "%d repetition(s), scenarios interleaved; the numbers are medians over the repetitions." % (
                 meta["duration"], warm, meta["dist"], meta["reads"], meta["threads"], meta["conns"],
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
                L.append("| %s | %s | %s | | | | | | | | |" % (label(m["scenario"]), m["runs"], m["note"]))
                continue
            ev = "faults_run" if m["scenario"].startswith("tmc") else "swapins_run" if m["scenario"] != "plain" else None
            ev = m[ev] if ev else None
            if m["scenario"] == "zswap" and not ev:
                ev = "not counted"  # runs made before zswap loads (zswpin) were added to pswpin
            L.append("| %s | %s | %s (x%s) | %s (x%s) | %s (x%s) | %s | %s (x%s) | %s | %s | %s | %s |" % (
                label(m["scenario"]), m["runs"], mib(m["mem_cold"]), m["cold_ratio"], mib(m["mem_run_mean"]),
                m["mem_ratio"], fmt(m["ops_per_s"]), m["ops_ratio"], fmt(m["p50_us"], "%.0f"),
                fmt(m["p99_us"], "%.0f"), m["p99_ratio"], fmt(m["p999_us"], "%.0f"),
                ev if isinstance(ev, str) else fmt(ev),
                m["checks"], m["env"] or "-"))
        L += frontier_markdown(rows, server)
        L += series_markdown(out, rows, server)
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
        ax.scatter(xs, ys, color=color(scen), alpha=0.35, s=18)
        ax.scatter([statistics.median(xs)], [statistics.median(ys)], color=color(scen), s=90,
                   label=label(scen), edgecolor="black")
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
        ax.plot([v for v, _ in pts], [1 / (1 - q) for _, q in pts], color=color(scen), label=label(scen))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_yticks([2, 10, 100, 1000, 10000])
    ax.set_yticklabels(["p50", "p90", "p99", "p99.9", "p99.99"])
    ax.set_xlabel("latency (us)")
    ax.set_ylabel("percentile")
    ax.set_title("%s: latency percentiles (median run)" % server)
    ax.grid(alpha=0.3, which="both")


def draw_frontier(axes, rows, server):
    """Throughput and p99 against memory: libtmc's and zram's frontier lines, plain a point."""
    pts = frontier(rows, server)
    plain = [r for r in rows if r["server"] == server and r["scenario"] == "plain" and r["status"] == "ok"]
    for ax, key, scale, ylabel in ((axes[0], "ops_per_s", 1e-3, "throughput (thousand ops/s)"),
                                   (axes[1], "p99_us", 1e-3, "p99 latency (ms)")):
        for base, name in (("tmc", "libtmc (TMC_TARGET)"), ("zram", "cgroup + zram (lz4)")):
            ms = [(p, s[base]) for p, s in pts.items() if base in s and "note" not in s[base]]
            ms.sort(key=lambda x: x[1]["mem_run_mean"])
            if not ms:
                continue
            xs = [m["mem_run_mean"] / 2**20 for _, m in ms]
            ys = [m[key] * scale for _, m in ms]
            ax.plot(xs, ys, "o-", color=COLORS[base], label=name)
            for (p, _), x, y in zip(ms, xs, ys):
                ax.annotate("%d%%" % p, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
            for p, m in ms:  # every run, faint
                for r in rows:
                    if r["server"] == server and r["scenario"] == m["scenario"] and r["status"] == "ok":
                        ax.scatter([num(r, "mem_run_mean") / 2**20], [num(r, key) * scale], color=COLORS[base],
                                   alpha=0.3, s=12)
        if plain:
            ax.scatter([med(plain, "mem_run_mean") / 2**20], [med(plain, key) * scale], color=COLORS["plain"],
                       s=70, marker="s", label="plain")
        ax.set_xlabel("memory during the load (MiB)")
        ax.set_ylabel(ylabel)
        ax.set_xlim(left=0)
        if key == "p99_us":
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.set_title("%s: %s against memory" % (server, "throughput" if key == "ops_per_s" else "p99"))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)


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
    fronts = [s for s in servers if frontier(rows, s)]
    if fronts:
        fig, axes = plt.subplots(len(fronts), 2, figsize=(13, 4.8 * len(fronts)), squeeze=False)
        for row, server in zip(axes, fronts):
            draw_frontier(row, rows, server)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "compare_frontier.png"), dpi=110)
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
