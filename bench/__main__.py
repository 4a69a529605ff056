"""``python -m bench NAME [options]``: run one benchmark (``python -m bench`` lists them)."""

from __future__ import annotations

import importlib
import sys

# name -> (module, what it measures)
BENCHMARKS = {
    "paper": ("bench.paper", "1: the full paper sweep on sim (figures from a run + overhead by N)"),
    "saturation": ("bench.saturation", "2: engine saturation on a simulated engine vs naive"),
    "resume": ("bench.resume", "3: resume planning: plan, committed(), set difference"),
    "query": ("bench.query", "4: orgsweep query / report over a results directory"),
    "prefix": ("bench.prefix_figure", "5: prefilled share of the paper sweep's prompts, p1 vs p2"),
    "affinity": (
        "bench.affinity",
        "6: 4 engine replicas, random / least_in_flight vs prefix_affinity routing",
    ),
    "cluster_sim": ("bench.cluster_sim", "7: paper sweep on cluster.yaml GPUs: today vs scheduled"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        if argv and argv[0] not in ("-h", "--help"):
            print(f"unknown benchmark {argv[0]!r}; valid: {', '.join(BENCHMARKS)}")
        print("usage: python -m bench NAME [options]   (NAME --help for its options)")
        for name, (_, what) in BENCHMARKS.items():
            print(f"  {name:11s} {what}")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
