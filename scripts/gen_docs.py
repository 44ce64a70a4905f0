#!/usr/bin/env python3
"""Generates docs/options.md and docs/stats.md from the tables that define them
(src/control/options.def, include/tmc/stats.def), and the options table inside README.md.

    scripts/gen_docs.py           rewrite the generated files
    scripts/gen_docs.py --check   exit 1 if any generated file is out of date (CI)

With --man it writes the man pages libtmc.7 and tmcctl.1 (and .gz) instead
(scripts/man_pages.py), into a build directory: the build does it (cmake/install.cmake), nothing is checked in.

    scripts/gen_docs.py --man DIR --tmcctl PATH [--version V] [--libdir L] [--docdir D]
"""
import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OPTIONS_DEF = ROOT / "src/control/options.def"
STATS_DEF = ROOT / "include/tmc/stats.def"


def c_string(s):
    """Joins adjacent C string literals in s and returns their text."""
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', s))


def split_args(body):
    """Splits a macro argument list on top-level commas (strings may contain commas)."""
    args, depth, cur, in_str = [], 0, "", False
    for i, ch in enumerate(body):
        if ch == '"' and (i == 0 or body[i - 1] != "\\"):
            in_str = not in_str
        if not in_str and ch == "(":
            depth += 1
        if not in_str and ch == ")":
            depth -= 1
        if not in_str and depth == 0 and ch == ",":
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    args.append(cur.strip())
    return args


def rows(path, macro):
    text = re.sub(r"//[^\n]*|/\*.*?\*/", "", path.read_text(), flags=re.S)
    out = []
    for m in re.finditer(macro + r"\((.*?)\)\s*(?=\n\s*(?:[A-Z_]+\(|$)|\Z)", text, flags=re.S):
        out.append(split_args(m.group(1)))
    return out


def describe_type(kind, doc):
    if kind == "Bool":
        return "bool: 1/true/yes/on or 0/false/no/off"
    if kind == "Size":
        return "size: 512M, 2G, ... (K/M/G/T)"
    if kind == "SizeOrPercent":
        return "size (512M, 2G) or percentage (60%)"
    if kind == "Duration":
        return "duration: 500ms, 30s, 5m, 1h (bare number = seconds)"
    if kind == "Uint":
        return "whole number"
    if kind == "Path":
        return "absolute path"
    if kind == "Enum":  # the values are the doc's {a|b|c} list, as options.cc parses them
        m = re.search(r"\{([^}]*)\}", doc)
        return "one of " + ", ".join(m.group(1).split("|")) if m else "one of the listed values"
    return kind


def human_bound(kind, value):
    v = int(eval(value.replace("ull", "").replace("u", "")))  # numeric C expressions only
    if kind in ("Size", "SizeOrPercent"):
        for unit, mult in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
            if v and v % mult == 0:
                return f"{v // mult}{unit}"
    return str(v)


def options():
    """Every option of options.def as a dict: env, default, accepts (with bounds), doc."""
    out = []
    for ident, env, kind, default, lo, hi, *doc in rows(OPTIONS_DEF, "TMC_OPTION"):
        text = c_string(",".join(doc))
        accepts = describe_type(kind, text)
        bounds = []
        if lo.strip() not in ("0",):
            bounds.append("min " + human_bound(kind, lo))
        if hi.strip() not in ("0",):
            bounds.append("max " + human_bound(kind, hi))
        if bounds:
            accepts += " (" + ", ".join(bounds) + ")"
        out.append({"env": c_string(env), "default": c_string(default), "accepts": accepts,
                    "doc": text})
    return out


def options_table():
    lines = ["| variable | default | accepts | meaning |", "| --- | --- | --- | --- |"]
    for o in options():
        text = o["doc"].replace("|", "\\|")
        lines.append(f"| `{o['env']}` | `{o['default']}` | {o['accepts']} | {text} |")
    return "\n".join(lines)


def stats():
    """The rows of stats.def as (name, kind, unit, doc)."""
    return [(name, kind, c_string(unit), c_string(",".join(doc)))
            for name, kind, unit, *doc in rows(STATS_DEF, "TMC_STAT")]


# Units counted in a fraction of a second; Prometheus wants seconds.
TIME_UNITS = {"ns": 1e-9, "ms": 1e-3}


