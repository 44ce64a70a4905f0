#!/usr/bin/env python3
"""Strict checks of `tmcctl metrics` against a live libtmc process.

    check_metrics.py --tmcctl PATH --pid PID [--save FILE]

Runs `tmcctl stats PID --json`, `tmcctl metrics`, `tmcctl stats PID --json` and checks:
  * the text exposition format 0.0.4, for every process in the output: each family has one
    HELP and one TYPE line before its samples, its samples together; metric and label names
    are valid, label values are quoted with only the escapes the format knows, values
    parse, no timestamps (node_exporter's textfile collector refuses them);
  * the families are libtmc_up and one per row of include/tmc/stats.def, in that order,
    named as scripts/gen_docs.py documents them (docs/stats.md), typed as the table says,
    HELP being the table's text; counters end in _total and gauges do not;
  * every sample has exactly the labels pid and command;
  * for PID: libtmc_up is 1, command is /proc/PID/comm, and every statistic equals the
    JSON's (times converted to seconds exactly). The process is live, so a value may move
    between the requests: each must lie between its two JSON readings (equal them when they
    agree). A counter outside is an error; a gauge outside may have moved and come back, so
    the round is repeated (5 rounds at most).
Exits 0 when all hold; prints every problem otherwise. --save keeps the last metrics text.
"""
import argparse
import decimal
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_docs  # noqa: E402  (the stats.def reader and the naming rule docs/stats.md shows)

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
VALUE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z|[+-]?Inf\Z|NaN\Z")
SECONDS_EXPONENT = {"ns": 9, "ms": 3}


class Family:
    def __init__(self, name):
        self.name, self.help, self.type, self.samples = name, None, None, []


