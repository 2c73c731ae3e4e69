"""Per-step wall time, agent-decisions and resident memory of a generated replay.

The scale part of ``replay_throughput.py`` reports a run's peak; this shows the curve, which is
what tells a leak (RSS rising every step) from a large but bounded working set. ``--profile``
adds the cProfile table of the steps (cumulative time), to see where a step's time goes.

    python benchmarks/step_memory.py --agents 3000 --steps 5
    python benchmarks/step_memory.py --agents 2000 --steps 4 --profile

Exit status 0 always: this reports, it does not judge.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_throughput import _generated_replay  # noqa: E402  (sibling benchmark script)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--activation-rate", type=float, default=0.02)
    parser.add_argument("--profile", action="store_true", help="print the cProfile table")
    args = parser.parse_args(argv)

    from s3kit.llm import llm_from_config
    from s3kit.simulation import Simulation

    cfg, net = _generated_replay(args.agents, args.steps, args.activation_rate)
    sim = Simulation(net, cfg, llm_from_config(cfg), event_id="e0")
    profiler = cProfile.Profile() if args.profile else None
    print(f"# python benchmarks/step_memory.py {' '.join(argv or sys.argv[1:])}")
    print("step  seconds  decisions  rss_mb")
    for k in range(1, args.steps + 1):
        before, t0 = sim.n_decisions_, time.perf_counter()
        if profiler:
            profiler.enable()
        sim.step()
        if profiler:
            profiler.disable()
        print(f"{k:>4}  {time.perf_counter() - t0:7.1f}  {sim.n_decisions_ - before:9,d}"
              f"  {_rss_mb():6,.0f}", flush=True)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
