import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import s3kit.sample as sample_mod
from s3kit.errors import DataFormatError
from s3kit.sample import OCCUPATIONS, generate_sample, load_sample, sample_dir, write_sample

FRAMES = ("users", "follows", "posts", "events", "labels")


def assert_same(a, b):
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)


@pytest.fixture(scope="module")
def ds():
    return generate_sample()


def test_generate_is_deterministic_and_seed_dependent(ds):
    assert_same(ds, generate_sample(n_users=300, seed=0))
    other = generate_sample(n_users=300, seed=1)
    assert not ds.follows.equals(other.follows)


def test_shipped_files_equal_generate_sample(ds):
    folder = sample_dir()
    assert (folder / "posts.csv").is_file(), "data/sample missing: run python -m s3kit.sample"
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 1_000_000
    assert_same(load_sample(), ds)
    assert_same(load_sample(folder), ds)


def test_load_sample_regenerates_without_files(ds, tmp_path, monkeypatch):
    monkeypatch.setattr(sample_mod, "sample_dir", lambda: tmp_path / "absent")
    assert_same(load_sample(), ds)
    with pytest.raises(FileNotFoundError):
        load_sample(tmp_path / "absent")


def test_write_then_load_round_trips_other_sizes(tmp_path):
    write_sample(tmp_path, n_users=60, seed=4)
    assert_same(load_sample(tmp_path), generate_sample(n_users=60, seed=4))
    assert load_sample(tmp_path).source.endswith("(n_users=60, seed=4)")


def test_malformed_time_names_file_row_and_field(tmp_path):
    write_sample(tmp_path, n_users=30, seed=0)
    posts = (tmp_path / "posts.csv").read_text().splitlines()
    cells = posts[3].split(",")
    cells[2] = "yesterday"
    posts[3] = ",".join(cells)
    (tmp_path / "posts.csv").write_text("\n".join(posts) + "\n")
    with pytest.raises(DataFormatError) as err:
        load_sample(tmp_path)
    assert err.value.field == "time" and err.value.record == 4
    assert "posts.csv" in str(err.value)


def test_users_have_s3_demographics(ds):
    users = ds.users
    assert users["user_id"].is_unique and len(users) == 300
    assert set(users["occupation"]) == set(OCCUPATIONS)  # all 10 categories present at n=300
    assert set(users["gender"]) == {"female", "male"}
    assert users["age"].between(16, 75).all()
    students = users.loc[users["occupation"] == "unemployed/student", "age"]
    assert students.median() < users["age"].median()
    assert users["bio"].str.len().between(10, 160).all()
    assert users["bio"].nunique() > 250


def test_follow_graph_is_heavy_tailed_with_some_reciprocity(ds):
    f = ds.follows
    assert not (f["follower"] == f["followee"]).any()
    assert not f.duplicated().any()
    assert set(f["follower"]) | set(f["followee"]) <= set(ds.users["user_id"])
    indeg = f["followee"].value_counts().reindex(ds.users["user_id"], fill_value=0)
    assert indeg.max() > 10 * max(indeg.median(), 1)
    rev = f.rename(columns={"follower": "followee", "followee": "follower"})
    reciprocity = len(f.merge(rev)) / len(f)
    assert 0.2 < reciprocity < 0.45


def test_seed_event_is_a_realistic_cascade(ds):
    posts, events = ds.posts, ds.events
    assert events["event_id"].tolist() == ["e0"]
    root = posts.set_index("post_id").loc[events["root_post_id"][0]]
    assert root["kind"] == "original" and "vaccine" in root["text"]
    indeg = ds.follows["followee"].value_counts()
    assert root["user_id"] == indeg.index[0]  # posted by the most-followed user
    ev = posts[posts["event_id"] == "e0"]
    assert 30 <= len(ev) <= 300
    assert ev["user_id"].is_unique  # one adoption per user
    assert set(ev["kind"]) == {"original", "repost", "reply"}
    assert (ev["time"] - root["time"]).max() <= pd.Timedelta(hours=24)
    by_id = posts.set_index("post_id")
    child = ev[ev["parent_id"].notna()]
    parent_time = by_id.loc[child["parent_id"], "time"].to_numpy()
    assert (child["time"].to_numpy() >= parent_time).all()
    # every reposter follows the author of the post they reacted to
    follows = set(zip(ds.follows["follower"], ds.follows["followee"], strict=True))
    parents = by_id.loc[child["parent_id"], "user_id"].tolist()
    assert all((c, p) in follows for c, p in zip(child["user_id"], parents, strict=True))
    assert set(ev["emotion"]) == {"calm", "moderate", "intense"}
    assert set(ev["stance"]) == {"positive", "negative", "neutral"}
    # fast start: half of the adopters within the first 6 hours
    hours = (ev["time"] - root["time"]).dt.total_seconds() / 3600
    assert (hours <= 6).mean() > 0.5
    # doubt grows: negative stance is more common late than early
    neg = ev["stance"] == "negative"
    assert neg[hours > 6].mean() > neg[hours <= 3].mean()
    assert posts["post_id"].is_unique and posts["time"].is_monotonic_increasing


def test_large_generator():
    """10k users (its speed: benchmarks/scale_timings.py)."""
    big = generate_sample(n_users=10_000, seed=0)
    assert len(big.users) == 10_000 and len(big.follows) > 50_000
    assert np.isclose(len(big.follows) / 10_000, 10, rtol=0.3)


def test_module_command_writes_the_sample(tmp_path):
    out = subprocess.run([sys.executable, "-m", "s3kit.sample", "--out", str(tmp_path),
                          "--n-users", "40", "--seed", "2"], capture_output=True, text=True,
                         check=True)
    assert "wrote" in out.stdout
    assert_same(load_sample(tmp_path), generate_sample(n_users=40, seed=2))
