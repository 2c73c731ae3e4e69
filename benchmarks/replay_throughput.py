"""Throughput and scale of population replays (calibrated agents) vs a naive S3-style loop.

    python benchmarks/replay_throughput.py                      # every part
    python benchmarks/replay_throughput.py --parts engine       # one part
    python benchmarks/replay_throughput.py --parts scale --agents 10000 --steps 24

Each part runs in its own process, so its peak RSS is its own (``ru_maxrss`` of that child).
Every figure is measured, on the embedded default model, with the default decision path
(``decisions: auto`` = calibrated heads), a fresh answer cache and fresh representations (the
answer cache is off; text representations are kept in memory for the run only).

Parts:

``engine``
    A replay of the MCID-Twitter event with the most posts in its first hour, on the real
    follower graph (7,863 users), ``--engine-steps`` steps of ``--step-hours``. Agent-decisions
    = 3 (emotion, attitude, action) per agent that read something new in a step
    (``Simulation.n_decisions_``); the rate is decisions / wall time of the steps
    (environment, memory relevance, decisions and the generated comments all included).
``naive``
    The S3-style loop on the same model and the same agents' contexts (those of the engine's
    last step): for each decision, the zero-shot decision prompt
    (``Simulation.last_decisions``), one chat *generation* at a time (prefix cache off),
    answer parsed by keyword; ``--naive`` decisions, answers capped at 40 tokens (until end of
    turn, as a loop that needs a parseable answer must) and at 8 (a lower bound). It runs in
    the engine's process (same contexts) and the ratio engine / naive is printed.
``scale``
    ``--agents`` users of the generated sample x ``--steps`` steps end to end (building the
    network included), ``activation_rate`` ``--active-share``: wall time, peak RSS, decisions.
``ray``
    ``--ray-agents`` users through the Ray engine (``--workers`` local workers, each its own
    model copy), ``--ray-steps`` steps measured; the 24-step time and a multi-machine figure
    are projected from the measured per-step parts (environment on the driver, model time
    divided by the workers).

``--json PATH`` writes every figure; the command line that produced it is in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

PARTS = ("engine", "scale", "ray")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fastest_event(ds, hours: float = 1.0) -> str:
    """The event with the most posts in its first ``hours`` (ties: smallest id)."""
    posts = ds.posts.dropna(subset=["event_id", "time"])
    first = posts.groupby("event_id")["time"].transform("min")
    early = posts[posts["time"] <= first + pd.Timedelta(hours=hours)]
    counts = early["event_id"].astype(str).value_counts()
    return sorted(counts.index[counts == counts.max()])[0]


def _config(**overrides) -> dict:
    cfg = {"progress": False, "llm_cache": False, "backend": "embedded", "n_steps": 3,
           "step_hours": 1.0}
    cfg.update(overrides)
    return cfg


def _timed_steps(sim, n_steps: int) -> tuple[list[float], list[int]]:
    times, decisions = [], []
    for _ in range(n_steps):
        before = sim.n_decisions_
        t = time.perf_counter()
        sim.step()
        times.append(time.perf_counter() - t)
        decisions.append(sim.n_decisions_ - before)
        posts = int(sim.curves()["n_posts"].iloc[-1])
        print(f"  step {len(times)}/{n_steps}: {times[-1]:.1f} s, {decisions[-1]} "
              f"agent-decisions, {posts} posts, peak RSS so far {peak_rss_mb():.0f} MB",
              flush=True)
    return times, decisions


def _posts_written(sim) -> int:
    """Posts the agents wrote so far (original posts and reposts; seed posts not counted)."""
    return int(sim.records()["post_id"].notna().sum())


def naive_loop(llm, prompts, system, options_by_kind, max_new_tokens):
    """One generation per decision, one agent at a time, answer parsed by keyword."""
    t0 = time.perf_counter()
    parsed = 0
    for kind, prompt in prompts:
        text = llm.generate([prompt], system=system, max_new_tokens=max_new_tokens)[0].lower()
        if any(o.strip().lower() in text for o in options_by_kind[kind]):
            parsed += 1
    return time.perf_counter() - t0, parsed


def part_engine(args) -> dict:
    from s3kit import prompts
    from s3kit.config import ReplayConfig
    from s3kit.datasets import load_dataset
    from s3kit.llm import llm_from_config
    from s3kit.replay import build_replay
    from s3kit.simulation import Simulation

    ds = load_dataset("mcid_twitter")
    event = _fastest_event(ds)
    cfg = ReplayConfig.from_dict(_config(dataset="mcid_twitter", event_id=event,
                                         n_steps=args.engine_steps,
                                         step_hours=args.step_hours))
    t0 = time.perf_counter()
    llm = llm_from_config(cfg)
    llm.load()
    load_s = time.perf_counter() - t0
    net, event_id, topic, _, _ = build_replay(cfg)
    sim = Simulation(net, cfg, llm, event_id=event_id, topic=topic)
    times, decisions = _timed_steps(sim, cfg.n_steps)
    rate = sum(decisions) / sum(times)
    out = {"graph": f"mcid_twitter event {event_id}", "users": len(net),
           "decision_mode": sim.decision_mode, "model_load_s": load_s,
           "step_s": times, "decisions_per_step": decisions,
           "agent_decisions_per_s": rate, "peak_rss_mb": peak_rss_mb(),
           "posts_written": _posts_written(sim)}
    print(f"engine ({sim.decision_mode} agents) on {out['graph']} ({len(net)} users): "
          f"{sum(decisions)} agent-decisions in {sum(times):.1f} s over {cfg.n_steps} steps "
          f"(per step {', '.join(f'{t:.1f}' for t in times)} s) = {rate:.1f} decisions/s; "
          f"{out['posts_written']} posts written; peak RSS {out['peak_rss_mb']:.0f} MB",
          flush=True)
    if args.naive:
        out.update(_naive(args, sim, llm, rate, prompts))
    return out


def _naive(args, sim, llm, engine_rate, prompts) -> dict:
    """The naive loop on the zero-shot prompts of the engine's last step's agents."""
    lang = sim.prompt_language
    todo = []
    for user in sim.last_step_agents:
        decisions = sim.last_decisions(user)
        for kind in ("emotion", "attitude", "action"):
            if decisions and decisions[kind]["scored"]:
                todo.append((kind, decisions[kind]["prompt"]))
        if len(todo) >= args.naive:
            break
    todo = todo[:args.naive]
    system = prompts.system_prompt(lang, sim.uses_compact_prompts)
    options = {k: prompts.options(k, lang) for k in ("emotion", "attitude", "action")}
    llm.generate(["warm-up"], system=system, max_new_tokens=2)
    cache = getattr(llm, "prefix_cache", None)
    if cache is not None:  # every prompt computed from scratch, as a naive loop does
        cache.clear()
        cache.max_bytes = 0
    out = {"naive_decisions": len(todo)}
    for cap in (40, 8):
        secs, parsed = naive_loop(llm, todo, system, options, cap)
        naive_rate = len(todo) / secs
        out[f"naive_cap{cap}_decisions_per_s"] = naive_rate
        out[f"naive_cap{cap}_parsed_share"] = parsed / max(1, len(todo))
        out[f"ratio_cap{cap}"] = engine_rate / naive_rate
        print(f"naive S3-style loop, answers capped at {cap} tokens: {len(todo)} decisions in "
              f"{secs:.1f} s = {naive_rate:.2f} decisions/s ({parsed}/{len(todo)} answers name "
              f"an option); engine / naive = {engine_rate / naive_rate:.0f}x", flush=True)
    return out


def _generated_replay(n_users: int, n_steps: int, activation_rate: float, seed: int = 0,
                      **overrides):
    """(config, network) of a replay of the generated sample's event e0 with ``n_users``."""
    from s3kit.config import ReplayConfig
    from s3kit.environment import SocialNetwork
    from s3kit.sample import generate_sample

    cfg = ReplayConfig.from_dict(_config(n_steps=n_steps, activation_rate=activation_rate,
                                         **overrides))
    ds = generate_sample(n_users=n_users, seed=seed)
    ds.posts = ds.posts[ds.posts["event_id"] == "e0"]
    until = ds.posts["time"].min() + pd.Timedelta(hours=cfg.step_hours)
    net = SocialNetwork.from_dataset(ds, until=until, step_hours=cfg.step_hours, seed=seed)
    return cfg, net


