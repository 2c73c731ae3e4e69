import pandas as pd
import pytest

from s3kit.cascades import spread_curve, trend_shares
from s3kit.environment import SocialNetwork
from s3kit.sample import generate_sample


def posts_frame():
    t = pd.Timestamp("2023-01-01T00:00:00Z")
    return pd.DataFrame({
        "user_id": ["a", "b", "c", "b", "x", "y"],
        "time": [t, t + pd.Timedelta("30min"), t + pd.Timedelta("2h10min"),
                 t + pd.Timedelta("3h"), t + pd.Timedelta("1h"), t + pd.Timedelta("1h")],
        "event_id": ["e1", "e1", "e1", "e1", "e2", "e2"],
    })


def test_spread_curve_counts_distinct_adopters_per_event():
    curve = spread_curve(posts_frame())
    e1 = curve[curve["event_id"] == "e1"]
    assert e1["adopters"].tolist() == [1, 2, 2, 3]  # b's second post does not count
    assert e1["new_adopters"].tolist() == [1, 1, 0, 1]
    assert e1["hours"].tolist() == [0.0, 1.0, 2.0, 3.0]
    e2 = curve[curve["event_id"] == "e2"]
    assert e2["adopters"].tolist() == [2]  # x and y at the same instant
    only = spread_curve(posts_frame(), event_id="e1")
    assert only["event_id"].unique().tolist() == ["e1"] and len(only) == 4


def test_spread_curve_origin_and_periods_align_two_runs():
    origin = pd.Timestamp("2022-12-31T23:00:00Z")
    curve = spread_curve(posts_frame(), event_id="e1", freq="30min", origin=origin, periods=10)
    assert len(curve) == 11
    assert curve["adopters"].tolist() == [0, 0, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert curve["time"].iloc[0] == origin


def test_spread_curve_of_a_simulated_network_equals_the_dataset():
    ds = generate_sample(n_users=100, seed=2)
    net = SocialNetwork.from_dataset(ds)
    real = spread_curve(ds.posts, event_id="e0")
    sim = spread_curve(net.posts_frame(), event_id="e0")
    pd.testing.assert_frame_equal(real, sim)
    ev = ds.posts[ds.posts["event_id"] == "e0"]
    assert real["adopters"].iloc[-1] == ev["user_id"].nunique()
    assert real["adopters"].is_monotonic_increasing


def test_spread_curve_errors_and_empty():
    with pytest.raises(KeyError):
        spread_curve(pd.DataFrame({"user_id": ["a"]}))
    empty = spread_curve(posts_frame(), event_id="nope")
    assert empty.empty and "adopters" in empty.columns


def test_trend_shares_sum_to_one_per_step_and_group():
    df = pd.DataFrame({
        "step": [0, 0, 0, 1, 1, 0, 1],
        "emotion": ["calm", "calm", "intense", "calm", None, "intense", "intense"],
        "source": ["real"] * 5 + ["sim"] * 2,
    })
    out = trend_shares(df, "emotion", by="source")
    sums = out.groupby(["source", "step"])["share"].sum()
    assert (sums.round(9) == 1.0).all()
    real0 = out.query("source == 'real' and step == 0").set_index("emotion")["share"]
    assert real0["calm"] == pytest.approx(2 / 3)
    real1 = out.query("source == 'real' and step == 1").set_index("emotion")
    assert real1.loc["intense", "count"] == 0  # the missing label is dropped, zero filled


def test_trend_shares_bins_time():
    t = pd.Timestamp("2023-01-01T00:00:00Z")
    df = pd.DataFrame({"time": [t, t + pd.Timedelta("50min"), t + pd.Timedelta("2h")],
                       "stance": ["positive", "negative", "negative"]})
    out = trend_shares(df, "stance", x="time", freq="1h")
    assert out["step"].tolist() == [0, 0, 2, 2]
    assert out["hours"].tolist() == [0.0, 0.0, 2.0, 2.0]
    assert out.query("step == 2 and stance == 'negative'")["share"].item() == 1.0
