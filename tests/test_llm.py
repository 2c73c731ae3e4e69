"""Fast tests of the LLM layer's plumbing: no model weights (fake LLM, stub HTTP server)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from _helpers import QuietHandler, serve_http, time_limit

from s3kit.config import ReplayConfig
from s3kit.errors import BackendError
from s3kit.llm import (
    CallStats,
    FakeLLM,
    ResponseCache,
    adapter_path,
    estimate,
    llm_from_config,
    load_llm,
    normalise_log_scores,
)
from s3kit.llm.cache import cache_key
from s3kit.llm.models import resolve_dtype
from s3kit.llm.openai_backend import OpenAILLM, parse_choice


def test_import_is_light():
    code = ("import sys, s3kit, s3kit.llm; "
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'peft')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_fake_llm_is_deterministic_and_normalised():
    llm = load_llm("fake", seed=7)
    probs = llm.score(["a", "b", "c"], ["x", "y", "z"], system="s")
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_array_equal(probs[1:2], FakeLLM(seed=7).score(["b"], ["x", "y", "z"],
                                                                    system="s"))
    assert not np.allclose(probs, FakeLLM(seed=8).score(["a", "b", "c"], ["x", "y", "z"],
                                                         system="s"))
    assert llm.generate(["hi"]) == llm.generate(["hi"])
    sums, counts = llm.logprob(["p"], ["one two three"])
    assert counts.tolist() == [3] and sums.tolist() == [-6.0]
    assert llm.backend == "fake" and llm.stats.prompts == 3 + 2 + 1


def test_llm_from_config_and_unknown_backend():
    llm = llm_from_config(ReplayConfig(backend="fake", seed=3))
    assert llm.backend == "fake" and llm.seed == 3
    with pytest.raises(BackendError, match="unknown LLM backend"):
        load_llm("nope")


def test_normalise_handles_minus_infinity():
    probs = normalise_log_scores(np.array([[0.0, -np.inf, np.log(3.0)]]))
    np.testing.assert_allclose(probs, [[0.25, 0.0, 0.75]])


def test_response_cache_roundtrip_and_key(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    k1 = cache_key({"a": 1, "b": [1, 2]})
    assert k1 == cache_key({"b": [1, 2], "a": 1})
    assert k1 != cache_key({"a": 1, "b": [2, 1]})
    cache.put_many({k1: [0.1, 0.9], "other": "text"})
    assert ResponseCache(tmp_path / "c.sqlite").get_many([k1, "other", "missing"]) == {
        k1: [0.1, 0.9], "other": "text"}
    assert len(pickle.loads(pickle.dumps(cache))) == 2


def test_estimate_scales_and_uses_measured_rates():
    base = estimate(100, 10, decisions_per_step=2, posts_per_step=0.5, score_prompts_per_s=10,
                    generate_tokens_per_s=20, max_new_tokens=40, batch_size=10)
    assert base.score_prompts == 2000 and base.generate_prompts == 500
    assert base.calls == 200 + 50
    assert base.seconds == pytest.approx(2000 / 10 + 500 * 40 / 20)
    double = estimate(200, 10, decisions_per_step=2, posts_per_step=0.5, score_prompts_per_s=10,
                      generate_tokens_per_s=20, max_new_tokens=40, batch_size=10)
    assert double.seconds == pytest.approx(2 * base.seconds)

    class Measured:
        backend = "embedded"
        model = "smollm2-135m-instruct"

        def throughput(self):
            return {"score_prompts_per_s": 100.0, "generate_tokens_per_s": 1000.0}

    fast = estimate(100, 10, decisions_per_step=2, posts_per_step=0.5, llm=Measured())
    assert fast.seconds == pytest.approx(2000 / 100 + 500 * 40 / 1000)
    assert "decisions" in str(fast)


def test_adapter_path_and_dtype(tmp_path, monkeypatch):
    monkeypatch.setenv("S3KIT_CACHE_DIR", str(tmp_path))
    assert adapter_path("gender") == tmp_path / "adapters" / "gender"
    with pytest.raises(BackendError):
        adapter_path("../escape")
    import torch

    assert resolve_dtype("float32") is torch.float32
    assert resolve_dtype("bf16") is torch.bfloat16
    with open("/proc/cpuinfo") as f:
        flags = set(f.read().split())
    expected = torch.bfloat16 if flags & {"amx_bf16", "avx512_bf16"} else torch.float32
    assert resolve_dtype("auto") is expected
    with pytest.raises(BackendError):
        resolve_dtype("float8")


def test_parse_choice():
    assert parse_choice("Answer: Intense!", ["calm", "intense"]) == 1
    assert parse_choice("  \"calm\"", ["calm", "intense"]) == 0
    assert parse_choice("I feel calmness", ["calm", "intense"]) is None
    assert parse_choice("repost it", ["post", "repost"]) == 1
    assert parse_choice("nothing to say", ["calm", "intense"]) is None


# --------------------------------------------------------------------- stub OpenAI server
class _Stub(QuietHandler):
    """Plumbing stub: first request 429 + Retry-After, then canned chat answers."""

    state: dict = {}

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        st = self.state
        with st["lock"]:
            st["requests"].append((self.path, body, self.headers.get("Authorization")))
            st["times"].append(time.monotonic())
            n = len(st["requests"])
        if n == 1 and st.get("throttle_first"):
            self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
            return
        if self.path.endswith("/completions") and "messages" not in body:
            # no legacy completions here: forces chat modes
            self.send_json(400, {"error": {"message": "not supported"}})
            return
        last = body["messages"][-1]["content"]
        content = "Intense, clearly." if "storm" in last else "calm"
        self.send_json(200, {
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})


@pytest.fixture
def stub_server():
    _Stub.state = {"lock": threading.Lock(), "requests": [], "times": [],
                   "throttle_first": True}
    with serve_http(_Stub) as url:
        yield url + "/v1", _Stub.state


def test_openai_backend_retries_parses_caches_and_hides_key(stub_server, tmp_path,
                                                            monkeypatch):
    url, state = stub_server
    secret = "sk-test-SECRET-123"
    monkeypatch.setenv("S3KIT_TEST_KEY", secret)
    llm = load_llm("openai", "served-model", base_url=url, api_key_env="S3KIT_TEST_KEY",
                   cache=tmp_path / "r.sqlite", batch_size=4, score_mode="auto",
                   template_model="smollm2-135m-instruct")
    prompts = ["a storm is coming", "nice weather", "big storm tonight"]
    probs = llm.score(prompts, ["calm", "intense"], system="Answer in one word.")
    np.testing.assert_allclose(probs, [[0, 1], [1, 0], [0, 1]])
    # 429 with Retry-After: 1 honoured before the retry
    assert state["times"][1] - state["times"][0] >= 0.9
    # echo (400) and chat logprobs (none returned) fell back to constrained parsing
    assert llm.stats.fallbacks == 3
    assert all(auth == f"Bearer {secret}" for _, _, auth in state["requests"])
    calls = llm.stats.calls
    again = llm.score(prompts, ["calm", "intense"], system="Answer in one word.")
    np.testing.assert_array_equal(again, probs)
    assert llm.stats.calls == calls and llm.stats.cache_hits == 3
    assert llm.generate(["storm?"], max_new_tokens=5) == ["Intense, clearly."]
    # the key never appears in repr, pickle or the cache file
    assert secret not in repr(llm)
    blob = pickle.dumps(llm)
    assert secret.encode() not in blob
    assert secret.encode() not in (tmp_path / "r.sqlite").read_bytes()
    clone = pickle.loads(blob)
    assert clone.score(prompts[:1], ["calm", "intense"], system="Answer in one word.")[0, 1] == 1


def test_openai_backend_gives_up_with_backend_error(tmp_path):
    llm = OpenAILLM("m", base_url="http://127.0.0.1:9/v1", cache=False, max_retries=2,
                    timeout=2, score_mode="parse")
    with time_limit(60, "giving up"), pytest.raises(BackendError, match="after 2 attempts"):
        llm.generate(["hi"])  # a hang guard, not a speed claim
    assert llm.stats.calls == 2


def test_callstats_reset():
    stats = CallStats(calls=3, cache_hits=2)
    stats.reset()
    assert stats == CallStats()
