#!/usr/bin/env python3
"""Markdown report of bench/run_policy.sh: one `bench_hotset --dist zipf` JSON per target
in (with the options the run's libtmc reported beside it), one column per target out:
libtmc's faults per access against the LRU simulation at both budgets, the ratios and the
1.5x goal, the window's details, which pages each kept resident by popularity, every libtmc
statistic, the replay and the data check."""
import math

from hotset_report_lib import load_run, mib, num, options_section, parse_args, stats_section, table

GOAL = 1.5


def ratio_cell(lru):
    v = lru["ratio"]
    if v is None or (isinstance(v, float) and math.isinf(v)):
        return "n/a (LRU never missed)"
    cell = "%.3f (%s)" % (v, "met" if lru["goal_met"] else "**not met**")
    if lru["budget_kind"] == "target" and lru["budget_pages"] == 0:
        cell += ", vacuous: the target leaves no page resident"
    return cell


def reachable(run):
    return run["window"]["all_compressed_bytes"] <= run["setup"]["target_bytes"]


def varied(run):
    """Whether libtmc's resident count moved so much in the window that LRU at its mean is
    not the same memory over time (LRU's misses are convex in the budget)."""
    lo, hi = span(run, 1, int)
    return hi > 1.5 * max(lo, 1)


def span(run, column, fmt):
    """The least and greatest value of one column of the window's censuses, formatted."""
    values = [x[column] for x in run["window"]["samples"]]
    return fmt(min(values)), fmt(max(values))


def per_event(window, cpu_key, events_key):
    """CPU in microseconds per event of the window ("-" for a JSON from before the split stats)."""
    if cpu_key not in window or not window[events_key]:
        return "-"
    return "%.1f" % (window[cpu_key] * 1e-3 / window[events_key])


def lru_of(run, kind):
    found = [x for x in run["lru"] if x["budget_kind"] == kind]
    return found[0] if found else None