def part_scale(args) -> dict:
    from s3kit.llm import llm_from_config
    from s3kit.simulation import Simulation

    t0 = time.perf_counter()
    cfg, net = _generated_replay(args.agents, args.steps, args.active_share,
                                 generate_posts=not args.no_text)
    build_s = time.perf_counter() - t0
    sim = Simulation(net, cfg, llm_from_config(cfg), event_id="e0")
    times, decisions = _timed_steps(sim, cfg.n_steps)
    wall = time.perf_counter() - t0
    out = {"agents": len(net), "steps": cfg.n_steps, "activation_rate": args.active_share,
           "generate_posts": cfg.generate_posts,
           "posts_written": _posts_written(sim),
           "build_s": build_s, "step_s": times, "decisions_per_step": decisions,
           "wall_s": wall, "peak_rss_mb": peak_rss_mb(), "decision_mode": sim.decision_mode,
           "adopters": len(sim.adopters())}
    print(f"scale: {len(net)} agents x {cfg.n_steps} steps end to end in {wall / 60:.1f} min "
          f"(network {build_s:.0f} s, steps median {np.median(times):.1f} s, max "
          f"{max(times):.1f} s), {sum(decisions)} agent-decisions, {out['adopters']} adopters, "
          f"{out['posts_written']} posts "
          f"({'comments generated' if cfg.generate_posts else 'no text generated'}), "
          f"peak RSS {out['peak_rss_mb']:.0f} MB", flush=True)
    return out


