"""The API key never reaches an artefact: manifest, results, cache (keys and values),
checkpoint, pickles, logs, executed notebook. A canary key is used for a real replay with the
openai backend against the local llama.cpp server, then every byte written is scanned for it.
"""

from __future__ import annotations

import json
import logging
import pickle
import secrets
from pathlib import Path

import pandas as pd
import pytest

from s3kit.config import ReplayConfig
from s3kit.replay import run_replay

pytestmark = [pytest.mark.server, pytest.mark.slow]

MINI = Path(__file__).parent / "fixtures" / "datasets" / "mini"


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] not installed")
    from s3kit.llm.server import LlamaCppServer

    with LlamaCppServer("smollm2-135m-instruct", n_threads=2) as srv:
        yield srv


def _canary() -> str:
    return "sk-canary-" + secrets.token_hex(16)


def _scan(root: Path, canary: str) -> list[str]:
    """Files under ``root`` holding the canary (plain, UTF-16 or hex-escaped)."""
    needles = [canary.encode(), canary.encode("utf-16-le"), canary[10:].encode()]
    hits, n = [], 0
    for path in root.rglob("*"):
        if path.is_file():
            n += 1
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                hits.append(str(path))
    assert n > 0, f"nothing to scan under {root}"
    return hits


def _config(server, tmp_path, **extra) -> ReplayConfig:
    return ReplayConfig.from_dict({
        "name": "secrets", "dataset": "twitter16", "data_dir": str(MINI), "n_steps": 1,
        "seed": 1, "backend": "openai", "model": "smollm2-135m-instruct",
        "base_url": server.base_url, "generate_posts": True, "max_new_tokens": 6,
        "checkpoint_every": 1, "w_relevance": 0, "language": "en", "progress": False,
        **extra})


def test_canary_key_is_never_written(server, tmp_path, monkeypatch, caplog, capfd):
    canary = _canary()
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("S3KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_LOG", "debug")
    caplog.set_level(logging.DEBUG)
    cfg = _config(server, tmp_path)

    # a finished replay: runs folder (results, curves, manifest, figures) + response cache;
    # chat_logprobs scoring: one request per prompt (echo is several times slower here)
    from s3kit.llm import llm_from_config

    res = run_replay(cfg, tmp_path / "runs" / "secrets", progress=False,
                     llm=llm_from_config(cfg, score_mode="chat_logprobs"))
    assert res.manifest["llm"]["calls"] > 0, "the replay made no request: nothing was tested"

    # a checkpoint written with a live, authenticated client in the simulation
    from s3kit.replay import build_replay
    from s3kit.simulation import Simulation

    llm = llm_from_config(cfg, score_mode="chat_logprobs", cache=False)
    net, event_id, topic, _, _ = build_replay(cfg)
    sim = Simulation(net, cfg, llm, event_id=event_id, topic=topic,
                     checkpoint_path=tmp_path / "ckpt" / "checkpoint.s3k")
    sim.step()
    assert llm.stats.calls > 0 and llm.client.api_key == canary  # the key really was in use
    sim.save()
    (tmp_path / "pickles").mkdir()
    (tmp_path / "pickles" / "llm.pkl").write_bytes(pickle.dumps(llm))
    assert canary not in repr(llm) and canary not in str(vars(llm).get("stats"))

    # logs: everything logged (DEBUG, incl. openai/httpx), printed, and the server's log
    out, err = capfd.readouterr()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "caplog.txt").write_text(caplog.text + "\n".join(
        r.getMessage() for r in caplog.records))
    (logs / "stdout.txt").write_text(out)
    (logs / "stderr.txt").write_text(err)
    (logs / "server.txt").write_text(server.log_tail(10**7))

    assert (tmp_path / "cache" / "llm_responses.sqlite").exists()
    assert (tmp_path / "ckpt" / "checkpoint.s3k").exists()
    assert _scan(tmp_path, canary) == []

    # the key is not part of cache keys: the same run with another key is answered from the
    # cache (0 requests), and the new key lands nowhere either
    other = _canary()
    monkeypatch.setenv("OPENAI_API_KEY", other)
    again = run_replay(cfg, tmp_path / "runs" / "again", progress=False,
                       llm=llm_from_config(cfg, score_mode="chat_logprobs"))
    assert again.manifest["llm"]["calls"] == 0
    assert again.manifest["llm"]["cache_hits"] >= res.manifest["llm"]["prompts"] > 0
    pd.testing.assert_frame_equal(again.results, res.results)
    assert _scan(tmp_path, other) == []


def test_canary_key_is_not_in_an_executed_notebook(server, tmp_path, monkeypatch):
    """Notebook 04 run by papermill with the openai backend: outputs, logs and run folder."""
    papermill = pytest.importorskip("papermill")
    canary = _canary()
    monkeypatch.setenv("OPENAI_API_KEY", canary)
    monkeypatch.setenv("S3KIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_LOG", "debug")  # the client's debug log goes to cell outputs
    params = {**_config(server, tmp_path).to_dict(), "checkpoint_every": 0,
              "out_dir": str(tmp_path / "run")}
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "04_population_replay.ipynb"
    papermill.execute_notebook(str(notebook), str(tmp_path / "04.ipynb"), parameters=params,
                               cwd=str(tmp_path), kernel_name="python3", progress_bar=False,
                               log_output=False)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["backend"] == "openai" and manifest["llm"]["calls"] > 0
    text = (tmp_path / "04.ipynb").read_text()
    assert "HTTP Request" in text or "Request options" in text, (
        "the client's debug log did not reach the notebook: the scan proves less than it says")
    assert _scan(tmp_path, canary) == []
