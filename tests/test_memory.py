import numpy as np
import pandas as pd
import pytest

from s3kit.config import ReplayConfig
from s3kit.embeddings import HashingEmbedder
from s3kit.memory import MemoryBank, MemoryParams, MemoryPool, influence


def _pool(**kw):
    kw.setdefault("memory_size", 5)
    return MemoryPool("nurse worried about vaccines", embedder=HashingEmbedder(dim=128), **kw)


def test_decay_monotone_in_age_and_halves_at_half_life():
    params = MemoryParams(half_life_hours=6.0)
    ages = np.linspace(0, 100, 51)
    f = influence(ages, np.zeros_like(ages), np.zeros(len(ages), int), params)
    assert np.all(np.diff(f["decay"]) < 0)
    assert np.all(np.diff(f["score"]) < 0)
    assert influence(np.array([6.0]), [0.0], [0], params)["decay"][0] == pytest.approx(0.5)
    # future messages count as age 0
    assert influence(np.array([-3.0]), [0.0], [0], params)["decay"][0] == 1.0


def test_older_message_ranks_lower_all_else_equal():
    pool = _pool(w_relevance=0.0, w_source=0.0)
    pool.add("same text a", time=0, kind="followee")
    pool.add("same text b", time=10, kind="followee")
    ex = pool.explain(now=10)
    assert ex["text"].tolist() == ["same text b", "same text a"]


def test_source_weights_applied():
    weights = {"mutual": 0.9, "followee": 0.5, "recommended": 0.3, "own": 0.1}
    pool = _pool(w_time=0.0, w_relevance=0.0, w_source=2.0, source_weights=weights)
    for kind in weights:
        pool.add(f"msg {kind}", time=0, kind=kind)
    ex = pool.explain(now=0).set_index("kind")
    for kind, w in weights.items():
        assert ex.loc[kind, "authenticity"] == pytest.approx(w)
        assert ex.loc[kind, "score"] == pytest.approx(2.0 * w)
    assert list(ex.index) == ["mutual", "followee", "recommended", "own"]
    with pytest.raises(ValueError, match="unknown source kind"):
        pool.add("x", kind="telepathy")


def test_top_k_kept_and_weakest_forgotten():
    pool = _pool(memory_size=3, w_relevance=0.0, w_source=0.0, half_life_hours=1.0)
    for t in range(10):
        pool.add(f"message number {t}", time=t)
    assert len(pool) == 3
    assert pool.texts(now=9) == ["message number 9", "message number 8", "message number 7"]


def test_explain_sums_to_score_and_relevance_is_cosine():
    emb = HashingEmbedder(dim=128)
    pool = MemoryPool("nurse worried about vaccines", embedder=emb, memory_size=4,
                      w_time=0.7, w_relevance=1.3, w_source=0.4)
    pool.add_many(["vaccines worry nurses", "football tonight", "nurse shortage", "vaccines"],
                  times=[0, 1, 2, 3], kinds=["mutual", "own", "recommended", "followee"])
    ex = pool.explain(now=5)
    assert len(ex) == 4
    assert np.allclose(ex["time"] + ex["relevance"] + ex["source"], ex["score"])
    assert np.allclose(ex["time"], 0.7 * ex["decay"])
    assert np.allclose(ex["source"], 0.4 * ex["authenticity"])
    prof = emb.embed(["nurse worried about vaccines"])[0]
    for _, row in ex.iterrows():
        cos = float(prof @ emb.embed([row["text"]])[0])
        assert row["relevance_raw"] == pytest.approx(max(cos, 0.0), abs=1e-5)
    assert ex["score"].is_monotonic_decreasing
    # a relevant message outranks an irrelevant one of the same age and source
    p2 = MemoryPool("nurse worried about vaccines", embedder=emb, w_time=0, w_source=0)
    p2.add_many(["worried nurse vaccines", "stock market"], times=[0, 0], kinds="followee")
    assert p2.texts(now=0)[0] == "worried nurse vaccines"


def test_bank_batch_equals_individual_pools_and_embeds_once():
    emb = HashingEmbedder(dim=64)
    users = [f"u{i}" for i in range(50)]
    profiles = [f"user {i} likes {'cats' if i % 2 else 'football'}" for i in range(50)]
    bank = MemoryBank(users, profiles, embedder=emb, memory_size=3, half_life_hours=4)
    assert bank.profile_vectors.shape == (50, 64)  # every profile embedded, once
    pools = [MemoryPool(p, embedder=HashingEmbedder(dim=64), memory_size=3, half_life_hours=4)
             for p in profiles]
    rng = np.random.default_rng(0)
    msgs = [f"post {j} about {'cats' if j % 3 else 'football'}" for j in range(12)]
    for j, text in enumerate(msgs):
        who = rng.choice(50, size=20, replace=False)
        kind = ["mutual", "followee", "recommended"][j % 3]
        before = emb.n_encoded
        bank.add_message(text, [users[i] for i in who], kind=kind, time=j)
        assert emb.n_encoded - before == 1  # one embedding per message, whatever the fan-out
        for i in who:
            pools[i].add(text, time=j, kind=kind)
    assert bank.sizes().max() == 3
    for i in range(50):
        a = bank.explain(users[i], now=12)
        b = pools[i].explain(now=12)
        assert a["text"].tolist() == b["text"].tolist()
        assert np.allclose(a["score"], b["score"], atol=1e-6)


