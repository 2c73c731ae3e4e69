
import networkx as nx
import pandas as pd
import pytest

from s3kit.datasets.base import SocialDataset
from s3kit.environment import TIERS, BannedUserError, SocialNetwork
from s3kit.recommenders import PopularRecommender, RandomRecommender
from s3kit.sample import generate_sample

T0 = pd.Timestamp("2023-05-01T08:00:00Z")


def small_net(**kwargs) -> SocialNetwork:
    """a <-> b mutual, c -> a, d -> c, e isolated."""
    net = SocialNetwork(start=T0, **kwargs)
    for u in "abcde":
        net.add_user(u)
    net.add_follows([("a", "b"), ("b", "a"), ("c", "a"), ("d", "c")])
    return net


def test_followers_and_followees_follow_edge_direction():
    net = small_net()
    assert sorted(net.followers("a")) == ["b", "c"]
    assert net.followees("c") == ["a"]
    assert net.followers("d") == []
    assert net.is_mutual("a", "b") and net.is_mutual("b", "a")
    assert not net.is_mutual("a", "c")


def test_from_dataset_keeps_follower_to_followee_direction_and_user_attributes():
    ds = SocialDataset(
        name="toy",
        users=pd.DataFrame({"user_id": ["x", "y", "z"], "age": [30, None, 41]}),
        follows=pd.DataFrame({"follower": ["x", "z"], "followee": ["y", "y"]}),
    )
    net = SocialNetwork.from_dataset(ds)
    assert net.graph_source == "follows"
    assert sorted(net.followers("y")) == ["x", "z"]
    assert net.followees("x") == ["y"]
    assert net.user("x")["age"] == 30
    assert "age" not in net.user("y")  # missing values are not stored


def test_feed_is_newest_first_from_followees_only_with_source_tags():
    net = small_net()
    net.add_post("a", "a-old", time=T0 - pd.Timedelta(hours=3))
    net.add_post("b", "b-mid", time=T0 - pd.Timedelta(hours=2))
    net.add_post("a", "a-new", time=T0 - pd.Timedelta(hours=1))
    net.add_post("d", "d-not-followed", time=T0 - pd.Timedelta(minutes=5))
    feed_b = net.feed("b", k=10)
    assert [p["text"] for p in feed_b] == ["a-new", "a-old"]  # b follows only a
    assert {p["source"] for p in feed_b} == {"mutual"}
    feed_c = net.feed("c", k=10)
    assert [p["text"] for p in feed_c] == ["a-new", "a-old"]
    assert {p["source"] for p in feed_c} == {"followee"}  # a does not follow c back
    times = [p["time"] for p in net.feed("a", k=10, include_own=True)]
    assert times == sorted(times, reverse=True)
    own = net.feed("a", k=10, include_own=True)
    assert [p["source"] for p in own] == ["own", "mutual", "own"]
    assert [p["text"] for p in net.feed("c", k=1)] == ["a-new"]
    assert net.feed("c", k=0) == []


def test_future_posts_appear_only_when_the_clock_reaches_them():
    net = small_net(step_hours=2)
    net.add_post("a", "later", time=T0 + pd.Timedelta(hours=3))
    pid_now = net.add_post("a", "now")  # time=None -> now
    assert net.post(pid_now)["time"] == T0
    assert [p["text"] for p in net.feed("c")] == ["now"]
    assert net.tick() == T0 + pd.Timedelta(hours=2)
    assert [p["text"] for p in net.feed("c")] == ["now"]
    net.tick()
    assert net.now == T0 + pd.Timedelta(hours=4) and net.steps == 2
    assert [p["text"] for p in net.feed("c")] == ["later", "now"]
    assert [p["text"] for p in net.feed("c", max_age_hours=2)] == ["later"]


def test_out_of_order_inserts_keep_feed_sorted():
    net = small_net()
    for h in [5, 1, 4, 2, 3]:
        net.add_post("a", f"h{h}", time=T0 - pd.Timedelta(hours=h))
    assert [p["text"] for p in net.feed("c")] == ["h1", "h2", "h3", "h4", "h5"]


def test_add_post_checks_author_parent_and_inherits_event():
    net = small_net()
    root = net.add_post("a", "root", event_id="e1", emotion="intense")
    rp = net.add_post("c", "rt", parent_id=root, kind="repost")
    assert net.post(rp)["event_id"] == "e1" and net.post(rp)["parent_id"] == root
    assert net.post(root)["emotion"] == "intense" and net.post(rp)["emotion"] is None
    with pytest.raises(KeyError, match="unknown user"):
        net.add_post("nobody", "x")
    with pytest.raises(KeyError, match="unknown parent"):
        net.add_post("a", "x", parent_id="nope")
    with pytest.raises(KeyError, match="duplicate"):
        net.add_post("a", "x", post_id=root)


