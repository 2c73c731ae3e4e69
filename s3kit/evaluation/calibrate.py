"""Fit the calibrated agents' decision heads on observed behaviour (``s3kit tune``).

Every head is trained on the *train side* of a folder laid out like ``shared/data`` (the
deterministic split of :func:`~s3kit.evaluation.tasks.split_dataset`, or all of it with a
separate ``eval_dir``) and validated on the other side, with the items the benchmark uses
(:mod:`s3kit.evaluation.tasks`):

* ``emotion``: CLUE Emotion2020 and TweetEval emotion posts, mapped to calm/moderate/intense;
* ``attitude``: NLPCC-2016, TweetEval stance and RumourEval posts (topic + post);
* ``attitude_change``: RumourEval replies (message replied to, its stance, the reply);
* ``gender``: Twitter gender users and CED source authors (bio + a post);
* ``action``: MCID-Twitter exposures through the real follow graph (the profile text read by
  the LLM, plus what the agent perceives, :data:`s3kit.heads.PERCEIVED`), fitted on the
  observed base rate so that simulated repost rates are real ones. CED and Twitter15 have no
  follow graph, so no exposure negatives: they do not train it.

Representations are cached on disk by text digest, so a re-fit makes no model call.

Examples:
    >>> from s3kit.embeddings import HashingEmbedder
    >>> default_embedder(None, representation="hashing").dim
    256
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..embeddings import E5Embedder, FusedEmbedder, HashingEmbedder, LLMStateEmbedder
from ..heads import HEAD_CLASSES, DecisionHead, DecisionModel
from ..llm import load_llm
from ..paths import cache_dir
from .metrics import classification_report
from .tasks import (
    TASK_DATASETS,
    DatasetPairs,
    Task,
    attitude_change_task,
    attitude_task,
    emotion_task,
    gender_task,
    repost_comment,
    repost_task,
)

__all__ = ["HEAD_TASK", "PRIMARY", "FIDELITY_TOLERANCE", "default_embedder", "head_tasks",
           "action_items", "label_metrics", "fit_decision_model", "fidelity_floors",
           "add_tune_parser", "tune_main"]

#: The benchmark task whose items train each head.
HEAD_TASK = {"emotion": "emotion", "attitude": "attitude", "attitude_change": "attitude_change",
             "gender": "gender", "action": "repost"}

_BUILD = {"emotion": emotion_task, "attitude": attitude_task,
          "attitude_change": attitude_change_task, "gender": gender_task}


def default_embedder(llm, *, representation: str = "llm+e5", cache: str | Path | None = None):
    """The representation the shipped heads read.

    ``"llm+e5"`` (default): the agents' LLM hidden states fused with multilingual e5 (the
    LLM alone carries little signal in Chinese, docs/agents.md); ``"llm"``; ``"e5"``;
    ``"hashing"`` (tests).
    """
    if representation == "hashing":
        return HashingEmbedder(dim=256)
    parts = []
    if "llm" in representation:
        parts.append(LLMStateEmbedder(llm, cache_dir=cache))
    if "e5" in representation:
        parts.append(E5Embedder(cache_dir=cache))
    if not parts:
        raise ValueError(f"unknown representation {representation!r} (llm+e5, llm, e5, "
                         "hashing)")
    return parts[0] if len(parts) == 1 else FusedEmbedder(parts)


def action_items(task: Task) -> Task:
    """Repost items with the profile text the LLM reads (MCID: the screen name)."""
    for df in (task.train, task.eval):
        name = df["name"] if "name" in df.columns else pd.Series(None, index=df.index)
        df["profile"] = name.astype("string").fillna("").to_numpy()
    return task


def head_tasks(data: DatasetPairs, head: str, *, n_train: int | None, n_eval: int | None,
               seed: int = 0) -> tuple[list[Task], list[str]]:
    """The per-dataset tasks that train and validate ``head``, and why others were skipped."""
    name = HEAD_TASK[head]
    out, why = [], []
    own = [n for n in data.own_datasets() if n not in TASK_DATASETS[name]]  # own data too
    for ds in [*TASK_DATASETS[name], *own]:
        pair = data.pair(ds)
        if isinstance(pair, str):
            why.append(pair)
            continue
        tr, ev = pair
        if head == "action":
            if ev.follows.empty:
                why.append(f"{ds}: no follow graph, exposure negatives are not derivable")
                continue
            task = repost_task(tr, ev, ds, n_eval=n_eval, n_train=None, seed=seed)
            if task is not None:
                task.notes["base_rate"] = float((task.train["label"] == "repost").mean())
                task.train = _enriched(task.train, n_train, seed)
                task = action_items(task)
        else:
            task = _BUILD[head](tr, ev, ds, n_eval=n_eval, n_train=n_train, seed=seed)
        if task is None or task.train.empty or task.train["label"].nunique() < 2:
            why.append(f"{ds}: no labelled items on both sides")
            continue
        out.append(task)
    return out, why


def _enriched(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """Every positive (up to ``n/2``) and negatives sampled up to ``n`` rows in all.

    Positives are rare among exposures (under 1% on MCID); the head is fitted on this
    enriched sample and moved back to the observed rate (:meth:`DecisionHead.set_base_rate`).
    """
    if n is None or len(df) <= n:
        return df.reset_index(drop=True)
    pos, neg = df[df["label"] == "repost"], df[df["label"] != "repost"]
    pos = pos.sample(n=min(len(pos), n // 2), random_state=seed)
    neg = neg.sample(n=min(len(neg), n - len(pos)), random_state=seed)
    return pd.concat([pos, neg]).sort_index().reset_index(drop=True)


def label_metrics(y, probs, labels) -> dict:
    """acc, macro-F1, F1 and AUC (positive = the second label) of probabilities, rounded."""
    pos = labels[1] if len(labels) == 2 else None
    r = classification_report(list(y), probs, labels=list(labels), pos_label=pos)
    return {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in r.items()}


def _digest(frames: list[pd.DataFrame]) -> str:
    h = hashlib.sha256()
    for df in frames:
        h.update(pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _comment_share(data: DatasetPairs) -> float | None:
    """Share of CED reposts (train side) that carry the reposter's own words."""
    pair = data.pair("ced")
    if isinstance(pair, str) or pair[0].posts.empty:
        return None
    p = pair[0].posts
    reposts = p[p["parent_id"].notna() | (p.get("kind", pd.Series(index=p.index)) == "repost")]
    if reposts.empty:
        return None
    return round(float((repost_comment(reposts["text"]).str.len() >= 2).mean()), 4)


