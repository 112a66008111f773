#!/usr/bin/env python3
"""Plots the roofline fraction against the token count, one line per shape, from
moec-bench JSON files (--json), as a PNG.

    python3 bench/plot.py bench/gpu/results/*.moec.json -o roofline.png

Needs matplotlib, which requirements.txt does not pin (the tests do not need it):
    python3 -m pip install matplotlib
Without it the script says so and exits 3, writing nothing.
"""

import argparse
import json
import os
import sys


def load(paths):
    """[(label, device, [(T, fraction)])] from moec-bench JSON files; rows without a
    roofline (no peak measured) are left out."""
    series = []
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        if report.get("tool") != "moec-bench":
            raise ValueError(f"{path}: not a moec-bench JSON report")
        shape = report.get("shape") or {}
        label = shape.get("name") or os.path.basename(path).split(".")[0]
        points = [(r["tokens"], r["roofline_fraction"]) for r in report["results"]
                  if r.get("roofline_fraction") is not None and r["tokens"] > 0]
        series.append((label, report["device"]["name"], report["target"], points))
    return series


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", help="moec-bench --json files")
    parser.add_argument("-o", "--output", required=True, help="PNG to write")
    parser.add_argument("--title", help="default: the device and target of the reports")
    args = parser.parse_args(argv)
    try:
        series = load(args.reports)
    except (OSError, ValueError, KeyError) as error:
        print(f"plot: error: {error}", file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot: matplotlib is not installed, no plot written "
              "(python3 -m pip install matplotlib)", file=sys.stderr)
        return 3
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for label, _, _, points in series:
        if points:
            axes.plot([t for t, _ in points], [100 * f for _, f in points], marker="o",
                      label=label)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("tokens T")
    axes.set_ylabel("roofline fraction (%)")
    axes.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    devices = sorted({f"{device} ({target})" for _, device, target, _ in series})
    axes.set_title(args.title or "moec: t_roofline / t_measured on " + ", ".join(devices),
                   fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.output)
    print(f"plot: wrote {args.output} ({len(series)} shapes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
