"""Simulation engine: propagation, interventions, determinism, checkpoint files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from s3kit.embeddings import HashingEmbedder
from s3kit.environment import SocialNetwork
from s3kit.errors import CheckpointError, ConfigError
from s3kit.llm import FakeLLM
from s3kit.sample import generate_sample
from s3kit.simulation import CHECKPOINT_SCHEMA, Simulation, read_checkpoint, write_checkpoint

BASE = {"progress": False, "generate_posts": False, "backend": "fake", "n_steps": 4}


def sample_net(n_users=80, seed=3):
    ds = generate_sample(n_users=n_users, seed=seed)
    ev = ds.posts[ds.posts["event_id"] == "e0"]
    ds.posts = ev
    return SocialNetwork.from_dataset(ds, until=ev["time"].min() + pd.Timedelta(hours=1))


def make_sim(net=None, llm_seed=0, **cfg):
    return Simulation(net if net is not None else sample_net(), {**BASE, **cfg},
                      llm=FakeLLM(seed=llm_seed), event_id="e0",
                      embedder=HashingEmbedder(dim=64))


def star_net():
    """a is followed by b, c, d; e follows b; f follows nobody; a has posted the seed."""
    net = SocialNetwork(start="2023-01-01 00:00")
    for u in "abcdef":
        net.add_user(u, gender="female", age=30, occupation="nurse")
    net.add_follows([("b", "a"), ("c", "a"), ("d", "a"), ("e", "b")])
    net.add_post("a", "Breaking: the rumour", event_id="e0", post_id="root")
    return net


def test_repost_reaches_exactly_the_followers():
    sim = make_sim(n_steps=5, activation_rate=0.0)
    net = sim.network_
    frame = sim.step()
    for _ in range(4):
        posters = frame.loc[frame["post_id"].notna(), "user_id"].tolist()
        expected = {f for p in posters for f in net.followers(p)}
        nxt = sim.step()
        # with activation_rate 0, exactly the followers of this step's posters decide next
        assert set(nxt.loc[nxt["active"], "user_id"]) == expected
        frame = nxt


def test_repost_on_a_hand_built_graph():
    sim = make_sim(star_net(), n_steps=3, memory_size=10)
    first = sim.step()
    # the seed post reaches a's followers only
    assert set(first.loc[first["active"], "user_id"]) == {"b", "c", "d"}
    second = sim.step()
    posters = set(first.loc[first["post_id"].notna(), "user_id"])
    expected = {f for p in posters for f in sim.network_.followers(p)}
    assert set(second.loc[second["active"], "user_id"]) == expected
    for _, row in first[first["post_id"].notna()].iterrows():
        post = sim.network_.post(row["post_id"])
        assert post["event_id"] == "e0"
        for u in sim.network_.followers(row["user_id"]):
            assert row["post_id"] in set(sim.memory_pool(u).explain()["post_id"])
        for u in set("abcdef") - set(sim.network_.followers(row["user_id"])):
            assert row["post_id"] not in set(sim.memory_pool(u).explain()["post_id"])


def test_reposts_have_parents_and_counts_match():
    res = make_sim(n_steps=3).run()
    posts = res.posts.set_index("post_id")
    new = res.results[res.results["post_id"].notna()]
    assert len(new) > 0
    for _, row in new.iterrows():
        kind = posts.loc[row["post_id"], "kind"]
        assert kind == ("repost" if row["action"] == "repost" else "original")
        if kind == "repost":
            assert pd.notna(posts.loc[row["post_id"], "parent_id"])
    assert (res.curves["n_posts"].to_numpy() ==
            new.groupby("step").size().reindex(range(3), fill_value=0).to_numpy()).all()
    assert res.curves["adopters"].is_monotonic_increasing


def test_remove_root_stops_the_cascade():
    base = make_sim(star_net(), n_steps=3).run()
    assert base.results["active"].sum() > 0
    removed = make_sim(star_net(), n_steps=3, interventions=[
        {"step": 0, "kind": "remove_post", "post_id": "root"}]).run()
    assert removed.results["active"].sum() == 0
    assert removed.curves["adopters"].tolist() == [1, 1, 1]


def test_ban_user_silences_them():
    sim = make_sim(n_steps=4, activation_rate=0.3,
                   interventions=[{"step": 1, "kind": "ban_user", "user": "most_followed"}])
    res = sim.run()
    net = sim.current_network
    (banned,) = net.banned
    g = net.graph
    assert banned == max(g.nodes, key=lambda u: (len(g.pred[u]), u))
    rows = res.results[(res.results["user_id"] == banned) & (res.results["step"] >= 1)]
    assert not rows["active"].any() and rows["post_id"].isna().all()
    for u in net.followers(banned):
        assert all(p["user_id"] != banned for p in net.feed(u, 50))


def test_inject_post_activates_followers():
    sim = make_sim(n_steps=3, interventions=[
        {"step": 2, "kind": "inject_post", "user": "most_followed",
         "text": "Fact check: the claim is false."}])
    sim.step()
    sim.step()
    before = sim.network_.n_posts
    frame = sim.step()
    net = sim.current_network
    injected = [p for p in net.posts_frame()["post_id"][before:]
                if net.post(p)["text"] == "Fact check: the claim is false."]
    assert len(injected) == 1
    author = net.post(injected[0])["user_id"]
    assert net.post(injected[0])["event_id"] == "e0"
    assert set(net.followers(author)) - set(net.banned) <= set(
        frame.loc[frame["active"], "user_id"])


def test_set_recommender_puts_recommended_posts_in_memory():
    sim = make_sim(n_steps=2, activation_rate=1.0, interventions=[
        {"step": 1, "kind": "set_recommender", "recommender": "random"}])
    sim.step()
    users = sim.current_network.users
    assert not any("recommended" in sim.replicate_.memory.kinds(u) for u in users)
    sim.step()
    assert any("recommended" in sim.replicate_.memory.kinds(u) for u in users)


def test_unknown_intervention_is_a_config_error():
    sim = make_sim(n_steps=1, interventions=[{"step": 0, "kind": "mute_planet"}])
    with pytest.raises(ConfigError, match="mute_planet"):
        sim.run()


def test_determinism_and_replicates():
    a = make_sim(n_steps=3, n_replicates=2, activation_rate=0.1).run()
    b = make_sim(n_steps=3, n_replicates=2, activation_rate=0.1).run()
    pd.testing.assert_frame_equal(a.results, b.results)
    pd.testing.assert_frame_equal(a.curves, b.curves)
    assert a.results["seed"].nunique() == 2
    r0 = a.results[a.results["replicate"] == 0].drop(columns=["replicate", "seed"])
    r1 = a.results[a.results["replicate"] == 1].drop(columns=["replicate", "seed"])
    assert not r0.reset_index(drop=True).equals(r1.reset_index(drop=True))
    c = make_sim(n_steps=3, n_replicates=2, activation_rate=0.1, seed=5).run()
    assert not c.results.equals(a.results)


def test_decisions_are_one_batch_per_kind():
    llm = FakeLLM(seed=0)
    sim = Simulation(sample_net(), {**BASE, "n_steps": 2, "generate_posts": True}, llm=llm,
                     event_id="e0", embedder=HashingEmbedder(dim=64), chunk_size=10**6)
    res = sim.run()
    steps_with_agents = int((res.curves["n_active"] > 0).sum())
    steps_with_posts = int((res.curves["n_posts"] > 0).sum())
    # emotion + attitude + action scores, plus one generate call, per step
    assert llm.stats.calls == 3 * steps_with_agents + steps_with_posts
    assert sim.n_decisions_ == 3 * int(res.results["active"].sum())  # all read something
    assert llm.stats.prompts == sim.n_decisions_ + int(res.results["post_id"].notna().sum())


def test_chunk_size_changes_batching_not_results():
    """Agents decided in chunks of 7 (emotion, attitude, action, posts per chunk) reach the
    same states and actions as in one chunk: the draws are made up front."""
    runs = {}
    for chunk in (7, 10**6):
        llm = FakeLLM(seed=0)
        sim = Simulation(sample_net(), {**BASE, "n_steps": 3, "generate_posts": True},
                         llm=llm, event_id="e0", embedder=HashingEmbedder(dim=64),
                         chunk_size=chunk)
        runs[chunk] = (sim.run(), llm.stats.calls)
    (small, calls_small), (whole, calls_whole) = runs[7], runs[10**6]
    pd.testing.assert_frame_equal(small.results, whole.results)
    pd.testing.assert_frame_equal(small.curves, whole.curves)
    assert int(small.results["active"].sum()) > 7
    assert calls_small > calls_whole  # really decided in several chunks
    with pytest.raises(ValueError, match="chunk_size"):
        Simulation(sample_net(), BASE, llm=FakeLLM(), chunk_size=0)


def test_checkpoint_file_is_verified(tmp_path):
    path = write_checkpoint(tmp_path / "c.s3k", {"format": CHECKPOINT_SCHEMA, "x": np.arange(5)})
    assert read_checkpoint(path)["x"].tolist() == [0, 1, 2, 3, 4]
    data = path.read_bytes()
    (tmp_path / "trunc.s3k").write_bytes(data[:-7])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(tmp_path / "trunc.s3k")
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    (tmp_path / "flip.s3k").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum"):
        read_checkpoint(tmp_path / "flip.s3k")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "missing.s3k")
    (tmp_path / "junk.s3k").write_bytes(b"hello")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "junk.s3k")
    assert not list(tmp_path.glob("*.tmp"))


def test_in_process_resume_matches(tmp_path):
    full = make_sim(n_steps=5, activation_rate=0.1).run()
    sim = make_sim(n_steps=5, activation_rate=0.1, checkpoint_every=2)
    sim.checkpoint_path = tmp_path / "c.s3k"
    for _ in range(3):
        sim.step()
    # the checkpoint holds step 2; step 3 is lost with the process
    resumed = Simulation.resume(tmp_path / "c.s3k", llm=FakeLLM(seed=0),
                                embedder=HashingEmbedder(dim=64))
    res = resumed.run()
    pd.testing.assert_frame_equal(res.results, full.results)
    pd.testing.assert_frame_equal(res.curves, full.curves)


class _Recorder(FakeLLM):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []

    def score(self, prompts, options, *, system=None):
        self.seen.append((list(prompts), tuple(options), system))
        return super().score(prompts, options, system=system)


def test_decisions_go_through_the_agent_module_and_are_traced():
    from s3kit import agent as A
    from s3kit import prompts as P

    llm = _Recorder(seed=0)
    sim = Simulation(star_net(), {**BASE, "n_steps": 1}, llm=llm, event_id="e0",
                     embedder=HashingEmbedder(dim=64))
    frame = sim.step()
    active = frame.loc[frame["active"], "user_id"].tolist()
    assert active == ["b", "c", "d"]
    assert [opts for _, opts, _ in llm.seen] == [P.options(k, "en")
                                                  for k in ("emotion", "attitude", "action")]
    assert all(system == P.SYSTEM_COMPACT["en"] for _, _, system in llm.seen)
    trace = sim.last_decisions("c")
    assert sim.last_decisions("a") is None  # a read nothing, did not decide
    for (prompts, _, _), kind in zip(llm.seen, ("emotion", "attitude", "action"), strict=True):
        # the prompt scored for agent c is the agent module's prompt, with the feed's source
        assert trace[kind]["prompt"] in prompts
        assert '<post from="followee">Breaking: the rumour</post>' in trace[kind]["prompt"]
        assert "Breaking: the rumour" in trace[kind]["prompt"]
        assert trace[kind]["scored"] and abs(sum(trace[kind]["probs"]) - 1) < 1e-9
    row = frame.set_index("user_id").loc["c"]
    assert [trace[k]["choice"] for k in ("emotion", "attitude", "action")] == [
        row["emotion"], row["attitude"], row["action"]]
    # the action prompt sees the emotion and attitude just decided (S3 order)
    assert f"You feel {row['emotion']}; attitude: {row['attitude']}." in (
        trace["action"]["prompt"])
    assert trace["action"]["prompt"] == A.decision_prompt(
        "action", A.AgentContext(sim.current_network.user("c"),
                                 A.AgentState(row["emotion"], row["attitude"]),
                                 received=[{"text": "Breaking: the rumour",
                                            "source": "followee"}], language="en",
                                 compact=True))


def test_full_prompts_on_request_and_with_adapters():
    from s3kit import prompts as P

    for kwargs, cfg in (({"compact_prompts": False}, {}), ({}, {"adapter": "my-adapter"})):
        llm = _Recorder(seed=0)
        sim = Simulation(star_net(), {**BASE, "n_steps": 1, **cfg}, llm=llm, event_id="e0",
                         embedder=HashingEmbedder(dim=64), **kwargs)
        sim.step()
        assert all(system == P.SYSTEM["en"] for _, _, system in llm.seen)
        assert 'from="someone you follow"' in sim.last_decisions("b")["emotion"]["prompt"]


def test_public_accessors_before_and_after_steps():
    sim = make_sim(star_net(), n_steps=2)
    assert sim.replicate_ is None and sim.memory_pool("b") is None
    assert sim.records().empty and sim.curves().empty and sim.adopters() == set()
    assert sim.current_network is sim.network  # reading does not start a replicate
    sim.step()
    assert sim.replicate_.step == 1 and sim.adopters() >= {"a"}
    assert sim.records()["step"].unique().tolist() == [0]
    assert sim.curves()["step"].tolist() == [0]
    assert "root" in set(sim.memory_pool("b").explain()["post_id"])


def test_step_reports_progress_and_an_interrupted_step_starts_over_unchanged():
    from s3kit.errors import StepInterrupted

    reports = []
    sim = make_sim(activation_rate=0.2, n_steps=3)
    sim.chunk_size = 4
    sim.step(progress=reports.append)
    first = reports[0]
    assert first["phase"] == "reading feeds" and first["decisions_done"] == 0
    assert first["active"] == first["with_input"] + first["by_rate"] == first["decisions_total"]
    assert first["by_rate"] > 0
    done = [r["decisions_done"] for r in reports]
    assert done == sorted(done) and len(set(done)) > 2 and done[-1] == first["active"]
    assert reports[-1]["model_seconds"] > 0

    def stop_halfway(report):
        if report["decisions_done"] >= report["decisions_total"] // 2 > 0:
            raise StepInterrupted("paused")

    with pytest.raises(StepInterrupted):
        sim.step(progress=stop_halfway)
    assert sim.replicate_.step == 1 and len(sim.records()) == len(sim.records()[
        sim.records()["step"] == 0])
    sim.step()
    sim.step()
    reference = make_sim(activation_rate=0.2, n_steps=3)
    reference.chunk_size = 4
    pd.testing.assert_frame_equal(sim.result().results, reference.run().results)
