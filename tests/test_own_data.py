"""Bring your own data end to end: a SNAP-style interaction file -> converter -> replay + bench.

The folder is produced only by ``s3kit data convert --from interactions`` (with the follower
edge list SNAP ships next to its activity files), then validated, replayed with the
deterministic fake backend and benchmarked (quick, fake backend): the tasks the data cannot
feed are listed as skipped, each with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s3kit.cli import main
from s3kit.datasets import load_dataset
from s3kit.datasets.validate import validate_folder
from s3kit.evaluation.bench import TASKS, run_bench
from s3kit.replay import run_replay


def write_snap_activity(folder: Path, n_users: int = 60, seed: int = 0) -> tuple[Path, Path]:
    """A small Higgs-like activity file (RT/MT/RE) over 3 days and its follower graph."""
    rng = np.random.default_rng(seed)
    users = [str(1000 + i) for i in range(n_users)]
    follows = {(a, b) for a in users for b in rng.choice(users, 6, replace=False) if a != b}
    t0 = 1341100972  # 2012-07-01, the Higgs announcement week
    lines = ["# userA userB timestamp interaction"]
    for day in range(3):
        seeds = rng.choice(users, 2, replace=False)
        active = list(seeds)
        t = t0 + day * 86400
        for _ in range(40):
            b = str(rng.choice(active))
            followers = [a for a, f in follows if f == b]
            a = str(rng.choice(followers or users))
            t += int(rng.integers(30, 900))
            code = rng.choice(["RT", "RT", "RT", "RE", "MT"])
            lines.append(f"{a} {b} {t} {code}")
            active.append(a)
    act = folder / "higgs-activity_time.txt"
    act.write_text("\n".join(lines) + "\n")
    graph = folder / "higgs-social_network.edgelist"
    graph.write_text("".join(f"{a} {b}\n" for a, b in sorted(follows)))
    return act, graph


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    src = tmp_path_factory.mktemp("snap")
    act, graph = write_snap_activity(src)
    out = tmp_path_factory.mktemp("own") / "higgs"
    rc = main(["data", "convert", "--from", "interactions", str(act), "--window-hours", "24",
               "--follows", str(graph), "--out", str(out)])
    assert rc == 0
    return out


def test_converted_folder_is_valid_and_loads(converted, capsys):
    assert validate_folder(converted) == []
    assert main(["data", "validate", str(converted)]) == 0
    ds = load_dataset(str(converted))
    assert len(ds.events) == 3 and len(ds.follows) > 0
    assert ds.posts["text"].isna().all()
    assert set(ds.posts["kind"]) <= {"original", "repost", "reply"}
    reposts = ds.posts[ds.posts["interaction"] == "RT"]
    assert reposts["parent_id"].notna().all()
    notes = json.loads((converted / "dataset.json").read_text())["notes"]
    assert any("no post text" in n for n in notes)
    main(["data", "summary", "--data-dir", str(converted), "--quiet"])
    assert "higgs" in capsys.readouterr().out


def test_replay_runs_on_the_converted_folder(converted, tmp_path):
    cfg = {"backend": "fake", "n_steps": 3, "generate_posts": False, "w_relevance": 0.0,
           "progress": False, "name": "own", "dataset": str(converted)}
    res = run_replay(cfg, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["dataset"] == str(converted)
    assert manifest["network"]["users"] > 10
    assert sorted(res.results["step"].unique()) == [0, 1, 2]
    curves = pd.read_parquet(tmp_path / "run" / "curves.parquet")
    assert (curves["source"] == "real").any()


def test_quick_bench_runs_on_the_converted_folder(converted, tmp_path):
    res = run_bench(converted, converted, out=tmp_path / "r.json", backend="fake",
                    quick=True, progress=False, print_table=False)
    ran = set(res["tasks"])
    assert {"repost", "spread"} <= ran, res["skipped"]
    assert ran | set(res["skipped"]) == set(TASKS)
    for task, reason in res["skipped"].items():  # every skipped task says why
        assert "higgs" in reason and reason.strip(), (task, reason)
    assert res["tasks"]["spread"]["dataset"] == "higgs"
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["skipped"] == res["skipped"]


def test_dashboard_opens_the_converted_folder(converted):
    pytest.importorskip("ipywidgets")
    from s3kit.widgets import ReplayDashboard

    dash = ReplayDashboard({"backend": "fake", "n_steps": 3, "generate_posts": False,
                            "dataset": str(converted)})
    try:
        assert dash.wait(120)
        assert "s3kit-dataset" in dash.dataset._dom_classes
        assert dash.dataset.continuous_update is False
        assert dash.simulation_ is not None, dash.status.value
        assert dash.simulation_.network.stats()["users"] > 10
        dash.step()
        assert dash.wait(120) and dash.current_step == 1
    finally:
        dash.pause()
        dash.wait(60)


def test_own_labels_feed_the_matching_bench_tasks(tmp_path):
    """A labels table with task emotion / attitude / gender feeds those benchmark tasks."""
    rows = []
    for i in range(24):
        rows += [(f"so calm and quiet today {i}", "calm", "emotion"),
                 (f"this is FURIOUS rage {i}!!", "intense", "emotion"),
                 (f"pleased enough with it {i}", "moderate", "emotion"),
                 (f"I support the new park {i}", "positive", "attitude"),
                 (f"the new park is a bad idea {i}", "negative", "attitude"),
                 (f"as a mother of two {i}", "female", "gender"),
                 (f"as a father of two {i}", "male", "gender")]
    labels = pd.DataFrame(rows, columns=["text", "label", "task"])
    labels["split"] = np.where(np.arange(len(labels)) % 4 == 0, "test", "train")
    folder = tmp_path / "class_labels"
    folder.mkdir()
    labels.to_csv(folder / "labels.csv", index=False)
    assert validate_folder(folder) == []
    res = run_bench(folder, folder, out=None, backend="fake", quick=True, progress=False,
                    print_table=False, tasks=["emotion", "attitude", "gender", "repost"])
    assert set(res["tasks"]) == {"emotion", "attitude", "gender"}, res["skipped"]
    for task in ("emotion", "attitude", "gender"):
        assert res["tasks"][task]["dataset"] == "class_labels"
        assert res["tasks"][task]["n"] > 0
    assert "class_labels: no follow graph" in res["skipped"]["repost"]


def test_calibrated_bench_on_own_data_without_labels_replays_zero_shot(converted):
    """Heads are fitted on own data too (the action head from its cascades + follows); with no
    emotion/attitude labels the replays' agents cannot decide with heads: zero-shot, said so,
    while the label tasks with a head keep it."""
    res = run_bench(converted, converted, out=None, backend="fake", quick=True, progress=False,
                    print_table=False, tasks=["repost", "spread"], decisions="calibrated",
                    representation="hashing")
    assert res["decisions"] == "calibrated"
    note = res["heads"]["not_used"]
    assert "emotion" in note and "attitude" in note and "replays" in note
    skipped = res["heads"]["skipped"]  # own data is offered to every head:
    assert not any(r.startswith("higgs") for r in skipped["action"])  # the action head fits
    assert "higgs: no labelled items on both sides" in skipped["emotion"]
    assert {"repost", "spread"} <= set(res["tasks"])
