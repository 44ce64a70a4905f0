#!/usr/bin/env python3
"""Markdown report of bench/run_levers.sh: several variants of libtmc (options, or another
libtmc.so) on the same bench_hotset load, each run several times interleaved. Per variant,
the median and range over its rounds of what a lever can move (accesses per second, faults
per access, the CPU of each half of a fault cycle, time faults were held, RSS), and each
median as a ratio to the first variant's (the baseline). Every run's data check is shown:
a variant that lost a byte is marked whatever its speed."""
import json
import statistics

from hotset_report_lib import mib, parse_args, table


def metrics(run):
    w = run["window"]
    s = w["seconds"]
    faults, evictions = w["faults"], w["evictions"]
    return {
        "accesses/s": w["accesses"] / s,
        "faults/access": w["faults_per_access"],
        "faults/s": faults / s,
        "fault thread CPU per fault (us)": w["fault_cpu_ns"] * 1e-3 / faults if faults and w.get("fault_cpu_ns") else None,
        "reclaimer CPU per eviction (us)": w["reclaim_cpu_ns"] * 1e-3 / evictions if evictions and w.get("reclaim_cpu_ns") else None,
        "libtmc CPU per fault (us)": w["background_cpu_ns"] * 1e-3 / faults if faults else None,
        "libtmc CPU (cores)": w["background_cpu_ns"] * 1e-9 / s,
        "held (s per s)": w["hold_ns"] * 1e-9 / s,
        "RSS mean (MiB)": w["mean_rss_bytes"] / 1048576.0,
    }


# Which way is better, for the ratio's reading (None: neither). A JSON from a libtmc without
# the split CPU stats (cpu_ns_fault, cpu_ns_reclaim) has no per-half figures: "-".
BETTER = {"accesses/s": "higher", "faults/access": "lower", "faults/s": None,
          "fault thread CPU per fault (us)": "lower", "reclaimer CPU per eviction (us)": "lower",
          "libtmc CPU per fault (us)": "lower", "libtmc CPU (cores)": None, "held (s per s)": "lower",
          "RSS mean (MiB)": None}


def main():
    args = parse_args()
    variants = []  # (name, env, lib, [runs])
    for arg in args.json:
        name, env, lib, path = arg.split("|", 3)
        with open(path) as f:
            run = json.load(f)
        found = [v for v in variants if v[0] == name]
        if found:
            found[0][3].append(run)
        else:
            variants.append((name, env, lib, [run]))
    first = variants[0][3][0]
    o = ["# Levers on the fault cycle, one at a time: bench_hotset --dist zipf under TMC_TARGET\n",
         "Command: `%s`  " % args.command,
         "Machine: %s; load average (1, 5, 15 min): %s  " % (args.machine, args.load),
         "libtmc: %s\n" % args.source,
         "`bench_hotset --dist zipf` (bench/accuracy/policy_run.h, the policy benchmark's load): %.0f MiB of "
         "compressible records, one thread reading 8 bytes of a Zipf(%g)-chosen page per access (10%% write), "
         "TMC_TARGET at %g%% of the plain RSS set after the fill; each run warms up until RSS and faults per "
         "access are flat, then measures a %.0f s window. Variants ran interleaved, round by round. Cells: median "
         "(min-max) over the rounds; the ratio is the median against the first variant's.\n"
         % (first["setup"]["size_bytes"] / 1048576.0, first["setup"]["zipf_s"], first["setup"]["target_percent"],
            first["window"]["seconds"])]
    rows = []
    for name, env, lib, runs in variants:
        rows.append([name, "`%s`" % env if env else "(defaults)", "`%s`" % lib, str(len(runs)),
                     "%d of %d intact" % (sum(1 for r in runs if r["check"]["pass"]), len(runs))])
    o.append(table(["variant", "options", "libtmc.so", "rounds", "data check"], rows) + "\n")
    # Each run's metrics once; per metric, each variant's median and range over its rounds.
    measured = [[metrics(r) for r in runs] for _, _, _, runs in variants]

    def spread(per_run, key):
        vals = [m[key] for m in per_run if m[key] is not None]
        return (statistics.median(vals), min(vals), max(vals)) if vals else None

    rows = []
    for key in measured[0][0]:
        b = spread(measured[0], key)
        cells = []
        for i, per_run in enumerate(measured):
            m = spread(per_run, key)
            if m is None:
                cells.append("-")
                continue
            fmt = "%.0f" if m[0] >= 1000 else "%.3f" if m[0] < 1 else "%.2f" if m[0] < 10 else "%.1f"
            cell = (fmt + " (" + fmt + "-" + fmt + ")") % m
            if i > 0 and b is not None and b[0]:
                cell += ", **%.2fx**" % (m[0] / b[0])
            cells.append(cell)
        better = BETTER.get(key)
        rows.append([key + (" (%s is better)" % better if better else "")] + cells)
    o.append(table([""] + [v[0] for v in variants], rows) + "\n")
    o.append("Per run (accesses/s, libtmc CPU per fault in us, held s per s, data check):\n")
    for (name, _, _, runs), per_run in zip(variants, measured):
        cells = ["%.0f, %.1f, %.3f, %s" % (m["accesses/s"], m["libtmc CPU per fault (us)"] or 0, m["held (s per s)"],
                                           "ok" if r["check"]["pass"] else "**LOST DATA**")
                 for r, m in zip(runs, per_run)]
        o.append("- %s: %s" % (name, "; ".join(cells)))
    print("\n".join(o))


if __name__ == "__main__":
    main()
