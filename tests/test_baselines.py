"""Rule-based baselines: cascade models on known graphs, fits that recover known parameters."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from s3kit.baselines import (
    HawkesProcess,
    IndependentCascade,
    LinearThreshold,
    LogisticGrowth,
    SIRTrend,
    TextBaseline,
    VoterModel,
    cascade_steps,
    exposure_matrix,
)


def flow_graph():
    """Edges along the information flow: a -> b -> d, a -> c -> d -> e, f -> a; g isolated."""
    g = nx.DiGraph([("a", "b"), ("b", "d"), ("a", "c"), ("c", "d"), ("d", "e"), ("f", "a")])
    g.add_node("g")
    return g


def test_exposure_matrix_follows_convention_reverses_edges():
    g = nx.DiGraph([("follower", "star")])
    m, nodes = exposure_matrix(g, "follows")
    i, j = nodes.index("star"), nodes.index("follower")
    assert m[i, j] == 1 and m[j, i] == 0
    m2, _ = exposure_matrix(g, "flow", nodelist=nodes)
    assert m2[j, i] == 1 and m2[i, j] == 0
    m3, _ = exposure_matrix(g, lambda graph, u: graph.predecessors(u), nodelist=nodes)
    assert (m3.toarray() == m.toarray()).all()
    with pytest.raises(ValueError):
        exposure_matrix(g, "sideways")


def test_ic_p1_reaches_exactly_the_reachable_set_at_bfs_steps():
    g = flow_graph()
    ic = IndependentCascade(p=1.0, direction="flow", n_replicates=3, seed=0).fit(g)
    casc = ic.simulate_cascade(["a"], n_steps=10)
    got = dict(zip(casc["user_id"], casc["step"], strict=True))
    assert got == nx.single_source_shortest_path_length(g, "a")  # a0 b1 c1 d2 e3
    assert got == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 3}
    curve = ic.simulate(["a"], n_steps=5)
    assert curve["cumulative"].tolist() == [1, 3, 4, 5, 5, 5]
    assert (curve["std"] == 0).all()


def test_ic_same_graph_as_follow_edges():
    # the same graph written as follower -> followee gives the same cascade
    follows = flow_graph().reverse(copy=True)
    ic = IndependentCascade(p=1.0).fit(follows)  # default direction="follows"
    assert ic.simulate(["a"], 5)["cumulative"].tolist() == [1, 3, 4, 5, 5, 5]


def test_ic_p0_reaches_only_seeds_and_unknown_seeds_count():
    ic = IndependentCascade(p=0.0, direction="flow", seed=1).fit(flow_graph())
    curve = ic.simulate(["a", "f", "not-in-graph"], n_steps=4, n_replicates=5)
    assert curve["cumulative"].tolist() == [3, 3, 3, 3, 3]
    assert curve.attrs["unknown_seeds"] == 1


def test_ic_forced_early_adopters_at_later_steps():
    ic = IndependentCascade(p=1.0, direction="flow").fit(flow_graph())
    casc = ic.simulate_cascade({"g": 0, "d": 2}, n_steps=6)
    assert dict(zip(casc["user_id"], casc["step"], strict=True)) == {"g": 0, "d": 2, "e": 3}


def test_ic_replicates_are_seeded_and_tidy():
    g = nx.gnp_random_graph(200, 0.03, seed=3, directed=True)
    ic = IndependentCascade(p=0.2, direction="flow", n_replicates=8, seed=42).fit(g)
    a = ic.simulate([0, 1], 10, aggregate=False)
    b = ic.simulate([0, 1], 10, aggregate=False)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["replicate", "step", "cumulative"]
    assert a.groupby("replicate")["cumulative"].apply(lambda s: s.is_monotonic_increasing).all()
    assert a["replicate"].nunique() == 8 and a["cumulative"].nunique() > 1
    c = ic.simulate([0, 1], 10, aggregate=False, seed=7)
    assert not a["cumulative"].equals(c["cumulative"])


def test_ic_fit_hand_computed_likelihood():
    # a exposes b and c; b adopted at step 1, c never: 1 success in 2 attempts -> p = 1/2
    g = nx.DiGraph([("a", "b"), ("a", "c")])
    casc = pd.DataFrame({"cascade_id": [1, 1], "user_id": ["a", "b"], "step": [0, 1]})
    ic = IndependentCascade(direction="flow").fit(g, casc)
    assert ic.p_ == pytest.approx(0.5, abs=1e-6)
    assert ic.n_attempts_ == 2 and ic.n_unexplained_ == 0
    # two simultaneous attempts on d that succeed: 1 - (1-p)^2 ; plus two failures on e:
    # L = (1-(1-p)^2) (1-p)^2 -> maximised at (1-p)^2 = 1/2
    g2 = nx.DiGraph([("a", "d"), ("b", "d"), ("a", "e"), ("b", "e")])
    casc2 = pd.DataFrame({"cascade_id": 1, "user_id": ["a", "b", "d"], "step": [0, 0, 1]})
    ic2 = IndependentCascade(direction="flow").fit(g2, casc2)
    assert ic2.p_ == pytest.approx(1 - np.sqrt(0.5), abs=1e-5)


def test_ic_fit_counts_unexplained_adoptions():
    g = nx.DiGraph([("a", "b")])
    casc = pd.DataFrame({"cascade_id": 1, "user_id": ["a", "b", "z"], "step": [0, 3, 1]})
    ic = IndependentCascade(direction="flow").fit(g, casc)
    assert ic.n_unexplained_ == 1  # b adopted at 3, but a's only attempt was at step 1
    assert ic.p_ == pytest.approx(0.0, abs=1e-9)


def test_ic_fit_order_timing_ignores_exact_steps():
    # b adopts 3 steps after its exposer a: unexplained in "steps" mode, a success in "order"
    g = nx.DiGraph([("a", "b"), ("a", "c")])
    casc = pd.DataFrame({"cascade_id": 1, "user_id": ["a", "b"], "step": [0, 3]})
    steps = IndependentCascade(direction="flow").fit(g, casc)
    order = IndependentCascade(direction="flow", timing="order").fit(g, casc)
    assert steps.n_unexplained_ == 1 and order.n_unexplained_ == 0
    assert order.p_ == pytest.approx(0.5, abs=1e-6)


def synthetic_cascades(model, n_cascades, n_nodes, seed):
    rng = np.random.default_rng(seed)
    frames = []
    for c in range(n_cascades):
        seeds = rng.choice(n_nodes, size=2, replace=False).tolist()
        df = model.simulate_cascade(seeds, n_steps=50, seed=int(rng.integers(1 << 31)))
        frames.append(df.assign(cascade_id=c))
    return pd.concat(frames, ignore_index=True)


def test_ic_fit_recovers_known_p():
    g = nx.gnp_random_graph(400, 8 / 400, seed=11, directed=True)
    truth = IndependentCascade(p=0.12, direction="flow").fit(g)
    casc = synthetic_cascades(truth, 150, 400, seed=5)
    est = IndependentCascade(direction="flow").fit(g, casc)
    assert est.p_ == pytest.approx(0.12, abs=0.015)
    assert est.n_unexplained_ == 0
    # with the same data, a truncated horizon still gives a sensible estimate
    early = casc[casc["step"] <= 3]
    est2 = IndependentCascade(direction="flow").fit(g, early, horizon=3)
    assert est2.p_ == pytest.approx(0.12, abs=0.03)


def test_lt_line_graph_known_thresholds():
    # flow a -> b -> c -> d; uniform weights = 1 (one source each); d needs more than 1
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "d")])
    lt = LinearThreshold(thresholds={"a": 1.0, "b": 0.5, "c": 1.0, "d": 1.5},
                         direction="flow").fit(g)
    casc = lt.simulate_cascade(["a"], n_steps=5)
    assert dict(zip(casc["user_id"], casc["step"], strict=True)) == {"a": 0, "b": 1, "c": 2}
    assert lt.simulate(["a"], 4)["cumulative"].tolist() == [1, 2, 3, 3, 3]


def test_lt_accumulates_influence_over_steps():
    # e sees a (step 0) and c (step 2): weight 1/2 each; threshold .9 reached at step 3
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("a", "e"), ("c", "e")])
    th = {"a": 1, "b": 0.1, "c": 0.1, "e": 0.9}
    lt = LinearThreshold(thresholds=th, direction="flow").fit(g)
    got = lt.simulate_cascade(["a"], 5)
    assert dict(zip(got["user_id"], got["step"], strict=True)) == {"a": 0, "b": 1, "c": 2,
                                                                   "e": 3}


def test_lt_fit_recovers_threshold_distribution():
    g = nx.gnp_random_graph(400, 6 / 400, seed=2, directed=True)
    truth = LinearThreshold(direction="flow").fit(g)
    truth.a_, truth.b_, truth.immune_ = 2.0, 5.0, 0.3  # mean threshold 2/7
    casc = synthetic_cascades(truth, 150, 400, seed=9)
    est = LinearThreshold(direction="flow").fit(g, casc)
    assert est.a_ / (est.a_ + est.b_) == pytest.approx(2 / 7, abs=0.07)
    assert est.immune_ == pytest.approx(0.3, abs=0.1)
    assert est.n_unexplained_ == 0
    # the fitted model reproduces the mean final size within 25 %
    seeds = [0, 1, 2]
    a = truth.simulate(seeds, 30, n_replicates=60, seed=1)["cumulative"].iloc[-1]
    b = est.simulate(seeds, 30, n_replicates=60, seed=1)["cumulative"].iloc[-1]
    assert b == pytest.approx(a, rel=0.25)


def test_cascade_steps_with_datetimes():
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    df = pd.DataFrame({"cascade_id": ["x", "x", "y", "y"], "user_id": list("abcd"),
                       "time": [t0, t0 + pd.Timedelta("90min"), t0 + pd.Timedelta("5h"),
                                t0 + pd.Timedelta("5h59min")]})
    assert cascade_steps(df, "1h")["step"].tolist() == [0, 1, 0, 0]


def test_logistic_growth_recovers_parameters_from_early_part():
    k, r, t0 = 400.0, 0.3, 20.0
    i = np.arange(1, 400)
    times = t0 - np.log(k / i - 1) / r  # exact logistic adoption times
    early = times[times <= 24.0]  # a little past the inflection point
    m = LogisticGrowth().fit(early)
    assert m.K_ == pytest.approx(k, rel=0.1)
    assert m.r_ == pytest.approx(r, rel=0.1)
    assert m.t0_ == pytest.approx(t0, abs=1.0)
    pred = m.predict([60.0])
    assert pred[0] == pytest.approx(k, rel=0.1)


def simulate_hawkes(mu, alpha, beta, t_max, rng):
    """Ogata thinning for an exponential-kernel Hawkes process."""
    times, t, excite = [0.0], 0.0, alpha * beta  # the source event at 0 excites
    while True:
        lam_bar = mu + excite
        w = rng.exponential(1 / lam_bar)
        excite_new = excite * np.exp(-beta * w)
        t += w
        if t > t_max:
            break
        if rng.random() * lam_bar <= mu + excite_new:
            times.append(t)
            excite = excite_new + alpha * beta
        else:
            excite = excite_new
    return np.array(times)


def test_hawkes_fit_recovers_parameters_and_extrapolates():
    rng = np.random.default_rng(4)
    times = simulate_hawkes(0.5, 0.6, 1.5, 600.0, rng)
    m = HawkesProcess().fit(times, t_max=600.0)
    assert m.alpha_ == pytest.approx(0.6, abs=0.12)
    assert m.beta_ == pytest.approx(1.5, rel=0.35)
    assert m.mu_ == pytest.approx(0.5, rel=0.3)
    pred = m.predict([300.0, 600.0, 700.0])
    assert pred[0] == np.searchsorted(times, 300.0, side="right")  # observed part
    # stationary growth rate mu / (1 - alpha) per unit time after the window
    slope = (pred[2] - pred[1]) / 100
    assert slope == pytest.approx(m.mu_ / (1 - m.alpha_), rel=0.05)


def test_sir_trend_fits_noisy_epidemic_curve():
    steps = np.arange(40)
    truth = SIRTrend()._curve(0.9, 0.25, 0.02, steps)
    noisy = truth + np.random.default_rng(0).normal(0, 0.005, size=40)
    m = SIRTrend().fit(steps, noisy)
    assert np.abs(m.predict(steps) - truth).max() < 0.03
    assert m.beta_ == pytest.approx(0.9, rel=0.15) and m.gamma_ == pytest.approx(0.25, rel=0.15)


def test_voter_model_on_graph():
    # everyone follows the leader, who follows nobody: without noise all copy the leader
    g = nx.DiGraph([(f"u{i}", "leader") for i in range(300)])
    vm = VoterModel(noise=0.0, target=0.5, n_replicates=30, seed=0).fit([0.5], graph=g)
    out = vm.simulate(3)
    leader_positive_share = out["share"].iloc[-1]
    # after one step every follower holds the leader's opinion: share is 0 or 1 per replicate
    assert out["std"].iloc[1] == pytest.approx(0.5, abs=0.1)
    assert 0.2 < leader_positive_share < 0.8
    vm2 = VoterModel(noise=1.0, target=0.3, n_replicates=5, seed=0).fit([0.9], graph=g)
    assert vm2.simulate(2)["share"].iloc[-1] == pytest.approx(0.3, abs=0.05)


def test_voter_model_fits_relaxation():
    steps = np.arange(10)
    share = 0.7 + (0.2 - 0.7) * (1 - 0.3) ** steps
    vm = VoterModel(n_agents=4000, n_replicates=3, seed=1).fit(share)
    assert vm.noise_ == pytest.approx(0.3, abs=1e-3)
    assert vm.target_ == pytest.approx(0.7, abs=1e-3)
    sim = vm.simulate(9)["share"].to_numpy()
    assert np.abs(sim - share).max() < 0.03


def test_text_baseline_beats_chance_on_separable_corpus():
    pos = ["what a great happy day", "love this wonderful news", "so happy and glad",
           "great joy today", "wonderful lovely time", "glad and happy friends"]
    neg = ["terrible awful sad news", "i hate this horrible day", "so sad and angry",
           "awful terrible mess", "horrible sad loss", "angry and upset today"]
    texts, labels = pos + neg, ["pos"] * 6 + ["neg"] * 6
    tb = TextBaseline(seed=0).fit(texts, labels)
    test = ["happy wonderful news", "sad horrible news", "glad great friends", "angry awful"]
    assert tb.predict(test).tolist() == ["pos", "neg", "pos", "neg"]
    proba = tb.predict_proba(test)
    assert proba.shape == (4, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(tb.classes_) == ["neg", "pos"] and tb.analyzer_ == "word"


def test_text_baseline_uses_char_ngrams_for_chinese():
    texts = ["今天很开心", "非常高兴快乐", "开心快乐的一天", "太难过了", "伤心难过", "今天很伤心"]
    labels = ["happy", "happy", "happy", "sad", "sad", "sad"]
    tb = TextBaseline().fit(texts, labels)
    assert tb.analyzer_ == "char_wb"
    assert tb.predict(["好开心", "很难过"]).tolist() == ["happy", "sad"]


def test_unfitted_and_bad_inputs_raise():
    with pytest.raises(RuntimeError, match="not fitted"):
        IndependentCascade(p=0.1).simulate(["a"], 3)
    with pytest.raises(ValueError, match="cascades"):
        IndependentCascade().fit(nx.DiGraph([("a", "b")]))
    with pytest.raises(ValueError, match="two distinct"):
        TextBaseline().fit(["a", "b"], ["x", "x"])
