"""Task builders: exposure/negatives of repost, label mappings, splits (hand-made data)."""

from __future__ import annotations

import pandas as pd
import pytest

from s3kit.datasets.base import SocialDataset
from s3kit.evaluation.tasks import (
    attitude_change_task,
    attitude_task,
    balanced_sample,
    content_task,
    emotion_task,
    gender_task,
    repost_task,
    split_dataset,
)


def _mcid(cascades: dict[str, list[tuple[str, float]]], follows: list[tuple[str, str]]):
    rows = []
    for cid, adopt in cascades.items():
        for n, (u, t) in enumerate(adopt):
            rows.append({"post_id": f"{cid}:{n}", "user_id": u, "event_id": cid,
                         "time": pd.Timestamp(t, unit="s", tz="UTC"), "timestamp": t,
                         "kind": "original" if n == 0 else "repost"})
    return SocialDataset("mcid_twitter", posts=pd.DataFrame(rows),
                         follows=pd.DataFrame(follows, columns=["follower", "followee"]),
                         events=pd.DataFrame({"event_id": list(cascades)}))


def test_repost_exposure_positives_and_negatives():
    h = 3600.0
    # b, c, d follow a; e follows b. Cascade x: a at 0, b at 1h, e at 30h, d before a.
    follows = [("b", "a"), ("c", "a"), ("d", "a"), ("e", "b")]
    ev = _mcid({"x": [("d", -10.0), ("a", 0.0), ("b", h), ("e", 30 * h)]}, follows)
    tr = _mcid({"y": [("b", 0.0), ("c", 5.0)]}, follows)
    task = repost_task(tr, ev, n_eval=None, horizon_hours=24)
    items = task.eval.set_index("user_id")
    # d adopted before any followee: not exposed; a adopts first: not exposed
    assert set(items.index) == {"b", "c", "e"}
    assert items.loc["b", "label"] == "repost"          # within 24 h of a's adoption
    assert items.loc["c", "label"] == "nothing"         # exposed, never adopts
    assert items.loc["e", "label"] == "nothing"         # adopts 29 h after b: past horizon
    assert items.loc["b", "n_exposures"] == 1
    assert items.loc["b", "history"] == 1                # adopted train cascade y
    assert items.loc["e", "exposed_t"] == h
    assert task.labels == ("nothing", "repost")


def test_repost_needs_a_graph():
    ev = _mcid({"x": [("a", 0.0), ("b", 1.0)]}, [])
    assert repost_task(ev, ev) is None


def test_emotion_mapping_and_balance():
    labels = pd.DataFrame({"text": [f"t{i}" for i in range(30)],
                           "label": ["anger"] * 10 + ["joy"] * 10 + ["sadness"] * 5
                           + ["neutral"] * 5, "task": "emotion", "split": "train"})
    ds = SocialDataset("tweeteval", labels=labels)
    task = emotion_task(ds, ds, n_eval=15)
    assert task.labels == ("calm", "moderate", "intense")
    assert task.notes["dropped"] == 10  # "neutral" twice (train + eval side) has no level
    counts = task.eval["label"].value_counts().to_dict()
    assert counts == {"intense": 5, "moderate": 5, "calm": 5}
    row = task.eval[task.eval["source_label"] == "anger"].iloc[0]
    assert row["label"] == "intense"


def test_attitude_drops_neutral_and_maps_rumoureval_stance():
    posts = pd.DataFrame({
        "post_id": ["s", "r1", "r2", "r3"], "user_id": None,
        "time": pd.to_datetime(["2020-01-01"] * 4, utc=True),
        "text": ["claim", "yes true", "fake!", "what?"],
        "parent_id": [None, "s", "s", "r1"], "event_id": "s",
        "kind": ["original", "reply", "reply", "reply"],
        "stance": ["support", "support", "deny", "query"]})
    ds = SocialDataset("rumoureval2017", posts=posts)
    att = attitude_task(ds, ds)
    assert sorted(att.eval["label"]) == ["negative", "positive", "positive"]
    assert set(att.eval["topic"]) == {"claim"}
    ch = attitude_change_task(ds, ds)
    got = ch.eval.set_index("text")
    assert set(got.index) == {"yes true", "fake!"}  # r3 is a query: not an item
    assert got.loc["fake!", "parent_stance"] == "support"
    assert bool(got.loc["fake!", "changed"]) is True
    assert got.loc["yes true", "context"] == "claim"


