#!/usr/bin/python3
"""Does libtmc ever cost more than plain? Redis, plain and under libtmc, memory sampled over time.

Two scenarios, each run for the plain server and for libtmc (one server at a time):

  zipf    load --keys records (tmc_loadgen's realistic values), let them go cold
          (--cold-wait, libtmc with TMC_COLD_AGE=--cold-age), then a Zipf(0.99) load of
          --duration (90% reads, every value read checked), then --after of quiet.
  digest  load (libtmc with TMC_COLD_AGE=1h), then for libtmc `tmcctl target PID --target`
          (a share of the peak RSS, about the plain server's), wait until RSS is within 5% of
          the target (at most 60 s), DEBUG DIGEST (compared with the plain server's after the
          same load), then --after of quiet.

Every --interval: Pss and Rss (/proc/PID/smaps_rollup), page tables (VmPTE), and for libtmc
tmcctl's pool_bytes, compr_bytes (pool_bytes - compr_bytes: the pool's memory that holds no
blob), compressed_pages, faults and evictions. Prints per phase max / mean / last of each,
and libtmc's Pss and Rss minus plain's in the same phase. --json writes every sample.

usage: bench/rss_excess.py --build-dir DIR [--keys 300000] [--duration 60] [--cold-age 10s]
       [--cold-wait 30] [--after 15] [--target 70%] [--interval 0.5] [--scenarios zipf,digest]
       [--env TMC_X=Y]... [--json FILE] [--tag NAME]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rollup(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss"):
                    out[k.lower()] = int(v.split()[0]) * 1024
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmPTE:"):
                    out["pte"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


class Sampler(threading.Thread):
    def __init__(self, pid, tmcctl, interval):
        super().__init__(daemon=True)
        self.pid, self.tmcctl, self.interval = pid, tmcctl, interval
        self.phase = "start"
        self.samples = []
        self.stop = False
        self.t0 = time.monotonic()

    def take(self):
        s = {"t": round(time.monotonic() - self.t0, 2), "phase": self.phase}
        s.update(rollup(self.pid))
        if self.tmcctl:
            try:
                st = json.loads(subprocess.run([self.tmcctl, "stats", str(self.pid), "--json"],
                                               capture_output=True, text=True, timeout=5).stdout)
                for k in ("pool_bytes", "compr_bytes", "compressed_pages", "faults", "evictions",
                          "target_bytes", "held_faults"):
                    if k in st:
                        s[k] = st[k]
            except Exception:
                pass
        self.samples.append(s)
        return s

    def run(self):
        while not self.stop:
            self.take()
            time.sleep(self.interval)


def mib(b):
    return f"{b / 1048576:.0f}" if b is not None else "-"


class Server:
    def __init__(self, args, env):
        self.port = free_port()
        self.state = f"/tmp/rss_excess.{os.getpid()}.{self.port}.state"  # loadgen's per-key versions
        full_env = dict(os.environ)
        full_env.pop("LD_PRELOAD", None)
        full_env.update(env)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--enable-debug-command", "yes",
             "--logfile", ""], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.cli("ping") == "PONG":
                return
            time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def cli(self, *cmd):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *cmd], capture_output=True, text=True)
        return r.stdout.strip()

    def stop(self):
        self.cli("shutdown", "nosave")
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if os.path.exists(self.state):
            os.unlink(self.state)


def loadgen(args, srv, *extra):
    cmd = [args.loadgen, "--server", "redis", "--port", str(srv.port), "--keys", str(args.keys),
           "--seed", "1", "--quiet", "--state", srv.state, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"  loadgen {' '.join(extra)}: exit {r.returncode}: {r.stderr.strip()[-300:]}", file=sys.stderr)
    return r.returncode


def run_variant(args, scenario, libtmc):
    env = {}
    if libtmc:
        env = {"LD_PRELOAD": args.lib}
        if scenario == "zipf":
            env["TMC_COLD_AGE"] = args.cold_age
        else:
            env["TMC_COLD_AGE"] = "1h"  # the target is set once loaded: --target of that peak
        for e in args.env:
            k, _, v = e.partition("=")
            env[k] = v
    srv = Server(args, env)
    smp = Sampler(srv.proc.pid, args.tmcctl if libtmc else None, args.interval)
    smp.start()
    result = {"scenario": scenario, "variant": "libtmc" if libtmc else "plain", "env": env}
    try:
        smp.phase = "load"
        loadgen(args, srv, "--load")
        if scenario == "zipf":
            if not libtmc:
                result["digest"] = srv.cli("debug", "digest")
            smp.phase = "cold"
            time.sleep(args.cold_wait)
            smp.phase = "zipf"
            result["loadgen_rc"] = loadgen(args, srv, "--duration", f"{args.duration}s", "--dist", "zipf:0.99",
                                           "--reads", "0.9", "--verify", "--threads", "1", "--conns", "4",
                                           "--pipeline", "8")
            smp.phase = "after"
            time.sleep(args.after)
        else:
            smp.phase = "settle"
            if libtmc:
                subprocess.run([args.tmcctl, "target", str(srv.proc.pid), args.target], capture_output=True)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    s = smp.samples[-1]
                    if s.get("target_bytes") and s.get("rss", 1 << 62) <= s["target_bytes"] * 1.05:
                        break
                    time.sleep(0.5)
            else:
                time.sleep(2)
            smp.phase = "digest"
            t = time.monotonic()
            result["digest"] = srv.cli("debug", "digest")
            result["digest_s"] = round(time.monotonic() - t, 2)
            smp.phase = "after"
            time.sleep(args.after)
        smp.stop = True
        smp.join()
        result["final"] = smp.take()
    finally:
        smp.stop = True
        srv.stop()
    result["samples"] = smp.samples
    return result


def phase_stats(samples, phase, key):
    v = [s[key] for s in samples if s["phase"] == phase and key in s]
    if not v:
        return None
    return {"max": max(v), "mean": sum(v) / len(v), "end": v[-1]}


def report(results):
    by = {(r["scenario"], r["variant"]): r for r in results}
    for scenario in ("zipf", "digest"):
        plain, tmc = by.get((scenario, "plain")), by.get((scenario, "libtmc"))
        if not plain or not tmc:
            continue
        print(f"\n== {scenario}: MiB (max / mean / end of each phase)")
        if plain.get("digest") is not None and tmc.get("digest") is not None and scenario == "digest":
            print(f"   digest plain {plain['digest']} libtmc {tmc['digest']} equal: {plain['digest'] == tmc['digest']}"
                  f" (took {tmc.get('digest_s')} s)")
        if scenario == "zipf":
            print(f"   loadgen exit status (0 = every value checked equal): {tmc.get('loadgen_rc')}")
        phases = []
        for s in tmc["samples"]:
            if s["phase"] not in phases:
                phases.append(s["phase"])
        keys = ["pss", "rss", "pte", "pool_bytes", "compr_bytes"]
        for ph in phases:
            p = phase_stats(plain["samples"], ph, "pss") or phase_stats(plain["samples"], "after", "pss")
            prss = phase_stats(plain["samples"], ph, "rss") or phase_stats(plain["samples"], "after", "rss")
            line = [f"   {ph:7s} plain Pss {mib(p['max'])}/{mib(p['mean'])}/{mib(p['end'])}" if p else f"   {ph:7s}"]
            for k in keys:
                st = phase_stats(tmc["samples"], ph, k)
                if st:
                    line.append(f"{k} {mib(st['max'])}/{mib(st['mean'])}/{mib(st['end'])}")
            t = phase_stats(tmc["samples"], ph, "pss")
            if p and t:
                line.append(f"EXCESS Pss max {mib(t['max'] - p['max'])} end {mib(t['end'] - p['end'])}")
            trss = phase_stats(tmc["samples"], ph, "rss")
            if prss and trss:
                line.append(f"EXCESS Rss max {mib(trss['max'] - prss['max'])} end {mib(trss['end'] - prss['end'])}")
            print(" | ".join(line))
        f = tmc["final"]
        tb = f.get("target_bytes")
        print(f"   final libtmc Rss {mib(f.get('rss'))} Pss {mib(f.get('pss'))} target {mib(tb)}; "
              f"plain Rss {mib(plain['final'].get('rss'))} Pss {mib(plain['final'].get('pss'))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--lib")
    ap.add_argument("--keys", type=int, default=300000)
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--cold-age", default="10s")
    ap.add_argument("--cold-wait", type=int, default=30)
    ap.add_argument("--after", type=int, default=15)
    ap.add_argument("--target", default="70%")
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--scenarios", default="zipf,digest")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--json")
    args = ap.parse_args()
    b = os.path.abspath(args.build_dir)
    args.lib = os.path.abspath(args.lib) if args.lib else os.path.join(b, "libtmc.so")
    args.tmcctl = os.path.join(b, "tmcctl")
    args.loadgen = os.path.join(b, "bench", "tmc_loadgen")
    if not os.path.exists(args.loadgen):
        args.loadgen = os.path.join(b, "tmc_loadgen")
    results = []
    for scenario in args.scenarios.split(","):
        for libtmc in (False, True):
            t = time.monotonic()
            results.append(run_variant(args, scenario, libtmc))
            print(f"{scenario} {'libtmc' if libtmc else 'plain'}: {time.monotonic() - t:.0f} s", file=sys.stderr)
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