def part_ray(args) -> dict:
    import functools

    from s3kit.engines import RayEngine
    from s3kit.llm import load_llm
    from s3kit.simulation import Simulation

    t0 = time.perf_counter()
    cfg, net = _generated_replay(args.ray_agents, args.ray_steps, args.active_share)
    build_s = time.perf_counter() - t0
    engine = RayEngine(functools.partial(load_llm, "embedded", cache=False),
                       n_workers=args.workers,
                       init_kwargs={"num_cpus": os.cpu_count(), "include_dashboard": False})
    sim = Simulation(net, cfg, engine=engine, event_id="e0")
    try:
        times, decisions = _timed_steps(sim, cfg.n_steps)
        model_s = sim.active_llm.stats.seconds
    finally:
        sim.close()
    per_step = float(np.mean(times))
    model_per_step = model_s / args.workers / cfg.n_steps  # workers run in parallel
    env_per_step = max(0.0, per_step - model_per_step)
    machines = 8
    out = {"agents": len(net), "workers": args.workers, "steps": cfg.n_steps,
           "build_s": build_s, "step_s": times, "decisions_per_step": decisions,
           "driver_peak_rss_mb": peak_rss_mb(),
           "projected_24_steps_min": 24 * per_step / 60,
           "projected_24_steps_min_8_machines":
               24 * (env_per_step + model_per_step * args.workers / (machines * 2)) / 60}
    print(f"ray: {len(net)} agents, {args.workers} local workers, {cfg.n_steps} steps measured: "
          f"{per_step:.1f} s/step (model ~{model_per_step:.1f} s, environment and driver "
          f"~{env_per_step:.1f} s), network built in {build_s:.0f} s, driver peak RSS "
          f"{out['driver_peak_rss_mb']:.0f} MB; projected 24 steps "
          f"{out['projected_24_steps_min']:.1f} min here, "
          f"{out['projected_24_steps_min_8_machines']:.1f} min on {machines} machines of 2 "
          "workers (model time divided, environment not)", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="*", default=list(PARTS), choices=PARTS)
    ap.add_argument("--engine-steps", type=int, default=3)
    ap.add_argument("--step-hours", type=float, default=0.25,
                    help="engine part: step length (the MCID cascade is fast)")
    ap.add_argument("--naive", type=int, default=24, help="decisions in the naive loop")
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--active-share", type=float, default=0.02,
                    help="activation_rate of the scale and ray parts")
    ap.add_argument("--no-text", action="store_true",
                    help="scale part: no generated comments (generate_posts: false), to "
                         "separate the engine's cost from text generation's")
    ap.add_argument("--ray-agents", type=int, default=100_000)
    ap.add_argument("--ray-steps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None, help="write every figure here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # one part, in this process
        out = {"engine": part_engine, "scale": part_scale, "ray": part_ray}[args.child](args)
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2, default=float)
        return 0
    results = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv),
               "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}
    for part in args.parts:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
            path = fh.name
        argv_child = [a for a in (argv if argv is not None else sys.argv[1:])]
        cmd = [sys.executable, __file__, *argv_child, "--child", part, "--json", path]
        t = time.perf_counter()
        done = subprocess.run(cmd, check=False)
        if done.returncode:
            print(f"part {part} failed with exit code {done.returncode}", flush=True)
            results[part] = {"error": done.returncode}
            continue
        with open(path) as fh:
            results[part] = json.load(fh)
        results[part]["process_s"] = time.perf_counter() - t
        os.unlink(path)
    results["loadavg_end"] = os.getloadavg()
    print(f"load average {results['loadavg_start'][0]:.1f} -> {results['loadavg_end'][0]:.1f} "
          f"on {results['cpus']} CPUs", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