def main():
    args = parse_args()
    runs = [load_run(p, "policy_") for p in args.json]
    names = ["%g%%" % r["setup"]["target_percent"] if r["setup"]["target_percent"] else r["name"] for r in runs]
    s0 = runs[0]["setup"]
    o = []
    o.append("# libtmc's choice of pages against LRU: Zipf(%g) under TMC_TARGET\n" % s0["zipf_s"])
    o.append("Command: `%s`  " % args.command)
    o.append("Machine: %s; load average (1, 5, 15 min): %s  " % (args.machine, args.load))
    o.append("libtmc: %s\n" % args.source)
    o.append(
        "`bench_hotset --dist zipf` (`bench/accuracy/policy_run.h`) under `LD_PRELOAD=libtmc.so`: %s MiB malloc'd in "
        "%d KiB chunks (%d pages of JSON-like records, text and Redis-like heap slabs, all compressible). After the "
        "fill its VmRSS is the *plain RSS*, and TMC_TARGET is set to the given share of it through libtmc's control "
        "socket. One thread then accesses the heap: page ranks are drawn from Zipf(%g) over every page "
        "(rejection-inversion, the load generator's sampler) and rank r is page p(r) of a random permutation of "
        "seed %d, so popular pages are scattered over the heap, not packed into a few blocks; each access reads "
        "8 bytes at a random offset of the page, %g%% of them write the same value back. The warm-up lasts at "
        "least %.0f s and goes on until, over the last 15 s against the 15 s before, mean RSS moved by less than "
        "1%% of the plain RSS and faults per access by less than 5%% (at most %.0f s); then a %.0f s window is "
        "measured, with a pagemap census of the heap every %g s; then every page is compared with its original "
        "contents.\n"
        % (mib(s0["size_bytes"]).split(".")[0], s0["chunk_bytes"] // 1024, s0["pages"], s0["zipf_s"], s0["seed"],
           s0["write_percent"], s0["warmup_s"], s0["warmup_max_s"], s0["measure_s"], s0["sample_s"]))
    o.append("How each number is measured:\n")
    o.append("- **libtmc faults per access**: the change of libtmc's `faults` over the window / the accesses the "
             "thread made in it. Nothing else touches managed memory in the window (the benchmark's bookkeeping, "
             "the permutation included, is mapped outside the heap), so every fault is one of these accesses.")
    o.append("- **LRU misses per access**: the same seeded sequence replayed after the run, from its first access "
             "to the last one of the window (the thread publishes its count in whole batches, so the window is "
             "exactly accesses a0..a1 of the sequence; a fingerprint of the pages checks the replay drew the "
             "thread's pages), through an exact LRU over the heap's pages that starts as the heap after its fill "
             "(the last pages filled resident); misses counted in the window only. Three budgets: **(a)** the mean "
             "number of heap pages present in the window's pagemap censuses, i.e. what libtmc kept resident: "
             "this compares the choice of pages alone; **(a')** the same censuses one by one: each census's count "
             "is the budget from the access the thread had reached when it began to the next census (the first "
             "census's before it), for when libtmc's resident set moves and the thread's speed with it; **(b)** the pages the target leaves room for if every "
             "other page costs its compressed size: R such that R x 4096 + (pages - R) x c + F = TMC_TARGET, "
             "where c is the pool's bytes per compressed page (waste included) and F the fixed overhead, both "
             "window means; 0 when even a fully compressed heap does not fit.")
    o.append("- **fixed overhead F**: VmRSS - heap pages present x 4096 - pool bytes (program, libraries, libtmc's "
             "page table, staging ring and dictionary, the benchmark's bookkeeping), mean of the censuses.")
    o.append("- **ratio**: libtmc faults per access / LRU misses per access. Goal: at most %.1f at each target.\n" % GOAL)

    o.append("## Results (measured window)\n")
    rows = []

    def row(label, f):
        rows.append([label] + [f(r) for r in runs])

    def per_s(r, v):
        return v / r["window"]["seconds"]

    w = lambda r: r["window"]
    row("TMC_TARGET (MiB; plain RSS)", lambda r: "%s (%s)" % (mib(r["setup"]["target_bytes"]), mib(r["setup"]["plain_rss_bytes"])))
    row("**libtmc faults per access**", lambda r: "**%.5f**" % w(r)["faults_per_access"])
    row("(a) LRU at the pages libtmc kept resident: budget, misses per access",
        lambda r: "%d pages, %.5f" % (lru_of(r, "resident")["budget_pages"], lru_of(r, "resident")["misses_per_access"]))
    row("**ratio (a)**, goal <= %.1f" % GOAL, lambda r: ratio_cell(lru_of(r, "resident")))
    row("(a') LRU at libtmc's resident pages census by census: misses per access",
        lambda r: "%.5f" % lru_of(r, "resident_trace")["misses_per_access"])
    row("**ratio (a')**, goal <= %.1f" % GOAL, lambda r: ratio_cell(lru_of(r, "resident_trace")))
    row("(b) LRU at the target's budget: budget, misses per access",
        lambda r: "%d pages, %.5f" % (lru_of(r, "target")["budget_pages"], lru_of(r, "target")["misses_per_access"])
        if lru_of(r, "target") else "no target")
    row("**ratio (b)**, goal <= %.1f" % GOAL, lambda r: ratio_cell(lru_of(r, "target")) if lru_of(r, "target") else "-")
    row("target reachable: RSS with every heap page compressed (F + pages x c) <= target",
        lambda r: "yes (%s MiB)" % mib(w(r)["all_compressed_bytes"]) if reachable(r)
        else "**no** (%s MiB)" % mib(w(r)["all_compressed_bytes"]))
    row("accesses / s", lambda r: "%.3g" % per_s(r, w(r)["accesses"]))
    row("faults / s", lambda r: num(per_s(r, w(r)["faults"]), "%.0f"))
    row("RSS, window mean (MiB; share of the target)",
        lambda r: "%s (%.1f%%)" % (mib(w(r)["mean_rss_bytes"]), 100.0 * w(r)["mean_rss_bytes"] / r["setup"]["target_bytes"])
        if r["setup"]["target_bytes"] else mib(w(r)["mean_rss_bytes"]))
    row("RSS, min-max of the censuses (MiB)", lambda r: "%s-%s" % span(r, 2, mib))
    row("pool, window mean; min-max (MiB)", lambda r: "%s; %s-%s" % ((mib(w(r)["mean_pool_bytes"]),) + span(r, 3, mib)))
    row("heap pages resident, window mean (share of pages); min-max",
        lambda r: "%.0f (%.2f%%); %s-%s" % ((w(r)["mean_resident_pages"], 100.0 * w(r)["mean_resident_pages"] / r["setup"]["pages"])
                                           + span(r, 1, str)))
    row("pool bytes per compressed page (c)", lambda r: num(w(r)["pool_per_page"], "%.0f"))
    row("fixed overhead F (MiB)", lambda r: mib(w(r)["fixed_overhead_bytes"]))
    row("refaults / faults", lambda r: num(100.0 * w(r)["refaults"] / w(r)["faults"], "%.1f%%") if w(r)["faults"] else "-")
    row("refault distance p50 at the window's end (ms)", lambda r: "%d" % w(r)["stats_end"].get("refault_distance_p50_ms", 0))
    row("evictions / s", lambda r: num(per_s(r, w(r)["evictions"]), "%.0f"))
    row("held faults / s; time held per s", lambda r: "%.0f; %.3f s" % (per_s(r, w(r)["held_faults"]), per_s(r, w(r)["hold_ns"]) * 1e-9))
    row("libtmc background CPU (cores)", lambda r: "%.3f" % (per_s(r, w(r)["background_cpu_ns"]) * 1e-9))
    row("CPU per fault cycle: fault thread per fault, reclaimer per eviction (us)",
        lambda r: "%s, %s" % (per_event(w(r), "fault_cpu_ns", "faults"), per_event(w(r), "reclaim_cpu_ns", "evictions")))
    row("accessor thread CPU (cores)", lambda r: "%.3f" % (per_s(r, w(r)["accessor_cpu_ns"]) * 1e-9))
    row("warm-up (flat?)", lambda r: "%.0f s (%s)" % (r["warmup"]["seconds"], "flat" if r["warmup"]["settled"] else "**not flat**"))
    row("window", lambda r: "%.1f s, %d censuses" % (w(r)["seconds"], len(w(r)["samples"])))
    o.append(table([""] + names, rows) + "\n")
    for name, r in zip(names, runs):
        notes = []
        if not reachable(r):
            notes.append("the target is below what the heap costs with every page compressed, so no policy can hold it "
                         "(budget (b) is 0 pages and its ratio says nothing)")
        if varied(r):
            notes.append("libtmc's resident heap pages ranged over %s-%s in the window, and the thread runs fastest, so "
                         "makes most of its accesses, while most pages are resident: a fixed budget at their mean over "
                         "time is not the memory libtmc had per access; (a') comes closer, at the censuses' granularity" % span(r, 1, str))
        if not r["warmup"]["settled"]:
            notes.append("RSS or faults per access were still moving when the warm-up ended")
        if notes:
            o.append("At %s: %s.\n" % (name, "; ".join(notes)))

    o.append("## Which pages stay resident, by popularity rank\n")
    o.append("Share of each band of pages (by Zipf rank, most popular first) that is resident: libtmc as the mean of "
             "the window's pagemap censuses, LRU at the window's end. Cells: libtmc / LRU (a) / LRU (a') / LRU (b).\n")
    rows = []
    for b, band in enumerate(runs[0]["bands"]):
        cells = []
        for r in runs:
            rb = r["bands"][b]
            pages = rb["pages"]
            parts = ["%.1f%%" % (100.0 * rb["libtmc_resident"] / pages)]
            for lru in r["lru"]:
                parts.append("%.1f%%" % (100.0 * lru["band_resident"][b] / pages))
            cells.append(" / ".join(parts))
        rows.append(["%.4g-%.4g%% (%d pages, %.1f%% of accesses)" % (band["rank_lo"] * 100, band["rank_hi"] * 100,
                                                                 band["pages"], band["access_share"] * 100)] + cells)
    o.append(table(["ranks"] + names, rows) + "\n")

    o += options_section(runs, names)
    o += stats_section(runs, names, lambda r: r["window"]["stats_start"], lambda r: r["window"]["stats_end"])

    o.append("## Replay and data check\n")
    rows = [["accesses replayed (to the window's end)"] + [str(r["replay"]["accesses"]) for r in runs],
            ["the thread's sequence (fingerprints equal)"] + ["yes" if r["replay"]["matches"] else "**NO**" for r in runs],
            ["distinct pages touched before the window"] + [str(r["replay"]["touched_before_window"]) for r in runs],
            ["pages compared / that differ"] + ["%d / %d" % (r["check"]["pages"], r["check"]["bad"]) for r in runs],
            ["result"] + ["pass" if r["check"]["pass"] else "**FAIL**" for r in runs]]
    o.append(table([""] + names, rows))
    print("\n".join(o))


if __name__ == "__main__":
    main()
