"""The ``s3kit`` command line as a user runs it: ``python -m s3kit ...`` in a subprocess.

Each subcommand's output files are read back; bad arguments give a one-line error, exit 2 and
no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_bench import make_data

ROOT = Path(__file__).resolve().parents[1]
CI_FAKE = ROOT / "data" / "scenarios" / "ci_fake.yaml"


def s3kit(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "s3kit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A small folder laid out like shared/data (the bench tests' synthetic copy)."""
    return make_data(tmp_path_factory.mktemp("data"))


def test_replay_set_overrides_reach_the_artefacts(tmp_path):
    out = tmp_path / "run"
    printed = ok(s3kit("replay", CI_FAKE, "--set", "n_steps=2", "--set", "seed=7",
                       "--set", "name=cli", "--out", out, "--quiet"))
    results = pd.read_parquet(out / "results.parquet")
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(results["step"].unique()) == [0, 1]
    assert manifest["parameters"]["n_steps"] == 2 and manifest["parameters"]["seed"] == 7
    assert printed.startswith("replay 'cli': 300 users, 2 steps")
    assert (out / "figures" / "spread.png").stat().st_size > 1000


def test_data_summary_lists_each_dataset(tiny_data):
    printed = ok(s3kit("data", "summary", "--data-dir", tiny_data, "--quiet"))
    header, *rows = [line.split() for line in printed.strip().splitlines()]
    assert header[:5] == ["name", "users", "posts", "edges", "events"], header
    table = {row[0]: dict(zip(header[1:], map(float, row[1:]), strict=True)) for row in rows}
    assert set(table) == {"mcid_twitter", "rumoureval2017", "tweeteval", "twitter_gender"}
    edges = (tiny_data / "mcid_twitter" / "edges.txt").read_text().splitlines()
    cascades = (tiny_data / "mcid_twitter" / "cascades.txt").read_text().splitlines()
    assert table["mcid_twitter"]["edges"] == len(edges)
    assert table["mcid_twitter"]["events"] == len(cascades)


def test_data_make_sample_writes_the_shipped_sample(tmp_path):
    printed = ok(s3kit("data", "make-sample", "--out", tmp_path / "sample"))
    assert "wrote sample to" in printed
    for name in ("users.csv", "follows.csv", "posts.csv", "events.csv", "sample.json"):
        assert (tmp_path / "sample" / name).read_bytes() == \
            (ROOT / "data" / "sample" / name).read_bytes(), name


def test_bench_tasks_writes_only_those_tasks(tiny_data, tmp_path):
    out = tmp_path / "r.json"
    printed = ok(s3kit("bench", "--train-dir", tiny_data, "--backend", "fake", "--quick",
                       "--tasks", "emotion,attitude", "--out", out, "--quiet"))
    data = json.loads(out.read_text())
    assert set(data["tasks"]) == {"emotion", "attitude"}
    assert data["tasks"]["emotion"]["n"] > 0 and f"wrote {out}" in printed


@pytest.mark.slow
def test_run_scenarios_then_collect(tmp_path):
    scen = tmp_path / "cli_a.yaml"
    scen.write_text(CI_FAKE.read_text().replace("name: ci_fake", "name: cli_a")
                    .replace("n_steps: 4", "n_steps: 2"))
    runs = tmp_path / "runs"
    # from another folder: the default notebook is found through the package
    printed = ok(s3kit("run-scenarios", scen, "--out", runs, "--quiet", cwd=tmp_path))
    assert "cli_a" in printed and "ok" in printed
    assert (runs / "cli_a" / "results.parquet").is_file()
    assert (runs / "cli_a" / "manifest.json").is_file()
    printed = ok(s3kit("collect", runs, "--to", tmp_path / "all.parquet", cwd=tmp_path))
    frame = pd.read_parquet(tmp_path / "all.parquet")
    assert set(frame["run"]) == {"cli_a"} and sorted(frame["step"].unique()) == [0, 1]
    assert f"wrote {len(frame)} rows" in printed


@pytest.mark.parametrize("args, says", [
    (["replay", "--set", "n_steps"], "--set expects key=value"),
    (["replay", "--set", "no_such_key=1"], "unknown config key 'no_such_key'"),
    (["replay", "no/such/scenario.yaml"], "cannot read scenario YAML"),
    (["replay", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["data", "summary", "--data-dir", "no/such/folder"], "No data folder found"),
    (["data", "fetch", "no_such_dataset", "--dest", "x"], "unknown dataset(s) ['no_such"),
    (["data", "nope"], "invalid choice: 'nope'"),
    (["run-scenarios", "no/such/scenario.yaml"], "cannot read scenario YAML"),
    (["collect", "no/such/runs"], "no runs folder"),
    (["bench", "--train-dir", "x", "--tasks", "emotion,no_such_task"],
     "unknown task(s) ['no_such_task']"),
    (["bench", "--tasks", "emotion"], "required: --train-dir"),
])
def test_bad_arguments_give_one_line_error_and_exit_2(args, says, tmp_path):
    res = s3kit(*args, cwd=tmp_path, timeout=120)
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("s3kit") and "error: " in last and says in last, res.stderr
