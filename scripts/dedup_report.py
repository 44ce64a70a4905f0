#!/usr/bin/env python3
"""Markdown report of bench/run_dedup.sh: Redis on repeated and ordinary data, plain, under
libtmc without and with pool dedup, under libtmc with TMC_KSM=1 and plain under the kernel's
KSM. Per dataset and variant the median (and range) over the rounds of memory once cold
(Pss), throughput and p99 of the Zipf load, memory during it and the CPU of the dedup work;
ratios to plain and to plain under KSM; the issue's goals; every run's checks.

usage: scripts/dedup_report.py OUT_DIR   (reads dedup.csv and dedup.meta.json there, writes
dedup.md and dedup.json)"""
import csv
import json
import statistics
import sys

NAMES = {
    "plain": "plain",
    "plain-ksm": "plain + kernel KSM",
    "libtmc-nodedup": "libtmc, no dedup",
    "libtmc-dedup": "libtmc + pool dedup",
    "libtmc-ksm": "libtmc + TMC_KSM=1",
}
DATASETS = {
    "rep4k": "4 KiB strings, each one of {distinct} contents",
    "rep64k": "16-64 KiB strings, each one of {distinct} contents (jemalloc's large allocations: each at a random "
              "64-byte offset in its first page, opt.cache_oblivious)",
    "real": "realistic values (strings, hashes, lists of 100 B - 4 KiB), every one its own",
}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(rows, key):
    xs = [x for x in (num(r.get(key)) for r in rows) if x is not None]
    return statistics.median(xs) if xs else None


def span(rows, key):
    xs = [x for x in (num(r.get(key)) for r in rows) if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def mib(b):
    return "-" if b is None else f"{b / 1048576:,.0f} MiB"


def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}x"


def pct(x):
    return "-" if x is None else f"{x:.1f}%"


def dedup_cpu(variant, phase):
    """The column that holds the CPU of the dedup work of a variant in a phase (cold, run)."""
    if variant.endswith("-ksm"):
        return f"ksmd_cpu_{phase}_pct"
    if variant.startswith("libtmc-"):
        return f"tmc_dedup_cpu_{phase}_pct"
    return None


def background_cpu(row, phase):
    """All the CPU spent beside the server's own threads: libtmc's threads and ksmd (KSM runs)."""
    v = row["variant"]
    parts = []
    if v.startswith("libtmc-"):
        parts.append(num(row.get(f"tmc_background_cpu_{phase}_pct")))
    if v.endswith("-ksm"):
        parts.append(num(row.get(f"ksmd_cpu_{phase}_pct")))
    if not parts or any(p is None for p in parts):
        return None
    return sum(parts)


def summarize(rows):
    s = {"rounds": len(rows)}
    for k in ("pss_cold", "rss_cold", "pss_load", "ops_per_s", "p50_us", "p99_us", "p999_us", "pss_run_mean", "pss_run_max",
              "pss_after", "cold_s", "compressed_pages", "dedup_pages", "pool_bytes", "ksm_merging_pages",
              "ksm_profit_bytes", "tmc_background_cpu_run_pct", "tmc_background_cpu_cold_pct", "ksmd_cpu_run_pct",
              "ksmd_cpu_cold_pct", "tmc_dedup_cpu_run_pct", "tmc_dedup_cpu_cold_pct", "faults_run", "client_cpu_pct"):
        s[k] = med(rows, k)
    s["ops_range"] = span(rows, "ops_per_s")
    s["pss_cold_range"] = span(rows, "pss_cold")
    for phase in ("cold", "run"):
        rows_bg = [{"x": background_cpu(r, phase)} for r in rows]
        s[f"background_cpu_{phase}_pct"] = med(rows_bg, "x")
        col = dedup_cpu(rows[0]["variant"], phase) if rows else None
        s[f"dedup_cpu_{phase}_pct"] = med(rows, col) if col else None
    return s


