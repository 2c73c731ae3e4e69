import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from s3kit.cascades import spread_curve
from s3kit.environment import SocialNetwork
from s3kit.sample import load_sample

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_data_ingestion.ipynb"
PNG = b"\x89PNG\r\n\x1a\n"


def test_notebook_is_committed_without_outputs():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[1].metadata.get("tags") == ["parameters"]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    if shutil.which("nbstripout"):
        subprocess.run(["nbstripout", "--verify", str(NOTEBOOK)], check=True)


@pytest.mark.slow
def test_notebook_01_runs_and_writes_artefacts(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    data = os.environ.get("S3KIT_DATA_DIR")
    shared = bool(data) and Path(data).is_dir()
    monkeypatch.delenv("S3KIT_DATA_DIR", raising=False)
    out = tmp_path / "out"
    params = {"out_dir": str(out), "max_events": 5, "data_dir": data if shared else None}
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "01.ipynb"), parameters=params,
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    figures = ["sample_degree.png", "sample_spread.png", "own_network.png"] + (
        ["shared.png"] if shared else [])
    for name in figures:
        data_bytes = (out / "figures" / name).read_bytes()
        assert data_bytes.startswith(PNG) and len(data_bytes) > 5_000, name
    summary = json.loads((out / "summary.json").read_text())
    ds = load_sample()
    net = SocialNetwork.from_dataset(ds)
    assert summary["sample"]["dataset"] == ds.summary()
    assert summary["sample"]["network"] == json.loads(json.dumps(net.stats()))
    curve = spread_curve(ds.posts, event_id="e0")
    assert summary["sample"]["final_adopters"] == int(curve["adopters"].iloc[-1])
    own = summary["own"]  # the "your own data" section: three CSVs written, validated, loaded
    assert own["problems"] == 0 and own["dataset"]["name"] == "my_class"
    assert (own["dataset"]["users"], own["dataset"]["edges"], own["dataset"]["posts"]) == (4, 5, 3)
    assert (out / "my_class" / "users.csv").is_file()
    if shared:
        assert summary["shared"]["dataset"]["name"] == "mcid_twitter"
        assert summary["shared"]["network"]["edges"] > 80_000
        assert 1 <= summary["shared"]["events_plotted"] <= 5
    else:
        assert summary["shared"] is None
