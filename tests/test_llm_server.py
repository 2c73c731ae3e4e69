"""The openai backend against a real OpenAI-compatible server on 127.0.0.1.

llama-cpp-python's server serves the same GGUF file the embedded backend converts; the two
must agree on decisions. Installed by ``.ci/llama_server.sh``: missing in CI is a failure,
missing locally a skip.

Tolerance: both sides start from the same Q4_1 weights, but the embedded backend dequantises
them to fp32 and runs fp32 matmuls, while llama.cpp keeps them quantised and quantises the
activations to 8 bits (Q8_1) for its dot products. Measured on SmolLM2-135M: option
probabilities differ by at most ~0.04 and summed log-probs by ~1e-3 nats per token, so the
test allows 0.1 on probabilities and 0.05 nats per token on log-probs, and requires the same
argmax wherever the embedded margin exceeds 0.2.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = [pytest.mark.server, pytest.mark.llm]

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SYSTEM = "You label the emotion of social media posts. Answer with one word."
PROMPTS = ["My cat died this morning. How do you feel? Answer calm, moderate or intense.",
           "Lovely sunny day at the beach! Is this post positive or negative?",
           "Fuel taxes go up again on Monday. Is this post positive or negative?"]


@pytest.fixture(scope="module")
def server():
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"llama-cpp-python[server] is not installed in CI "
                        f"(run .ci/llama_server.sh): {exc}")
        pytest.skip("llama-cpp-python[server] not installed (see .ci/llama_server.sh)")
    from s3kit.llm.server import LlamaCppServer

    srv = LlamaCppServer("smollm2-135m-instruct", n_threads=1, startup_timeout=120)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def embedded():
    from s3kit.llm import load_llm

    return load_llm("embedded", dtype="float32", cache=False)


def test_openai_backend_agrees_with_embedded(server, embedded, tmp_path):
    from s3kit.llm import load_llm

    remote = load_llm("openai", "smollm2-135m-instruct", base_url=server.base_url,
                      cache=tmp_path / "r.sqlite", batch_size=2)
    for options in (["calm", "moderate", "intense"], ["positive", "negative"]):
        ours = embedded.score(PROMPTS, options, system=SYSTEM)
        theirs = remote.score(PROMPTS, options, system=SYSTEM)
        assert remote._mode == "echo"  # exact option log-probs, multi-token included
        np.testing.assert_allclose(theirs.sum(axis=1), 1.0, atol=1e-9)
        assert np.abs(ours - theirs).max() < 0.1, (ours, theirs)
        top2 = np.sort(ours, axis=1)[:, -2:]
        sure = (top2[:, 1] - top2[:, 0]) > 0.2
        assert (ours.argmax(1)[sure] == theirs.argmax(1)[sure]).all()
    assert remote.stats.fallbacks == 0

    # a re-run is answered from the cache: zero requests
    calls = remote.stats.calls
    again = remote.score(PROMPTS, ["positive", "negative"], system=SYSTEM)
    assert remote.stats.calls == calls and remote.stats.cache_hits == len(PROMPTS)
    np.testing.assert_array_equal(again, theirs)

    conts = ["I feel intense.", "Positive, what a day!"]
    ours_lp, ours_n = embedded.logprob(PROMPTS[:2], conts, system=SYSTEM)
    theirs_lp, theirs_n = remote.logprob(PROMPTS[:2], conts, system=SYSTEM)
    assert ours_n.tolist() == theirs_n.tolist()
    assert np.all(np.abs(ours_lp - theirs_lp) < 0.05 * ours_n), (ours_lp, theirs_lp)


def test_chat_logprobs_mode_and_generation(server, embedded):
    from s3kit.llm import load_llm

    chat = load_llm("openai", "smollm2-135m-instruct", base_url=server.base_url, cache=False,
                    score_mode="chat_logprobs", batch_size=2)
    options = ["positive", "negative"]  # single tokens: first-token log-probs are exact
    probs = chat.score(PROMPTS[1:3], options, system=SYSTEM)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    if chat.stats.fallbacks == 0:  # answered from top_logprobs (an option outside the
        # top-k gets the k-th log-prob, an upper bound): the clear decisions must agree
        ours = embedded.score(PROMPTS[1:3], options, system=SYSTEM)
        sure = np.abs(ours[:, 0] - ours[:, 1]) > 0.2
        assert (ours.argmax(1)[sure] == probs.argmax(1)[sure]).all(), (ours, probs)
    texts = chat.generate(PROMPTS[:2], system=SYSTEM, max_new_tokens=8)
    assert all(isinstance(t, str) and t for t in texts)
    ours = embedded.generate(PROMPTS[:2], system=SYSTEM, max_new_tokens=8)
    # greedy decoding from (nearly) the same distribution: same first word
    assert [t.split()[0] for t in texts] == [t.split()[0] for t in ours]
