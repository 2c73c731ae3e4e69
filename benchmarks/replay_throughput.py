"""Throughput of s3kit's batched engine vs a naive S3-style loop, and scaling with population.

    python benchmarks/replay_throughput.py [--backend embedded] [--naive 24] [--agents 1000 10000]

What it measures, in one process, same model, same machine, same prompts:

1. **s3kit engine**: one ``Simulation`` step where ``--decide`` agents are active; agents go in
   chunks, and each decision kind (emotion, attitude, action) of a chunk is one batched
   ``llm.score`` call (length-bucketed, shared system prefix, compact prompts, identical
   prompts scored once, each agent's prompt head reused from the prefix cache).
   Agent-decisions/s = LLM decisions the agents needed (agents that read something x 3,
   ``Simulation.n_decisions_``) / wall time of the whole step (environment included).
2. **naive S3-style loop**: the very prompts the engine sent (``Simulation.last_decisions``,
   same system prompt), one agent at a time, one chat *generation* per decision
   (prefix cache off), answer parsed by keyword, twice: answers capped at 8 tokens (a lower
   bound: most answers are cut before they name an option) and at 40 (until the end of turn,
   as a loop that needs a parseable answer must); agent-decisions/s over ``--naive``
   decisions. The ratio of the two is printed, with the load average (the machine may be
   shared: compare the ratio, measured in the same run, rather than absolute rates).
3. **scaling**: time per step (and peak RSS) for 1k and 10k agents on the MCID-Twitter graph
   (``$S3KIT_DATA_DIR``) or on generated samples of that size, with an activation rate giving
   ``--active-share`` of the population each step; a 100k projection from the measured
   per-agent environment cost and decision throughput.

The response cache is off: every number is real model work. Both timed parts start warm (one
untimed call each first: the first forward pass of a process pays one-off kernel set-up and the
shared system prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_network(n_users: int, seed: int = 0):
    from s3kit.environment import SocialNetwork
    from s3kit.sample import generate_sample

    ds = generate_sample(n_users=n_users, seed=seed)
    ds.posts = ds.posts[ds.posts["event_id"] == "e0"]
    until = ds.posts["time"].min() + pd.Timedelta(hours=1)
    return SocialNetwork.from_dataset(ds, until=until), "generated sample"


def mcid_network():
    root = os.environ.get("S3KIT_DATA_DIR")
    if not root or not os.path.isdir(os.path.join(root, "mcid_twitter")):
        return None
    from s3kit.datasets import load_dataset
    from s3kit.environment import SocialNetwork

    ds = load_dataset("mcid_twitter", root)
    counts = ds.posts["event_id"].value_counts()
    ev = counts.index[0]
    posts = ds.posts[ds.posts["event_id"] == ev]
    ds.posts = posts
    until = posts["time"].min() + pd.Timedelta(hours=1)
    return SocialNetwork.from_dataset(ds, until=until, proxy="follows"), f"mcid_twitter {ev}"


def make_sim(net, llm, cfg, event_id=None):
    from s3kit.embeddings import HashingEmbedder
    from s3kit.simulation import Simulation

    # seed_posts=[]: nobody starts with new input, so exactly the agents drawn by
    # activation_rate decide (a controlled number of decisions per step)
    return Simulation(net, cfg, llm=llm, event_id=event_id, seed_posts=[],
                      embedder=HashingEmbedder(dim=256))


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def naive_loop(llm, prompts, system, options_by_kind, max_new_tokens=8):
    """One generation per decision, one agent at a time, answer parsed by keyword."""
    t0 = time.perf_counter()
    parsed = 0
    for kind, prompt in prompts:
        text = llm.generate([prompt], system=system, max_new_tokens=max_new_tokens)[0].lower()
        words = [o.strip().lower() for o in options_by_kind[kind]]
        if any(w in text for w in words):
            parsed += 1
    return time.perf_counter() - t0, parsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="embedded")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--decide", type=int, default=96, help="active agents in the engine step")
    ap.add_argument("--naive", type=int, default=24, help="decisions in the naive loop")
    ap.add_argument("--agents", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--steps", type=int, default=2, help="steps timed per population size")
    ap.add_argument("--active-share", type=float, default=0.02)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    from s3kit import prompts as P
    from s3kit.llm import load_llm

    t0 = time.perf_counter()
    llm = load_llm(args.backend, cache=False, batch_size=args.batch_size)
    out = {"backend": llm.backend, "model": llm.model, "load_s": time.perf_counter() - t0,
           "batch_size": args.batch_size}
    print(f"loaded {llm!r} in {out['load_s']:.1f} s", flush=True)

    # 1. engine: one step with `decide` agents active (activation_rate picks them)
    net, source = build_network(max(args.decide * 3, 300))
    n = len(net)
    # zero-shot decisions: this measures the LLM scoring engine against the naive loop (the
    # calibrated agents decide without score calls; agents with no input make no decision)
    cfg = {"progress": False, "backend": args.backend, "n_steps": 1, "generate_posts": False,
           "decisions": "zero_shot",
           "activation_rate": min(1.0, args.decide / n), "batch_size": args.batch_size,
           "w_relevance": 0.0}
    sim = make_sim(net, llm, cfg, "e0")
    llm.score(["warm-up"], P.options("emotion", "en"),
              system=P.system_prompt("en", sim.uses_compact_prompts))
    before = llm.stats.prompts
    out["loadavg_start"] = os.getloadavg()
    t1 = time.perf_counter()
    frame = sim.step()
    engine_s = time.perf_counter() - t1
    engine_decisions = sim.n_decisions_
    scored = llm.stats.prompts - before
    engine_rate = engine_decisions / engine_s
    out.update(engine_decisions=engine_decisions, engine_unique_prompts=scored,
               engine_s=engine_s, engine_decisions_per_s=engine_rate,
               engine_active=int(frame["active"].sum()),
               compact_prompts=sim.uses_compact_prompts)
    print(f"s3kit engine: {engine_decisions} decisions ({engine_decisions // 3} agents with "
          f"input x 3, {scored} distinct prompts scored) in {engine_s:.1f} s = "
          f"{engine_rate:.1f} decisions/s", flush=True)

    # 2. naive loop on the same prompts (the first decisions of the same agents)
    lang = "en"
    system = P.system_prompt(lang, sim.uses_compact_prompts)
    active = frame.loc[frame["active"], "user_id"].tolist()
    prompts = []
    for u in active:
        trace = sim.last_decisions(u)
        for kind in ("emotion", "attitude", "action"):
            if not trace[kind]["scored"]:
                continue
            prompts.append((kind, trace[kind]["prompt"]))
            if len(prompts) >= args.naive:
                break
        if len(prompts) >= args.naive:
            break
    opts = {k: P.options(k, lang) for k in ("emotion", "attitude", "action")}
    llm.generate(["warm-up"], system=system, max_new_tokens=2)
    cache = getattr(llm, "prefix_cache", None)
    bound = cache.max_bytes if cache is not None else 0
    if cache is not None:  # the naive loop computes every prompt from scratch
        cache.clear()
        cache.max_bytes = 0
    for cap in (8, 40):  # a tight cap (lower bound) and until end of turn (cap 40)
        naive_s, parsed = naive_loop(llm, prompts, system, opts, max_new_tokens=cap)
        naive_rate = len(prompts) / naive_s
        tag = "" if cap == 8 else f"_cap{cap}"
        out.update({f"naive{tag}_decisions": len(prompts), f"naive{tag}_s": naive_s,
                    f"naive{tag}_decisions_per_s": naive_rate,
                    f"naive{tag}_parsed_share": parsed / max(1, len(prompts)),
                    f"ratio{tag}": engine_rate / naive_rate})
        print(f"naive S3-style loop (answer capped at {cap} tokens): {len(prompts)} decisions "
              f"in {naive_s:.1f} s = {naive_rate:.2f} decisions/s ({parsed}/{len(prompts)} "
              f"answers name an option); ratio engine / naive: {engine_rate / naive_rate:.1f}x",
              flush=True)
    if cache is not None:
        cache.max_bytes = bound
    out["loadavg_end"] = os.getloadavg()
    print(f"load average {out['loadavg_start'][0]:.1f} -> {out['loadavg_end'][0]:.1f} on "
          f"{os.cpu_count()} CPUs, torch threads {_threads()}", flush=True)

    # 3. scaling of time per step with the population
    scaling = []
    graphs = [(k, None) for k in args.agents]
    mc = mcid_network() if os.environ.get("S3KIT_DATA_DIR") else None
    if mc is not None:
        graphs.insert(0, (len(mc[0]), mc))
    for size, prebuilt in graphs:
        t_build = time.perf_counter()
        net, source = prebuilt if prebuilt is not None else build_network(size)
        build_s = time.perf_counter() - t_build
        cfg = {"progress": False, "backend": args.backend, "n_steps": args.steps,
               "generate_posts": True, "max_new_tokens": 24,
               "activation_rate": args.active_share, "batch_size": args.batch_size,
               "w_relevance": 0.0, "decisions": "zero_shot"}
        sim = make_sim(net, llm, cfg)
        stats0 = dict(llm.stats.as_dict())
        times, actives = [], []
        for _ in range(args.steps):
            t1 = time.perf_counter()
            f = sim.step()
            times.append(time.perf_counter() - t1)
            actives.append(int(f["active"].sum()))
        llm_s = llm.stats.seconds - stats0["seconds"]
        env_s = sum(times) - llm_s
        row = {"agents": len(net), "source": source, "build_s": build_s,
               "step_s": float(np.mean(times)), "active_per_step": float(np.mean(actives)),
               "llm_s_per_step": llm_s / args.steps, "env_s_per_step": env_s / args.steps,
               "peak_rss_mb": peak_rss_mb()}
        scaling.append(row)
        print(f"{row['agents']:>7} agents ({source}): {row['step_s']:.1f} s/step with "
              f"{row['active_per_step']:.0f} active (LLM {row['llm_s_per_step']:.1f} s, "
              f"environment {row['env_s_per_step']:.2f} s), peak RSS {row['peak_rss_mb']:.0f} MB",
              flush=True)
    out["scaling"] = scaling
    # projections: 10k x 24 steps, 100k agents per step
    if scaling:
        big = scaling[-1]
        per_agent_env = big["env_s_per_step"] / big["agents"]
        per_decision = 1.0 / engine_rate
        for agents in (10_000, 100_000):
            active = agents * args.active_share
            step = per_agent_env * agents + 3 * active * per_decision
            out[f"projected_step_s_{agents}"] = step
            print(f"projection {agents:>7} agents, {args.active_share:.1%} active: "
                  f"{step:.0f} s/step, 24 steps {24 * step / 60:.1f} min on one process "
                  "(the Ray engine divides the LLM part by the number of workers)", flush=True)
    out["peak_rss_mb"] = peak_rss_mb()
    print(f"peak RSS {out['peak_rss_mb']:.0f} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
