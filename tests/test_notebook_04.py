"""notebooks/04_population_replay.ipynb: parameters = ReplayConfig fields, and a papermill run.

The run takes a scenario YAML as its parameters (as ``papermill -f`` and ``s3kit.scenarios``
do) with the deterministic fake backend (plumbing only), leaves ``out_dir`` at its default so
the run folder must appear under the kernel's working folder, and checks the artefacts against
the parameters.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from _helpers import assert_png_figures, read_clean_notebook

from s3kit import ReplayConfig

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "04_population_replay.ipynb"


def test_notebook_04_structure_and_no_outputs():
    read_clean_notebook(NB, "04")


def test_notebook_04_parameters_are_config_fields_with_default_yaml_values():
    papermill = pytest.importorskip("papermill")

    declared = papermill.inspect_notebook(str(NB))
    assert set(declared) - set(ReplayConfig.fields()) == {"out_dir"}
    defaults = {k: ast.literal_eval(v["default"]) for k, v in declared.items()}
    assert defaults["out_dir"] is None
    scenario = yaml.safe_load((ROOT / "data" / "scenarios" / "default.yaml").read_text())
    for key, value in scenario.items():
        assert defaults[key] == value, key
    base = ReplayConfig().to_dict()
    for key, value in defaults.items():  # the rest: the config's own defaults
        if key not in scenario and key != "out_dir":
            assert value == base[key], key


@pytest.mark.slow
def test_notebook_04_scenario_run_writes_artefacts(tmp_path):
    papermill = pytest.importorskip("papermill")

    params = yaml.safe_load((ROOT / "data" / "scenarios" / "ci_fake.yaml").read_text())
    params.update({"n_steps": 3, "n_replicates": 2, "w_relevance": 0.0})  # no embedding model
    papermill.execute_notebook(str(NB), str(tmp_path / "04.ipynb"), parameters=params,
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    out = tmp_path / "runs" / params["name"]  # default out_dir, relative to the kernel's cwd

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"] == ReplayConfig.from_dict(params).to_dict()
    assert manifest["backend"] == "fake" and manifest["seed"] == params["seed"]
    assert manifest["dataset"] == "sample" and manifest["event_id"] == "e0"
    assert len(manifest["replicate_seeds"]) == 2
    n_users = manifest["network"]["users"]

    results = pd.read_parquet(out / "results.parquet")
    assert {"replicate", "seed", "step", "user_id", "active", "emotion", "attitude",
            "action"} <= set(results.columns)
    assert len(results) == 2 * 3 * n_users
    assert sorted(results["step"].unique()) == [0, 1, 2]
    assert results.groupby(["replicate", "step"])["user_id"].nunique().eq(n_users).all()
    active = results[results["active"]]
    assert set(active["emotion"]) <= {"calm", "moderate", "intense"}
    assert set(active["attitude"]) <= {"positive", "negative"}

    curves = pd.read_parquet(out / "curves.parquet")
    sim = curves[curves["source"] == "simulated"]
    real = curves[curves["source"] == "real"].set_index("hours")
    assert len(sim) == 2 * 3 and sorted(real["step"]) == [-1, 0, 1, 2, 3]

    base = pd.read_parquet(out / "baselines.parquet")
    assert set(base["source"]) == {"logistic", "hawkes", "independent_cascade"}
    for _, part in base.groupby("source"):
        assert part["step"].tolist() == [-1, 0, 1, 2, 3]
        assert part["adopters"].is_monotonic_increasing
        assert part["adopters"].max() <= n_users

    fidelity = json.loads((out / "fidelity.json").read_text())
    # final-size error of the agents, recomputed from the parquet files
    last = sim["hours"].max()
    sim_final = sim.loc[sim["hours"] == last, "adopters"].mean()
    real_final = real.loc[last, "adopters"]
    assert fidelity["simulated:final_size_error"] == pytest.approx(
        abs(sim_final - real_final) / real_final, abs=1e-4)
    assert {"simulated:emotion_pearson_r", "simulated:attitude_rmse",
            "logistic:spread_nrmse", "independent_cascade:final_size_error"} <= set(fidelity)

    assert_png_figures(out / "figures", ("replay_vs_real.png", "spread.png"))
