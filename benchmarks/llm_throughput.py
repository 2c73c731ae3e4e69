"""Throughput (and model-choice quality) of the embedded LLM backend.

Usage:
    python benchmarks/llm_throughput.py                       # throughput, default model/dtype
    python benchmarks/llm_throughput.py --dtype float32 --dtype bfloat16   # compare dtypes
    python benchmarks/llm_throughput.py --quality --model smollm2-135m-instruct --model gemma3-270m

Prints prompts/s of ``score`` at batch 1, 16 and 64 (~150-token prompts, prefix cache
cleared before each), decisions/s when three questions are asked about each prompt head (an
agent's emotion / attitude / action: the prefix cache computes the head once), tokens/s of
``generate``, and the ratio of both to a naive loop that asks the model to *generate* each
answer one prompt at a time (Hugging Face ``generate``, no batching, no prefix reuse).
``--quality`` scores a small labelled sample from $S3KIT_DATA_DIR
(tweeteval emotion and feminist stance, twitter_gender) zero-shot.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SYSTEM = ("You simulate a social media user. Read the user's profile and recent posts, then "
          "answer the question about their reaction with a single word.")
PERSONAS = ["a 34-year-old nurse from Leeds who posts about health and football",
            "a retired teacher in Ohio interested in gardening and local politics",
            "a 21-year-old computer science student who follows tech news and memes",
            "a small business owner in Madrid who worries about taxes and rent",
            "a journalist covering climate policy and energy prices",
            "a parent of two who shares recipes and school news"]
POSTS = ["Breaking: the city council votes to close three public libraries next month.",
         "Scientists report record ocean temperatures for the third year in a row.",
         "Local team wins the championship after a dramatic penalty shoot-out!",
         "New study claims coffee drinkers live longer, critics question the data.",
         "Rumour: a celebrity couple announces divorce, fans are shocked.",
         "Government announces a surprise increase in fuel taxes starting Monday.",
         "Heavy snow expected tonight, schools may close tomorrow.",
         "Viral video shows firefighters rescuing a kitten from a tree."]
OPTIONS = ["calm", "moderate", "intense"]


QUESTIONS = [("how strongly do you react emotionally to these posts? Answer calm, moderate or "
              "intense.", OPTIONS),
             ("is your attitude towards the news negative or positive? Answer negative or "
              "positive.", ["negative", "positive"]),
             ("what do you do now: share, post or nothing? Answer with one word.",
              ["share", "post", "nothing"])]


def make_prompts(n: int, tokenizer=None, target_tokens: int = 150) -> list[str]:
    """Deterministic persona + memory prompts of about ``target_tokens`` tokens."""
    rng = np.random.default_rng(0)
    prompts = []
    for i in range(n):
        persona = PERSONAS[i % len(PERSONAS)]
        picks = rng.permutation(len(POSTS))
        text = f"Profile: {persona}.\nRecent posts you have read:\n"
        k = 0
        while True:
            post = POSTS[picks[k % len(POSTS)]]
            candidate = text + f"- {post}\n"
            size = (len(tokenizer(candidate)["input_ids"]) if tokenizer is not None
                    else len(candidate) // 4)
            if size > target_tokens - 25:
                break
            text, k = candidate, k + 1
        text += (f"Question {i}: how strongly do you react emotionally to these posts? "
                 "Answer calm, moderate or intense.")
        prompts.append(text)
    return prompts


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def throughput(model: str, dtype: str, quick: bool) -> dict:
    import torch

    from s3kit.llm import load_llm

    llm, load_s = timed(load_llm, "embedded", model, dtype=dtype, cache=False)
    tok = llm.tokenizer
    prompts = make_prompts(64, tok)
    lens = [len(tok(p)["input_ids"]) for p in prompts]
    print(f"\n== {model} dtype={dtype} (torch threads={torch.get_num_threads()}, "
          f"load {load_s:.1f}s, prompt tokens {min(lens)}-{max(lens)}, mean {np.mean(lens):.0f}; "
          f"+{len(llm.token_ids(llm.prompt_template(SYSTEM)[0]))} shared system tokens) ==")
    llm.score(prompts[:2], OPTIONS, system=SYSTEM)  # warm-up + prefix KV
    results = {}
    for batch, n in ((1, 4 if quick else 8), (16, 16 if quick else 32), (64, 64)):
        llm.batch_size = batch
        llm.reset_prefix_cache()  # no prompt head left over from the previous measurement
        _, secs = timed(llm.score, prompts[:n], OPTIONS, system=SYSTEM)
        results[f"score_b{batch}"] = n / secs
        print(f"score   batch {batch:>2}: {n / secs:7.2f} prompts/s  ({n} prompts, {secs:.1f}s)")
    # one agent's three decisions on the same head (profile + posts read): the prefix cache
    # computes the head once, the 2nd and 3rd questions start from its key/values
    llm.batch_size = 64
    llm.reset_prefix_cache()
    heads = [p[:p.index("Question ")] for p in prompts]
    start = time.perf_counter()
    for q, (question, options) in enumerate(QUESTIONS):
        llm.score([f"{h}Question {q}: {question}" for h in heads], options, system=SYSTEM)
    secs = time.perf_counter() - start
    results["score_3_questions_per_head_b64"] = 3 * len(heads) / secs
    print(f"score, 3 questions per head (prefix cache), batch 64: "
          f"{3 * len(heads) / secs:7.2f} decisions/s ({3 * len(heads)} decisions, {secs:.1f}s)")
    llm.reset_prefix_cache()
    llm.batch_size = 16
    for batch, n_new in ((1, 32), (16, 32)):
        llm.reset_prefix_cache()
        before = llm.stats.completion_tokens
        outs, secs = timed(llm.generate, prompts[:batch], system=SYSTEM, max_new_tokens=n_new)
        made = llm.stats.completion_tokens - before
        results[f"generate_b{batch}_tok_s"] = made / secs
        print(f"generate batch {batch:>2}: {made / secs:7.2f} tokens/s "
              f"({made} tokens, {secs:.1f}s)")
    # naive: one prompt at a time, the model *writes* its answer (HF generate, greedy, full
    # prompt every time, no batching, no prefix reuse), as an agent loop that parses free text
    # would. Two caps: until end-of-turn or 40 tokens (the config's max_new_tokens), and a
    # tight 8 tokens (a lower bound on what parsing a one-word answer needs).
    net = llm.base_model
    n_naive = 4 if quick else 8
    for cap in (40, 8):
        start = time.perf_counter()
        answers, n_tokens = [], 0
        with torch.inference_mode():
            for p in prompts[:n_naive]:
                msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": p}]
                ids = tok.apply_chat_template(msgs, add_generation_prompt=True,
                                              return_tensors="pt", return_dict=True)
                out = net.generate(**ids, max_new_tokens=cap, do_sample=False,
                                   pad_token_id=tok.pad_token_id,
                                   eos_token_id=sorted(llm.eos_token_ids))
                new = out[0, ids["input_ids"].shape[1]:]
                n_tokens += len(new)
                answers.append(tok.decode(new, skip_special_tokens=True))
        naive = n_naive / (time.perf_counter() - start)
        results[f"naive_generate_cap{cap}_prompts_s"] = naive
        results[f"ratio_b64_vs_naive_cap{cap}"] = results["score_b64"] / naive
        print(f"naive generate loop (cap {cap}, mean {n_tokens / n_naive:.1f} new tokens): "
              f"{naive:6.2f} prompts/s, e.g. {answers[0][:60]!r}")
        print(f"  batched score (batch 64) vs this naive loop: "
              f"{results[f'ratio_b64_vs_naive_cap{cap}']:.1f}x")
        ratio3 = results["score_3_questions_per_head_b64"] / naive
        results[f"ratio_3q_vs_naive_cap{cap}"] = ratio3
        print(f"  3 questions per head with the prefix cache vs this naive loop: {ratio3:.1f}x")
    return results


def compare_dtypes(model: str) -> None:
    from s3kit.llm import load_llm

    prompts = None
    probs = {}
    for dtype in ("float32", "bfloat16"):
        llm = load_llm("embedded", model, dtype=dtype, cache=False, batch_size=64)
        prompts = prompts or make_prompts(64, llm.tokenizer)
        llm.score(prompts[:2], OPTIONS, system=SYSTEM)
        probs[dtype], secs = timed(llm.score, prompts, OPTIONS, system=SYSTEM)
        print(f"{model} {dtype:>8}: score batch 64: {64 / secs:.2f} prompts/s")
    diff = np.abs(probs["float32"] - probs["bfloat16"])
    agree = (probs["float32"].argmax(1) == probs["bfloat16"].argmax(1)).mean()
    print(f"bf16 vs fp32: max |dp| {diff.max():.4f}, mean {diff.mean():.4f}, "
          f"argmax agreement {agree:.2f}")


def _read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def quality_tasks(n: int) -> list[tuple[str, list[str], list[int], list[str], str]]:
    """(task, texts, labels, options, question) from $S3KIT_DATA_DIR, n per task."""
    import pandas as pd

    root = os.environ.get("S3KIT_DATA_DIR", "../shared/data")
    rng = np.random.default_rng(0)
    tasks = []
    base = os.path.join(root, "tweeteval", "emotion")
    texts = _read_lines(os.path.join(base, "val_text.txt"))
    labels = [int(x) for x in _read_lines(os.path.join(base, "val_labels.txt"))]
    idx = rng.choice(len(texts), size=min(n, len(texts)), replace=False)
    tasks.append(("tweeteval_emotion", [texts[i] for i in idx], [labels[i] for i in idx],
                  ["anger", "joy", "optimism", "sadness"],
                  "Which emotion does this tweet express: anger, joy, optimism or sadness?"))
    base = os.path.join(root, "tweeteval", "stance_feminist")
    texts = _read_lines(os.path.join(base, "train_text.txt"))
    labels = [int(x) for x in _read_lines(os.path.join(base, "train_labels.txt"))]
    idx = rng.choice(len(texts), size=min(n, len(texts)), replace=False)
    tasks.append(("tweeteval_stance_feminist", [texts[i] for i in idx],
                  [labels[i] for i in idx], ["none", "against", "favor"],
                  "What is the stance of this tweet towards feminism: none, against or favor?"))
    frame = pd.read_csv(os.path.join(root, "twitter_gender", "gender-classifier-DFE-791531.csv"),
                        encoding="latin-1")
    frame = frame[frame["gender"].isin(["male", "female"])
                  & (frame["gender:confidence"] >= 1.0)].fillna({"description": ""})
    frame = frame.sample(n=min(n, len(frame)), random_state=0)
    texts = [f"Bio: {d}\nTweet: {t}" for d, t in zip(frame["description"], frame["text"],
                                                        strict=True)]
    tasks.append(("twitter_gender", texts, [0 if g == "male" else 1 for g in frame["gender"]],
                  ["male", "female"], "Is the author of this account male or female?"))
    return tasks


def quality(models: list[str], dtype: str, n: int) -> None:
    from sklearn.metrics import f1_score

    from s3kit.llm import load_llm

    tasks = quality_tasks(n)
    for model in models:
        llm, load_s = timed(load_llm, "embedded", model, dtype=dtype, cache=False,
                            batch_size=16)
        print(f"\n== quality {model} dtype={dtype} (load {load_s:.1f}s) ==")
        for name, texts, labels, options, question in tasks:
            prompts = [f"{t}\n\n{question}" for t in texts]
            probs, secs = timed(llm.score, prompts, options,
                                system="You are an expert annotator of social media posts. "
                                       "Answer with one word.")
            pred = probs.argmax(1)
            acc = float((pred == np.array(labels)).mean())
            f1 = f1_score(labels, pred, average="macro")
            majority = max(np.bincount(labels)) / len(labels)
            spread = np.bincount(pred, minlength=len(options)) / len(pred)
            print(f"{name:>26}: n={len(labels)} acc {acc:.3f} macro-F1 {f1:.3f} "
                  f"(majority {majority:.3f}); predicted share {np.round(spread, 2).tolist()}; "
                  f"{len(labels) / secs:.1f} prompts/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append")
    parser.add_argument("--dtype", action="append")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--compare-dtype", action="store_true")
    parser.add_argument("--n", type=int, default=100, help="examples per quality task")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    models = args.model or ["smollm2-135m-instruct"]
    if args.compare_dtype:
        for model in models:
            compare_dtypes(model)
    elif args.quality:
        quality(models, (args.dtype or ["float32"])[0], args.n)
    else:
        for model in models:
            for dtype in args.dtype or ["auto"]:
                throughput(model, dtype, args.quick)


if __name__ == "__main__":
    main()
