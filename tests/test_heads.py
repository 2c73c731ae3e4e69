"""Calibrated decision heads: learning, persistence, refusal, one pass per text, fidelity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from s3kit.agent import AgentContext, AgentState, decide_calibrated
from s3kit.embeddings import HashingEmbedder
from s3kit.errors import HeadError
from s3kit.heads import PERCEIVED, DecisionHead, DecisionModel, heads_path
from s3kit.llm import FakeLLM

ANGRY = ["this is outrageous!!", "I am furious about this", "how dare they, disgusting",
         "absolutely enraged right now", "so angry I could scream"]
CALM = ["a quiet walk in the park", "nice cup of tea this morning", "reading a book today",
        "the weather is mild and pleasant", "slow sunday with family"]


def _emotion_items(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        if rng.random() < 0.5:
            rows.append((f"{rng.choice(ANGRY)} #{rng.integers(1000)}", "intense"))
        else:
            rows.append((f"{rng.choice(CALM)} #{rng.integers(1000)}", "calm"))
    return pd.DataFrame(rows, columns=["text", "label"])


def _model(seed: int = 0) -> DecisionModel:
    model = DecisionModel(HashingEmbedder(dim=128), info={"comment_share": 0.5})
    model.fit_head("emotion", _emotion_items(200, seed))
    att = pd.DataFrame({"topic": ["vaccines"] * 120,
                        "text": ["vaccines are safe and good"] * 60 + ["vaccines are a scam"] * 60,
                        "label": ["positive"] * 60 + ["negative"] * 60})
    model.fit_head("attitude", att)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 6, 300)
    act = pd.DataFrame({"profile": [f"user{i}" for i in range(300)], "n_exposures": k,
                        "mutual_exposures": 0, "history": 0, "n_followees": 10,
                        "n_followers": 10,
                        "label": np.where(rng.random(300) < k / 6, "repost", "nothing")})
    model.fit_head("action", act, balanced=False)
    return model


def test_head_beats_chance_on_held_back_rows():
    model = DecisionModel(HashingEmbedder(dim=128))
    model.fit_head("emotion", _emotion_items(200, seed=1))
    test = _emotion_items(100, seed=2)
    pred = model.heads["emotion"].predict(model.features("emotion", test))
    assert (pred == test["label"].to_numpy()).mean() >= 0.9


def test_head_contract_and_errors():
    head = DecisionHead("attitude", ["negative", "positive"], seed=0)
    assert not hasattr(head, "coef_")  # __init__ stores parameters only
    with pytest.raises(ValueError, match="not among the head's classes"):
        head.fit(np.zeros((4, 2)), ["negative", "positive", "maybe", "positive"])
    with pytest.raises(ValueError, match="at least two classes"):
        head.fit(np.zeros((4, 2)), ["negative"] * 4)
    X = np.random.default_rng(0).normal(size=(60, 3))
    fitted = head.fit(X, np.where(X[:, 0] > 0, "positive", "negative"))
    assert fitted is head and head.coef_.shape == (2, 3)
    with pytest.raises(ValueError, match="expects 3 features"):
        head.predict_proba(np.zeros((1, 4)))


def test_base_rate_shift_moves_the_positive_rate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = np.where(X[:, 0] + rng.normal(size=400) > 0, "repost", "nothing")
    head = DecisionHead("action", ["nothing", "repost"]).fit(X, y)
    before = head.predict_proba(X)[:, 1].mean()
    head.set_base_rate(0.01, fitted_rate=float((y == "repost").mean()))
    after = head.predict_proba(X)[:, 1].mean()
    assert before > 0.3 and after < 0.05
    assert np.allclose(head.predict_proba(X, observed_rate=False)[:, 1].mean(), before)


def test_save_load_identical_probabilities(tmp_path):
    model = _model()
    model.heads["action"].set_base_rate(0.05, 0.4)
    path = model.save(tmp_path / "h", metrics=[{"head": "emotion", "acc": 1.0}],
                      data_digest="abc", command="s3kit tune --train-dir x")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["training_data"] == "abc" and manifest["command"].startswith("s3kit tune")
    assert manifest["representation"] == {"kind": "hashing", "dim": 128}
    loaded = DecisionModel.load(path)
    items = _emotion_items(20, seed=3).assign(
        topic="vaccines", profile="user1", **{c: 2 for c in PERCEIVED})
    for name in ("emotion", "attitude", "action"):
        assert np.allclose(model.predict_proba(name, items), loaded.predict_proba(name, items),
                           atol=1e-5), name
    assert loaded.info["comment_share"] == 0.5


def test_damaged_or_foreign_heads_are_refused(tmp_path):
    path = _model().save(tmp_path / "h")
    blob = bytearray((path / "heads.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (path / "heads.npz").write_bytes(bytes(blob))
    with pytest.raises(HeadError, match="damaged"):
        DecisionModel.load(path)
    path = _model().save(tmp_path / "h2")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["representation"] = {"kind": "llm", "model": "smollm2-135m-instruct",
                                  "adapter": None, "layers": [15, 30], "max_tokens": 96}
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(HeadError, match="hidden states of 'smollm2-135m-instruct'"):
        DecisionModel.load(path, llm=FakeLLM())
    with pytest.raises(HeadError, match="no decision heads named"):
        heads_path("no-such-heads")


class CountingEmbedder(HashingEmbedder):
    """Counts encoder calls and texts (the stand-in for forward passes)."""

    def __init__(self):
        super().__init__(dim=128)
        self.calls = 0
        self.texts = 0

    def _encode(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return super()._encode(texts)


def test_one_pass_per_text_and_all_decisions_from_it():
    model = _model()
    counter = CountingEmbedder()
    model.embedder = counter
    post = {"text": "vaccines are a scam!!", "kind": "followee"}
    contexts = [AgentContext({"name": f"u{i}"}, AgentState(), received=[post])
                for i in range(50)]
    contexts.append(AgentContext({"name": "quiet"}, AgentState("intense", "negative")))
    perceived = pd.DataFrame({c: [1] * 51 for c in PERCEIVED})
    llm = FakeLLM()
    res = decide_calibrated(model, contexts, perceived, emotion_decay=1.0,
                            uniforms=np.full((3, 51), 0.5))
    # one shared post + 50 profiles encoded once each, in one batch per view; no LLM call
    assert counter.texts == 1 + 50
    assert llm.stats.calls == 0
    emo, p_emo = res["emotion"]
    assert p_emo.shape == (51, 3) and np.allclose(p_emo.sum(axis=1), 1)
    assert emo[-1] == "moderate"  # the quiet agent decays one level
    assert res["attitude"][0][-1] == "negative"  # and keeps its attitude
    assert res["action"][0][-1] == "nothing"
    # a second step over the same texts makes no encoder call
    before = counter.calls
    decide_calibrated(model, contexts, perceived, uniforms=np.full((3, 51), 0.5))
    assert counter.calls == before


def test_decisions_follow_the_text():
    model = _model()
    angry = [AgentContext({}, AgentState(), received=[{"text": ANGRY[0], "kind": "mutual"}])]
    calm = [AgentContext({}, AgentState(), received=[{"text": CALM[0], "kind": "mutual"}])]
    p_angry = decide_calibrated(model, angry, sample=False)["emotion"][1]
    p_calm = decide_calibrated(model, calm, sample=False)["emotion"][1]
    assert p_angry[0, 2] > 0.5 > p_calm[0, 2]


# ----------------------------------------------------------------------------- tune + simulation


@pytest.fixture(scope="module")
def tuned_heads(tmp_path_factory):
    """Heads fitted by the ``s3kit tune`` CLI on a small folder in the shared layout."""
    from test_bench import make_data

    from s3kit.cli import main

    root = make_data(tmp_path_factory.mktemp("data"), n=80)
    out = tmp_path_factory.mktemp("heads") / "toy"
    code = main(["tune", "--train-dir", str(root), "--representation", "hashing",
                 "--n-train", "200", "--n-eval", "40", "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_tune_cli_writes_heads_manifest_and_validation(tuned_heads):
    manifest = json.loads((tuned_heads / "manifest.json").read_text())
    assert set(manifest["heads"]) >= {"emotion", "attitude", "attitude_change", "action",
                                      "gender"}
    assert manifest["command"].startswith("s3kit tune --train-dir")
    assert len(manifest["training_data_digest"]) == 16
    table = pd.read_csv(tuned_heads / "validation.csv")
    att = table[(table["head"] == "attitude") & (table["features"] == "all")]
    assert (att["macro_f1"] > 0.7).all()  # the toy stance words are easy to learn
    ablation = set(table.loc[table["head"] == "action", "features"])
    assert "perceived context only (exposure baseline)" in ablation
    assert manifest["heads"]["action"]["base_rate"] is not None


def test_tune_cli_rejects_bad_arguments(tmp_path, capsys):
    from s3kit.cli import main

    assert main(["tune", "--train-dir", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["tune", "--train-dir", str(tmp_path), "--heads", "mood"]) == 2
    assert "unknown heads" in capsys.readouterr().err


def test_simulation_decides_with_the_heads_and_no_llm_scoring(tuned_heads):
    from test_simulation import make_sim

    sim = make_sim(decisions="calibrated", heads=str(tuned_heads), n_steps=3)
    res = sim.run()
    assert sim.decision_mode == "calibrated"
    assert sim.active_llm.stats.calls == 0  # no score / generate call for the decisions
    assert 0 < sim.repost_rate_ < 1
    adopters = res.curves["adopters"].to_numpy()
    assert (np.diff(adopters) >= 0).all() and adopters[-1] <= len(sim.network)
    zero = make_sim(decisions="zero_shot", n_steps=1)
    zero.run()
    assert zero.decision_mode == "zero_shot" and zero.active_llm.stats.calls > 0


def test_repost_rate_setting_moves_the_spread(tuned_heads):
    from test_simulation import make_sim

    low = make_sim(decisions="calibrated", heads=str(tuned_heads), repost_rate=0.01).run()
    high = make_sim(decisions="calibrated", heads=str(tuned_heads), repost_rate=0.9).run()
    assert high.curves["adopters"].iloc[-1] > low.curves["adopters"].iloc[-1]