def test_deliver_many_to_many_and_no_duplicates():
    bank = MemoryBank(["a", "b"], embedder=None, memory_size=4)
    ids = bank.register(["x", "y", "z"])
    bank.deliver(["a", "a", "b", "a"], [ids[0], ids[1], ids[2], ids[0]],
                 kinds=["followee", "followee", "mutual", "mutual"], times=[0, 1, 2, 3])
    ex = bank.explain("a", now=3)
    assert sorted(ex["text"]) == ["x", "y"]          # x once, its best delivery kept
    assert ex.set_index("text").loc["x", "kind"] == "mutual"
    with pytest.raises(KeyError):
        bank.deliver(["nobody"], [ids[0]])


def test_datetime_times_and_config_params():
    cfg = ReplayConfig(half_life_hours=2.0, memory_size=2)
    bank = MemoryBank.from_config(cfg, ["a"])
    t0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")
    bank.add_message("old", ["a"], time=t0)
    bank.add_message("new", ["a"], time=t0 + pd.Timedelta(hours=2))
    ex = bank.explain("a", now=t0 + pd.Timedelta(hours=2))
    assert ex.set_index("text").loc["old", "decay"] == pytest.approx(0.5)
    assert bank.params.memory_size == 2


def test_bank_scales_to_10k_agents():
    """100k deliveries to 10k agents keep the newest 5 each (speed: benchmarks/scale_timings.py)."""
    n = 10_000
    bank = MemoryBank(np.arange(n), embedder=None, memory_size=5)
    rng = np.random.default_rng(1)
    ids = bank.register([f"m{j}" for j in range(200)])
    users = rng.integers(0, n, size=100_000)
    msgs = rng.choice(ids, size=100_000)
    bank.deliver(users, msgs, kinds="followee", times=rng.uniform(0, 24, size=100_000))
    assert bank.sizes().max() == 5


def test_top_matches_explain_ranking_for_many_users():
    from s3kit.embeddings import HashingEmbedder
    from s3kit.memory import MemoryBank

    bank = MemoryBank(["a", "b", "c"], ["cats", "football", "cats and dogs"],
                      embedder=HashingEmbedder(dim=64), memory_size=3, half_life_hours=2)
    for t, text in enumerate(["cat video", "match report", "dog park", "cat food"]):
        bank.add_message(text, ["a", "b", "c"][: 1 + t % 3], kind="followee", time=t,
                         post_id=f"p{t}")
    top = bank.top(["c", "a", "b"], now=5, k=2)
    for user, got in zip("cab", top, strict=True):
        expected = bank.explain(user, now=5).head(2)
        assert [p for p, _ in got] == expected["post_id"].tolist()
        assert [t for _, t in got] == expected["text"].tolist()
    assert bank.top([], now=5, k=2) == []
    assert bank.kinds("a") == ["followee"] * len(bank.pool("a"))


def test_bank_embeds_only_the_profiles_of_users_it_reaches():
    # a replay of a large population reaches few of its users: only their profiles are read
    emb = HashingEmbedder(dim=32)
    users = [f"u{i}" for i in range(1000)]
    bank = MemoryBank(users, [f"likes cats {i}" for i in range(1000)], embedder=emb)
    assert emb.n_encoded == 0
    bank.add_message("hello cats", ["u3", "u7"], time=0)
    assert emb.n_encoded == 3  # the message and two profiles
    eager = MemoryBank(users[:10], [f"likes cats {i}" for i in range(10)],
                       embedder=HashingEmbedder(dim=32))
    assert eager.profile_vectors.shape == (10, 32)
    eager.add_message("hello cats", ["u3", "u7"], time=0)
    for u in ("u3", "u7"):
        lazy, full = bank.explain(u, now=0), eager.explain(u, now=0)
        assert lazy["relevance"].iloc[0] > 0
        np.testing.assert_allclose(lazy["relevance"], full["relevance"])


def test_a_plain_repost_is_embedded_once_with_the_post_it_shares():
    emb = HashingEmbedder(dim=32)
    bank = MemoryBank(["a", "b"], ["likes rain", "likes sun"], embedder=emb)
    bank.add_message("it rains", ["a"], time=0)
    before = emb.n_encoded
    bank.add_message("//@bob: //@ann: it rains", ["b"], time=1)  # a chain of plain reposts
    assert emb.n_encoded == before + 1  # b's profile only: the chain reads as its words
    assert bank.pool("b").texts() == ["//@bob: //@ann: it rains"]  # what b remembers
