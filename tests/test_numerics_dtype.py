"""Decisions at the default dtype: bf16 agrees with fp32 on a fixed set.

On CPUs with native bf16 (``amx_bf16``/``avx512_bf16``, as here and on CI) the embedded model
runs in bfloat16 by default (``dtype="auto"``), while the other real-model tests pin float32
for their 1e-5 comparisons. Agents decide through the shipped calibrated heads on the LLM's
hidden states, so what matters is that the heads' decisions do not move with the dtype.

Fixed set: the first 48 distinct post texts of the shipped sample (``data/sample``), the
sample's rumour topic, its users' bios as profiles, and seeded exposure counts. Heads: emotion,
attitude and the repost (action) head (balanced: without the observed-rate shift, which
makes every item "nothing" on this set), each on the representation from the fp32 and from the
bf16 model (the e5 half of the representation does not depend on the dtype: computed once).

Measured (2026-12-02, SmolLM2-135M, this 2-core CPU; 80 items, emotion / attitude / gender):
agreement 100% / 100% / 100%, largest probability difference 0.0067 (the narrowest fp32
margin was 0.0008 and still agreed). Asserted with margin: agreement >= 95% per head, and
probabilities within 0.05.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.llm, pytest.mark.slow]

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
N_ITEMS = 48
HEADS = ("emotion", "attitude", "action")
AGREEMENT_FLOOR = 0.95
MAX_PROB_DIFF = 0.05
TOPIC = "the new flu vaccine becomes mandatory for all workers"


def fixed_items() -> pd.DataFrame:
    posts = pd.read_csv(SAMPLE / "posts.csv")
    bios = pd.read_csv(SAMPLE / "users.csv")["bio"].tolist()
    texts = posts["text"].drop_duplicates().head(N_ITEMS).tolist()
    rng = np.random.default_rng(0)
    items = pd.DataFrame({"text": texts, "topic": TOPIC,
                          "profile": [bios[(7 * i) % len(bios)] for i in range(len(texts))]})
    for col, high in (("n_exposures", 6), ("mutual_exposures", 3), ("history", 4),
                      ("n_followees", 40), ("n_followers", 60)):
        items[col] = rng.integers(0, high, size=len(items))
    return items


@pytest.fixture(scope="module")
def decisions():
    pytest.importorskip("torch")
    from s3kit.embeddings import FusedEmbedder
    from s3kit.heads import DecisionModel
    from s3kit.llm import load_llm

    items = fixed_items()
    fp32 = DecisionModel.load("default", llm=load_llm("embedded", dtype="float32", cache=False))
    bf16 = DecisionModel.load("default", llm=load_llm("embedded", dtype="bfloat16",
                                                      cache=False))
    assert isinstance(fp32.embedder, FusedEmbedder)
    # same representation but for the dtype, which the LLM part's name carries (cache keys)
    names = [[p.name for p in m.embedder.parts] for m in (fp32, bf16)]
    assert names[0][0].endswith("-float32") and names[1][0].endswith("-bfloat16")
    assert names[0][0].rsplit("-", 1)[0] == names[1][0].rsplit("-", 1)[0]
    assert names[0][1:] == names[1][1:]
    bf16.embedder.parts[1:] = fp32.embedder.parts[1:]  # e5: dtype-free, encoded once
    got = {h: (fp32.predict_proba(h, items, observed_rate=False),
               bf16.predict_proba(h, items, observed_rate=False)) for h in HEADS}
    dtypes = (fp32.embedder.parts[0].llm.loaded_dtype, bf16.embedder.parts[0].llm.loaded_dtype)
    return got, dtypes


def test_the_default_dtype_is_the_one_compared():
    pytest.importorskip("torch")
    import torch

    from s3kit.llm.models import cpu_has_fast_bf16, resolve_dtype

    want = torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    assert resolve_dtype("auto") == want  # where it is float32, fp32 is compared with itself


def test_bf16_decisions_agree_with_fp32(decisions):
    got, dtypes = decisions
    assert dtypes == ("float32", "bfloat16")
    report = {}
    for head, (p32, p16) in got.items():
        assert p32.shape == p16.shape == (N_ITEMS, 2 if head != "emotion" else 3)
        agreement = float((p32.argmax(1) == p16.argmax(1)).mean())
        diff = float(np.abs(p32 - p16).max())
        report[head] = (round(agreement, 3), round(diff, 4), np.bincount(p32.argmax(1)).tolist())
    print("\nbf16 vs fp32 (agreement, max |dp|, fp32 class counts):", report)
    for head, (p32, _) in got.items():  # not degenerate: fp32 makes more than one decision
        assert len(set(p32.argmax(1))) > 1, (head, report)
    for agreement, diff, _ in report.values():
        assert agreement >= AGREEMENT_FLOOR, report
        assert diff <= MAX_PROB_DIFF, report
    # and bf16 really ran: its probabilities are not fp32's to the last bit
    assert any(not np.array_equal(p32, p16) for p32, p16 in got.values())
