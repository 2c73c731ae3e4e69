"""The Ray engine shards decisions over workers and gives the local engine's results."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from s3kit.embeddings import HashingEmbedder
from s3kit.engines import RayEngine, _split
from s3kit.environment import SocialNetwork
from s3kit.llm import FakeLLM
from s3kit.sample import generate_sample
from s3kit.simulation import Simulation

ray = pytest.importorskip("ray") if not __import__("os").environ.get("CI") else __import__("ray")


def test_split_is_contiguous_and_balanced():
    assert _split(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert _split(2, 4) == [(0, 1), (1, 2)]
    parts = _split(100, 4, [1] * 50 + [3] * 50)
    assert parts[0][0] == 0 and parts[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))


def test_ray_engine_matches_local_engine():
    ds = generate_sample(n_users=150, seed=5)
    ds.posts = ds.posts[ds.posts["event_id"] == "e0"]
    net = SocialNetwork.from_dataset(ds, until=ds.posts["time"].min() + pd.Timedelta(hours=1))
    cfg = {"progress": False, "backend": "fake", "n_steps": 3, "activation_rate": 0.05,
           "generate_posts": True}
    local_llm = FakeLLM(seed=2)
    local = Simulation(net, cfg, llm=local_llm, event_id="e0",
                       embedder=HashingEmbedder(dim=64)).run()
    engine = RayEngine(functools.partial(FakeLLM, seed=2), n_workers=2,
                       init_kwargs={"num_cpus": 2, "include_dashboard": False})
    sim = Simulation(net, cfg, engine=engine, event_id="e0", embedder=HashingEmbedder(dim=64))
    try:
        remote = sim.run()
        # both workers answered part of the batches
        assert len(ray.get([a.describe.remote() for a in engine._actors])) == 2
    finally:
        sim.close()
    assert not ray.is_initialized()
    pd.testing.assert_frame_equal(remote.results, local.results)
    pd.testing.assert_frame_equal(remote.curves, local.curves)
    pd.testing.assert_frame_equal(remote.posts, local.posts)
    assert remote.llm_stats["prompts"] == local_llm.stats.prompts
    # sharding: more model calls than the single local backend made
    assert remote.llm_stats["calls"] > local_llm.stats.calls


@pytest.mark.llm
@pytest.mark.slow
def test_calibrated_agents_on_ray_match_the_local_engine():
    """Calibrated agents read hidden states through the workers: same texts, same decisions."""
    from s3kit.llm import load_llm

    ds = generate_sample(n_users=120, seed=3)
    ds.posts = ds.posts[ds.posts["event_id"] == "e0"]
    net = SocialNetwork.from_dataset(ds, until=ds.posts["time"].min() + pd.Timedelta(hours=1))
    cfg = {"progress": False, "backend": "embedded", "n_steps": 2, "activation_rate": 0.05,
           "generate_posts": False, "llm_cache": False, "decisions": "auto"}
    local_llm = load_llm("embedded", cache=False)
    texts = ["the vaccine is safe", "", "开放二胎", "a much longer text " * 20]
    local = Simulation(net, cfg, llm=local_llm, event_id="e0",
                       embedder=HashingEmbedder(dim=64)).run()
    engine = RayEngine(functools.partial(load_llm, "embedded", cache=False), n_workers=2,
                       init_kwargs={"num_cpus": 2, "include_dashboard": False})
    sim = Simulation(net, cfg, engine=engine, event_id="e0", embedder=HashingEmbedder(dim=64))
    try:
        remote = sim.run()
        sharded = engine.llm.hidden_states(texts, [15, 30])
    finally:
        sim.close()
    here = local_llm.hidden_states(texts, [15, 30])
    assert sharded.shape == here.shape == (4, 1152)
    np.testing.assert_allclose(sharded, here, rtol=0, atol=0.05 * np.abs(here).max())
    assert sim.decision_mode == "calibrated" and sim.n_decisions_ > 0
    pd.testing.assert_frame_equal(remote.curves, local.curves)