def prometheus_name(name, kind, unit):
    """The metric `tmcctl metrics` exports a statistic as (src/tmcctl/metrics.cc follows the
    same rule, and tests/tools/check_metrics.py holds it to this one): libtmc_ + the name,
    a time unit replaced by a _seconds suffix, _total after a counter."""
    if unit in TIME_UNITS:
        name = "_".join(part for part in name.split("_") if part != unit) + "_seconds"
    elif unit == "bytes" and not name.endswith("_bytes"):
        name += "_bytes"
    return "libtmc_" + name + ("_total" if kind == "counter" else "")


def stats_table():
    lines = ["| field | kind | unit | meaning | `tmcctl metrics` |", "| --- | --- | --- | --- | --- |"]
    for name, kind, unit, doc in stats():
        lines.append(f"| `{name}` | {kind} | {unit} | {doc} | `{prometheus_name(name, kind, unit)}` |")
    return "\n".join(lines)


HEADER = "<!-- generated by scripts/gen_docs.py from {src}; edit the table there -->\n"


def options_doc():
    return (HEADER.format(src="src/control/options.def") + "# libtmc options\n\n"
            "Every option is an environment variable read once at start-up. A malformed value "
            "prints one line naming the variable and what it accepts, and the default is used; "
            "the program always starts. `tmcctl options PID` shows the values a running process "
            "uses.\n\n" + options_table() + "\n")


def stats_doc():
    return (HEADER.format(src="include/tmc/stats.def") + "# libtmc statistics\n\n"
            "`tmcctl stats PID` prints these as a table, `tmcctl stats PID --json` as one JSON "
            "object; programs can read them with `tmc_stats_get()` (include/tmc/tmc.h). Fields of "
            "parts not built yet read 0; none is estimated.\n\n"
            "A *counter* only grows while the process lives; a *gauge* is a current level. "
            "`tmcctl metrics` exports every field for Prometheus under the name in the last "
            "column, with the labels `pid` and `command`; times are converted to seconds.\n\n" + stats_table() + "\n")


def readme_with_table(readme):
    begin, end = "<!-- options:begin -->", "<!-- options:end -->"
    if begin not in readme:
        return readme
    head, rest = readme.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + options_table() + "\n" + end + tail


def write_man(a):
    """Writes each page plain (to read in the build tree) and gzipped (to install: Debian
    installs man pages compressed; mtime 0 keeps the file the same for the same text)."""
    import gzip
    import man_pages  # scripts/man_pages.py, next to this file
    out = pathlib.Path(a.man)
    out.mkdir(parents=True, exist_ok=True)
    pages = {
        "libtmc.7": man_pages.libtmc_7(options(), a.version, a.libdir, a.docdir),
        "tmcctl.1": man_pages.tmcctl_1([{"name": n, "kind": k, "unit": u, "doc": d} for n, k, u, d in stats()],
                                       man_pages.tmcctl_usage(a.tmcctl), a.version),
    }
    for name, text in pages.items():
        (out / name).write_text(text)
        (out / (name + ".gz")).write_bytes(gzip.compress(text.encode(), 9, mtime=0))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    ap.add_argument("--man", metavar="DIR", help="write libtmc.7 and tmcctl.1 into DIR")
    ap.add_argument("--tmcctl", help="the built tmcctl, for its usage text (with --man)")
    ap.add_argument("--version", default="", help="libtmc's version, for the page headers")
    ap.add_argument("--libdir", default="lib", help="library directory under the prefix")
    ap.add_argument("--docdir", default="share/doc/libtmc", help="doc directory under the prefix")
    a = ap.parse_args()
    if a.man:
        if not a.tmcctl:
            ap.error("--man needs --tmcctl")
        return write_man(a)
    check = a.check
    targets = {
        ROOT / "docs/options.md": options_doc(),
        ROOT / "docs/stats.md": stats_doc(),
    }
    readme = ROOT / "README.md"
    if readme.exists():
        targets[readme] = readme_with_table(readme.read_text())
    stale = []
    for path, content in targets.items():
        current = path.read_text() if path.exists() else None
        if current != content:
            stale.append(path.relative_to(ROOT))
            if not check:
                path.write_text(content)
    if check and stale:
        print("out of date (run scripts/gen_docs.py):", ", ".join(map(str, stale)))
        return 1
    if not check:
        for p in stale:
            print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
