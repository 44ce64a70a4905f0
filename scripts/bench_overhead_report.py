#!/usr/bin/env python3
"""Turns bench/run_overhead.sh's raw results into bench/results/overhead.md.

Inputs: the workload CSV (one row per run, from GNU time) and, optionally, one Google
Benchmark JSON file per mode (micro_<mode>.json). Output: a Markdown report with medians
per mode and the ratios libtmc/jemalloc and jemalloc/plain (and, when the libtmc-nosites mode
ran, libtmc/libtmc-nosites: what the allocation-site profiler costs), headed by the command
that produced the data, the date, kernel and CPU; and a CSV of the micro-benchmark medians.
Standard library only.
"""
import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys

MODES = ["plain", "jemalloc", "libtmc", "libtmc-nosites"]
GOAL = 1.05  # libtmc must stay within 5% of plain jemalloc
SITES_GOAL = 1.02  # profiling (TMC_SITES=1, the default) costs at most 2% against TMC_SITES=0


def read_first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def run(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r, goal=None):
    """`goal`: None (no goal), True (GOAL) or the limit; ratios over it are marked ✗."""
    if r is None:
        return "n/a"
    s = f"{r:.3f}"
    limit = GOAL if goal is True else goal
    if limit is not None and r > limit:
        s = f"**{s}** ✗"
    return s


def paired_ratios(rows, a, b):
    """Elapsed of mode `a` over mode `b` for every repetition that has both: the two runs of a
    repetition are close in time, so the ratio cancels slow drift of the machine."""
    by_rep = {}
    for r in rows:
        by_rep.setdefault(r["rep"], {})[r["mode"]] = r["elapsed_s"]
    return [d[a] / d[b] for rep, d in sorted(by_rep.items()) if a in d and b in d and d[b] > 0]


def has_sites_pair(modes):
    return "libtmc" in modes and "libtmc-nosites" in modes


def fmt(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


def median_or_none(values):
    return statistics.median(values) if values else None


def describe_tree(path):
    """`path (git REV)`, flagging uncommitted changes to the library or the benchmarks."""
    rev = run(["git", "rev-parse", "--short", "HEAD"], cwd=path)
    if not rev:
        return f"{path} (not a git checkout)"
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "preload", "include",
                 "CMakeLists.txt", "bench"], cwd=path)
    return f"{path} at git {rev}" + (", with uncommitted changes to src/preload/include/bench" if dirty else ", clean")