def main():
    out = sys.argv[1]
    meta = json.load(open(f"{out}/dedup.meta.json"))
    rows = list(csv.DictReader(open(f"{out}/dedup.csv")))
    variants = meta["variants"]
    datasets = list(meta["datasets"])
    ok = lambda r: r["status"] == "ok"  # noqa: E731

    L = ["# Dedup: Redis with repeated values and ordinary data, plain, under libtmc and under the kernel's KSM", ""]
    L += ["Produced by:", "", "```", meta["command"], "```", ""]
    L.append(f"- Date: {meta['date']}; machine: {meta['machine']}; {meta['redis']}")
    L.append(f"- libtmc: {meta['libtmc']}")
    L.append(f"- Every dataset {meta['size']} of values; {meta['rounds']} round(s), variants interleaved round by round "
             f"(one server at a time); libtmc runs with `TMC_COLD_AGE={meta['cold_age']}`"
             + (f" and `{meta['extra_env']}`" if meta.get("extra_env") else ""))
    ksm = meta.get("ksm_skipped") and f"skipped: {meta['ksm_skipped']}" or (
        f"ksmd at pages_to_scan={meta['ksm_requested']['pages_to_scan']}, sleep_millisecs="
        f"{meta['ksm_requested']['sleep_millisecs']} during the KSM runs (found: {meta.get('ksm_found') or '-'}; "
        "put back after each run)")
    L.append(f"- KSM: {ksm}. plain + kernel KSM: redis-server started by a launcher that calls "
             "`prctl(PR_SET_MEMORY_MERGE, 1)` and execs it (the flag survives exec: `ksm_merge_any: yes` in "
             "/proc/PID/ksm_stat, checked in every run)")
    L.append(f"- Load: `tmc_loadgen --dist {meta['dist']} --reads {meta['reads']} --duration {meta['duration']} "
             f"--warmup {meta['warmup']} --threads {meta['threads']} --conns {meta['conns']} --pipeline "
             f"{meta['pipeline']} --verify` (the warm-up left out of ops/s and latency), writes drawn from the same "
             "contents; then every key read back, the dataset reset to its loaded state and `DEBUG DIGEST` "
             "compared with the plain run's")
    L.append("- Memory is Pss (/proc/PID/smaps_rollup): VmRSS counts a page KSM merged once per mapping, Pss once "
             "in all. Once cold: after the load, when Pss stopped moving (libtmc: and evictions stopped, the cold "
             "age at least; KSM: and ksmd had scanned everything 3 times)")
    L.append("- CPU, as a share of one core over the phase (cold: from the end of the load until memory "
             "settled; load: the timed load): dedup work = ksmd's CPU (/proc/PID/stat) for the KSM variants, "
             "libtmc's `cpu_ns_dedup` for the others; all background = libtmc's `cpu_ns_background` (every "
             "thread of libtmc, dedup included) plus ksmd's for KSM runs. ksmd scans at a fixed rate "
             "whether it merges or not, so its share follows its settings")
    L.append(f"- Cells: median over the rounds that passed; ranges where rounds differ. Run took "
             f"{meta.get('duration_s', 0) / 60:.0f} min{' (--quick: a smoke run, not a measurement)' if meta.get('quick') else ''}")
    L.append("")

    summary = {}
    for d in datasets:
        info = meta["datasets"][d]
        r = info.get("ratio", {})
        L.append(f"## {d}: {DATASETS.get(d, d).format(distinct=meta['distinct'])}")
        L.append("")
        L.append(f"{info.get('keys', '?'):,} keys, values of {info.get('mean_value_bytes', 0):,.0f} B on average "
                 f"(`tmc_loadgen {info.get('loadgen_args') or '(defaults)'}`); per 4 KiB page of values lz4 "
                 f"{r.get('lz4_4k', 0):.2f}x, zstd -1 {r.get('zstd1_4k', 0):.2f}x.")
        L.append("")
        by = {v: [x for x in rows if x["dataset"] == d and x["variant"] == v and ok(x)] for v in variants}
        sums = {v: summarize(by[v]) for v in variants if by[v]}
        summary[d] = sums
        plain, pksm = sums.get("plain"), sums.get("plain-ksm")
        L.append("| variant | memory once cold (Pss) | vs plain | vs plain + KSM | ops/s (range) | vs plain | p99 | "
                 "Pss under load (mean / max / at the end) | dedup CPU cold / load | all background CPU cold / load | "
                 "pages merged or deduplicated |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for v in variants:
            s = sums.get(v)
            if not s:
                status = "; ".join(sorted({x["status"] for x in rows if x["dataset"] == d and x["variant"] == v})) or "not run"
                L.append(f"| {NAMES.get(v, v)} | {status} | | | | | | | | | |")
                continue
            lo, hi = s["ops_range"]
            rng = f" ({lo:,.0f}-{hi:,.0f})" if s["rounds"] > 1 and lo is not None else ""
            merged = s["ksm_merging_pages"] if v.endswith("-ksm") else s["dedup_pages"]
            L.append(f"| {NAMES.get(v, v)} | {mib(s['pss_cold'])} | {ratio(s['pss_cold'], plain and plain['pss_cold'])} | "
                     f"{ratio(s['pss_cold'], pksm and pksm['pss_cold'])} | {s['ops_per_s'] or 0:,.0f}{rng} | "
                     f"{ratio(s['ops_per_s'], plain and plain['ops_per_s'])} | {s['p99_us'] or 0:,.0f} µs | "
                     f"{mib(s['pss_run_mean'])} / {mib(s['pss_run_max'])} / {mib(s['pss_after'])} | "
                     f"{pct(s['dedup_cpu_cold_pct'])} / {pct(s['dedup_cpu_run_pct'])} | "
                     f"{pct(s['background_cpu_cold_pct'])} / {pct(s['background_cpu_run_pct'])} | "
                     f"{'-' if merged is None else f'{merged:,.0f}'} |")
        L.append("")
        tmc = [v for v in variants if v.startswith("libtmc-") and v in sums]
        if tmc:
            L.append("libtmc once cold: " + "; ".join(
                f"{NAMES[v]}: {sums[v]['compressed_pages'] or 0:,.0f} pages compressed, pool {mib(sums[v]['pool_bytes'])}"
                + (f", {sums[v]['dedup_pages']:,.0f} deduplicated" if sums[v]["dedup_pages"] else "")
                for v in tmc) + ".")
            L.append("")

    # The goals, where the runs to judge them exist.
    L.append("## Goals (issue 13)")
    L.append("")
    L.append("| dataset | goal | measured | met |")
    L.append("| --- | --- | --- | --- |")

    def goal(d, text, measured, met):
        L.append(f"| {d} | {text} | {measured} | {'-' if met is None else ('yes' if met else '**no**')} |")

    for d in datasets:
        sums = summary[d]
        dd, pk, pl, nd = (sums.get(v) for v in ("libtmc-dedup", "plain-ksm", "plain", "libtmc-nodedup"))
        if d.startswith("rep"):
            if dd and pk and pk["pss_cold"]:
                r = dd["pss_cold"] / pk["pss_cold"]
                goal(d, "memory once cold at most 0.5x plain + KSM's", f"{r:.2f}x", r <= 0.5)
            if dd and pl and pl["ops_per_s"]:
                r = dd["ops_per_s"] / pl["ops_per_s"]
                goal(d, "throughput under the load at least 0.9x plain's", f"{r:.2f}x", r >= 0.9)
            if dd and pk and dd["background_cpu_run_pct"] is not None and pk["ksmd_cpu_run_pct"] is not None:
                goal(d, "background CPU under the load at most KSM's (ksmd's)",
                     f"{dd['background_cpu_run_pct']:.1f}% vs {pk['ksmd_cpu_run_pct']:.1f}%",
                     dd["background_cpu_run_pct"] <= pk["ksmd_cpu_run_pct"])
        else:
            if dd:
                x = dd["dedup_cpu_run_pct"]
                goal(d, "dedup work at most 1% of a core (under the load)", pct(x), None if x is None else x <= 1.0)
                x = dd["dedup_cpu_cold_pct"]
                goal(d, "dedup work at most 1% of a core (going cold)", pct(x), None if x is None else x <= 1.0)
            if dd and nd and nd["ops_per_s"]:
                (lo, hi), (nlo, nhi) = dd["ops_range"], nd["ops_range"]
                overlap = lo is not None and nlo is not None and lo <= nhi and nlo <= hi
                goal(d, "throughput unchanged against libtmc without dedup (within noise: the rounds' ranges overlap)",
                     f"{dd['ops_per_s'] / nd['ops_per_s']:.3f}x ({lo:,.0f}-{hi:,.0f} vs {nlo:,.0f}-{nhi:,.0f})",
                     overlap if dd["rounds"] > 1 else None)
    L.append("")

    L.append("## Runs")
    L.append("")
    L.append("| dataset | variant | round | status | Pss once cold | settled | ops/s | mismatches | digest equal | "
             "ksm_merging_pages | dedup stats |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = 0
    for x in rows:
        failed += not ok(x) and not x["status"].startswith("skipped")
        st = x["status"] if ok(x) or x["status"].startswith("skipped") else f"**{x['status']}**"
        if x.get("ksm_settings_end") and x["ksm_settings_end"] != x.get("ksm_settings"):
            st += f" (ksmd's settings changed during the run, by another program: {x['ksm_settings_end']})"
        dg = x.get("digest_ok") or "-"
        if dg == "no":
            dg = "**NO**"
        L.append(f"| {x['dataset']} | {x['variant']} | {x['round']} | {st} | {mib(num(x.get('pss_cold')))} | "
                 f"{x.get('settled') or '-'} {x.get('cold_s') or ''}s | {num(x.get('ops_per_s')) or 0:,.0f} | "
                 f"{x.get('mismatches') or '-'} | {dg} | {x.get('ksm_merging_pages') or '-'} | "
                 f"{(x.get('dedup_stats') or '-').replace(';', ', ')} |")
    L.append("")
    if failed:
        L.append(f"**{failed} run(s) failed**: see the status column (a digest that differs from the plain run's is a "
                 "failure of the run).")
        L.append("")
    open(f"{out}/dedup.md", "w").write("\n".join(L) + "\n")
    json.dump({"meta": meta, "summary": summary}, open(f"{out}/dedup.json", "w"), indent=1)
    print("\n".join(L))


if __name__ == "__main__":
    main()