def fit_decision_model(train_dir, eval_dir=None, *, llm=None, embedder=None,
                       heads=tuple(HEAD_CLASSES), n_train: int | None = 2000,
                       n_eval: int | None = 400, seed: int = 0, progress: bool = True,
                       data: DatasetPairs | None = None, validate: bool = True
                       ) -> tuple[DecisionModel, pd.DataFrame]:
    """Fit every head on the train side; validate each on the eval side.

    Args:
        train_dir: a folder laid out like ``shared/data``.
        eval_dir: validate on this folder (``None``: the deterministic validation split of
            ``train_dir``; the heads never see it).
        llm: the embedded backend whose hidden states the heads read (``None``: loaded).
        embedder: the representation (``None``: :func:`default_embedder` with an on-disk
            cache under the s3kit cache folder).
        heads: which heads to fit.
        n_train: training items per dataset (``None``: all).
        n_eval: validation items per dataset (balanced).
        seed: sampling and CV seed.
        progress: progress bars.
        data: already loaded :class:`~s3kit.evaluation.tasks.DatasetPairs`.
        validate: score the eval side (``False``: never look at it, as the benchmark does
            before its own scoring).

    Returns:
        ``(model, table)``: the :class:`~s3kit.heads.DecisionModel` (its ``info`` holds the
        training-data digest and the validation metrics) and one row per head and dataset
        (plus the action head's ablation rows).
    """
    data = data or DatasetPairs(train_dir, eval_dir, progress=False)
    if embedder is None:
        if llm is None:
            llm = load_llm("embedded", cache=False)
        embedder = default_embedder(llm, cache=cache_dir() / "representations")
    model = DecisionModel(embedder)
    rows, frames, skipped = [], [], {}
    for head in heads:
        t0 = time.perf_counter()
        tasks, why = head_tasks(data, head, n_train=n_train, n_eval=n_eval, seed=seed)
        if why:
            skipped[head] = why
        if not tasks:
            continue
        train = pd.concat([t.train for t in tasks], ignore_index=True)
        frames.append(train)
        if progress:
            print(f"{head}: {len(train)} training items from "
                  f"{', '.join(t.dataset for t in tasks)}", file=sys.stderr, flush=True)
        model.fit_head(head, train, balanced=head != "action", seed=seed, progress=progress)
        if head == "action":  # back to the observed repost rate among exposures
            rates = [t.notes["base_rate"] for t in tasks]
            weights = [len(t.train) for t in tasks]
            model.heads[head].set_base_rate(float(np.average(rates, weights=weights)))
        labels = list(HEAD_CLASSES[head])
        for t in tasks if validate else ():
            probs = model.predict_proba(head, t.eval, observed_rate=False)  # balanced items
            rows.append({"head": head, "dataset": t.dataset, "features": "all",
                         "n_train": len(t.train), "n_eval": len(t.eval),
                         **label_metrics(t.eval["label"], probs, labels)})
            if head == "action":
                rows += _action_ablation(model, t, seed)
        if progress:
            print(f"{head}: fitted in {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
    table = pd.DataFrame(rows)
    model.info.update({"training_data_digest": _digest(frames), "skipped": skipped,
                       "comment_share": _comment_share(data), "n_train_per_dataset": n_train,
                       "validation_split": "tasks.split_dataset (md5 of the id < 0.2)"
                       if eval_dir is None else str(eval_dir)})
    return model, table


def _action_ablation(model: DecisionModel, task: Task, seed: int) -> list[dict]:
    """The action head on the LLM's representation alone and on the perceived context alone."""
    ytr = task.train["label"].astype(str).tolist()
    out = []
    views = {"llm representation only": "action_profile",
             "perceived context only (exposure baseline)": "action"}
    for name, view in views.items():
        xtr, xev = model.features(view, task.train), model.features(view, task.eval)
        if view == "action":
            xtr, xev = xtr[:, :-1], xev[:, :-1]  # without the LLM's logit
        head = DecisionHead("action", HEAD_CLASSES["action"], balanced=False, seed=seed)
        probs = head.fit(xtr, ytr).predict_proba(xev)
        out.append({"head": "action", "dataset": task.dataset, "features": name,
                    "n_train": len(task.train), "n_eval": len(task.eval),
                    **label_metrics(task.eval["label"], probs, list(HEAD_CLASSES["action"]))})
    return out


#: How far below its validation figure a head may score on a small fixed sample before the
#: fidelity test fails (120 items per dataset: the standard error of an accuracy is ~.045).
FIDELITY_TOLERANCE = 0.10

#: The metric a head is judged on (the benchmark's primary metric of its task).
PRIMARY = {"emotion": "macro_f1", "attitude": "macro_f1", "attitude_change": "macro_f1",
           "gender": "acc", "action": "auc"}


def fidelity_floors(table: pd.DataFrame, tolerance: float = FIDELITY_TOLERANCE) -> dict:
    """Per head and dataset: the primary metric's floor (validation figure - tolerance)."""
    out: dict = {}
    for row in table[table["features"] == "all"].to_dict(orient="records"):
        metric = PRIMARY[row["head"]]
        value = row.get(metric)
        if value is not None and np.isfinite(value):
            out.setdefault(row["head"], {})[row["dataset"]] = {
                "metric": metric, "validation": round(float(value), 4),
                "floor": round(float(value) - tolerance, 4), "tolerance": tolerance}
    return out


# ----------------------------------------------------------------------------- CLI


def add_tune_parser(subparsers) -> None:
    """Register ``s3kit tune``."""
    p = subparsers.add_parser(
        "tune", help="fit the calibrated agents' decision heads on a data folder",
        description="Fit every decision head (emotion, attitude, attitude_change, action, "
        "gender) on the train side of a folder laid out like shared/data and print the "
        "validation table.")
    p.add_argument("--train-dir", required=True, help="folder laid out like shared/data")
    p.add_argument("--eval-dir", default=None,
                   help="validate here (default: the deterministic validation split)")
    p.add_argument("--out", default="default",
                   help="heads name (saved under the s3kit cache) or a folder path")
    p.add_argument("--n-train", type=int, default=2000, help="training items per dataset")
    p.add_argument("--n-eval", type=int, default=400, help="validation items per dataset")
    p.add_argument("--representation", default="llm+e5",
                   choices=["llm+e5", "llm", "e5", "hashing"])
    p.add_argument("--heads", default=",".join(HEAD_CLASSES),
                   help="comma-separated heads to fit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=tune_main)


def tune_main(args: argparse.Namespace) -> int:
    """Run ``s3kit tune``: fit, print the validation table, save heads + manifest."""
    if not Path(args.train_dir).is_dir():
        print(f"s3kit tune: error: --train-dir {args.train_dir}: no such folder",
              file=sys.stderr)
        return 2
    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    bad = [h for h in heads if h not in HEAD_CLASSES]
    if bad:
        print(f"s3kit tune: error: unknown heads {bad} (choose from {list(HEAD_CLASSES)})",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    llm = None
    if "llm" in args.representation:
        llm = load_llm("embedded", cache=False)
    embedder = default_embedder(llm, representation=args.representation,
                                cache=cache_dir() / "representations")
    model, table = fit_decision_model(args.train_dir, args.eval_dir, llm=llm,
                                      embedder=embedder, heads=heads, n_train=args.n_train,
                                      n_eval=args.n_eval, seed=args.seed,
                                      progress=not args.quiet)
    opts = [("--train-dir", args.train_dir), ("--eval-dir", args.eval_dir),
            ("--out", args.out), ("--n-train", args.n_train), ("--n-eval", args.n_eval),
            ("--representation", args.representation), ("--heads", args.heads),
            ("--seed", args.seed)]
    command = "s3kit tune " + " ".join(f"{k} {shlex.quote(str(v))}" for k, v in opts
                                       if v is not None)
    metrics = table.to_dict(orient="records")
    model.info["fidelity_floors"] = fidelity_floors(table)
    path = model.save(args.out, metrics=metrics,
                      data_digest=model.info.get("training_data_digest"), command=command)
    table.to_csv(path / "validation.csv", index=False)
    cols = [c for c in ("head", "dataset", "features", "n_train", "n_eval", "acc", "macro_f1",
                        "auc") if c in table.columns]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table[cols].round(3).to_string(index=False))
    print(f"heads saved to {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    np.seterr(all="ignore")
