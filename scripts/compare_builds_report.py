#!/usr/bin/python3
"""Report of bench/compare_builds.sh: per build and scenario, the median over the rounds and
the ratio to the first build's.

  scripts/compare_builds_report.py OUT_DIR NAME...

reads OUT_DIR/NAME-ROUND/compare.csv (bench/compare_zram.sh, one invocation per build and
round) and OUT_DIR/builds.meta (the command line, then "NAME DIR LIBTMC_MTIME" per build);
writes OUT_DIR/builds.md.
"""
import csv
import glob
import os
import re
import statistics
import sys


def num(row, key):
    try:
        return float(row.get(key, ""))
    except ValueError:
        return None


def runs(out, name):
    """{round: rows} of one build's invocations."""
    by = {}
    for path in glob.glob(os.path.join(out, "%s-*" % glob.escape(name), "compare.csv")):
        m = re.fullmatch(re.escape(name) + r"-(\d+)", os.path.basename(os.path.dirname(path)))
        if m:
            by[int(m.group(1))] = list(csv.DictReader(open(path)))
    return dict(sorted(by.items()))


def measures(rows):
    """{(server, scenario): {measure: value}} of the runs that passed, with ops/s as a
    share of the same invocation's plain run and faults (or swap-ins) per request."""
    plain = {r["server"]: num(r, "ops_per_s") for r in rows if r["scenario"] == "plain" and r["status"] == "ok"}
    out = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        ops, n = num(r, "ops_per_s"), num(r, "run_ops")
        ev = num(r, "faults_run") if r["scenario"].startswith("tmc") else num(r, "swapins_run")
        out[(r["server"], r["scenario"])] = {
            "ops": ops, "ops_x_plain": ops / plain[r["server"]] if plain.get(r["server"]) else None,
            "mem": num(r, "mem_run_mean") / 2**20, "p99": num(r, "p99_us"),
            "per_req": ev / n if ev is not None and n else None}
    return out


MEASURES = [("ops", "ops/s", "%.0f"), ("ops_x_plain", "ops/s x plain (same round)", "%.3f"),
            ("mem", "memory during the load MiB", "%.0f"), ("p99", "p99 us", "%.0f"),
            ("per_req", "faults (swap-ins) per request", "%.3f")]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, names = sys.argv[1], sys.argv[2:]
    meta = open(os.path.join(out, "builds.meta")).read().splitlines()
    per_build = {n: {rd: measures(rows) for rd, rows in runs(out, n).items()} for n in names}
    keys = sorted({k for n in names for m in per_build[n].values() for k in m})
    L = ["# One lever, build against build: bench/compare_zram.sh per build, rounds interleaved", "",
         "Command: `%s`" % meta[0], ""]
    for line in meta[1:]:
        name, path, when = line.split(" ", 2)
        L.append("- **%s**: `%s/libtmc.so`, built %s" % (name, path, when))
    L.append("")
    L.append("Each round runs bench/compare_zram.sh once per build (its own plain run included), in the "
             "order above; cells are the median over the rounds (min-max), and the ratio is against %s. "
             "Each invocation's compare.md is in `%s-ROUND/`." % (names[0], "{build}"))
    for server, scen in keys:
        if scen == "plain":
            continue
        L += ["", "## %s, %s" % (server, scen), "", "| | " + " | ".join(names) + " |",
              "| --- |" + " ---: |" * len(names)]
        for key, title, spec in MEASURES:
            ref = None
            cells = []
            for i, n in enumerate(names):
                xs = [m[(server, scen)][key] for m in per_build[n].values()
                      if (server, scen) in m and m[(server, scen)][key] is not None]
                if not xs:
                    cells.append("-")
                    continue
                med = statistics.median(xs)
                cell = "%s (%s-%s)" % (spec % med, spec % min(xs), spec % max(xs))
                if i == 0:
                    ref = med
                elif ref:
                    cell += ", **%.2fx**" % (med / ref)
                cells.append(cell)
            L.append("| %s | %s |" % (title, " | ".join(cells)))
        L.append("")
        L.append("Per round (%s: ops/s, ops/s x plain, faults per request):" % ", ".join(names))
        L.append("")
        rounds = sorted({rd for n in names for rd in per_build[n]})
        for rd in rounds:
            parts = []
            for n in names:
                m = per_build[n].get(rd, {}).get((server, scen))
                parts.append("%s %s" % (n, "failed or not run" if not m else "%.0f, %.3f, %s" % (
                    m["ops"], m["ops_x_plain"] or 0, "%.3f" % m["per_req"] if m["per_req"] is not None else "-")))
            L.append("- round %d: %s" % (rd, "; ".join(parts)))
    open(os.path.join(out, "builds.md"), "w").write("\n".join(L) + "\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