def unescape_help(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "\\n":
            out.append("\\" if text[i + 1] == "\\" else "\n")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_labels(line, i, problems, where):
    """Parses {a="x",b="y"} starting at line[i] == '{'; returns (labels, index after '}')."""
    labels, i = {}, i + 1
    while True:
        if line.startswith("}", i):
            return labels, i + 1
        m = re.compile(r"([^=]*)=\"").match(line, i)
        if not m:
            problems.append(f"{where}: bad label syntax at column {i}")
            return labels, None
        name, i = m.group(1), m.end()
        if not LABEL_NAME.match(name) or name.startswith("__"):
            problems.append(f"{where}: invalid label name {name!r}")
        value = []
        while True:
            if i >= len(line):
                problems.append(f"{where}: unterminated label value")
                return labels, None
            c = line[i]
            if c == '"':
                i += 1
                break
            if c == "\\":
                nxt = line[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    problems.append(f"{where}: escape \\{nxt} is not one of \\\\ \\\" \\n")
                value.append({"\\": "\\", '"': '"', "n": "\n"}.get(nxt, nxt))
                i += 2
                continue
            value.append(c)
            i += 1
        if name in labels:
            problems.append(f"{where}: label {name} twice")
        labels[name] = "".join(value)
        if line.startswith(",", i):
            i += 1
        elif not line.startswith("}", i):
            problems.append(f"{where}: expected ',' or '}}' at column {i}")
            return labels, None


def parse_exposition(text, problems):
    """The families of a text exposition, in order; format problems are appended."""
    if text and not text.endswith("\n"):
        problems.append("the text does not end with a newline")
    families, current = {}, None
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"line {lineno}"
        if line == "":
            problems.append(f"{where}: empty line")
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE"):
                continue  # a plain comment
            name = parts[2]
            if not METRIC_NAME.match(name):
                problems.append(f"{where}: invalid metric name {name!r}")
            if name != current:
                if name in families:
                    problems.append(f"{where}: family {name} appears a second time")
                families[name] = Family(name)
                current = name
            fam = families[name]
            if fam.samples:
                problems.append(f"{where}: {parts[1]} of {name} after its samples")
            if parts[1] == "HELP":
                if fam.help is not None:
                    problems.append(f"{where}: second HELP for {name}")
                fam.help = unescape_help(parts[3] if len(parts) > 3 else "")
            else:
                if fam.type is not None:
                    problems.append(f"{where}: second TYPE for {name}")
                fam.type = parts[3] if len(parts) > 3 else ""
                if fam.type not in ("counter", "gauge"):
                    problems.append(f"{where}: TYPE {fam.type!r} is not counter or gauge")
            continue
        m = re.compile(r"[^{ ]*").match(line)
        name, i = m.group(0), m.end()
        if not METRIC_NAME.match(name):
            problems.append(f"{where}: invalid metric name {name!r}")
            continue
        labels = {}
        if line.startswith("{", i):
            labels, i = parse_labels(line, i, problems, where)
            if i is None:
                continue
        rest = line[i:]
        if not rest.startswith(" "):
            problems.append(f"{where}: no space before the value")
            continue
        fields = rest[1:].split(" ")
        if len(fields) != 1:
            problems.append(f"{where}: {len(fields)} fields after the labels (a timestamp?); want the value only")
        if not VALUE.match(fields[0]):
            problems.append(f"{where}: value {fields[0]!r} does not parse")
            continue
        if name != current:
            problems.append(f"{where}: sample of {name} outside its family (no HELP/TYPE just before, or not together)")
            continue
        fam = families[name]
        if fam.help is None or fam.type is None:
            problems.append(f"{where}: sample of {name} before its HELP and TYPE")
        value = decimal.Decimal(fields[0])
        if fam.type == "counter" and not value >= 0:
            problems.append(f"{where}: counter {name} = {fields[0]}")
        if any(labels == other for other, _ in fam.samples):
            problems.append(f"{where}: {name} twice with the labels {labels}")
        fam.samples.append((labels, value))
    return families


def check_families(families, problems):
    """The families against stats.def: names, order, TYPE, HELP, labels."""
    want = ["libtmc_up"] + [gen_docs.prometheus_name(n, k, u) for n, k, u, _ in gen_docs.stats()]
    if list(families) != want:
        problems.append("families differ from stats.def:\n      got  %s\n      want %s" % (list(families), want))
    for name, kind, unit, doc in gen_docs.stats():
        fam = families.get(gen_docs.prometheus_name(name, kind, unit))
        if fam is None:
            continue
        if fam.type != kind:
            problems.append(f"{fam.name}: TYPE {fam.type}, stats.def says {kind}")
        if fam.help != doc:
            problems.append(f"{fam.name}: HELP {fam.help!r}, stats.def says {doc!r}")
    for fam in families.values():
        if fam.type == "counter" and not fam.name.endswith("_total"):
            problems.append(f"counter {fam.name} does not end in _total")
        if fam.type == "gauge" and fam.name.endswith("_total"):
            problems.append(f"gauge {fam.name} ends in _total")
        for labels, _ in fam.samples:
            if set(labels) != {"pid", "command"}:
                problems.append(f"{fam.name}: labels {sorted(labels)}, want command and pid")
            elif not labels["pid"].isdigit():
                problems.append(f"{fam.name}: pid label {labels['pid']!r} is not a number")


def sample(families, name, pid):
    fam = families.get(name)
    for labels, value in fam.samples if fam else []:
        if labels.get("pid") == str(pid):
            return labels, value
    return None, None


def compare_numbers(families, pid, before, after, problems, moved):
    """PID's samples against the two JSON readings around the metrics request."""
    labels, up = sample(families, "libtmc_up", pid)
    if up != 1:
        problems.append(f"libtmc_up for pid {pid} is {up}, want 1")
    try:
        comm = pathlib.Path(f"/proc/{pid}/comm").read_bytes().decode("utf-8", "replace").removesuffix("\n")
    except OSError as e:
        comm = None
        problems.append(f"cannot read /proc/{pid}/comm: {e}")
    if labels and comm is not None and labels.get("command") != comm:
        problems.append(f"command label {labels.get('command')!r}, /proc/{pid}/comm is {comm!r}")
    compared = 0
    for name, kind, unit, _ in gen_docs.stats():
        metric = gen_docs.prometheus_name(name, kind, unit)
        _, value = sample(families, metric, pid)
        if value is None:
            problems.append(f"no {metric} sample for pid {pid}")
            continue
        if name not in before or name not in after:
            problems.append(f"{name} missing from `tmcctl stats --json`")
            continue
        raw = value * (10 ** SECONDS_EXPONENT.get(unit, 0))
        if raw != raw.to_integral_value():
            problems.append(f"{metric} = {value} is not a whole number of {unit or 'units'}")
            continue
        lo, hi = sorted((before[name], after[name]))
        if kind == "counter" and before[name] > after[name]:
            problems.append(f"counter {name} went back between two JSON readings: {before[name]} -> {after[name]}")
        if lo <= raw <= hi:
            compared += 1
        elif kind == "gauge":  # it may have moved and come back: measure again
            moved.append(f"{name}: JSON {before[name]} then {after[name]}, metrics {raw}")
        else:
            problems.append(f"{metric} = {value} ({raw} {unit}); `tmcctl stats --json` said {before[name]} then {after[name]}")
    return compared


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmcctl", required=True)
    ap.add_argument("--pid", required=True, type=int)
    ap.add_argument("--save")
    args = ap.parse_args()
    for attempt in range(1, 6):
        problems, moved = [], []
        readings = []
        for cmd in (["stats", str(args.pid), "--json"], ["metrics"], ["stats", str(args.pid), "--json"]):
            r = run([args.tmcctl] + cmd)
            if r.returncode != 0:
                print(f"    tmcctl {' '.join(cmd)}: exit status {r.returncode}: {r.stderr.strip()}")
                return 1
            readings.append(r.stdout)
        before, text, after = json.loads(readings[0]), readings[1], json.loads(readings[2])
        if args.save:
            pathlib.Path(args.save).write_text(text)
        families = parse_exposition(text, problems)
        check_families(families, problems)
        compared = compare_numbers(families, args.pid, before, after, problems, moved)
        processes = len(families["libtmc_up"].samples) if "libtmc_up" in families else 0
        print(f"    round {attempt}: {len(text.splitlines())} lines, {len(families)} families, "
              f"{processes} processes; for pid {args.pid}: {compared} statistics within their JSON "
              f"readings, {len(moved)} gauges moved, {len(problems)} problems")
        for p in problems:
            print("    problem: " + p)
        if problems:
            return 1
        if not moved:
            return 0
        for m in moved:
            print("    moved: " + m)
    print("    problem: gauges kept moving outside their JSON readings in 5 rounds")
    return 1


if __name__ == "__main__":
    sys.exit(main())
