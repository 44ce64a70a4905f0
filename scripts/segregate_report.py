#!/usr/bin/env python3
"""Writes bench/results/segregate.md from the runs of bench/run_segregate.sh.

Each run's log holds one line per second ("second=T ops=N rss_mib=M faults=F
cold_arena_mib=C") and a summary line ("hotcold_cache ... ops_per_s=R rss_mib=M
faults_per_s=F ... check=ok", means over the second half). The report gives the median of
each mode's summaries, the ratios of segregation against libtmc without it (the issue's
goals), and the per-second series of the first repetition, every 10 s.
"""
import argparse
import datetime
import glob
import os
import platform
import re
import statistics
import subprocess

GOALS = {"rss": 0.60, "ops": 0.95, "faults": 0.20}  # segregate / libtmc


def parse(path):
    series, summary = [], None
    for line in open(path):
        fields = dict(re.findall(r"(\w+)=([^\s]+)", line))
        if line.startswith("second="):
            series.append({k: float(v) for k, v in fields.items()})
        elif line.startswith("hotcold_cache"):
            summary = fields
    return series, summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--cold-age", required=True)
    ap.add_argument("--libtmc", required=True)
    args = ap.parse_args()
    runs = {}
    for path in sorted(glob.glob(os.path.join(args.runs, "*.log"))):
        mode, rep = os.path.basename(path)[:-4].rsplit("_", 1)
        series, summary = parse(path)
        if summary is None:
            raise SystemExit(f"{path}: no summary line (the run failed)")
        runs.setdefault(mode, []).append((int(rep), series, summary))
    modes = [m for m in ("jemalloc", "libtmc", "segregate") if m in runs]

    def med(mode, key):
        return statistics.median(float(s[key]) for _, _, s in runs[mode])

    any_summary = runs[modes[0]][0][2]
    git = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "log", "-1", "--format=%h"],
                         capture_output=True, text=True).stdout.strip()
    lines = ["# Hot/cold segregation by allocation site (TMC_SEGREGATE)", "",
             "Produced by:", "", "```", args.command, "```", "",
             f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC; kernel {platform.release()}; "
             f"{os.cpu_count()} CPUs; libtmc {args.libtmc} at git {git}",
             f"- Workload: `bench/segregate/hotcold_cache.cc`, {any_summary['entries']} entries of a 200-byte header and "
             f"{any_summary['chunks']} payload chunks of 208 bytes (one jemalloc size class, allocated interleaved), the "
             f"cache filling over {any_summary['fill_seconds']} s of a {any_summary['seconds']} s run; one thread reads "
             "a random header per operation and a payload once in 100000; every byte read is checked.",
             f"- Modes, interleaved: **jemalloc** (plain, `LD_PRELOAD=libjemalloc.so.2`), **libtmc** "
             f"(`TMC_COLD_AGE={args.cold_age} TMC_SEGREGATE=0`), **segregate** (`TMC_COLD_AGE={args.cold_age} "
             "TMC_SEGREGATE=1`). Figures are means over the second half of each run, medians over repetitions.", "",
             "| mode | runs | RSS MiB | ops/s | faults/s |", "| --- | ---: | ---: | ---: | ---: |"]
    for m in modes:
        lines.append(f"| {m} | {len(runs[m])} | {med(m, 'rss_mib'):.1f} | {med(m, 'ops_per_s'):.0f} | {med(m, 'faults_per_s'):.0f} |")
    if "libtmc" in runs and "segregate" in runs:
        def ratio(key):
            base = med("libtmc", key)
            return med("segregate", key) / base if base else float("nan")
        r_rss, r_ops, r_faults = ratio("rss_mib"), ratio("ops_per_s"), ratio("faults_per_s")
        lines += ["", "Segregation against libtmc without it (goals: memory at most 0.60x, throughput at least 0.95x, "
                  "faults at most 0.20x):", "",
                  "| | ratio | goal | met? |", "| --- | ---: | ---: | --- |",
                  f"| memory (RSS) | {r_rss:.2f} | ≤ {GOALS['rss']:.2f} | {'yes' if r_rss <= GOALS['rss'] else 'no'} |",
                  f"| throughput | {r_ops:.2f} | ≥ {GOALS['ops']:.2f} | {'yes' if r_ops >= GOALS['ops'] else 'no'} |",
                  f"| faults/s | {r_faults:.2f} | ≤ {GOALS['faults']:.2f} | {'yes' if r_faults <= GOALS['faults'] else 'no'} |"]
    lines += ["", "## Per second, first repetition (every 10 s)", "",
              "| s | " + " | ".join(f"{m} RSS MiB | {m} kops/s | {m} faults/s" for m in modes) + " | cold arena MiB |",
              "| ---: | " + " | ".join("---: | ---: | ---:" for _ in modes) + " | ---: |"]
    first = {m: sorted(runs[m])[0][1] for m in modes}
    n = min(len(s) for s in first.values())
    for i in range(9, n, 10):
        row = [f"{int(first[modes[0]][i]['second'])}"]
        for m in modes:
            p = first[m][i]
            row += [f"{p['rss_mib']:.1f}", f"{p['ops'] / 1000:.0f}", f"{p['faults']:.0f}"]
        row.append(f"{first['segregate'][i]['cold_arena_mib']:.1f}" if "segregate" in first else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"Raw logs: `{os.path.relpath(args.runs, os.path.dirname(args.out))}/`.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