def test_split_keeps_events_together_and_is_order_free():
    posts = pd.DataFrame({"post_id": [f"p{i}" for i in range(200)],
                          "user_id": [f"u{i}" for i in range(200)],
                          "time": pd.to_datetime(["2020-01-01"] * 200, utc=True),
                          "event_id": [f"e{i // 4}" for i in range(200)]})
    ds = SocialDataset("toy", posts=posts)
    tr, va = split_dataset(ds)
    assert set(tr.posts["event_id"]).isdisjoint(va.posts["event_id"])
    assert len(tr.posts) + len(va.posts) == 200
    shuffled = SocialDataset("toy", posts=posts.sample(frac=1, random_state=3))
    _, va2 = split_dataset(shuffled)
    assert set(va2.posts["post_id"]) == set(va.posts["post_id"])


def test_gender_filters_brands_and_low_confidence():
    users = pd.DataFrame({"user_id": ["a", "b", "c", "d"],
                          "gender": ["male", "female", "brand", "female"],
                          "gender_confidence": [1.0, 0.9, 1.0, 0.3],
                          "bio": ["dad", "mum", "shop", "?"]})
    ds = SocialDataset("twitter_gender", users=users)
    task = gender_task(ds, ds)
    assert sorted(task.eval["user_id"]) == ["a", "b"]


@pytest.mark.parametrize("n", [4, 7])
def test_balanced_sample_sizes(n):
    df = pd.DataFrame({"label": ["a"] * 10 + ["b"] * 2})
    out = balanced_sample(df, n)
    assert len(out) == n
    assert (out["label"] == "b").sum() == 2


def _thread_posts() -> SocialDataset:
    rows = [("s", None, "Big news about the dam tonight"),
            ("r1", "s", "I can't believe it //@ann: old words"),
            ("r2", "s", "转发微博"),                       # Weibo's default repost text
            ("r3", "r1", "short"),                        # under 8 characters
            ("r4", "gone", "A reply to a post not in the data"),
            ("r5", "s", "This is so sad for everyone"),
            ("r6", "r1", "Who checked the dam before? //@bo: x"),
            ("r7", "s", "Sharing so my family sees it")]
    posts = pd.DataFrame(rows, columns=["post_id", "parent_id", "text"])
    posts["event_id"] = "s"
    return SocialDataset("ced", posts=posts)


def test_content_items_are_the_reposters_words_under_their_parent():
    ds = _thread_posts()
    ev = content_task(ds, ds, n_eval=None).eval
    assert ev["text"].tolist() == ["I can't believe it", "This is so sad for everyone",
                                   "Who checked the dam before?", "Sharing so my family sees it"]
    assert ev["context"].tolist() == ["Big news about the dam tonight",
                                      "Big news about the dam tonight",
                                      "I can't believe it //@ann: old words",
                                      "Big news about the dam tonight"]
    assert set(ev["topic"]) == {"Big news about the dam tonight"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_content_sample_is_the_sample_of_all_items(seed):
    # the sample is drawn before the texts are built (memory): the same rows as sampling
    # the whole item table
    ds = _thread_posts()
    whole = content_task(ds, ds, n_eval=None).eval
    expected = whole.sample(n=2, random_state=seed).sort_index().reset_index(drop=True)
    pd.testing.assert_frame_equal(content_task(ds, ds, n_eval=2, seed=seed).eval, expected)
