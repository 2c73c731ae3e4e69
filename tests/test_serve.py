"""``s3kit serve``: one model for a class, kernels that stay small, answers unchanged.

Fast tests run the server on a stub backend (hash vectors, no model): binding, the token,
coalescing, the client. The ``llm`` tests load the real model: a replay through the server
gives the frames the model gives in-process, the OpenAI client works against it, and three
sessions stepping at once (``benchmarks/serve_load.py`` at a small size) get identical
answers from coalesced batches.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_bind_addresses import assert_loopback_only, listening

from s3kit.errors import BackendError, ConfigError
from s3kit.llm import FakeLLM, ServerLLM, load_llm
from s3kit.llm.base import CallStats
from s3kit.llm.serve import (
    E5_MODEL,
    Batcher,
    ModelServer,
    check_bind,
    decode_array,
    encode_array,
    serve_url,
)

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "t-" + "x" * 30


class StubLLM:
    """Deterministic hidden states (a hash per text) and FakeLLM answers; counts its calls."""

    backend = "embedded"
    model = "smollm2-135m-instruct"
    adapter = None

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.stats = CallStats()
        self.fake = FakeLLM(seed=0)
        self.hidden_calls: list[list[str]] = []
        self.score_calls: list[list[str]] = []

    def layer_info(self):
        return {"n_layers": 30, "hidden_size": 4, "dtype": "float32"}

    @staticmethod
    def vector(text: str, layers) -> np.ndarray:
        h = hashlib.sha256(text.encode()).digest()
        base = np.frombuffer(h[:16], dtype=np.uint8).astype(np.float32).reshape(4, 4)[0]
        return np.concatenate([base + layer for layer in layers]).astype(np.float32)

    def hidden_states(self, texts, layers, max_tokens=96):
        self.hidden_calls.append(list(texts))
        threading.Event().wait(self.delay)
        return np.stack([self.vector(t, layers) for t in texts])

    def score(self, prompts, options, *, system=None):
        self.score_calls.append(list(prompts))
        return self.fake.score(prompts, options, system=system)

    def generate(self, prompts, **kwargs):
        return self.fake.generate(prompts, **kwargs)

    def logprob(self, prompts, continuations, **kwargs):
        return self.fake.logprob(prompts, continuations, **kwargs)


@pytest.fixture
def stub_server():
    stub = StubLLM()
    with ModelServer(stub, e5=False, window_ms=20) as server:
        yield server, stub


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ----------------------------------------------------------------------------- binding
def test_server_binds_loopback_by_default(stub_server):
    server, _ = stub_server
    assert server.base_url.startswith("http://127.0.0.1:")
    assert_loopback_only(server.port)
    port = server.port
    server.stop()
    assert listening(port) == []


def test_non_loopback_bind_needs_the_flag_and_a_token():
    check_bind("127.0.0.1", None, False)
    check_bind("localhost", None, False)
    with pytest.raises(ConfigError, match="--allow-remote"):
        check_bind("10.1.2.3", TOKEN, False)
    with pytest.raises(ConfigError, match="token"):
        check_bind("10.1.2.3", None, True)
    with pytest.raises(ConfigError, match="at least 16"):
        check_bind("10.1.2.3", "short", True)
    check_bind("10.1.2.3", TOKEN, True)  # both given: allowed
    with pytest.raises(ConfigError):  # refused before anything is loaded or bound
        ModelServer(StubLLM(), host="10.1.2.3")


def test_cli_refuses_a_non_loopback_host_without_a_token(monkeypatch, capsys):
    from s3kit.cli import main

    monkeypatch.delenv("S3KIT_SERVER_TOKEN", raising=False)
    monkeypatch.setattr("s3kit.llm.embedded.EmbeddedLLM.load",
                        lambda self: pytest.fail("the model must not load"))
    assert main(["serve", "--host", "10.1.2.3", "--port", "0"]) == 2
    assert "refusing to listen on 10.1.2.3" in capsys.readouterr().err
    assert main(["serve", "--host", "10.1.2.3", "--port", "0", "--allow-remote"]) == 2
    assert "needs a token" in capsys.readouterr().err


def test_requests_without_the_token_are_rejected(monkeypatch):
    monkeypatch.delenv("S3KIT_SERVER_TOKEN", raising=False)
    stub = StubLLM()
    with ModelServer(stub, e5=False, token=TOKEN) as server:
        assert TOKEN not in repr(server)
        status, body = _get(server.base_url + "/v1/models")
        assert status == 401 and "token" in body["error"]["message"]
        assert _get(server.base_url + "/v1/models", "wrong-" + TOKEN)[0] == 401
        assert _get(server.base_url + "/v1/stats")[0] == 401
        with pytest.raises(BackendError, match="401.*S3KIT_SERVER_TOKEN"):
            ServerLLM(server.base_url).connect()
        assert _get(server.base_url + "/v1/models", TOKEN)[0] == 200
        monkeypatch.setenv("S3KIT_SERVER_TOKEN", TOKEN)
        llm = ServerLLM(server.base_url).connect()
        assert llm.hidden_states(["a"], [15]).shape == (1, 4)
        assert TOKEN not in repr(llm) and TOKEN.encode() not in pickle.dumps(llm)
    assert stub.hidden_calls == [["a"]]


# ----------------------------------------------------------------------------- batching
@pytest.fixture
def slow_window_server():
    """A server that waits 1 s for more requests: concurrent requests surely meet."""
    stub = StubLLM()
    with ModelServer(stub, e5=False, window_ms=1000) as server:
        yield server, stub


def test_identical_requests_share_one_pass_and_different_ones_stay_exact(slow_window_server):
    server, stub = slow_window_server
    texts = [f"post {i}" for i in range(6)]
    results = {}

    def session(i, request):
        results[i] = ServerLLM(server.base_url).hidden_states(request, [15, 30])

    requests = [texts] * 5 + [texts[:3], list(reversed(texts))]
    threads = [threading.Thread(target=session, args=(i, r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i, request in enumerate(requests):  # every answer is the stub's for that request
        expected = np.stack([StubLLM.vector(t, [15, 30]) for t in request])
        np.testing.assert_array_equal(results[i], expected)
    # each distinct request computed alone (exactly what the kernel's own model would run)
    assert sorted(map(tuple, stub.hidden_calls)) == sorted(
        {tuple(texts), tuple(texts[:3]), tuple(reversed(texts))})
    stats = ServerLLM(server.base_url).stats_of_server()["batches"]["hidden_states"]
    assert stats["requests"] == 7 and stats["passes"] == 3
    assert stats["max_requests"] == 5  # the five identical requests: one pass
    # a late identical request is answered from the memo, without a pass
    ServerLLM(server.base_url).hidden_states(texts, [15, 30])
    assert len(stub.hidden_calls) == 3


def test_score_requests_are_merged_into_one_call(slow_window_server):
    server, stub = slow_window_server
    out = {}

    def session(i):
        llm = ServerLLM(server.base_url, cache=False)
        out[i] = llm.score([f"prompt {i}", "shared"], ["calm", "intense"], system="s")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    fake = FakeLLM(seed=0)
    for i in range(4):
        np.testing.assert_array_equal(
            out[i], fake.score([f"prompt {i}", "shared"], ["calm", "intense"], system="s"))
    assert stub.score_calls and len(stub.score_calls[0]) == 5  # one call, "shared" once
    assert len(stub.score_calls) == 1


def test_batcher_reraises_a_failing_group_in_every_waiting_thread():
    def run(kind, key, jobs):
        raise ValueError("boom")

    batcher = Batcher(run, window_s=0.01).start()
    try:
        with pytest.raises(ValueError, match="boom"):
            batcher.submit("x", (), None)
    finally:
        batcher.stop()


def test_arrays_travel_bit_exact():
    rng = np.random.default_rng(0)
    for arr in (rng.normal(size=(3, 5)).astype(np.float32), rng.random((2, 3))):
        back = decode_array(json.loads(json.dumps(encode_array(arr))))
        assert back.dtype == arr.dtype and np.array_equal(back, arr)
    assert serve_url("127.0.0.1:8765/v1/") == "http://127.0.0.1:8765"


# ----------------------------------------------------------------------------- the kernels' side
def test_the_client_refuses_another_model_and_reports_an_absent_server(stub_server):
    server, _ = stub_server
    with pytest.raises(BackendError, match="holds 'smollm2-135m-instruct'"):
        ServerLLM(server.base_url, model="qwen2.5-0.5b-instruct").connect()
    with pytest.raises(BackendError, match="runs float32"):
        ServerLLM(server.base_url, model="smollm2-135m-instruct", dtype="bfloat16").connect()
    from s3kit.llm.server import free_port

    with pytest.raises(BackendError, match="no s3kit server answers"):
        ServerLLM(f"http://127.0.0.1:{free_port()}", retries=2).connect()


def test_s3kit_server_env_sends_the_embedded_backend_to_the_server(stub_server, monkeypatch):
    from s3kit.config import ReplayConfig
    from s3kit.heads import embedder_from_spec, heads_path, resolve_decisions
    from s3kit.llm import llm_from_config

    server, _ = stub_server
    monkeypatch.setenv("S3KIT_SERVER", server.base_url)
    llm = llm_from_config(ReplayConfig())
    assert isinstance(llm, ServerLLM) and llm.backend == "server"
    assert resolve_decisions("auto", llm) == "calibrated"  # hidden states: the heads work
    spec = json.loads((heads_path("default") / "manifest.json").read_text())["representation"]
    fused = embedder_from_spec(spec, llm)
    from s3kit.embeddings import E5Embedder, LLMStateEmbedder

    llm_part, e5_part = fused.parts
    assert isinstance(llm_part, LLMStateEmbedder) and llm_part.llm is llm
    assert isinstance(e5_part, E5Embedder) and e5_part.server is llm  # shared with memory
    explicit = llm_from_config(ReplayConfig(backend="server", base_url=server.base_url))
    assert explicit.url == server.base_url
    monkeypatch.delenv("S3KIT_SERVER")
    with pytest.raises(BackendError, match="S3KIT_SERVER"):
        llm_from_config(ReplayConfig(backend="server"))


def test_a_kernel_using_the_server_imports_no_torch(stub_server):
    server, _ = stub_server
    code = ("import sys\n"
            "from s3kit import ReplayConfig\n"
            "from s3kit.llm import llm_from_config\n"
            "from s3kit.heads import DecisionModel\n"
            "llm = llm_from_config(ReplayConfig())\n"
            "model = DecisionModel.load('default', llm=llm)\n"
            "vec = model.embedder.parts[0].embed(['hello'])\n"
            "assert vec.shape == (1, 8), vec.shape\n"
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = {**os.environ, "S3KIT_SERVER": server.base_url,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# ----------------------------------------------------------------------------- the real model
@pytest.fixture(scope="module")
def real_server():
    pytest.importorskip("torch")
    llm = load_llm("embedded", cache=False)
    with ModelServer(llm, cache=False) as server:
        yield server, llm


@pytest.mark.llm
@pytest.mark.slow
def test_a_replay_through_the_server_gives_the_local_frames(real_server, tmp_path):
    """Calibrated agents (the dashboards' default) on 60 users: bit-identical frames."""
    from s3kit import ReplayConfig
    from s3kit.replay import build_replay
    from s3kit.sample import write_sample
    from s3kit.simulation import Simulation

    server, llm = real_server
    cfg = ReplayConfig(dataset=str(write_sample(tmp_path / "s", n_users=60)), n_steps=2,
                       seed=3, generate_posts=False, progress=False, llm_cache=False)
    frames = {}
    for name, backend in (("local", llm), ("server", ServerLLM(server.base_url).connect())):
        network, event_id, topic, _, _ = build_replay(cfg)
        sim = Simulation(network, cfg, llm=backend, event_id=event_id, topic=topic)
        assert sim.decision_mode == "calibrated"
        frames[name] = sim.run().results
    assert frames["local"]["active"].sum() > 20
    pd.testing.assert_frame_equal(frames["local"], frames["server"])


@pytest.mark.llm
@pytest.mark.slow
def test_the_openai_client_works_against_the_server(real_server):
    server, llm = real_server
    system = "You label the emotion of social media posts. Answer with one word."
    prompts = ["My cat died this morning. How do you feel? Answer calm, moderate or intense.",
               "Lovely sunny day at the beach! Is this post positive or negative?"]
    remote = load_llm("openai", "smollm2-135m-instruct", base_url=server.base_url + "/v1",
                      cache=False, score_mode="echo")
    for options in (["calm", "moderate", "intense"], ["positive", "negative"]):
        ours = llm.score(prompts, options, system=system)
        theirs = remote.score(prompts, options, system=system)
        assert np.abs(ours - theirs).max() < 0.05, (ours, theirs)  # same model, no prefix KV
    assert remote.generate(prompts, system=system, max_new_tokens=8) == llm.generate(
        prompts, system=system, max_new_tokens=8)
    # a stop string ends the answer through the chat route too
    assert remote.generate(prompts, system=system, max_new_tokens=8, stop=[" "]) == [
        t.split(" ")[0] for t in llm.generate(prompts, system=system, max_new_tokens=8)]
    import openai

    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused")
    got = client.embeddings.create(model=E5_MODEL, input=["hello", "你好"])
    assert [len(d.embedding) for d in got.data] == [384, 384]
    assert {m.id for m in client.models.list().data} == {llm.model, E5_MODEL}


@pytest.mark.llm
@pytest.mark.slow
@pytest.mark.server
def test_three_sessions_at_once_get_identical_answers_from_coalesced_batches(tmp_path):
    """``benchmarks/serve_load.py`` at a small size: ``s3kit serve`` + 3 session processes."""
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve_load.py"),
                           "--sessions", "3", "--users", "60", "--steps", "2",
                           "--json", str(out)], capture_output=True, text=True, timeout=1800)
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["lost"] == [] and result["identical"] == 3
    for session in result["sessions_detail"]:
        assert session["backend"] == "server" and session["decision_mode"] == "calibrated"
        assert not session["torch_imported"] and not session["transformers_imported"]
    batches = result["server"]["batches"]
    assert max(b["max_requests"] for b in batches.values()) > 1  # requests coalesced


