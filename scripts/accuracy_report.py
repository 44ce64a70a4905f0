#!/usr/bin/env python3
"""Markdown report of bench/run_accuracy.sh: one bench_hotset JSON per run in (with the
options the run's libtmc reported, NAME.options.json beside it), one column per run out:
the three goals met or not, the details behind them, how the moved hot set was followed,
every libtmc statistic, and the data check."""
from hotset_report_lib import load_run, mib, num, options_section, parse_args, stats_section, table

GOALS = [
    # key in "goals", label, format, goal text
    ("cold_compressed", "cold pages compressed (not present in pagemap)", lambda v: "%.2f%%" % (v * 100), ">= 95%"),
    ("hot_fault_share", "hot accesses that faulted", lambda v: "%.4f%%" % (v * 100), "<= 0.1%"),
    ("background_cpu", "libtmc background CPU (of one core)", lambda v: "%.2f%%" % (v * 100), "<= 5%"),
]


def when(t):
    return "%.0f s" % t if t is not None and t >= 0 else "not within the run"


def main():
    args = parse_args()
    runs = [load_run(p, "accuracy_") for p in args.json]
    names = [r["name"] for r in runs]
    o = []
    o.append("# Cold-detection accuracy: a heap with a known hot set\n")
    o.append("Command: `%s`  " % args.command)
    o.append("Machine: %s; load average (1, 5, 15 min): %s  " % (args.machine, args.load))
    o.append("libtmc: %s\n" % args.source)
    s0 = runs[0]["setup"]
    o.append(
        "`bench/accuracy/hotset.cc` under `LD_PRELOAD=libtmc.so`: %s MiB malloc'd in %d KiB chunks, every page "
        "JSON-like records, English-like text or Redis-like heap slabs (all compressible; no zero or "
        "same-filled pages). %.4g%% of the pages (%s) are the hot set, touched by %d thread(s) at random "
        "(8 bytes at a random offset; a write stores the word's own value back, so every page can be "
        "checked at the end); the rest are written once and never touched again. The warm-up lasts at "
        "least four cold ages and then goes on until the share of cold pages evicted has grown by less than "
        "0.1 point in 10 s, having reached 95%% or stayed that flat for 60 s (at most 600 s), so that the window "
        "sees libtmc at steady state; then a window is measured; then the hot set moves to a disjoint %.4g%% of the pages (cold and compressed "
        "until then), followed for %d s; finally every page is compared with its original contents.\n"
        % (mib(s0["size_bytes"]).split(".")[0], s0["chunk_bytes"] // 1024, s0["hot_percent"], s0["layout"],
           s0["threads"], s0["hot_percent"], len(runs[0].get("shift", {}).get("samples", []))))
    o.append("How each number is measured:\n")
    o.append("- **cold pages compressed**: cold pages not present in `/proc/self/pagemap` at the end of the window "
             "(libtmc takes an evicted page out of the page tables with UFFDIO_MOVE; no swap is involved: "
             "swapped pages would be counted apart) over all cold pages.")
    o.append("- **hot accesses that faulted**: the change of libtmc's `faults` over the window / the accesses the "
             "thread made. No cold page is touched in the window and the benchmark keeps its own bookkeeping "
             "(chunk table, counters, stdio buffer) outside the managed heap, so every fault is a hot-set fault.")
    o.append("- **background CPU**: the change of `cpu_ns_background` (libtmc's own threads) / wall time of the "
             "window. The process's CPU (getrusage) and the accessor thread's are shown beside it.\n")

    o.append("## Runs\n")
    rows = []
    rows.append(["TMC_COLD_AGE"] + [r["setup"]["env"].get("TMC_COLD_AGE", "default") for r in runs])
    rows.append(["hot accesses that write"] + ["%.4g%%" % r["setup"]["write_percent"] for r in runs])
    rows.append(["warm-up (least; until cold pages stopped going)"] + [
        "%.0f s (%.0f s; %s)" % (r["window"]["warmup_s"], r["setup"]["warmup_s"],
                                 "settled" if r["window"]["settled"] else "**not settled**") for r in runs])
    rows.append(["measured window"] + ["%.1f s" % r["window"]["seconds"] for r in runs])
    rows.append(["other TMC_* given"] + [", ".join("`%s=%s`" % kv for kv in sorted(r["setup"]["env"].items())
                                                  if kv[0] != "TMC_COLD_AGE") or "none" for r in runs])
    o.append(table(["run"] + names, rows) + "\n")

    o.append("## Goals (measured window)\n")
    rows = []
    for key, label, fmt, goal in GOALS:
        cells = []
        for r in runs:
            g = r["goals"]
            v = g.get(key)
            cells.append("n/a" if v is None else "%s (%s)" % (fmt(v), "met" if g[key + "_met"] else "**not met**"))
        rows.append(["%s, goal %s" % (label, goal)] + cells)
    o.append(table(["measure"] + names, rows) + "\n")

    o.append("## Details\n")
    rows = []

    def row(label, f):
        rows.append([label] + [f(r) for r in runs])

    def per_s(r, v):
        return v / r["window"]["seconds"]

    def cold(r, key):
        c = r["window"][key]["cold"]
        return c["absent"], c["pages"]

    row("fill (s)", lambda r: num(r["window"]["fill_s"]))
    row("95% of cold pages evicted after (warm-up)", lambda r: when(r["window"]["cold95_after_s"]))
    row("cold pages evicted at the window's start", lambda r: "%.2f%%" % (100.0 * cold(r, "pagemap_start")[0] / cold(r, "pagemap_start")[1]))
    row("cold pages evicted at the window's end", lambda r: "%d of %d" % cold(r, "pagemap_end"))
    row("hot pages not present at the window's end", lambda r: "%d of %d" % (
        r["window"]["pagemap_end"]["hot"]["absent"], r["window"]["pagemap_end"]["hot"]["pages"]))
    row("hot accesses / s", lambda r: "%.3g" % per_s(r, r["window"]["accesses"]))
    row("faults / s", lambda r: num(per_s(r, r["window"]["faults"])))
    row("refaults / s", lambda r: num(per_s(r, r["window"]["refaults"])))
    row("evictions / s", lambda r: num(per_s(r, r["window"]["evictions"])))
    row("RSS at the window's end (MiB)", lambda r: mib(r["window"]["stats_end"]["rss_bytes"]))
    row("pool (MiB)", lambda r: mib(r["window"]["stats_end"].get("pool_bytes", 0)))
    row("process CPU (cores)", lambda r: "%.3f" % (per_s(r, r["window"]["process_cpu_ns"]) * 1e-9))
    row("accessor thread CPU (cores)", lambda r: "%.3f" % (per_s(r, r["window"]["accessor_cpu_ns"]) * 1e-9))
    row("libtmc background CPU (cores)", lambda r: "%.4f" % (per_s(r, r["window"]["background_cpu_ns"]) * 1e-9))
    o.append(table([""] + names, rows) + "\n")

    shifted = [r for r in runs if "shift" in r]
    if shifted:
        o.append("## Moved hot set\n")
        o.append("Seconds after the accessor moved to the new hot set: share of the new set present, share of the "
                 "old set evicted, faults/s. The new set comes back by faults as soon as it is touched; the old one "
                 "can only go once it has been left for a cold age.\n")
        rows = [["99% of the new set present after"] + [when(r["shift"]["new99_after_s"]) for r in shifted],
                ["95% of the old set evicted after"] + [when(r["shift"]["old95_after_s"]) for r in shifted]]
        o.append(table([""] + [r["name"] for r in shifted], rows) + "\n")
        n = max(len(r["shift"]["samples"]) for r in shifted)
        ts = [t for t in range(1, n + 1) if t <= 5 or t % 5 == 0]
        rows = []
        for t in ts:
            cells = []
            for r in shifted:
                s = r["shift"]["samples"]
                if t <= len(s):
                    x = s[t - 1]
                    cells.append("%.1f%% / %.1f%% / %.0f" % (x["new_present"] * 100, x["old_absent"] * 100, x["faults_per_s"]))
                else:
                    cells.append("")
            rows.append([str(t)] + cells)
        o.append(table(["s"] + ["%s: new present / old evicted / faults/s" % r["name"] for r in shifted], rows) + "\n")

    o += options_section(runs, names)
    o += stats_section(runs, names, lambda r: r["window"]["stats_start"], lambda r: r["window"]["stats_end"])

    o.append("## Data check\n")
    rows = [["pages compared"] + [str(r["check"]["pages"]) for r in runs],
            ["cold / hot pages that differ"] + ["%d / %d" % (r["check"]["bad_cold"], r["check"]["bad_hot"]) for r in runs],
            ["faults while checking"] + [str(r["check"]["faults"]) for r in runs],
            ["result"] + ["pass" if r["check"]["pass"] else "**FAIL**" for r in runs]]
    o.append(table([""] + names, rows))
    print("\n".join(o))


if __name__ == "__main__":
    main()
