"""run_replay: the main job writes results, curves (simulated + real), manifest and figures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from s3kit.config import ReplayConfig
from s3kit.replay import run_replay

FAST = {"backend": "fake", "n_steps": 3, "generate_posts": False, "w_relevance": 0.0,
        "progress": False, "name": "t"}


def check_artefacts(out, n_steps, backend):
    results = pd.read_parquet(out / "results.parquet")
    curves = pd.read_parquet(out / "curves.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert list(results.columns) == ["replicate", "seed", "step", "user_id", "active", "emotion",
                                     "attitude", "action", "post_id"]
    assert sorted(results["step"].unique()) == list(range(n_steps))
    assert results.groupby("step").size().nunique() == 1  # one row per agent and step
    sim = curves[curves["source"] == "simulated"]
    real = curves[curves["source"] == "real"]
    assert sim["step"].tolist() == list(range(n_steps))
    assert len(real) == n_steps + 2 and real["adopters"].is_monotonic_increasing
    assert sim["adopters"].is_monotonic_increasing
    assert set(results.loc[results["active"], "emotion"]) <= {"calm", "moderate", "intense"}
    assert set(results["action"].dropna()) <= {"repost", "post", "nothing"}
    assert manifest["backend"] == backend and manifest["parameters"]["n_steps"] == n_steps
    assert manifest["llm"]["prompts"] + manifest["llm"]["cache_hits"] >= 3 * int(
        results["active"].sum())
    assert "sk-s3kit-test-secret" not in (out / "manifest.json").read_text()
    for fig in ("spread.png", "emotion.png", "attitude.png"):
        assert (out / "figures" / fig).stat().st_size > 1000
    return results, curves, manifest


def test_fake_replay_writes_artefacts_and_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-s3kit-test-secret")
    res = run_replay(FAST, tmp_path / "a")
    results, curves, manifest = check_artefacts(tmp_path / "a", 3, "fake")
    assert manifest["event_id"] == "e0" and manifest["dataset"] == "sample"
    assert manifest["network"]["users"] == 300
    again = run_replay(ReplayConfig.from_dict(FAST), tmp_path / "b")
    pd.testing.assert_frame_equal(res.results, again.results)
    pd.testing.assert_frame_equal(res.curves, again.curves)
    assert not (tmp_path / "a" / "checkpoint.s3k").exists()


def test_cli_replay_prints_a_short_summary_not_the_frames(tmp_path, capsys):
    from s3kit.cli import main

    yaml_path = tmp_path / "s.yaml"
    yaml_path.write_text("name: s\nbackend: fake\nn_steps: 2\ngenerate_posts: false\n"
                         "w_relevance: 0\n")
    assert main(["replay", str(yaml_path), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out = capsys.readouterr().out
    curves = pd.read_parquet(tmp_path / "run" / "curves.parquet")
    sim = curves[curves["source"] == "simulated"]
    assert out.startswith("replay 's': 300 users, 2 steps x 1 replicate(s), fake")
    assert "adopters (simulated)" in out and "adopters (real)" in out
    assert f"{sim['adopters'].iloc[-1]:.1f}" in out                 # the numbers, per step
    assert "results.parquet" in out and "figures/spread.png" in out
    assert len(out.splitlines()) < 15 and "ReplayResult(" not in out


def test_replay_from_yaml_with_intervention(tmp_path):
    yaml_path = tmp_path / "s.yaml"
    yaml_path.write_text(
        "name: s\nbackend: fake\nn_steps: 2\ngenerate_posts: false\nw_relevance: 0\n"
        "progress: false\ninterventions:\n  - {step: 0, kind: ban_user, user: source}\n")
    res = run_replay(yaml_path, tmp_path / "run")
    assert res.manifest["parameters"]["interventions"][0]["kind"] == "ban_user"
    from s3kit.sample import load_sample

    ds = load_sample()
    root = ds.events.loc[ds.events["event_id"] == "e0", "root_post_id"].iloc[0]
    source = ds.posts.loc[ds.posts["post_id"] == root, "user_id"].iloc[0]
    mine = res.results[res.results["user_id"] == source]
    assert not mine["active"].any() and mine["post_id"].isna().all()
    assert res.results["active"].sum() > 0  # the others still take part


@pytest.mark.llm
@pytest.mark.slow
def test_real_model_replay(tmp_path):
    from s3kit.llm import load_llm

    llm = load_llm("embedded", cache=tmp_path / "cache.sqlite", batch_size=32)
    # smallest real replay of the sample: the source's ~135 followers decide once (~400
    # scored prompts, ~60 s on an idle 2-core CPU in bf16)
    cfg = {"n_steps": 1, "step_hours": 0.25, "progress": False, "w_relevance": 0.0,
           "feed_size": 1, "memory_size": 1, "generate_posts": False, "name": "real"}
    run_replay(cfg, tmp_path / "real", llm=llm)
    results, curves, manifest = check_artefacts(tmp_path / "real", 1, "embedded")
    assert manifest["model"] == "smollm2-135m-instruct"
    assert manifest["llm"]["prompts"] >= 3 * int(results["active"].sum())
    assert manifest["llm"]["calls"] > 0 and manifest["llm"]["prompt_tokens"] > 0
    assert results["active"].sum() > 0