# ----------------------------------------------------------------------------- culling
CULLING = {"cull_idle_timeout": 1800, "cull_interval": 60, "cull_connected": True,
           "cull_busy": False}


def test_the_apps_voila_config_culls_idle_kernels():
    for path in (ROOT / "voila.json", ROOT / "widgets" / "voila.json"):
        config = json.loads(path.read_text())
        assert config["VoilaConfiguration"]["template"] == "s3kit"
        assert config["MappingKernelManager"] == CULLING, path
        assert config["KernelManager"] == {"autorestart": False}, path


def test_voila_applies_the_culling_settings(monkeypatch):
    """Voila reads widgets/voila.json from the folder it starts in (no kernel is started)."""
    from voila.app import Voila

    monkeypatch.chdir(ROOT / "widgets")
    app = Voila()
    app.initialize(["dashboard.ipynb", "--no-browser", "--port=0", "--Voila.ip=127.0.0.1"])
    app.init_settings()
    km = app.kernel_manager
    assert {k: getattr(km, k) for k in CULLING} == CULLING
    assert km.kernel_manager_factory(parent=km).autorestart is False


def test_stop_strings_cut_answers_through_the_server(stub_server):
    server, stub = stub_server
    llm = ServerLLM(server.base_url).connect()
    prompts = ["a storm is coming", "the council closed the library"]
    full = llm.generate(prompts, max_new_tokens=8)
    assert all(" " in t for t in full)  # the fake's answers have several words
    assert llm.generate(prompts, max_new_tokens=8, stop=[" "]) == [t.split()[0] for t in full]
    status, body = _post(server.base_url + "/v1/s3kit/generate",
                         {"prompts": prompts, "stop": [""]})
    assert status == 400 and "stop" in body["error"]["message"]
