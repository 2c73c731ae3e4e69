"""run_scenarios / collect_runs: papermill batch runs of a scenario notebook per YAML."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from s3kit.errors import ConfigError
from s3kit.scenarios import collect_runs, load_scenario, run_scenarios

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_NB = ROOT / "tests" / "fixtures" / "scenario_notebook.ipynb"
NB04 = ROOT / "notebooks" / "04_population_replay.ipynb"


def _yaml(folder: Path, stem: str, text: str) -> Path:
    path = folder / f"{stem}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_scenario_name_and_errors(tmp_path):
    assert load_scenario(_yaml(tmp_path, "a", "name: alpha\nseed: 2\n")) == (
        "alpha", {"name": "alpha", "seed": 2})
    assert load_scenario(_yaml(tmp_path, "b", "")) == ("b", {})
    with pytest.raises(ConfigError, match="mapping"):
        load_scenario(_yaml(tmp_path, "c", "- 1\n- 2\n"))


def test_run_scenarios_records_failures_and_collects(tmp_path, monkeypatch):
    # run from an unrelated folder: the runner, not the caller's cwd, decides where things go
    monkeypatch.chdir(tmp_path)
    scen = tmp_path / "scen"
    scen.mkdir()
    good1 = _yaml(scen, "one", "name: one\nn_steps: 3\nseed: 1\n")
    good2 = _yaml(scen, "two", "n_steps: 5\nseed: 2\nfeed_size: 7\n")  # name from the stem
    bad = _yaml(scen, "bad", "name: bad\nn_steps: -1\n")  # ReplayConfig rejects it in cell 2
    table = run_scenarios([good1, bad, good2], out="runs", parallel=2, notebook=FIXTURE_NB,
                          progress=False)
    assert table["name"].tolist() == ["one", "bad", "two"]
    assert table["status"].tolist() == ["ok", "failed", "ok"]
    assert "ConfigError" in table.loc[1, "error"] and "n_steps" in table.loc[1, "error"]

    runs = tmp_path / "runs"
    for name, steps in (("one", 3), ("two", 5)):
        run_dir = runs / name
        assert (run_dir / "results.parquet").is_file()
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["parameters"]["n_steps"] == steps
        assert Path(manifest["cwd"]).resolve() == run_dir.resolve()  # cwd = the run folder
        nb = nbformat.read(run_dir / FIXTURE_NB.name, as_version=4)  # the record
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
        record = json.loads((run_dir / "scenario.json").read_text())
        assert record["status"] == "ok" and record["yaml"].endswith(f"{name}.yaml")

    # the failed run keeps its partial notebook with the traceback, and wrote no results
    bad_nb = nbformat.read(runs / "bad" / FIXTURE_NB.name, as_version=4)
    errors = [o for c in bad_nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "ConfigError"
    assert not (runs / "bad" / "results.parquet").exists()

    frame = collect_runs("runs")
    assert sorted(frame["run"].unique()) == ["one", "two"]
    assert len(frame) == 3 + 5
    assert {"run", "seed", "feed_size", "n_steps", "step", "adopters"} <= set(frame.columns)
    two = frame[frame["run"] == "two"]
    assert (two["feed_size"] == 7).all() and (two["seed"] == 2).all()
    assert two["step"].tolist() == list(range(5))
    assert isinstance(frame.loc[0, "source_weights"], str)  # dict parameter -> JSON text


def test_run_scenarios_rejects_duplicates_and_missing_notebook(tmp_path):
    a = _yaml(tmp_path, "a", "name: same\n")
    b = _yaml(tmp_path, "b", "name: same\n")
    with pytest.raises(ConfigError, match="two scenarios"):
        run_scenarios([a, b], out=tmp_path / "runs", notebook=FIXTURE_NB, progress=False)
    with pytest.raises(ConfigError, match="not found"):
        run_scenarios([a], out=tmp_path / "runs", notebook=tmp_path / "nope.ipynb",
                      progress=False)


def test_run_scenarios_flags_notebook_without_outputs(tmp_path):
    nb = nbformat.read(FIXTURE_NB, as_version=4)
    nb.cells = nb.cells[:3]  # drop the cell that writes results.parquet + manifest.json
    silent = tmp_path / "silent.ipynb"
    nbformat.write(nb, silent)
    table = run_scenarios([_yaml(tmp_path, "quiet", "seed: 1\n")], out=tmp_path / "runs",
                          notebook=silent, progress=False)
    assert table.loc[0, "status"] == "failed"
    assert "results.parquet" in table.loc[0, "error"]
    assert collect_runs(tmp_path / "runs").empty


@pytest.mark.slow
def test_run_scenarios_with_notebook_04_fake_backend(tmp_path):
    if not NB04.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{NB04} is missing")
        pytest.skip("notebooks/04_population_replay.ipynb not written yet")
    scen = _yaml(tmp_path, "ci_fake", (ROOT / "data" / "scenarios" / "ci_fake.yaml").read_text())
    table = run_scenarios([scen], out=tmp_path / "runs", notebook=NB04, progress=False)
    assert table.loc[0, "status"] == "ok", table.loc[0, "error"]
    frame = collect_runs(tmp_path / "runs")
    assert len(frame) > 0 and set(frame["run"]) == {"ci_fake"}
    assert isinstance(frame, pd.DataFrame)
