"""What a repost comment costs to write: prompt form, stop at the line's end, rows per pass.

Runs a generated replay (calibrated agents) without writing text and keeps the contexts of the
agents that would write a repost comment in its last step; then times the embedded model
writing those comments four ways, on the same contexts, one after another:

- ``repost``: the persona-first post prompt with the shared post's whole ``//@`` chain, to the
  length cap, 16 rows per pass (the previous release);
- ``share``: ``s3kit.prompts.share_prompt`` (the shared post first, words only), to the cap;
- ``share+stop``: the same, stopping at the end of the first line;
- ``share+stop, 64 rows``: the same with ``generate``'s batch (4 x ``batch_size``, the default).

    python benchmarks/comment_writing.py --agents 10000 --steps 10 --n 256

Exit status 0 always: this reports, it does not judge.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_throughput import _generated_replay  # noqa: E402  (sibling benchmark script)


def comment_contexts(n_agents: int, n_steps: int, activation_rate: float) -> list:
    """Contexts of the last step's repost comments of a replay that writes no text."""
    import s3kit.simulation as simulation
    from s3kit.llm import llm_from_config

    kept: list = []

    def keep(llm, contexts, modes="post", **kw):
        modes = [modes] * len(contexts) if isinstance(modes, str) else list(modes)
        kept.append([c for c, m in zip(contexts, modes, strict=True) if m == "share"])
        return [""] * len(contexts)

    cfg, net = _generated_replay(n_agents, n_steps, activation_rate)
    sim = simulation.Simulation(net, cfg, llm_from_config(cfg), event_id="e0")
    real, simulation.write_posts = simulation.write_posts, keep
    try:
        for step in range(n_steps):
            t = time.perf_counter()
            sim.step()
            print(f"  replay step {step + 1}/{n_steps}: {time.perf_counter() - t:.1f} s, "
                  f"{len(kept[-1]) if kept else 0} comments", flush=True)
    finally:
        simulation.write_posts = real
    return kept[-1] if kept else []


def main(argv: list[str] | None = None) -> int:
    from s3kit.agent import COMMENT_STOP, system_prompt, writing_prompt
    from s3kit.llm import load_llm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--activation-rate", type=float, default=0.02)
    parser.add_argument("--n", type=int, default=256, help="comments timed")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    args = parser.parse_args(argv)

    contexts = comment_contexts(args.agents, args.steps, args.activation_rate)[:args.n]
    if not contexts:
        print("no repost comments in the last step")
        return 0
    llm = load_llm("embedded", cache=False)
    llm.ensure_loaded()
    system = system_prompt(contexts[0].lang(), contexts[0].compact)
    ways = [("repost", "repost", 16, ()), ("share", "share", 16, ()),
            ("share+stop", "share", 16, COMMENT_STOP),
            ("share+stop, 64 rows", "share", 64, COMMENT_STOP)]
    print(f"{len(contexts)} comments of step {args.steps}:")
    for name, mode, rows, stop in ways:
        prompts = [writing_prompt(c, mode) for c in contexts]
        n_prompt = np.mean([len(llm.token_ids(p)) for p in prompts])
        llm.batch_size = rows // 4  # generate runs 4 x batch_size rows per pass
        before = llm.stats.completion_tokens
        t = time.perf_counter()
        llm.generate(prompts, system=system, max_new_tokens=args.max_new_tokens, stop=stop)
        seconds = time.perf_counter() - t
        new = (llm.stats.completion_tokens - before) / len(prompts)
        print(f"  {name:22s} prompt {n_prompt:5.0f} tokens, {new:4.1f} new tokens per comment, "
              f"{seconds:6.1f} s ({seconds / len(prompts):.3f} s per comment)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
