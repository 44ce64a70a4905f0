#!/usr/bin/env python3
"""Markdown report of bench/run_fault.sh: one Google Benchmark JSON per codec in, the fault
round trip against its floor (bare userfaultfd round trip + decompress, same placement) and
eviction throughput against raw compression out."""
import argparse
import json
import os
import platform
import statistics
import sys


def load(path):
    """Per benchmark (its run name), the median of every figure over its repetitions, with
    the lowest and highest value of each under "min" and "max" and their count under "reps";
    or {"error": message}."""
    with open(path) as f:
        data = json.load(f)
    runs, errors = {}, {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"])
        if b.get("error_occurred"):
            errors[name] = {"error": b.get("error_message", "error")}
        elif b.get("run_type", "iteration") == "iteration":
            runs.setdefault(name, []).append(b)
    rows = dict(errors)
    for name, reps in runs.items():
        if name in errors:
            continue
        row = {"reps": len(reps), "min": {}, "max": {}}
        for key, value in reps[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values = [r[key] for r in reps if key in r]
                row[key] = statistics.median(values)
                row["min"][key], row["max"][key] = min(values), max(values)
        rows[name] = row
    return data["context"], rows


def find(rows, prefix):
    for name, b in rows.items():
        if name.startswith(prefix):
            return b
    return None


def spread(b, key, scale=1000, digits=1):
    """ "low-high" of a figure over the repetitions, in µs."""
    return f"{b['min'][key]/scale:.{digits}f}-{b['max'][key]/scale:.{digits}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--command", required=True)
    ap.add_argument("json", nargs="+")
    args = ap.parse_args()
    out = []
    ctx = None
    sections = []
    for path in args.json:
        codec = os.path.basename(path)[len("fault_"):-len(".json")]
        ctx, rows = load(path)
        sections.append((codec, rows))
    out.append("# Fault and eviction paths\n")
    out.append(f"Command: `{args.command}` (TMC_COLD_AGE=1s, one run per codec; each figure is "
               "the median of its repetitions, the ranges are their lowest and highest)  ")
    out.append(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
               f"kernel {platform.release()}, load average {ctx.get('load_avg')}, {ctx.get('date')}\n")
    out.append("Placement: where the serving thread runs relative to the faulting one: `any` (the "
               "scheduler decides), `same` (both on CPU 0), `cross` (CPU 0 and CPU 1). The floor is "
               "the bare userfaultfd round trip (UFFDIO_COPY of a ready page, served by a plain "
               "thread that sleeps in poll between faults) plus the codec's decompress of one page, "
               "measured in the same run. libtmc's fault thread keeps polling for TMC_FAULT_SPIN "
               "(default 50us) after a fault, so back-to-back faults find it awake; that is why it "
               "can beat the bare round trip across CPUs. The goal is judged against the hot "
               "decompress (the same few blobs over and over, in cache); `cold` is the same "
               "decompress over the blobs of 256 MiB of pages visited once each in a shuffled "
               "order, as cold as the blobs the fault thread reads from the pool, and the last "
               "column is the ratio against that floor.\n")
    out.append("| codec | placement | reps | libtmc fault p50 | range | p99 | bare round trip p50 | range | p99 | "
               "decompress | p50 / (bare + decompress) | goal ≤ 1.3 | cold decompress | p50 / (bare + cold) |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    evict_rows = []
    for codec, rows in sections:
        dec = find(rows, "decompress")
        dec_ns = dec["cpu_time"] if dec and "cpu_time" in dec else None
        cold_dec = find(rows, "cold/decompress")
        cold_dec_ns = cold_dec["cpu_time"] if cold_dec and "cpu_time" in cold_dec else None
        for p, pname in enumerate(["any", "same", "cross"]):
            t = find(rows, f"fault/tmc/placement:{p}/")
            b = find(rows, f"fault/bare/placement:{p}/")
            if not t or "error" in t or not b or "error" in b or dec_ns is None:
                why = (t or {}).get("error") or (b or {}).get("error") or "missing"
                out.append(f"| {codec} | {pname} | | {why} | | | | | | | | | | |")
                continue
            floor = b["p50_ns"] + dec_ns
            ratio = t["p50_ns"] / floor
            cold = (f"{cold_dec_ns/1000:.2f} µs | {t['p50_ns'] / (b['p50_ns'] + cold_dec_ns):.2f}"
                    if cold_dec_ns is not None else "missing | ")
            out.append(f"| {codec} | {pname} | {t['reps']} | {t['p50_ns']/1000:.1f} µs | {spread(t, 'p50_ns')} | "
                       f"{t['p99_ns']/1000:.1f} µs | {b['p50_ns']/1000:.1f} µs | {spread(b, 'p50_ns')} | "
                       f"{b['p99_ns']/1000:.1f} µs | {dec_ns/1000:.2f} µs | "
                       f"{ratio:.2f} | {'met' if ratio <= 1.3 else 'NOT met'} | {cold} |")
        comp = find(rows, "compress")
        cold_comp = find(rows, "cold/compress")
        ev = find(rows, "evict")
        if comp and "cpu_time" in comp and ev and "error" not in ev:
            raw = 1e9 / comp["cpu_time"]
            got = ev["pages_per_cpu_s"]
            cold = (f"{cold_comp['cpu_time']/1000:.2f} µs | {got * cold_comp['cpu_time'] / 1e9:.2f}"
                    if cold_comp and "cpu_time" in cold_comp else "missing | ")
            evict_rows.append(f"| {codec} | {comp['cpu_time']/1000:.2f} µs | {raw/1000:.0f}k | {ev['reps']} | "
                              f"{ev['cpu_ns_per_page']/1000:.2f} µs | {spread(ev, 'cpu_ns_per_page', digits=2)} | "
                              f"{got/1000:.0f}k | {got/raw:.2f} | "
                              f"{'met' if got / raw >= 0.7 else 'NOT met'} | {cold} |")
        else:
            evict_rows.append(f"| {codec} | {(ev or {}).get('error', 'missing')} | | | | | | | | | |")
    out.append("\nEviction: libtmc's background CPU while it evicts a freshly written 64 MiB buffer "
               "(pagemap scan, one UFFDIO_MOVE per run of contiguous pages, same-filled check, "
               "compress, pool store, staging ring emptied when it wraps), per evicted page, against the codec's own compress of the same kind of "
               "pages (with the same 25% minimum saving). The goal is judged against the hot "
               "compress (256 pages that stay in cache); `cold` is the codec's compress of 256 MiB "
               "of such pages visited once each in a shuffled order, as cold as the pages the "
               "reclaimer reads, and the last column is the ratio against it. A growing pool takes "
               "the pages of staging slots already compressed (UFFDIO_MOVE, about 0.5 µs a page) "
               "rather than fresh ones from the kernel (1.6-2 µs a page here).\n")
    out.append("| codec | raw compress / page | raw pages/s | reps | eviction CPU / page | range | "
               "evicted pages per CPU-s | ratio | goal ≥ 0.70 | cold compress / page | ratio vs cold |")
    out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    out.extend(evict_rows)
    out.append("\nSequential scan: one byte of every page of an evicted 32 MiB buffer read in order "
               "(fault-around brings up to 8 pages back after two sequential faults).\n")
    out.append("| codec | ns per page | faults | pages brought back ahead |")
    out.append("| --- | ---: | ---: | ---: |")
    for codec, rows in sections:
        sc = find(rows, "scan/tmc")
        if sc and "error" not in sc:
            out.append(f"| {codec} | {sc['ns_per_page']/1000:.1f} µs | {sc['faults']:.0f} | {sc['ahead']:.0f} |")
        else:
            out.append(f"| {codec} | {(sc or {}).get('error', 'missing')} | | |")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