def test_proxy_graph_from_parent_edges():
    posts = pd.DataFrame({
        "post_id": ["r", "p1", "p2", "p3", "p4"],
        "user_id": ["A", "B", "C", "A", "B"],
        "time": pd.to_datetime(["2023-01-01 00:00", "2023-01-01 01:00", "2023-01-01 02:00",
                                "2023-01-01 03:00", "2023-01-01 04:00"], utc=True),
        "parent_id": [None, "r", "p1", "r", "r"],
        "kind": ["original", "repost", "reply", "repost", "repost"],
    })
    ds = SocialDataset(name="cascade", posts=posts)
    net = SocialNetwork.from_dataset(ds)  # no follows -> parent proxy
    assert net.graph_source == "parent-proxy"
    assert set(net.graph.edges) == {("B", "A"), ("C", "B")}  # A's self-repost dropped
    assert net.graph.edges["B", "A"]["weight"] == 2
    assert net.followers("A") == ["B"]
    assert net.now == posts["time"].min()  # clock starts at the first post
    none = SocialNetwork.from_dataset(ds, proxy="none")
    assert none.graph.number_of_edges() == 0 and len(none) == 3
    with pytest.raises(ValueError, match="proxy"):
        SocialNetwork.from_dataset(ds, proxy="bogus")
    # a dataset with follows uses them unless the proxy is forced
    ds2 = SocialDataset(name="f", posts=posts,
                        follows=pd.DataFrame({"follower": ["A"], "followee": ["C"]}))
    assert set(SocialNetwork.from_dataset(ds2).graph.edges) == {("A", "C")}
    assert set(SocialNetwork.from_dataset(ds2, proxy="parent").graph.edges) == {
        ("B", "A"), ("C", "B")}


def test_from_dataset_until_loads_only_early_posts_and_sets_clock():
    ds = generate_sample(n_users=80, seed=3)
    root_time = ds.posts.loc[ds.posts["post_id"] == ds.events["root_post_id"][0], "time"].iloc[0]
    until = root_time + pd.Timedelta(hours=1)
    net = SocialNetwork.from_dataset(ds, until=until)
    assert net.now == until
    assert net.n_posts == int((ds.posts["time"] <= until).sum())
    frame = net.posts_frame()
    assert frame["time"].max() <= until
    assert set(frame.columns) >= {"post_id", "emotion", "stance", "removed"}


def test_recommender_hook_is_called_and_its_posts_are_tagged():
    calls = []

    def spy(network, user_id, k):
        calls.append((network, user_id, k))
        return ["p_e", "does-not-exist", "p_a"]  # p_a is in-network: must not be duplicated

    net = small_net(recommender=spy, recommend_k=2)
    net.add_post("e", "from stranger", post_id="p_e", time=T0 - pd.Timedelta(hours=5))
    net.add_post("a", "from followee", post_id="p_a", time=T0 - pd.Timedelta(hours=1))
    feed = net.feed("c", k=5)
    assert calls == [(net, "c", 2)]
    assert [(p["post_id"], p["source"]) for p in feed] == [("p_a", "followee"),
                                                          ("p_e", "recommended")]
    net.set_recommender(None)
    assert [p["post_id"] for p in net.feed("c")] == ["p_a"]
    assert len(calls) == 1


def test_recommended_slots_are_part_of_k():
    net = small_net(recommender=lambda n, u, k: ["p_e"], recommend_k=1)
    net.add_post("e", "stranger", post_id="p_e", time=T0 - pd.Timedelta(hours=9))
    for h in range(1, 6):
        net.add_post("a", f"a{h}", time=T0 - pd.Timedelta(hours=h))
    feed = net.feed("c", k=3)
    assert [p["text"] for p in feed] == ["a1", "a2", "stranger"]


def test_popular_recommender_ranks_by_recent_reposts():
    net = SocialNetwork(start=T0, recommender="popular", recommend_k=2)
    for u in ["s1", "s2", "s3", "r1", "r2", "r3", "reader"]:
        net.add_user(u)
    t = T0 - pd.Timedelta(hours=2)
    p1 = net.add_post("s1", "one repost", time=t)
    p2 = net.add_post("s2", "three reposts", time=t)
    p3 = net.add_post("s3", "no repost", time=t)
    net.add_post("r1", "rt", parent_id=p1, kind="repost", time=t)
    for r in ["r1", "r2", "r3"]:
        net.add_post(r, "rt", parent_id=p2, kind="repost", time=t)
    assert PopularRecommender()(net, "reader", 5) == [p2, p1]
    feed = net.feed("reader", k=5)
    assert [p["post_id"] for p in feed if p["source"] == "recommended"] == [p2, p1]
    assert p3 not in [p["post_id"] for p in feed]
    # reposts outside the window do not count
    net.tick(30)
    assert PopularRecommender(window_hours=24)(net, "reader", 5) == []
    # users do not get their own or their followees' posts recommended
    net2 = SocialNetwork(start=T0)
    for u in ["a", "b", "c"]:
        net2.add_user(u)
    net2.add_follows([("c", "a")])
    root = net2.add_post("a", "x", time=t)
    net2.add_post("b", "rt", parent_id=root, kind="repost", time=t)
    assert PopularRecommender()(net2, "a", 3) == []
    assert PopularRecommender()(net2, "c", 3) == []
    assert PopularRecommender()(net2, "b", 3) == [root]


