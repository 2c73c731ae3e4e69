"""Wall-clock figures the unit tests used to assert (they check behaviour only now).

Prints seconds for: the synthetic sample at 10k users, a 10k-user network with its feeds,
100k memory deliveries to 10k agents, the YAML alias bomb's rejection, and (with the shared
data) each dataset loader and the MCID follow graph.

    python benchmarks/scale_timings.py                      # S3KIT_DATA_DIR for the loaders
    python benchmarks/scale_timings.py --data-dir ../shared/data --repeat 3

The figures the tests used to require on the 2-core CI machine, for reference: sample < 10 s,
network + feeds < 20 s, memory deliveries < 5 s, alias bomb < 2 s, each loader < 60 s,
MCID graph < 10 s. Exit status 0 always: this reports, it does not judge.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sample_10k():
    from s3kit.sample import generate_sample

    generate_sample(n_users=10_000, seed=0)


def network_feeds_10k(ds):
    from s3kit.environment import SocialNetwork

    def run():
        net = SocialNetwork.from_dataset(ds, recommender="popular")
        net.tick(12)
        sum(len(net.feed(u, k=10)) for u in net.users)
    return run


def memory_deliveries():
    from s3kit.memory import MemoryBank

    n = 10_000
    bank = MemoryBank(np.arange(n), embedder=None, memory_size=5)
    rng = np.random.default_rng(1)
    ids = bank.register([f"m{j}" for j in range(200)])
    users = rng.integers(0, n, size=100_000)
    msgs = rng.choice(ids, size=100_000)
    bank.deliver(users, msgs, kinds="followee", times=rng.uniform(0, 24, size=100_000))


def alias_bomb():
    from s3kit.config import ReplayConfig
    from s3kit.errors import ConfigError

    lines = ["interventions:", "  - step: 1", "    kind: ban_user",
             "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("    user: *a11")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bomb.yaml"
        path.write_text("\n".join(lines) + "\n")
        try:
            ReplayConfig.from_yaml(path).to_dict()
        except ConfigError:
            return
    raise AssertionError("the alias bomb was accepted")


def loaders(root: Path) -> dict[str, object]:
    from s3kit.datasets import available_datasets, load_dataset

    def quiet(name):  # the loaders with progress bars
        return {"progress": False} if name in ("ced", "mcid_twitter") or (
            root / name / "tree").is_dir() else {}

    return {f"load {name}": (lambda name=name: load_dataset(name, root, **quiet(name)))
            for name in available_datasets(root)}


def mcid_graph(root: Path):
    from s3kit.datasets.base import SocialDataset
    from s3kit.environment import SocialNetwork

    edges = pd.read_csv(root / "mcid_twitter" / "edges.txt", header=None,
                        names=["follower", "followee"], dtype=str)
    return lambda: SocialNetwork.from_dataset(SocialDataset(name="mcid", follows=edges)).stats()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("S3KIT_DATA_DIR"),
                        help="shared data folder (default: $S3KIT_DATA_DIR); loaders skipped "
                             "without it")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    args = parser.parse_args(argv)
    from s3kit.sample import generate_sample

    big = generate_sample(n_users=10_000, seed=0)
    cases = {"sample 10k users": sample_10k,
             "network + feeds, 10k users": network_feeds_10k(big),
             "memory: 100k deliveries, 10k agents": memory_deliveries,
             "config alias bomb rejected": alias_bomb}
    root = Path(args.data_dir) if args.data_dir else None
    if root is not None and root.is_dir():
        cases.update(loaders(root))
        if (root / "mcid_twitter" / "edges.txt").is_file():
            cases["mcid follow graph + stats"] = mcid_graph(root)
    else:
        print(f"(no shared data at {args.data_dir!r}: loader timings skipped)")
    width = max(map(len, cases))
    for name, fn in cases.items():
        print(f"{name:<{width}}  {_timed(fn, args.repeat):8.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
