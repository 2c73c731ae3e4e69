"""Calibrated decisions do not depend on how texts are batched or agents chunked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from s3kit.embeddings import HashingEmbedder
from s3kit.environment import SocialNetwork
from s3kit.sample import load_sample
from s3kit.simulation import Simulation

pytestmark = [pytest.mark.llm, pytest.mark.slow]

TEXTS = ["The vaccine rollout starts Monday.", "I am furious, this is a lie!!", "ok",
         "开放二胎政策终于来了，大家怎么看？", "", "Lovely quiet morning with tea " * 8,
         "RT @someone: breaking news about the storm", "nothing to see here"] * 2


@pytest.fixture(scope="module")
def llm():
    from s3kit.llm import load_llm

    return load_llm("embedded", cache=False)


def test_hidden_states_do_not_depend_on_the_batch(llm):
    from s3kit.heads import DecisionModel

    layers = [15, 30]
    together = llm.hidden_states(TEXTS, layers)
    alone = np.concatenate([llm.hidden_states([t], layers) for t in TEXTS])
    scale = np.abs(alone).max()
    assert np.abs(together - alone).max() <= 0.02 * scale
    model = DecisionModel.load("default", llm=llm)
    items = pd.DataFrame({"text": TEXTS, "topic": "the policy"})
    a = model.predict_proba("emotion", items)
    model_b = DecisionModel.load("default", llm=llm)
    model_b.embedder.parts[0].batch_size = 1  # the LLM part, one text per pass
    b = model_b.predict_proba("emotion", items)
    assert (a.argmax(1) == b.argmax(1)).all()
    assert np.abs(a - b).max() < 0.02


def test_replay_frames_do_not_depend_on_how_texts_are_batched(llm):
    """The same seed and heads give the same frames whether texts are encoded 1 or 64 at once."""
    from s3kit.heads import DecisionModel

    ds = load_sample()
    ev = ds.posts[ds.posts["event_id"] == "e0"]
    ds.posts = ev
    net = SocialNetwork.from_dataset(ds, until=ev["time"].min() + pd.Timedelta(hours=1))
    cfg = {"progress": False, "backend": "embedded", "n_steps": 2, "llm_cache": False,
           "generate_posts": False, "seed": 3}
    frames = []
    for batch_size in (1, 64):
        model = DecisionModel.load("default", llm=llm)
        for part in getattr(model.embedder, "parts", [model.embedder]):
            part.batch_size = batch_size
        sim = Simulation(net, cfg, llm=llm, event_id="e0", embedder=HashingEmbedder(dim=64),
                         decision_model=model)
        assert sim.decision_mode == "calibrated"
        frames.append(sim.run().results)
    assert frames[0]["active"].sum() > 20  # agents really decided
    pd.testing.assert_frame_equal(frames[0], frames[1])