def test_random_recommender_is_seeded():
    ds = generate_sample(n_users=120, seed=2)
    net = SocialNetwork.from_dataset(ds)
    net.tick(30)
    users = net.users[:20]
    a = [RandomRecommender(seed=7)(net, u, 3) for u in users]
    b = [RandomRecommender(seed=7)(net, u, 3) for u in users]
    c = [RandomRecommender(seed=8)(net, u, 3) for u in users]
    assert a == b and a != c
    assert all(len(x) == 3 for x in a)
    for u, recs in zip(users, a, strict=True):
        authors = {net.post(pid)["user_id"] for pid in recs}
        assert u not in authors and not authors & set(net.followees(u))


def test_ban_user_removes_posts_from_feeds_and_blocks_posting():
    net = small_net(recommender=lambda n, u, k: ["p_e"])
    net.add_post("e", "spam", post_id="p_e", time=T0 - pd.Timedelta(hours=1))
    net.add_post("a", "hello", time=T0 - pd.Timedelta(hours=1))
    assert "spam" in [p["text"] for p in net.feed("c")]
    net.ban_user("a")
    net.ban_user("e")
    assert net.feed("c") == []
    assert net.banned == {"a", "e"}
    with pytest.raises(BannedUserError):
        net.add_post("a", "again")
    assert net.stats()["banned_users"] == 2
    net.unban_user("a")
    assert [p["text"] for p in net.feed("c")] == ["hello"]


def test_remove_post_takes_it_out_of_feeds_and_popularity():
    net = small_net(recommender="popular")
    keep = net.add_post("a", "keep", time=T0 - pd.Timedelta(hours=2))
    gone = net.add_post("a", "gone", time=T0 - pd.Timedelta(hours=1))
    net.add_post("d", "rt", parent_id=gone, kind="repost", time=T0)
    assert PopularRecommender()(net, "e", 3) == [gone]
    net.remove_post(gone)
    assert [p["post_id"] for p in net.feed("c")] == [keep]
    assert PopularRecommender()(net, "e", 3) == []
    assert net.post(gone)["removed"] is True
    assert gone not in net.posts_frame(include_removed=False)["post_id"].tolist()
    assert net.stats()["removed_posts"] == 1
    with pytest.raises(KeyError):
        net.remove_post("nope")


def test_stats_on_hand_made_graph():
    s = small_net().stats()
    assert s["users"] == 5 and s["edges"] == 4
    assert s["reciprocity"] == 0.5  # a->b and b->a reciprocated, c->a and d->c not
    assert s["density"] == pytest.approx(4 / 20, abs=1e-6)
    assert s["mean_in_degree"] == s["mean_out_degree"] == 0.8
    assert s["max_in_degree"] == 2 and s["isolates"] == 1
    assert s["weakly_connected_components"] == 2
    assert s["largest_wcc_share"] == 0.8
    assert s["strongly_connected_components"] == 4  # {a,b}, {c}, {d}, {e}
    assert s["influential"] + s["regular"] + s["low_impact"] == 5


def test_degree_frame_matches_graph():
    net = small_net()
    net.add_post("a", "x")
    df = net.degree_frame().set_index("user_id")
    assert df.loc["a", "in_degree"] == 2 and df.loc["a", "out_degree"] == 1
    assert df.loc["a", "mutual"] == 1 and df.loc["c", "mutual"] == 0
    assert df.loc["a", "posts"] == 1
    assert df["in_degree"].sum() == df["out_degree"].sum() == 4
    assert df.loc["a", "tier"] == "influential"


def test_user_tiers_partition_users():
    net = SocialNetwork.from_dataset(generate_sample(n_users=400, seed=5))
    tiers = net.user_tiers()
    assert len(tiers) == len(net) and tiers.index.is_unique
    assert set(tiers.unique()) <= set(TIERS) and tiers.notna().all()
    counts = tiers.value_counts()
    assert 0.05 <= counts["influential"] / len(net) <= 0.15
    indeg = dict(net.graph.in_degree())
    low_max = max(indeg[u] for u in tiers.index[tiers == "low-impact"])
    reg = [indeg[u] for u in tiers.index[tiers == "regular"]]
    inf_min = min(indeg[u] for u in tiers.index[tiers == "influential"])
    assert low_max < min(reg) and max(reg) < inf_min  # tiers are ordered by followers
    # by an attribute instead of the graph
    star = SocialNetwork.from_graph(nx.DiGraph([("1", "0")]))
    star.add_user("0", followers=10_000)
    star.add_user("2", followers=5)
    assert star.user_tiers(by="followers")["0"] == "influential"
    assert star.user_tiers(by="followers")["1"] == "low-impact"  # missing -> 0


