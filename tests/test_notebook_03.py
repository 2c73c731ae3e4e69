"""notebooks/03_individual_prediction.ipynb: structure, and a papermill run on the real data.

The run uses the deterministic fake backend (plumbing only: the numbers are not results) on
three small shared datasets, then checks that what the notebook wrote is self-consistent:
metrics JSON valid against the benchmark schema, predictions sized by the parameters, metrics
recomputable from the predictions, figures written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import assert_png_figures, read_clean_notebook

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "03_individual_prediction.ipynb"


def test_notebook_03_structure_and_no_outputs():
    nb = read_clean_notebook(NB, "03")
    params = nb.cells[1]
    assert [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])] == [params]


def test_notebook_03_parameters_are_plain_literals():
    papermill = pytest.importorskip("papermill")

    declared = papermill.inspect_notebook(str(NB))
    assert {"data_dir", "tasks", "datasets", "backend", "n_items", "n_calibrate", "seed",
            "out_dir"} <= set(declared)
    assert declared["backend"]["default"] == '"embedded"'
    assert declared["data_dir"]["default"] == "None"


@pytest.mark.slow
def test_notebook_03_runs_and_writes_consistent_artefacts(tmp_path, shared_data_dir):
    papermill = pytest.importorskip("papermill")
    from s3kit.evaluation.schema import validate_results

    n_items = 16
    params = {"backend": "fake", "tasks": "emotion,attitude,gender", "n_items": n_items,
              "n_calibrate": 8, "datasets": "tweeteval,rumoureval2017,twitter_gender",
              "seed": 1, "out_dir": "out"}  # relative: must land in the kernel's cwd
    papermill.execute_notebook(str(NB), str(tmp_path / "03.ipynb"), parameters=params,
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    out = tmp_path / "out"

    results = json.loads((out / "metrics.json").read_text())
    validate_results(results)
    assert results["backend"] == "fake" and results["seed"] == 1
    assert results["sizes"]["n_label"] == n_items and results["sizes"]["n_calibrate"] == 8
    assert set(results["tasks"]) == {"emotion", "attitude", "gender"}
    assert results["tasks"]["attitude"]["dataset"] == "tweeteval+rumoureval2017"
    assert any("nlpcc2016_stance" in r for r in results["tasks"]["attitude"]["not_used"])

    preds = pd.read_parquet(out / "predictions.parquet")
    assert list(preds.columns) == ["task", "dataset", "model", "item", "y_true", "label", "prob"]
    n_labels = {"emotion": 3, "attitude": 2, "gender": 2}
    for (task, dataset, model), part in preds.groupby(["task", "dataset", "model"]):
        assert model in ("s3kit", "tfidf_logreg")
        n = part["item"].nunique()
        assert 2 * n_labels[task] <= n <= n_items  # balanced sample, at most n_items
        assert len(part) == n * n_labels[task]
        sums = part.groupby("item")["prob"].sum().to_numpy()
        np.testing.assert_allclose(sums, 1.0, atol=1e-6)
        assert n == results["tasks"][task]["by_dataset"][dataset]["n"]
    for task, entry in results["tasks"].items():
        for model, metrics in (("s3kit", entry["metrics"]),
                               ("tfidf_logreg", entry["baselines"]["tfidf_logreg"])):
            part = preds[(preds["task"] == task) & (preds["model"] == model)]
            best = part.loc[part.groupby(["dataset", "item"])["prob"].idxmax()]
            assert len(best) == entry["n"]
            acc = float((best["label"] == best["y_true"]).mean())
            assert acc == pytest.approx(metrics["acc"], abs=1e-9), (task, model)

    assert_png_figures(out / "figures", ("confusion.png", "roc.png", "calibration.png"))
