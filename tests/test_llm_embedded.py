"""The embedded backend on the real shipped model (SmolLM2-135M-Instruct, fp32).

The converted model is cached in the user cache dir (first run converts the GGUF, ~30 s).
fp32 is used because the acceptance criterion is 1e-5 between a prompt alone and inside a
batch: bf16 rounding moves probabilities by ~1e-2 (see docs/llm.md).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.llm

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SYSTEM = "You label the emotion of social media posts. Answer with one word."
OPTIONS = ["calm", "moderate", "intense", "very angry"]  # 2, 2, 2 and 2+ tokens


def _prompts(n: int) -> list[str]:
    words = ("the council closed the library and people are upset about it "
             "while others say the budget had to be cut somewhere ").split()
    return [f"Post {i}: " + " ".join(words[: 3 + (i * 7) % len(words)]) +
            " How do you feel?" for i in range(n)]


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    pytest.importorskip("torch")
    from s3kit.llm import load_llm

    return load_llm("embedded", dtype="float32", batch_size=64,
                    cache=tmp_path_factory.mktemp("llmcache") / "r.sqlite")


def _reference_logprob(llm, system, prompt, answer):
    """Sum of answer-token log-probs from one plain forward pass over the whole text."""
    import torch

    prefix, suffix = llm.prompt_template(system)
    head = llm.token_ids(prefix) + llm.token_ids(prompt + suffix)
    ans = llm.token_ids(answer)
    ids = torch.tensor([head + ans])
    with torch.inference_mode():
        logp = torch.log_softmax(llm.base_model(input_ids=ids).logits[0].float(), -1)
    return float(sum(logp[len(head) - 1 + t, tok] for t, tok in enumerate(ans)))


def test_score_matches_a_plain_forward_pass(llm):
    prompt = _prompts(3)[2]
    probs = llm.score([prompt], OPTIONS, system=SYSTEM)[0]
    ref = np.array([_reference_logprob(llm, SYSTEM, prompt, o) for o in OPTIONS])
    ref = np.exp(ref - ref.max())
    np.testing.assert_allclose(probs, ref / ref.sum(), atol=1e-5)


def test_score_alone_equals_score_in_a_batch_of_64(llm):
    prompts = _prompts(64)
    lengths = {len(llm.token_ids(p)) for p in prompts}
    assert len(lengths) > 5  # really different lengths -> real left padding
    llm.batch_size = 64
    calls = llm.stats.calls
    batch = llm.score(prompts, OPTIONS, system=SYSTEM)
    multi_token_steps = sum(len(llm.token_ids(o)) > 1 for o in OPTIONS)
    assert llm.stats.calls - calls <= 1 + 1 + multi_token_steps  # prefix + one batch + options
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-9)
    assert batch.std(axis=0).max() > 1e-3  # answers depend on the prompt
    saved, llm.response_cache = llm.response_cache, None  # the cache would answer the singles
    try:
        for i in (0, 17, 63):
            alone = llm.score([prompts[i]], OPTIONS, system=SYSTEM)
            np.testing.assert_allclose(alone[0], batch[i], atol=1e-5)
    finally:
        llm.response_cache = saved


def test_response_cache_makes_rerun_free(llm, tmp_path):
    from s3kit.llm import load_llm

    cached = load_llm("embedded", dtype="float32", cache=tmp_path / "c.sqlite")
    prompts = _prompts(5)
    first = cached.score(prompts, ["yes", "no"], system=SYSTEM)
    calls = cached.stats.calls
    again = cached.score(prompts, ["yes", "no"], system=SYSTEM)
    np.testing.assert_array_equal(first, again)
    assert cached.stats.calls == calls and cached.stats.cache_hits == 5
    texts = cached.generate(prompts[:2], max_new_tokens=6)
    calls = cached.stats.calls
    assert cached.generate(prompts[:2], max_new_tokens=6) == texts
    assert cached.stats.calls == calls
    # a different system prompt is a different question
    cached.score(prompts[:1], ["yes", "no"], system="Be terse.")
    assert cached.stats.calls > calls


def test_generate_batched_equals_hf_generate(llm):
    import torch

    prompts = ["Write one short sentence about rain.", _prompts(20)[19]]
    llm.batch_size = 16
    texts = llm.generate(prompts, system=SYSTEM, max_new_tokens=10)
    tok = llm.tokenizer
    for prompt, text in zip(prompts, texts, strict=True):
        prefix, suffix = llm.prompt_template(SYSTEM)
        ids = torch.tensor([llm.token_ids(prefix) + llm.token_ids(prompt + suffix)])
        with torch.inference_mode():
            out = llm.base_model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                    max_new_tokens=10, do_sample=False,
                                    pad_token_id=tok.pad_token_id)
        expected = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
        assert text == expected
    sampled = llm.generate(prompts, system=SYSTEM, max_new_tokens=6, temperature=1.0, seed=1)
    assert sampled == llm.generate(prompts[::-1], system=SYSTEM, max_new_tokens=6,
                                   temperature=1.0, seed=1)[::-1]


def test_logprob_batched_matches_reference(llm):
    prompts = _prompts(3)
    conts = ["I feel calm.", "This makes me really angry, honestly.", "Meh"]
    sums, counts = llm.logprob(prompts, conts, system=SYSTEM)
    for i in range(3):
        assert counts[i] == len(llm.token_ids(conts[i]))
        assert sums[i] == pytest.approx(_reference_logprob(llm, SYSTEM, prompts[i], conts[i]),
                                        abs=1e-3)
    perplexity = np.exp(-sums / counts)
    assert np.all(np.isfinite(perplexity)) and np.all(perplexity > 1)


def test_logprob_of_long_replies_is_scored_in_bounded_passes(llm):
    # four ~700-token replies hold more positions than one pass scores (1,024): the logits
    # of a pass are rows x positions x vocabulary, so they are split, and the sums still
    # equal one plain forward pass per reply
    prompts = _prompts(4)
    conts = [" ".join(["the budget was cut and the library closed"] * (80 + 5 * i))
             for i in range(4)]
    before = llm.stats.calls
    sums, counts = llm.logprob(prompts, conts, system=SYSTEM)
    assert counts.sum() > 2048 and llm.stats.calls - before >= 3
    for i in range(4):
        assert sums[i] == pytest.approx(_reference_logprob(llm, SYSTEM, prompts[i], conts[i]),
                                        rel=1e-4)


PEFT_KINDS = ["prefix", "prompt", "ptuning", "lora"]


@pytest.fixture(scope="module")
def adapter_home(tmp_path_factory):
    """A fresh cache dir whose models/ links to the real one (no second conversion)."""
    from s3kit.config import cache_dir
    from s3kit.llm.models import ensure_converted

    ensure_converted()
    home = tmp_path_factory.mktemp("s3kit_cache")
    (home / "models").symlink_to(cache_dir() / "models", target_is_directory=True)
    return home


@pytest.mark.parametrize("kind", PEFT_KINDS)
def test_untrained_peft_adapters_load_by_name(kind, adapter_home, monkeypatch, llm):
    import torch
    from peft import (
        LoraConfig,
        PrefixTuningConfig,
        PromptEncoderConfig,
        PromptTuningConfig,
        get_peft_model,
    )

    from s3kit.llm import adapter_path, load_base_model, load_llm

    monkeypatch.setenv("S3KIT_CACHE_DIR", str(adapter_home))
    torch.manual_seed(0)
    base, _ = load_base_model(dtype="float32")
    config = {
        "prefix": PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=8),
        "prompt": PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=8),
        "ptuning": PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=8,
                                       encoder_hidden_size=64),
        "lora": LoraConfig(task_type="CAUSAL_LM", r=4, target_modules=["q_proj", "v_proj"],
                           init_lora_weights=False),
    }[kind]
    peft_model = get_peft_model(base, config)
    if kind == "prefix":  # random init is tiny; make the prefix matter
        with torch.no_grad():
            for p in peft_model.prompt_encoder.parameters():
                p.normal_(0, 1.0)
    peft_model.save_pretrained(adapter_path(f"t-{kind}"))

    tuned = load_llm("embedded", dtype="float32", adapter=f"t-{kind}", cache=False,
                     batch_size=64)
    assert tuned.adapter == f"t-{kind}"
    prompts = _prompts(6)
    batch = tuned.score(prompts, OPTIONS, system=SYSTEM)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-9)
    alone = tuned.score(prompts[5:6], OPTIONS, system=SYSTEM)
    np.testing.assert_allclose(alone[0], batch[5], atol=1e-5)
    plain = llm.score(prompts, OPTIONS, system=SYSTEM)
    assert np.abs(batch - plain).max() > 1e-3  # the adapter is really applied

    # same numbers as PEFT's own forward over the full sequence (as in training)
    peft_loaded = tuned.hf_model
    prefix, suffix = tuned.prompt_template(SYSTEM)
    head = tuned.token_ids(prefix) + tuned.token_ids(prompts[5] + suffix)
    ref = []
    for option in OPTIONS:
        ans = tuned.token_ids(option)
        ids = torch.tensor([head + ans])
        with torch.inference_mode():
            logits = peft_loaded(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
        shift = logits.shape[0] - ids.shape[1]  # prompt-learning methods prepend virtual rows
        logp = torch.log_softmax(logits.float(), -1)
        ref.append(float(sum(logp[shift + len(head) - 1 + t, tok] for t, tok in enumerate(ans))))
    ref = np.exp(np.array(ref) - max(ref))
    np.testing.assert_allclose(alone[0], ref / ref.sum(), atol=1e-4)
    assert all(isinstance(t, str) for t in tuned.generate(prompts[:2], max_new_tokens=5))


def test_prefix_cache_reuses_an_agent_head_without_changing_answers(llm):
    """Two questions after the same long head: the second starts from the cached head (what
    one agent's emotion / attitude / action prompts do) and answers as if computed afresh."""
    from s3kit.llm.embedded import EmbeddedLLM

    heads = [f"You: {20 + i}, teacher. You read:\n" + " ".join(_prompts(12)[i:i + 6]) + "\n"
             for i in range(6)]
    first = [h + "Question: how do you feel now?" for h in heads]
    second = [h + "Question: what do you do now? One word." for h in heads]
    posts = [h + "Write a short post." for h in heads[:3]]
    fresh = EmbeddedLLM.from_model(llm.hf_model, llm.tokenizer)  # no response cache
    fresh.prefix_cache.max_bytes = 0  # reference: every prompt computed from scratch
    ref = (fresh.score(second, OPTIONS, system=SYSTEM),
           fresh.generate(posts, system=SYSTEM, max_new_tokens=8))
    assert fresh.stats.reused_tokens == 0

    agent = EmbeddedLLM.from_model(llm.hf_model, llm.tokenizer)
    cache = agent.prefix_cache
    agent.score(first, OPTIONS, system=SYSTEM)
    assert len(cache) == len(heads)  # one entry per head
    got = agent.score(second, OPTIONS, system=SYSTEM)
    n_head = min(len(agent.token_ids(h)) for h in heads)
    assert agent.stats.reused_tokens >= len(heads) * (n_head - 2)
    assert len(cache) == len(heads)  # prompts that reused a head are not stored again
    np.testing.assert_allclose(got, ref[0], atol=1e-5)
    assert agent.generate(posts, system=SYSTEM, max_new_tokens=8) == ref[1]
    agent.generate(["You: 70, retired. " + " ".join(_prompts(12)[:4]) + " Write a post."],
                   system=SYSTEM, max_new_tokens=2)
    assert len(cache) == len(heads)  # generation reads heads, it does not store prompts
    # another system prompt never reuses these heads
    before = agent.stats.reused_tokens
    agent.score(second[:1], OPTIONS, system=SYSTEM + " Be brief.")
    assert agent.stats.reused_tokens == before
    # the bound holds: least recently used heads are evicted
    cache.max_bytes = cache.nbytes // 2
    agent.score([h + "Question: again?" for h in heads[:1]], OPTIONS, system="other")
    assert 0 < cache.nbytes <= cache.max_bytes
    agent.reset_prefix_cache()
    assert len(cache) == 0 and cache.nbytes == 0


def test_generation_ends_at_a_stop_string_and_stops_computing_there(llm):
    prompts = ["Write one short sentence about rain.", _prompts(20)[19]]
    full = llm.generate(prompts, system=SYSTEM, max_new_tokens=12)
    assert all(" " in t for t in full)
    before = llm.stats.completion_tokens
    cut = llm.generate(prompts, system=SYSTEM, max_new_tokens=12, stop=[" "])
    assert cut == [t.split(" ")[0] for t in full]
    assert llm.stats.completion_tokens - before < 6 * len(prompts)  # not run to the cap
