"""Loaders on the real shared datasets (counts from the raw files) and on hand-made bad files.

The shared data is read in place through ``S3KIT_DATA_DIR``; with ``CI`` set a missing folder
fails instead of skipping. Each big dataset is loaded once (module-scoped fixtures).
"""

from __future__ import annotations

import collections
import csv
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s3kit.datasets import (
    available_datasets,
    load_ced,
    load_clue_emotion,
    load_dataset,
    load_mcid,
    load_nlpcc_stance,
    load_rumoureval,
    load_tweeteval,
    load_twitter_gender,
    load_twitter_trees,
    summarize_datasets,
)
from s3kit.datasets.ced import weibo_mid_time
from s3kit.errors import DataFormatError
from s3kit.testing.pytest_policy import data_root

MINI = Path(__file__).parent / "fixtures" / "datasets" / "mini"
LOAD_TIMES: dict[str, float] = {}


def shared(name: str) -> Path:
    """The shared dataset folder, or skip (fail under CI) when it is missing."""
    return data_root(name) / name


def timed(key: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    ds = fn(*args, **kwargs)
    LOAD_TIMES[key] = time.perf_counter() - t0
    return ds


def assert_utc(series: pd.Series):
    assert isinstance(series.dtype, pd.DatetimeTZDtype), series.dtype
    assert str(series.dtype.tz) == "UTC"


def epoch_s(times: pd.Series) -> np.ndarray:
    return (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


def tree_folders() -> list[str]:
    root = os.environ.get("S3KIT_DATA_DIR")
    if not root or not Path(root).is_dir():
        return ["twitter15"]
    return [n for n in available_datasets(root) if (Path(root) / n / "tree").is_dir()] or [
        "twitter15"]


# ---------------------------------------------------------------- module-scoped real loads
@pytest.fixture(scope="module")
def ced_dir():
    return shared("ced")


@pytest.fixture(scope="module")
def ced(ced_dir):
    return timed("ced", load_ced, ced_dir, progress=False)


@pytest.fixture(scope="module", params=tree_folders())
def trees(request):
    folder = shared(request.param)
    return folder, timed(request.param, load_twitter_trees, folder, progress=False)


@pytest.fixture(scope="module")
def mcid():
    folder = shared("mcid_twitter")
    return folder, timed("mcid_twitter", load_mcid, folder, progress=False)


@pytest.fixture(scope="module")
def rumoureval():
    folder = shared("rumoureval2017")
    return folder, timed("rumoureval2017", load_rumoureval, folder)


# ---------------------------------------------------------------- CED
def test_ced_counts_match_raw_files(ced_dir, ced):
    sources = sorted((ced_dir / "original-microblog").glob("*.json"))
    n_reposts, uids, labels = 0, {f.name.split("_")[2][:-5] for f in sources}, {}
    for sub in sorted(p for p in ced_dir.iterdir() if p.is_dir() and "repost" in p.name):
        for f in sub.glob("*.json"):
            records = json.loads(f.read_text(encoding="utf-8"))
            n_reposts += len({r["mid"] for r in records})  # duplicates of a mid count once
            uids.update(str(r["uid"]) for r in records)
            labels[f.name.split("_")[1]] = sub.name.replace("-repost", "")
    assert len(ced.events) == len(sources)
    assert (ced.posts["kind"] == "original").sum() == len(sources)
    assert (ced.posts["kind"] == "repost").sum() == n_reposts
    assert ced.posts["post_id"].is_unique
    assert set(ced.users["user_id"]) == uids and ced.users["user_id"].is_unique
    got = dict(zip(ced.events["event_id"], ced.events["label"], strict=True))
    assert {k: got[k] for k in labels} == labels
    assert collections.Counter(labels.values()) == collections.Counter(
        ced.events["label"].dropna())
    # every repost's parent is the source or another repost of the same event
    reposts = ced.posts[ced.posts["kind"] == "repost"]
    assert reposts["parent_id"].notna().all()


def test_ced_dtypes_and_times(ced):
    assert_utc(ced.posts["time"])
    assert_utc(ced.users["created_at"])
    assert ced.posts["time"].notna().all()
    for col in ("post_id", "user_id", "parent_id", "event_id", "text"):
        assert ced.posts[col].dtype == "string"
    assert ced.users["followers"].dtype == "Int64"
    assert set(ced.users["gender"].dropna()) <= {"m", "f"}
    # Weibo mids encode their UTC creation time: converted Beijing dates must agree with it
    reposts = ced.posts[ced.posts["kind"] == "repost"].sample(20000, random_state=0)
    mid_t = np.array([weibo_mid_time(m) or np.nan for m in reposts["post_id"]])
    ok = np.isfinite(mid_t)
    diff = np.abs(mid_t[ok] - epoch_s(reposts["time"])[ok])
    assert ok.mean() > 0.5 and np.mean(diff <= 60) > 0.99


def test_ced_hand_checked_records(ced_dir, ced):
    posts = ced.posts.set_index("post_id")
    if (ced_dir / "rumor-repost" / "0_yBmepBtUB_2279086572.json").exists():
        # source "time": 1347334462 (UTC epoch) -> 2012-09-11 03:34:22 UTC
        assert posts.loc["yBmepBtUB", "time"] == pd.Timestamp("2012-09-11 03:34:22", tz="UTC")
        # repost yC8Kt9U3N: date "2012-09-16 15:05:11" Beijing = 07:05:11 UTC
        assert posts.loc["yC8Kt9U3N", "time"] == pd.Timestamp("2012-09-16 07:05:11", tz="UTC")
        assert posts.loc["yC8Kt9U3N", "parent_id"] == "yBmepBtUB"  # empty parent = source
    if (ced_dir / "rumor-repost" / "137_zzj3JohLU_2683002893.json").exists():
        # "07月23日 11:47" with no year; the source is from 2013 but the mid says 2016
        row = posts.loc["E09AAopWo"]
        assert row["time"] == pd.Timestamp("2016-07-23 03:47", tz="UTC")
        assert bool(row["date_year_inferred"])


# ---------------------------------------------------------------- Twitter15/16
NODE = re.compile(r"\[([^\]]*)\]->\[([^\]]*)\]")


def test_trees_counts_match_raw_files(trees):
    folder, ds = trees
    label_lines = [ln for ln in (folder / "label.txt").read_text().splitlines() if ln.strip()]
    files = sorted((folder / "tree").glob("*.txt"))
    n_nodes = n_lines = 0
    for f in files:
        children, parents = set(), set()
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            n_lines += 1
            p, c = NODE.match(line.strip()).groups()
            children.add(c.replace(" ", ""))
            if "ROOT" not in p:
                parents.add(p.replace(" ", ""))
        n_nodes += len(children | parents)
    label_ids = {ln.rsplit(":", 1)[1].strip() for ln in label_lines}
    assert len(ds.events) == len(label_ids | {f.stem for f in files}) == len(files)
    assert len(ds.posts) == n_nodes <= n_lines
    assert ds.posts["post_id"].is_unique
    # one source per tree; every other node has a parent edge
    assert (ds.posts["kind"] == "original").sum() == len(files)
    assert ds.posts["parent_id"].notna().sum() == n_nodes - len(files)
    counts = collections.Counter(ln.rsplit(":", 1)[0] for ln in label_lines)
    assert collections.Counter(ds.events["label"].dropna()) == counts


def test_trees_times_from_tweet_ids(trees):
    _, ds = trees
    assert_utc(ds.posts["time"])
    ev = ds.events.iloc[0]
    root = ds.posts.set_index("post_id").loc[ev["root_post_id"]]
    expected = pd.Timestamp((int(ev["event_id"]) >> 22) + 1288834974657, unit="ms", tz="UTC")
    assert root["time"] == expected + pd.Timedelta(minutes=float(root["delay_min"]))
    # replies with their own tweet id: source time + delay agrees with the id's own time
    own = ds.posts[ds.posts["tweet_id"] != ds.posts["event_id"]].head(5000)
    ms = np.array([(int(t) >> 22) + 1288834974657 for t in own["tweet_id"]], dtype=float)
    assert np.mean(np.abs(ms / 1000 - epoch_s(own["time"])) < 60) > 0.99


# ---------------------------------------------------------------- MCID
def test_mcid_counts_and_direction(mcid):
    folder, ds = mcid
    lines = [ln.split() for ln in (folder / "cascades.txt").read_text().splitlines()
             if ln.strip()]
    edges = [ln.split(",") for ln in (folder / "edges.txt").read_text().splitlines()
             if ln.strip()]
    assert len(ds.events) == len(lines)
    assert len(ds.posts) == sum(len(p) - 1 for p in lines)
    assert len(ds.follows) == len(edges)
    # "a,b" is read as a follows b (see docs/datasets.md for the measurement)
    assert list(ds.follows.iloc[0]) == [edges[0][0], edges[0][1]]
    ids = {tok.split(",")[0] for p in lines for tok in p[1:]} | {x for e in edges for x in e}
    assert set(ds.users["user_id"]) == ids
    assert ds.users["screen_name"].notna().sum() == len({x for e in edges for x in e})
    assert_utc(ds.posts["time"])
    first = lines[0]
    assert ds.posts.iloc[0]["timestamp"] == float(first[1].split(",")[1])


# ---------------------------------------------------------------- RumourEval
def test_rumoureval_counts_and_labels(rumoureval):
    folder, ds = rumoureval
    splits = [p for p in folder.iterdir() if (p / "posts.json").is_file()]
    stance_names = {str(v): k for k, v in json.loads(
        (folder / "stanceCategory.json").read_text()).items()}
    n_posts = n_threads = 0
    expected_stance = collections.Counter()
    for sd in splits:
        n_posts += len(json.loads((sd / "posts.json").read_text()))
        n_threads += len(json.loads((sd / "structures.json").read_text()))
        expected_stance.update(stance_names[x] for x in (sd / "post_label.txt").read_text()
                               .split())
    assert len(ds.posts) == n_posts and len(ds.events) == n_threads
    assert collections.Counter(ds.posts["stance"].dropna()) == expected_stance
    assert set(ds.posts["split"]) == {p.name for p in splits}
    assert set(ds.events["label"].dropna()) <= {"true", "false", "unverified"}
    assert_utc(ds.posts["time"])
    roots = ds.posts[ds.posts["kind"] == "original"]
    assert set(roots["post_id"]) <= set(ds.events["event_id"])
    replies = ds.posts[ds.posts["kind"] == "reply"]
    assert replies["parent_id"].notna().mean() > 0.95


# ---------------------------------------------------------------- labelled corpora
def test_nlpcc_counts():
    folder = shared("nlpcc2016_stance")
    ds = timed("nlpcc2016_stance", load_nlpcc_stance, folder)
    ref = pd.concat([pd.read_csv(f, sep="\t", encoding="utf-8-sig", dtype=str)
                     for f in sorted(folder.glob("*.txt"))])
    assert len(ds.labels) == len(ref)
    assert ds.labels["label"].isna().sum() == ref["STANCE"].isna().sum() > 0
    assert collections.Counter(ds.labels["label"].dropna()) == collections.Counter(
        ref["STANCE"].dropna().str.strip())
    assert set(ds.labels["task"]) == {"stance"} and ds.labels["split"].notna().all()
    assert not ds.labels["text"].iloc[0].startswith("\ufeff")


def test_clue_counts():
    folder = shared("clue_emotion2020")
    ds = timed("clue_emotion2020", load_clue_emotion, folder)
    expected = collections.Counter()
    for f in folder.glob("*.txt"):
        for line in f.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                expected[(f.stem, json.loads(line).get("label"))] += 1
    got = collections.Counter(zip(ds.labels["split"], ds.labels["label"], strict=True))
    assert got == expected


def test_tweeteval_counts_and_names():
    folder = shared("tweeteval")
    ds = timed("tweeteval", load_tweeteval, folder)
    for task_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for tf in task_dir.glob("*_text.txt"):
            split = tf.name[: -len("_text.txt")]
            n = tf.read_bytes().count(b"\n")
            sub = ds.labels[(ds.labels["task"] == task_dir.name) & (ds.labels["split"] == split)]
            assert len(sub) == n, (task_dir.name, split)
    names = {"emotion": {"anger", "joy", "optimism", "sadness"},
             "stance_feminist": {"none", "against", "favor"},
             "stance_climate": {"none", "against", "favor"}}
    for task, allowed in names.items():
        if (folder / task).is_dir():
            assert set(ds.labels.loc[ds.labels["task"] == task, "label"]) == allowed
    one = load_tweeteval(folder, task="stance_feminist")
    assert set(one.labels["task"]) == {"stance_feminist"}
    with pytest.raises(ValueError, match="not in"):
        load_tweeteval(folder, task="no_such_task")


def test_twitter_gender_counts():
    folder = shared("twitter_gender")
    ds = timed("twitter_gender", load_twitter_gender, folder)
    ref = pd.concat([pd.read_csv(f, encoding="latin-1", dtype=str)
                     for f in folder.glob("*.csv")])
    ref = ref[ref["_unit_id"].notna()]
    assert len(ds.users) == ref["_unit_id"].nunique() == len(ds.posts)
    assert collections.Counter(ds.users["gender"].dropna()) == collections.Counter(
        ref["gender"].dropna())
    assert ds.users["bio"].notna().sum() == ref["description"].notna().sum()
    assert_utc(ds.posts["time"])


def test_registry_and_summary_on_shared_data(ced, trees, mcid, rumoureval):
    root = shared("")
    names = available_datasets(root)
    assert {"ced", "mcid_twitter", "rumoureval2017", "tweeteval"} <= set(names)
    for folder in root.iterdir():
        if (folder / "tree").is_dir():
            assert folder.name in names
    assert LOAD_TIMES  # filled by the fixtures above (speed: benchmarks/scale_timings.py)
    print("\nload times (s):", {k: round(v, 2) for k, v in LOAD_TIMES.items()})


# ---------------------------------------------------------------- held-out layout (hand-made)
def test_held_out_names_are_discovered():
    assert available_datasets(MINI) == ["ced", "twitter16", "mcid_twitter", "rumoureval2017",
                                        "nlpcc2016_stance", "clue_emotion2020", "tweeteval",
                                        "twitter_gender"]
    tw = load_dataset("twitter16", MINI, progress=False)
    assert tw.name == "twitter16" and len(tw.events) == 2
    assert len(tw.posts) == 3 + 2  # 6 lines; one duplicate line, one self-loop marks a root
    re_ = load_dataset("rumoureval2017", MINI)
    assert set(re_.posts["split"]) == {"test"}
    assert list(re_.posts["stance"]) == ["support", "query", "deny"]
    assert re_.events["label"].tolist() == ["false"]
    te = load_dataset("tweeteval", MINI)
    assert set(te.labels["split"]) == {"test"}
    assert te.labels["text"].str.contains("\u2028").sum() == 1  # not split at U+2028
    assert te.labels.loc[te.labels["task"] == "stance_feminist", "label"].tolist() == [
        "against", "favor"]
    assert load_dataset("tweeteval/emotion", MINI).labels["label"].tolist() == [
        "anger", "joy", "optimism"]
    clue = load_dataset("clue_emotion2020", MINI)
    assert clue.labels["split"].unique().tolist() == ["test"]
    assert clue.labels["label"].isna().sum() == 1
    nl = load_dataset("nlpcc2016_stance", MINI)
    assert nl.labels["split"].unique().tolist() == ["test"]
    assert nl.labels["label"].tolist()[:2] == ["FAVOR", "AGAINST"] and nl.labels["label"].isna()[2]
    assert nl.labels["text"][1] == "第一行\n第二行"
    summary = summarize_datasets(MINI, progress=False)
    assert list(summary.columns[:7]) == ["name", "users", "posts", "edges", "events", "labels",
                                        "parent_edges"]
    assert summary.set_index("name").loc["mcid_twitter", "edges"] == 3


def test_mini_ced_times_duplicates_and_users():
    ds = load_ced(MINI / "ced", progress=False)
    posts = ds.posts.set_index("post_id")
    assert len(ds.posts) == 6  # 2 sources + 4 unique reposts (one duplicate mid dropped)
    assert posts.loc["zAbCdEfGi", "time"] == pd.Timestamp("2013-01-01 01:30", tz="UTC")
    assert posts.loc["zAbCdEfGj", "text"] == ""  # the first of the duplicates is kept
    # year-less "02月03日 10:00": first year not before the source (2013-01-01) -> 2013
    assert posts.loc["zzzz", "time"] == pd.Timestamp("2013-02-03 02:00", tz="UTC")
    # string source time with an offset
    assert posts.loc["yXyZaBcDe", "time"] == pd.Timestamp("2012-08-08 05:25:02", tz="UTC")
    users = ds.users.set_index("user_id")
    assert users.loc["1111111111", "gender"] == "f"
    assert users.loc["1111111111", "followers"] == 200
    assert users.loc["1111111111", "created_at"] == pd.Timestamp(1300000000, unit="s", tz="UTC")
    assert pd.isna(users.loc["5555555555", "gender"])  # "user": "empty"
    assert ds.events.set_index("event_id")["label"].to_dict() == {
        "zAbCdEfGh": "rumor", "yXyZaBcDe": "non-rumor"}


def test_mini_mcid_and_gender():
    m = load_mcid(MINI / "mcid_twitter", progress=False)
    assert m.users.set_index("user_id").loc["1", "screen_name"] == "alice"
    assert m.posts["kind"].tolist() == ["original", "repost", "repost", "original", "repost"]
    g = load_twitter_gender(MINI / "twitter_gender")
    assert g.users["gender"].tolist() == ["male", "female", "brand"]
    assert "café" in g.users["bio"][1] and "“quoted”" in g.users["bio"][1]  # cp1252 line
    assert g.posts["text"][1] == "“hi”"
    assert g.users["bio"][2] == "we sell, things"


# ---------------------------------------------------------------- malformed input
@pytest.fixture
def mini(tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(MINI, dst)
    return dst


def raises_at(fn, path, *, file: str, record=None, field=None):
    with pytest.raises(DataFormatError) as info:
        fn(path)
    err = info.value
    assert Path(err.path).name == file, str(err)
    if record is not None:
        assert err.record == record, str(err)
    if field is not None:
        assert err.field == field, str(err)
    assert file in str(err)
    return err


def test_error_truncated_json_ced(mini):
    f = mini / "ced/rumor-repost/1_zAbCdEfGh_1111111111.json"
    f.write_bytes(f.read_bytes()[:100])
    err = raises_at(lambda p: load_ced(p, progress=False), mini / "ced",
                    file=f.name, record="line 1")
    assert "invalid JSON" in err.reason


def test_error_ced_missing_field_and_bad_date(mini):
    f = mini / "ced/rumor-repost/1_zAbCdEfGh_1111111111.json"
    recs = json.loads(f.read_text(encoding="utf-8"))
    del recs[1]["uid"]
    f.write_text(json.dumps(recs, ensure_ascii=False), encoding="utf-8")
    raises_at(lambda p: load_ced(p, progress=False), mini / "ced", file=f.name, record=1,
              field="uid")
    recs[1]["uid"] = "1"
    recs[3]["date"] = "yesterday"
    f.write_text(json.dumps(recs, ensure_ascii=False), encoding="utf-8")
    raises_at(lambda p: load_ced(p, progress=False), mini / "ced", file=f.name, record=3,
              field="date")
    src = mini / "ced/original-microblog/2_yXyZaBcDe_5555555555.json"
    src.write_text(json.dumps({"text": "x", "user": "empty"}), encoding="utf-8")
    raises_at(lambda p: load_ced(p, progress=False), mini / "ced", file=src.name,
              field="time")


def test_error_tree_line_and_label_line(mini):
    f = mini / "twitter16/tree/656955120626880512.txt"
    lines = f.read_text().splitlines()
    lines[2] = "['100', '656955120626880512', '0.0']->['200', '656955120626880512']"
    f.write_text("\n".join(lines) + "\n")
    raises_at(lambda p: load_twitter_trees(p, progress=False), mini / "twitter16",
              file=f.name, record=3, field="child")
    lines[2] = "['100', '656955120626880512', 'soon']->['200', '656955120626880512', '1.5']"
    f.write_text("\n".join(lines) + "\n")
    raises_at(lambda p: load_twitter_trees(p, progress=False), mini / "twitter16",
              file=f.name, record=3, field="parent.delay")
    lab = mini / "twitter16/label.txt"
    lab.write_text("true:656955120626880512\nnon-rumor 615689290706595840\n")
    raises_at(lambda p: load_twitter_trees(p, progress=False), mini / "twitter16",
              file="label.txt", record=2, field="label")


def test_error_mcid(mini):
    f = mini / "mcid_twitter/cascades.txt"
    f.write_text("10 1,100.0 2,abc\n")
    raises_at(lambda p: load_mcid(p, progress=False), mini / "mcid_twitter",
              file="cascades.txt", record=1, field="time")
    f.write_text("10 1,100.0\n11 2;300\n")
    raises_at(lambda p: load_mcid(p, progress=False), mini / "mcid_twitter",
              file="cascades.txt", record=2, field="adoption")
    f.write_text("10 1,100.0\n")
    (mini / "mcid_twitter/edges.txt").write_text("2,1\n3\n")
    raises_at(lambda p: load_mcid(p, progress=False), mini / "mcid_twitter",
              file="edges.txt", record=2, field="edge")


def test_error_rumoureval(mini):
    d = mini / "rumoureval2017/test"
    posts = json.loads((d / "posts.json").read_text())
    del posts["901"]["time"]
    (d / "posts.json").write_text(json.dumps(posts))
    raises_at(load_rumoureval, mini / "rumoureval2017", file="posts.json", record="901",
              field="time")
    posts["901"]["time"] = 1.0
    (d / "posts.json").write_text(json.dumps(posts))
    (d / "post_label.txt").write_text("0\n1\n")
    raises_at(load_rumoureval, mini / "rumoureval2017", file="post_label.txt", field="stance")
    (d / "post_label.txt").write_text("0\n1\n7\n")
    raises_at(load_rumoureval, mini / "rumoureval2017", file="post_label.txt", record=3,
              field="stance")
    (d / "post_label.txt").write_text("0\n1\n2\n")
    (d / "structures.json").write_text('{"900": {"900": {"901": ')
    raises_at(load_rumoureval, mini / "rumoureval2017", file="structures.json")


def test_error_nlpcc_missing_column_and_short_row(mini):
    f = next((mini / "nlpcc2016_stance").glob("*.txt"))
    f.write_text("\ufeffID\tTARGET\tTWEET\tSTANCE\n1\tx\ty\tFAVOR\n", encoding="utf-8")
    raises_at(load_nlpcc_stance, mini / "nlpcc2016_stance", file=f.name, record=1,
              field="TEXT")
    f.write_text("ID\tTARGET\tTEXT\tSTANCE\n1\tx\ty\tFAVOR\n2\tonly-target\n", encoding="utf-8")
    raises_at(load_nlpcc_stance, mini / "nlpcc2016_stance", file=f.name, record=3,
              field="TEXT")


def test_error_clue_truncated_line(mini):
    f = mini / "clue_emotion2020/test.txt"
    f.write_text('{"id": 0, "content": "a", "label": "like"}\n{"id": 1, "content": "b", "lab',
                 encoding="utf-8")
    raises_at(load_clue_emotion, mini / "clue_emotion2020", file="test.txt", record=2)
    f.write_text('{"id": 0, "text": "a", "label": "like"}\n', encoding="utf-8")
    raises_at(load_clue_emotion, mini / "clue_emotion2020", file="test.txt", record=1,
              field="content")


def test_error_tweeteval(mini):
    d = mini / "tweeteval/emotion"
    (d / "test_labels.txt").write_text("0\n1\n")
    raises_at(load_tweeteval, mini / "tweeteval", file="test_labels.txt", field="label")
    (d / "test_labels.txt").write_text("0\n9\n1\n")
    raises_at(load_tweeteval, mini / "tweeteval", file="test_labels.txt", record=2,
              field="label")


def test_error_twitter_gender(mini):
    f = next((mini / "twitter_gender").glob("*.csv"))
    raw = f.read_bytes()
    f.write_bytes(raw.replace(b",gender,", b",sex,", 1))
    raises_at(load_twitter_gender, mini / "twitter_gender", file=f.name, record=1,
              field="gender")
    f.write_bytes(raw.replace(b"10/26/2015 12:41", b"someday", 1))
    raises_at(load_twitter_gender, mini / "twitter_gender", file=f.name, record=3,
              field="tweet_created")


def test_unknown_name_and_missing_folder(mini):
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("no_such", mini)
    shutil.rmtree(mini / "ced")
    with pytest.raises(FileNotFoundError):
        load_dataset("ced", mini)


CORRUPTIONS = [b"", b"\xff\xfe\x00garbage", b"[]", b"{}", b"null", b'"x"', b"[1, [2]]",
               b'{"a": {"b": 1}}', b"1,2\n3", b"\x00\x00"]


def test_corrupted_files_raise_only_data_format_errors(mini):
    """Every file of the mini copy replaced by junk: a loader returns or raises DataFormatError."""
    files = sorted(p.relative_to(mini) for p in mini.rglob("*") if p.is_file())
    for rel in files:
        original = (mini / rel).read_bytes()
        name = rel.parts[0]
        for junk in [*CORRUPTIONS, original[: len(original) // 2]]:
            (mini / rel).write_bytes(junk)
            try:
                load_dataset(name, mini, progress=False)
            except DataFormatError as err:
                assert str(err)
            except Exception as err:  # pragma: no cover - the failure message says what
                pytest.fail(f"{rel} <- {junk[:20]!r}: {type(err).__name__}: {err}")
        (mini / rel).write_bytes(original)


def test_csv_sanity_reader_agrees_with_loader_on_mini():
    f = next((MINI / "twitter_gender").glob("*.csv"))
    rows = [r for r in csv.reader(f.read_bytes().decode("latin-1").splitlines()) if any(r)]
    assert len(rows) - 1 == len(load_twitter_gender(f).users)
