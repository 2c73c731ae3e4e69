"""notebooks/05_interventions.ipynb runs under papermill (fake backend) and its artefacts hold."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

papermill = pytest.importorskip("papermill")

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks" / "05_interventions.ipynb"


@pytest.mark.slow
def test_notebook_05_interventions(tmp_path):
    params = {"backend": "fake", "n_steps": 4, "seed": 0, "intervention_step": 2,
              "w_relevance": 0.0, "out_dir": "runs/05"}  # 0: no embedding model (fast)
    papermill.execute_notebook(str(NB), str(tmp_path / "05.ipynb"), parameters=params,
                               cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
    out = tmp_path / "runs" / "05"
    for name in ("baseline", "debunk", "ban"):
        assert (out / name / "results.parquet").is_file()
        manifest = json.loads((out / name / "manifest.json").read_text())
        kinds = [i["kind"] for i in manifest["parameters"]["interventions"]]
        assert kinds == {"baseline": [], "debunk": ["inject_post"], "ban": ["ban_user"]}[name]
    comp = pd.read_parquet(out / "comparison.parquet")
    assert sorted(comp["scenario"].unique()) == ["ban", "baseline", "debunk"]
    by = {name: df.set_index("step") for name, df in comp.groupby("scenario")}
    cols = ["adopters", "n_active", "n_posts"]
    for name in ("debunk", "ban"):
        assert by[name].loc[[0, 1], cols].equals(by["baseline"].loc[[0, 1], cols])  # same seed
        assert not by[name].loc[[2, 3], cols].equals(by["baseline"].loc[[2, 3], cols])
