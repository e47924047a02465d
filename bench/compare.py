"""Compares two seshfs builds: bench.py alternately with each, N times each.

For each figure it prints the median of each build's runs beside the
baseline's own min-max over all runs: a change is real only where the two
medians differ by more than the baseline drifts.

Usage: bench/compare.sh OLD_SESHFS NEW_SESHFS [--runs N] [bench.py options]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--container", required=True)
    ap.add_argument("--runs", type=int, default=5)
    a, rest = ap.parse_known_args()
    here = os.path.dirname(os.path.abspath(__file__))
    results = {"old": [], "new": []}
    for i in range(a.runs):
        for which in ("old", "new"):
            # A run that fails (a mount that timed out on a loaded machine) is tried once more.
            for attempt in range(2):
                with tempfile.NamedTemporaryFile(suffix=".json") as out:
                    done = subprocess.run([sys.executable, os.path.join(here, "bench.py"), "--seshfs",
                                           getattr(a, which), "--client", a.client, "--container",
                                           a.container, "--json", out.name, *rest],
                                          stdout=subprocess.DEVNULL).returncode == 0
                    if done:
                        results[which].append(json.load(open(out.name)))
                        break
            print(f"run {i + 1}/{a.runs} {which} {'done' if done else 'failed twice'}", file=sys.stderr)
    if not results["old"] or not results["new"]:
        sys.exit("compare: no run of one of the builds completed")
    print(f"{len(results['old'])} runs of the old build, {len(results['new'])} of the new, alternating")
    print(f"{'figure':44} {'old':>10} {'new':>10} {'new/old':>8}   baseline min-max")
    # Rows by name: a figure one build lacks (an older seshfs) is shown for the other alone.
    by_name = {w: [{row["name"]: row for row in r} for r in runs] for w, runs in results.items()}
    for row in results["new"][0]:
        name = row["name"]
        vals = {w: [r[name]["seshfs"] for r in runs if name in r] for w, runs in by_name.items()}
        base = [r[name]["baseline"] for runs in by_name.values() for r in runs if name in r]
        old = statistics.median(vals["old"]) if vals["old"] else float("nan")
        new = statistics.median(vals["new"])
        print(f"{name:44} {old:>10,.0f} {new:>10,.0f} {new / old:>7.3f}x   "
              f"{min(base):,.0f}-{max(base):,.0f} {row['unit']}")


if __name__ == "__main__":
    main()
