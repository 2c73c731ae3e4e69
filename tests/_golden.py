"""Fixed-seed replays for the behaviour-unchanged test (tests/test_golden_replay.py).

``PYTHONPATH=. python tests/_golden.py`` rewrites ``tests/fixtures/golden/*.parquet``; it was
run once on main at 4d2119a, before the issue-16 refactors, and the test compares against those
files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from s3kit.embeddings import HashingEmbedder
from s3kit.environment import SocialNetwork
from s3kit.heads import DecisionModel
from s3kit.llm import FakeLLM
from s3kit.sample import generate_sample
from s3kit.simulation import Simulation

GOLDEN = Path(__file__).parent / "fixtures" / "golden"

CASES = {
    "zero_shot": {"decisions": "zero_shot", "generate_posts": True, "recommender": "popular",
                  "activation_rate": 0.1, "n_replicates": 2, "n_steps": 4,
                  "interventions": [{"step": 1, "kind": "inject_post", "user": "source",
                                     "text": "Official: the rumour is false."},
                                    {"step": 2, "kind": "set_recommender",
                                     "recommender": "random"}]},
    "calibrated": {"decisions": "calibrated", "generate_posts": True, "n_steps": 3,
                   "activation_rate": 0.05},
}


def sample_net(n_users: int = 120, seed: int = 7) -> SocialNetwork:
    ds = generate_sample(n_users=n_users, seed=seed)
    ev = ds.posts[ds.posts["event_id"] == "e0"]
    ds.posts = ev
    return SocialNetwork.from_dataset(ds, until=ev["time"].min() + pd.Timedelta(hours=1))


def small_heads(seed: int = 0) -> DecisionModel:
    """Decision heads fitted on a hashing embedder (no model weights needed)."""
    rng = np.random.default_rng(seed)
    calm = ["nice weather today", "reading a book at home", "slow sunday with family"]
    angry = ["this is outrageous!!", "stop lying to us!!", "I am furious about this"]
    emo = pd.DataFrame({"text": [f"{t} #{i}" for i, t in
                                 enumerate(rng.choice(calm + angry, 200))]})
    emo["label"] = np.where(emo["text"].str.contains("!!|furious"), "intense", "calm")
    model = DecisionModel(HashingEmbedder(dim=128), info={"comment_share": 0.5})
    model.fit_head("emotion", emo)
    att = pd.DataFrame({"topic": ["vaccines"] * 120,
                        "text": ["vaccines are safe and good"] * 60 + ["vaccines are a scam"] * 60,
                        "label": ["positive"] * 60 + ["negative"] * 60})
    model.fit_head("attitude", att)
    k = rng.integers(0, 6, 300)
    act = pd.DataFrame({"profile": [f"user{i}" for i in range(300)], "n_exposures": k,
                        "mutual_exposures": 0, "history": 0, "n_followees": 10,
                        "n_followers": 10,
                        "label": np.where(rng.random(300) < k / 6, "repost", "nothing")})
    model.fit_head("action", act, balanced=False)
    return model


def replay(case: str) -> dict[str, pd.DataFrame]:
    """The frames of one fixed-seed case: per-agent results, curves and the final posts."""
    cfg = {"progress": False, "backend": "fake", "seed": 11, **CASES[case]}
    heads = small_heads() if cfg["decisions"] == "calibrated" else None
    sim = Simulation(sample_net(), cfg, llm=FakeLLM(seed=3), event_id="e0",
                     embedder=HashingEmbedder(dim=64), decision_model=heads)
    res = sim.run()
    posts = sim.current_network.posts_frame().reset_index(drop=True)
    return {"results": res.results, "curves": res.curves,
            "posts": posts.astype({c: str for c in posts.columns if posts[c].dtype == object})}


if __name__ == "__main__":
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        for part, frame in replay(name).items():
            frame.to_parquet(GOLDEN / f"{name}_{part}.parquet")
            print(name, part, frame.shape)
