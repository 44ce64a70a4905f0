"""Pieces shared by the reports of bench_hotset's runs (accuracy_report.py for
bench/run_accuracy.sh, policy_report.py for bench/run_policy.sh): reading a run's JSON and
the options its libtmc reported, Markdown tables, the options and statistics sections."""
import argparse
import json
import math
import os


def parse_args():
    """The run scripts' arguments: --command, --machine, --source, --load and the JSON files."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--command", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("json", nargs="+")
    return ap.parse_args()


def load_run(path, prefix):
    """One run's JSON, named by its file (PREFIXname.json), with the options its libtmc
    reported (PREFIXname.options.json beside it; [] when the run ended before tmcctl
    answered)."""
    with open(path) as f:
        run = json.load(f)
    run["name"] = os.path.basename(path)[len(prefix):-len(".json")]
    opt_path = path[:-len(".json")] + ".options.json"
    run["options"] = []
    if os.path.exists(opt_path):
        try:
            with open(opt_path) as f:
                run["options"] = json.load(f)
        except ValueError:
            pass  # reported as unknown
    return run


def num(v, fmt="%.1f"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return fmt % v


def mib(b):
    return "%.1f" % (b / 1048576.0)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def options_section(runs, names):
    """Every option any run reported, one column per run."""
    o = ["## libtmc options in force\n",
         "As `tmcctl options PID` reported them during each run (options at their default are listed too, as "
         "defaults change).\n"]
    opt_names = []
    for r in runs:
        for x in r["options"]:
            if x["name"] not in opt_names:
                opt_names.append(x["name"])
    rows = []
    for name in opt_names:
        cells = []
        for r in runs:
            v = [x for x in r["options"] if x["name"] == name]
            cells.append("`%s`" % v[0]["value"] if v else "-")
        rows.append([name] + cells)
    o.append(table(["option"] + names, rows) + "\n" if rows else "(not captured)\n")
    return o


def stats_section(runs, names, start, end):
    """Every libtmc statistic's change over the window and its value at the end; start and
    end are the snapshots' dicts of a run."""
    o = ["## libtmc statistics: change over the window (and value at its end)\n"]
    rows = []
    for f in list(end(runs[0]).keys()):
        cells = []
        for r in runs:
            a = start(r).get(f)
            b = end(r).get(f)
            cells.append("-" if b is None else "%+d (%d)" % (b - a, b))
        rows.append([f] + cells)
    o.append(table(["field"] + names, rows) + "\n")
    return o