def source_dir_of(build_dir):
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:INTERNAL="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_lines(args):
    cpu = read_first("/proc/cpuinfo", "model name")
    mem_kb = read_first("/proc/meminfo", "MemTotal").split()[0] if os.path.exists("/proc/meminfo") else "?"
    lines = [
        f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"- Kernel: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- CPU: {cpu}, {os.cpu_count()} logical CPUs; memory {int(mem_kb) // 1024 if mem_kb.isdigit() else '?'} MiB",
        f"- glibc: {' '.join(platform.libc_ver())}; jemalloc: {args.jemalloc}"
        f" ({run(['dpkg-query', '-W', '-f=${Version}', 'libjemalloc2']) or 'version unknown'})",
    ]
    if args.libtmc:
        st = os.stat(args.libtmc)
        with open(args.libtmc, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        built = datetime.datetime.fromtimestamp(st.st_mtime).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
        lines.append(f"- libtmc: {args.libtmc} (sha256 {digest}…, built {built})")
    if args.load:
        lines.append(f"- Load average (1, 5, 15 min) at start / end of the run: {args.load}")
    lines.append(f"- Benchmarks and report: {describe_tree(args.repo)}")
    src = source_dir_of(args.build_dir) if args.build_dir else None
    if src:
        lines.append(f"- Build directory {args.build_dir} (libtmc and the benchmark binaries) configured from: "
                     f"{describe_tree(src)}")
    return lines


def load_runs(path):
    runs = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["exit_code"] != "0":
                continue
            for k in ("elapsed_s", "user_s", "sys_s", "workload_s", "ops_per_s"):
                row[k] = float(row[k])
            row["other_cpu_s"] = float(row.get("other_cpu_s") or 0.0)
            for k in ("maxrss_kb", "minor_faults", "rep"):
                row[k] = int(row[k])
            runs.append(row)
    return runs


def present_modes(runs):
    return [m for m in MODES if any(r["mode"] == m for r in runs)]


def workload_sections(runs):
    workloads = list(dict.fromkeys(r["workload"] for r in runs))
    present = present_modes(runs)
    sites = has_sites_pair(present)
    summary = []
    sections = []
    for w in workloads:
        rows = [r for r in runs if r["workload"] == w]
        med = {}
        for m in present:
            rr = [r for r in rows if r["mode"] == m]
            if not rr:
                continue
            med[m] = {
                "n": len(rr),
                "elapsed": statistics.median(r["elapsed_s"] for r in rr),
                "min": min(r["elapsed_s"] for r in rr),
                "max": max(r["elapsed_s"] for r in rr),
                "user": statistics.median(r["user_s"] for r in rr),
                "sys": statistics.median(r["sys_s"] for r in rr),
                "rss": statistics.median(r["maxrss_kb"] for r in rr) / 1024.0,
                "faults": statistics.median(r["minor_faults"] for r in rr),
                "ops": statistics.median(r["ops_per_s"] for r in rr),
                "other": max(r["other_cpu_s"] for r in rr),
            }
        get = lambda m, k: med[m][k] if m in med else None  # noqa: E731
        t_tj = ratio(get("libtmc", "elapsed"), get("jemalloc", "elapsed"))
        r_tj = ratio(get("libtmc", "rss"), get("jemalloc", "rss"))
        t_jp = ratio(get("jemalloc", "elapsed"), get("plain", "elapsed"))
        r_jp = ratio(get("jemalloc", "rss"), get("plain", "rss"))
        # Paired: each repetition's libtmc run against the jemalloc run of the same repetition
        # (adjacent in time), which cancels slow drift of the machine.
        paired = paired_ratios(rows, "libtmc", "jemalloc")
        verdict = "n/a" if t_tj is None else ("yes" if t_tj <= GOAL else "**no**")
        row = (
            f"| {w} | {fmt(get('plain', 'elapsed'))} | {fmt(get('jemalloc', 'elapsed'))} | "
            f"{fmt(get('libtmc', 'elapsed'))} | {fmt_ratio(t_tj, True)} | {fmt_ratio(r_tj)} | "
            f"{fmt_ratio(t_jp)} | {verdict} |"
        )
        # What the allocation-site profiler costs: libtmc (TMC_SITES=1, the default) against
        # libtmc-nosites (TMC_SITES=0), judged on the median of the per-repetition ratios.
        t_sn = ratio(get("libtmc", "elapsed"), get("libtmc-nosites", "elapsed"))
        r_sn = ratio(get("libtmc", "rss"), get("libtmc-nosites", "rss"))
        paired_sn = paired_ratios(rows, "libtmc", "libtmc-nosites")
        p_sn = median_or_none(paired_sn)
        if sites:
            sites_verdict = "n/a" if p_sn is None else ("yes" if p_sn <= SITES_GOAL else "**no**")
            row += (f" {fmt(get('libtmc-nosites', 'elapsed'))} | {fmt_ratio(p_sn, SITES_GOAL)} | "
                    f"{sites_verdict} |")
        summary.append(row)
        s = [f"### {w}", "", f"Arguments: `{rows[0]['args']}`", ""]
        s.append("| mode | runs | elapsed s (median) | min–max s | user s | sys s | max RSS MiB | minor faults | ops/s "
                 "| other CPU s (max) |")
        s.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for m in present:
            if m not in med:
                continue
            x = med[m]
            s.append(
                f"| {m} | {x['n']} | {x['elapsed']:.3f} | {x['min']:.2f}–{x['max']:.2f} | {x['user']:.2f} | "
                f"{x['sys']:.2f} | {x['rss']:.1f} | {x['faults']:.0f} | {x['ops']:.4g} | {x['other']:.2f} |"
            )
        s.append("")
        s.append(
            f"- libtmc/jemalloc: elapsed {fmt_ratio(t_tj, True)}, max RSS {fmt_ratio(r_tj)}"
            + (
                f"; per-repetition elapsed ratios {', '.join(f'{p:.3f}' for p in paired)}"
                f" (median {statistics.median(paired):.3f})"
                if paired
                else ""
            )
        )
        s.append(f"- jemalloc/plain: elapsed {fmt_ratio(t_jp)}, max RSS {fmt_ratio(r_jp)}")
        if sites:
            s.append(
                "- libtmc/libtmc-nosites (what profiling costs): elapsed "
                + (
                    f"per-repetition ratios {', '.join(f'{p:.3f}' for p in paired_sn)}"
                    f" (median {fmt_ratio(p_sn, SITES_GOAL)})"
                    if paired_sn
                    else "no repetition with both modes"
                )
                + f", ratio of the medians {fmt_ratio(t_sn)}; max RSS {fmt_ratio(r_sn)}"
            )
        s.append("")
        sections.append("\n".join(s))
    return summary, sections


def to_ns(value, unit):
    return value * {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


def micro_section(micro_dir, micro_csv):
    data = {}  # mode -> name -> [real ns]
    cpu = {}
    order = []
    contexts = {}
    for m in MODES:
        path = os.path.join(micro_dir, f"micro_{m}.json")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            doc = json.load(f)
        contexts[m] = doc.get("context", {})
        for b in doc.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
                continue
            name = b.get("run_name", b["name"])
            if name not in order:
                order.append(name)
            data.setdefault(m, {}).setdefault(name, []).append(to_ns(b["real_time"], b["time_unit"]))
            cpu.setdefault(m, {}).setdefault(name, []).append(to_ns(b["cpu_time"], b["time_unit"]))
    if not data:
        return [], []
    present = [m for m in MODES if m in data]
    sites = has_sites_pair(present)
    with open(micro_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["benchmark", "mode", "reps", "median_real_ns", "median_cpu_ns", "min_real_ns", "max_real_ns"])
        for name in order:
            for m in present:
                v = data[m].get(name)
                if v:
                    w.writerow([name, m, len(v), f"{statistics.median(v):.3f}",
                                f"{statistics.median(cpu[m][name]):.3f}", f"{min(v):.3f}", f"{max(v):.3f}"])
    reps = max(len(v) for m in present for v in data[m].values())
    lines = [
        "| benchmark | " + " | ".join(f"{m} ns" for m in present) + " | libtmc/jemalloc | jemalloc/plain |"
        + (" libtmc/libtmc-nosites |" if sites else ""),
        "| --- | " + " | ".join("---:" for _ in present) + " | ---: | ---: |" + (" ---: |" if sites else ""),
    ]
    worst = []
    worst_sites = []
    for name in order:
        med = {m: median_or_none(data[m].get(name, [])) for m in present}
        tj = ratio(med.get("libtmc"), med.get("jemalloc"))
        jp = ratio(med.get("jemalloc"), med.get("plain"))
        sn = ratio(med.get("libtmc"), med.get("libtmc-nosites"))
        if tj is not None:
            worst.append((tj, name))
        if sn is not None:
            worst_sites.append((sn, name))
        lines.append(
            f"| {name} | " + " | ".join(fmt(med[m], 2) for m in present) + f" | {fmt_ratio(tj, True)} | {fmt_ratio(jp)} |"
            + (f" {fmt_ratio(sn, SITES_GOAL)} |" if sites else "")
        )
    ctx = contexts.get("jemalloc") or next(iter(contexts.values()))
    notes = [
        f"Median real time per iteration over {reps} repetition(s) of each benchmark (per-thread iteration for the "
        "`threads:2` rows, whose time is wall-clock). Google Benchmark reports a CPU frequency of "
        f"{ctx.get('mhz_per_cpu', '?')} MHz; library build type {ctx.get('library_build_type', '?')}.",
        "malloc resolved to: " + ", ".join(f"{m} → `{contexts[m].get('malloc_from', '?')}`" for m in present) + ".",
    ]
    if worst:
        worst.sort(reverse=True)
        notes.append(
            "Largest libtmc/jemalloc ratios: " + ", ".join(f"{n} {r:.3f}" for r, n in worst[:3]) + "."
        )
    if sites and worst_sites:
        worst_sites.sort(reverse=True)
        notes.append(
            "Largest libtmc/libtmc-nosites ratios (what profiling costs; goal ≤ "
            f"{SITES_GOAL:.2f}): " + ", ".join(f"{n} {r:.3f}" for r, n in worst_sites[:3]) + "."
        )
    return lines, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("--jemalloc", default="/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    ap.add_argument("--libtmc")
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--build-dir")
    ap.add_argument("--micro-dir")
    ap.add_argument("--micro-csv")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--load", help="load averages at the start / end of the run")
    args = ap.parse_args()

    runs = load_runs(args.csv)
    sites = has_sites_pair(present_modes(runs))
    out = ["# libtmc overhead: plain glibc malloc vs jemalloc vs libtmc"
           + (" (with and without allocation-site profiling)" if sites else ""), ""]
    if args.quick:
        out += ["**QUICK SMOKE RUN** (1 repetition, reduced work): proves the harness works; the numbers mean nothing.", ""]
    out += ["Produced by:", "", "```", args.command, "```", ""]
    out += machine_lines(args)
    out += [
        "",
        "Modes: **plain** = glibc malloc, nothing preloaded; **jemalloc** = "
        f"`LD_PRELOAD={args.jemalloc}`; **libtmc** = `LD_PRELOAD=<libtmc.so> TMC_ENABLE=1` (all other "
        "TMC_* at their defaults, nothing cold; so the sampled allocation-site profiler is on: TMC_SITES=1, "
        "one sample per TMC_SITE_SAMPLE bytes allocated on average)"
        + ("; **libtmc-nosites** = the same `LD_PRELOAD=<libtmc.so> TMC_ENABLE=1` with `TMC_SITES=0` (profiler "
           "off), so libtmc/libtmc-nosites is what profiling costs" if "libtmc-nosites" in present_modes(runs) else "")
        + ". Each run starts with LD_PRELOAD, MALLOC_CONF, GLIBC_TUNABLES and "
        "every TMC_* variable removed from the environment. Runs are interleaved: every repetition runs each "
        "workload in all modes back to back, the mode order rotated from one repetition to the next; one "
        "unrecorded small warm-up run per workload and mode comes first. Times and RSS come from GNU time "
        "(`/usr/bin/time`); raw rows are in `overhead.csv`. \"Other CPU\" is the CPU time the rest of the "
        "machine used while a run was going (from /proc/stat): anything well above 0 means the run competed "
        "with other work.",
        "",
        f"Goal: libtmc within {int(round((GOAL - 1) * 100))}% of plain jemalloc (ratio ≤ {GOAL:.2f}); ratios over it are "
        "marked ✗.",
        "",
    ]
    if sites:
        out += [
            f"Goal: profiling costs at most {int(round((SITES_GOAL - 1) * 100))}% (libtmc/libtmc-nosites ≤ "
            f"{SITES_GOAL:.2f}), judged per workload on the median of the per-repetition elapsed ratios (the two "
            "runs of a repetition are close in time) and per micro-benchmark on the ratio of the medians (each "
            "mode's micro-benchmarks run as one process, the modes one after another); ratios over it are "
            "marked ✗.",
            "",
        ]
    out += [
        "## Summary (median elapsed seconds)",
        "",
        "| workload | plain | jemalloc | libtmc | libtmc/jemalloc | libtmc/jemalloc RSS | jemalloc/plain | within 5%? |"
        + (" libtmc-nosites | libtmc/libtmc-nosites (paired) | profiling within "
           f"{int(round((SITES_GOAL - 1) * 100))}%? |" if sites else ""),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |" + (" ---: | ---: | --- |" if sites else ""),
    ]
    summary, sections = workload_sections(runs)
    out += summary
    out += ["", "## Workloads", ""]
    out += sections
    if args.micro_dir and args.micro_csv:
        lines, notes = micro_section(args.micro_dir, args.micro_csv)
        if lines:
            out += ["## Micro-benchmarks (bench_malloc_fast_path)", ""]
            out += notes[:2] + [""] + lines + [""] + notes[2:] + [""]
            out += [f"Medians per benchmark and mode: `{os.path.basename(args.micro_csv)}`.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
