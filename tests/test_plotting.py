import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from s3kit.cascades import spread_curve  # noqa: E402
from s3kit.environment import SocialNetwork  # noqa: E402
from s3kit.plotting import (  # noqa: E402
    degree_ccdf,
    plot_degree_distribution,
    plot_spread,
    plot_trend,
)
from s3kit.sample import generate_sample  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def ds():
    return generate_sample(n_users=150, seed=1)


def test_plot_spread_draws_one_curve_per_source(ds):
    real = spread_curve(ds.posts, event_id="e0").assign(source="real")
    sim = real.assign(source="simulated", adopters=real["adopters"] // 2)
    fig, ax = plt.subplots()
    out = plot_spread(pd.concat([real, sim]), ax=ax)
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["real", "simulated"]
    tops = sorted(line.get_ydata().max() for line in ax.get_lines() if len(line.get_ydata()))
    assert tops[-1] == real["adopters"].max() and tops[0] == sim["adopters"].max()
    assert ax.get_ylabel() == "cumulative adopters"


def test_plot_spread_accepts_raw_posts(ds):
    ev = ds.posts[ds.posts["event_id"] == "e0"]
    ax = plot_spread(ev)
    ys = ax.get_lines()[0].get_ydata()
    assert ys.max() == ev["user_id"].nunique()


def test_degree_ccdf_values_and_inputs():
    g = nx.DiGraph([("b", "a"), ("c", "a"), ("d", "a"), ("a", "b")])
    ccdf = degree_ccdf(g)
    inn = ccdf[ccdf["direction"] == "in"]
    assert inn["degree"].tolist() == [1, 3]
    assert inn["ccdf"].tolist() == [0.5, 0.25]
    out = ccdf[ccdf["direction"] == "out"]
    assert out["degree"].tolist() == [1] and out["ccdf"].tolist() == [1.0]
    net = SocialNetwork.from_graph(g)
    pd.testing.assert_frame_equal(degree_ccdf(net), ccdf)
    pd.testing.assert_frame_equal(degree_ccdf(net.degree_frame()), ccdf)
    with pytest.raises(TypeError):
        degree_ccdf([1, 2, 3])


def test_plot_degree_distribution_is_log_log(ds):
    net = SocialNetwork.from_dataset(ds)
    ax = plot_degree_distribution(net)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["in (followers)", "out (followees)"]
    for line in ax.get_lines()[:2]:
        y = line.get_ydata()
        assert len(y) > 3 and np.all(np.diff(y) < 0) and y[0] <= 1.0


def test_plot_trend_from_posts_and_area(ds):
    ev = ds.posts[ds.posts["event_id"] == "e0"]
    ax = plot_trend(ev, "stance", x="time", freq="3h")
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_xlabel() == "hours since first post"
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"positive", "negative", "neutral"} <= labels
    ax2 = plot_trend(ev, "emotion", x="time", freq="6h", kind="area")
    assert len(ax2.collections) == 3  # one band per emotion level
    with pytest.raises(ValueError):
        plot_trend(ev, "emotion", kind="pie")


def test_plot_spread_mean_over_events_does_not_drop_when_short_cascades_end():
    t = pd.Timestamp("2023-01-01T00:00:00Z")
    posts = pd.DataFrame({
        "user_id": ["a", "b", "c", "d", "e", "f", "g"],
        "time": [t, t + pd.Timedelta("1h"), t + pd.Timedelta("2h"),  # e1 ends after 2 h
                 t, t + pd.Timedelta("1h"), t + pd.Timedelta("5h"), t + pd.Timedelta("6h")],
        "event_id": ["e1"] * 3 + ["e2"] * 4,
    })
    ax = plot_spread(spread_curve(posts), errorbar=None)
    y = ax.get_lines()[0].get_ydata()
    assert np.all(np.diff(y) >= 0)
    assert y[-1] == pytest.approx((3 + 4) / 2)