def test_ten_thousand_users_feed():
    """Feeds for 10k users (their speed: benchmarks/scale_timings.py)."""
    ds = generate_sample(n_users=10_000, seed=0)
    net = SocialNetwork.from_dataset(ds, recommender="popular")
    net.tick(12)
    n = sum(len(net.feed(u, k=10)) for u in net.users)
    assert n > 50_000


def test_mcid_follow_graph_stats(shared_data_dir):
    path = shared_data_dir / "mcid_twitter" / "edges.txt"
    edges = pd.read_csv(path, header=None, names=["follower", "followee"], dtype=str)
    net = SocialNetwork.from_dataset(SocialDataset(name="mcid", follows=edges))
    stats = net.stats()
    e = edges[edges["follower"] != edges["followee"]].drop_duplicates()
    assert stats["edges"] == len(e)
    assert stats["users"] == len(set(e["follower"]) | set(e["followee"]))
    rev = e.rename(columns={"follower": "followee", "followee": "follower"})
    mutual = len(e.merge(rev, on=["follower", "followee"]))
    assert stats["reciprocity"] == round(mutual / len(e), 4)
    assert stats["influential"] + stats["regular"] + stats["low_impact"] == stats["users"]


def test_bulk_and_incremental_post_loading_agree():
    ds = generate_sample(n_users=60, seed=9)
    posts = ds.posts.sample(frac=1.0, random_state=0)  # shuffled: loader must sort
    bulk = SocialNetwork.from_dataset(ds)
    inc = SocialNetwork.from_dataset(SocialDataset(name="x", users=ds.users, follows=ds.follows,
                                                   posts=posts.iloc[:5]))
    inc.add_posts(pd.concat([posts, posts.iloc[:3]]))  # overlap: duplicates are skipped
    assert inc.n_posts == bulk.n_posts == len(ds.posts)
    inc.tick(40)
    bulk.tick(40)
    for u in bulk.users[:30]:
        assert [p["post_id"] for p in inc.feed(u, k=8)] == [p["post_id"] for p in bulk.feed(u, k=8)]
    a = bulk.posts_frame().sort_values("post_id").reset_index(drop=True)
    b = inc.posts_frame().sort_values("post_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b[a.columns])


def test_user_tiers_single_out_hubs_when_most_users_have_no_follower():
    # a reposter-proxy-like graph: 200 leaves follow nobody back, followed users have 1..10
    # followers, one hub has 30
    edges, leaf = [], 0
    for i in range(10):
        for _ in range(i + 1):
            edges.append((f"l{leaf}", f"a{i}"))
            leaf += 1
    for _ in range(30):
        edges.append((f"l{leaf}", "hub"))
        leaf += 1
    g = nx.DiGraph(edges)
    g.add_nodes_from(f"l{j}" for j in range(leaf, 200))
    tiers = SocialNetwork.from_graph(g).user_tiers()
    # top 10% of the 11 followed users (inclusive quantile): the hub and a9 (10 followers)
    assert sorted(tiers.index[tiers == "influential"]) == ["a9", "hub"]
    assert {tiers[f"a{i}"] for i in range(9)} == {"regular"}
    assert (tiers == "low-impact").sum() == 200


def test_event_posts_and_post_accessors_follow_visibility():
    net = SocialNetwork(start="2023-01-01 00:00")
    for u in ("a", "b"):
        net.add_user(u)
    p0 = net.add_post("a", "first", event_id="e1")
    p1 = net.add_post("b", "second", event_id="e1")
    p2 = net.add_post("a", "later", event_id="e1", time="2023-01-01 05:00")
    p3 = net.add_post("a", "other")
    assert net.event_posts("e1") == [p0, p1]  # p2 is in the future
    assert net.event_posts("e1", visible_only=False) == [p0, p1, p2]
    net.remove_post(p0)
    net.ban_user("b")
    assert net.event_posts("e1") == [] and net.event_posts() == [p3]
    assert not net.is_visible(p1) and net.has_post(p1) and not net.has_post("nope")
    assert net.author(p1) == "b" and net.event_of(p1) == "e1" and net.event_of(p3) is None
    assert net.post_time(p2) == pd.Timestamp("2023-01-01 05:00", tz="UTC")
    net.tick(6)
    assert net.event_posts("e1", since="2023-01-01 01:00") == [p2]
    assert net.post_texts(2) == ["first", "second"]
