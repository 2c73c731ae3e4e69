import json
from pathlib import Path

import pytest

from s3kit.testing.pytest_policy import data_root

NB = Path(__file__).resolve().parents[1] / "notebooks" / "02_demographic_tuning.ipynb"


def _data_dir():
    return str(data_root("twitter_gender"))


def test_notebook_committed_without_outputs_and_one_parameters_cell():
    nb = json.loads(NB.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.llm
@pytest.mark.slow
def test_notebook_runs_with_tiny_parameters(tmp_path):
    import papermill as pm

    data = _data_dir()
    out = tmp_path / "out"
    pm.execute_notebook(str(NB), str(tmp_path / "02.ipynb"), cwd=str(tmp_path),
                        parameters={"data_dir": data, "out_dir": str(out), "n_train": 16,
                                    "n_eval": 20, "steps": 2, "batch_size": 4,
                                    "eval_every": 1, "adapter": "test-nb02", "progress": False},
                        kernel_name="python3", progress_bar=False)
    metrics = json.loads((out / "metrics.json").read_text())
    split = metrics["split"]
    assert split == {"n_train": 16, "n_eval": 20, "seed": 0,
                     "train_balance": split["train_balance"],
                     "n_tuned_on": split["n_tuned_on"]}
    assert 0 < split["n_tuned_on"] <= 16  # tuning sees training rows only
    for name in ("zero_shot", "tuned", "tfidf_lr"):
        m = metrics["metrics"][name]
        assert m["n"] == 20 and 0.0 <= m["acc"] <= 1.0 and 0.0 <= m["auc"] <= 1.0
    assert metrics["tuning"]["steps"] == 2 and metrics["tuning"]["seconds"] > 0
    assert (out / "figures" / "confusion.png").stat().st_size > 1000
    assert (out / "figures" / "tuning_curve.png").stat().st_size > 1000
    curve = (out / "curve.csv").read_text().splitlines()
    assert curve[0].startswith("step,loss") and len(curve) == 3
    from s3kit.llm import adapter_path

    assert (adapter_path("test-nb02") / "adapter_config.json").exists()
