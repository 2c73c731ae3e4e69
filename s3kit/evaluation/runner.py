"""The benchmark's public runner: :func:`evaluate` one task on every dataset it has.

For each candidate dataset of a task the runner builds the task's items
(:mod:`s3kit.evaluation.tasks`), lets the agents decide (calibrated heads, or the LLM's
answer words from :mod:`s3kit.evaluation.decisions`), fits and scores the task's classical
baselines (:mod:`s3kit.evaluation.task_baselines`) on the same items, and for the
population tasks replays events through the simulation (:mod:`s3kit.evaluation.replays`).
It returns a :class:`~s3kit.evaluation.results.TaskResult`; ``s3kit bench``
(:func:`s3kit.evaluation.bench.run_bench`) and the notebooks' report helpers
(:func:`s3kit.reports.run_label_tasks`) both call it.

Examples:
    >>> import tempfile
    >>> from s3kit.llm import FakeLLM
    >>> from s3kit.evaluation.tasks import DatasetPairs
    >>> data = DatasetPairs(tempfile.mkdtemp(), None, progress=False)
    >>> result = evaluate("emotion", data, BenchContext(FakeLLM()), BenchSizes(quick=True))
    >>> result.parts, result.skipped.startswith("clue_emotion2020 not found")
    ([], True)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..agent import COMMENT_STOP
from ..llm.models import release_heap
from ..text import detect_language
from ..tuning import apply_bias, fit_bias
from .calibrate import HEAD_TASK, action_items
from .context import BenchContext
from .decisions import content_prompts, predict_labels, prefix_tuned_probs
from .metrics import (
    MetricUndefinedWarning,
    embedding_cosine,
    final_size_error,
    pearson_r,
    perplexity,
    spread_nrmse,
    task_metrics,
    trend_rmse,
)
from .replays import real_trend, simulated_trend
from .results import HEADLINE, DatasetResult, LabelPredictions, TaskResult, json_safe
from .sizes import BenchSizes
from .task_baselines import (
    content_baselines,
    fit_graph_models,
    label_baseline,
    repost_cascade_baseline,
    spread_baseline_curves,
    trend_classifier,
)
from .tasks import (
    LABEL_TASKS,
    TASK_DATASETS,
    TASKS,
    DatasetPairs,
    Task,
    attitude_change_task,
    attitude_task,
    balanced_sample,
    content_task,
    emotion_task,
    event_task,
    gender_task,
    repost_task,
)

__all__ = ["evaluate", "candidate_datasets", "BenchContext", "BenchSizes", "TaskResult"]


def candidate_datasets(task: str, data: DatasetPairs) -> list[str]:
    """Datasets that may feed ``task``, in preference order.

    The task's known datasets (:data:`~s3kit.evaluation.tasks.TASK_DATASETS`), then for
    ``spread`` any Twitter15-style tree folder, then every folder of the user's own data.
    """
    names = list(TASK_DATASETS[task])
    if task == "spread":
        names += data.tree_datasets()
    names += [n for n in data.own_datasets() if n not in names]  # own data: every task
    return names


def evaluate(task: str, data: DatasetPairs, context: BenchContext, sizes: BenchSizes, *,
             datasets: Sequence[str] | None = None) -> TaskResult:
    """Evaluate the agents and the task's baselines on every dataset the task has.

    Args:
        task: a task of :data:`~s3kit.evaluation.tasks.TASKS`.
        data: the train and eval sides of each dataset.
        context: the agents (LLM, heads), seed and the run's caches.
        sizes: how many items, events and steps.
        datasets: the candidate datasets in order (default: :func:`candidate_datasets`).

    Returns:
        A :class:`~s3kit.evaluation.results.TaskResult` (no parts, with the reasons in
        ``not_used``, when no dataset could feed the task).

    Raises:
        ValueError: an unknown task.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {list(TASKS)}")
    t0 = time.perf_counter()
    result = TaskResult(task)
    for name in candidate_datasets(task, data) if datasets is None else datasets:
        pair = data.pair(name)
        if isinstance(pair, str):
            result.not_used.append(pair)
            continue
        part = _evaluate_on(task, name, pair, data, context, sizes)
        release_heap()  # a dataset's passes and tables are freed: hand the pages back
        if isinstance(part, str):
            result.not_used.append(f"{name}: {part}")
        else:
            result.parts.append(part)
    result.seconds = time.perf_counter() - t0
    return result


def _evaluate_on(task: str, name: str, pair, data: DatasetPairs, context: BenchContext,
                 sizes: BenchSizes) -> DatasetResult | str:
    """One task on one dataset, or why it cannot run there."""
    train, ev = pair
    seed = context.seed
    if task in LABEL_TASKS:
        n = sizes.n_label
        if task == "repost":
            if name != "mcid_twitter" and ev.follows.empty:
                return "no follow graph: exposure is not derivable"
            items = repost_task(train, ev, name, n_eval=n, n_train=5000, seed=seed)
        else:
            build = {"emotion": emotion_task, "attitude": attitude_task,
                     "attitude_change": attitude_change_task, "gender": gender_task}[task]
            items = build(train, ev, name, n_eval=n, seed=seed)
        if items is None:
            return "no items for this task"
        part = _evaluate_labels(items, context, sizes)
        part.entry["notes"] = items.notes
        if task == "repost":
            part.entry["baselines"]["independent_cascade"] = repost_cascade_baseline(items,
                                                                                     train)
        return part
    if task == "content":
        items = content_task(train, ev, name, n_eval=sizes.n_content, n_train=20000,
                             seed=seed)
        if items is None:
            return "no replies/reposts with text"
        part = _evaluate_content(items, context, sizes)
        part.entry["notes"] = items.notes
        return part
    return _evaluate_events(task, name, pair, data, context, sizes)


# ----------------------------------------------------------------------------- label tasks


def _label_counts(items: pd.DataFrame) -> dict:
    return {k: int(v) for k, v in items["label"].value_counts().items()}


def _evaluate_labels(task: Task, context: BenchContext, sizes: BenchSizes) -> DatasetResult:
    labels = list(task.labels)
    pos = labels[1] if len(labels) == 2 else None
    ev = task.eval
    t0 = time.perf_counter()
    heads = context.heads_for(task.name)
    if heads is not None and not sizes.zero_shot_row:
        return _evaluate_with_heads(task, heads, {"note": "not scored in --quick"}, None, t0)
    llm, seed = context.llm, context.seed
    probs = predict_labels(llm, task.name, ev, labels)
    zero_probs = probs
    zero = task_metrics(ev["label"], probs, labels, pos)
    if heads is not None:
        return _evaluate_with_heads(task, heads, zero, zero_probs, t0)
    method = "zero-shot"
    bias = None
    tuned = (prefix_tuned_probs(task, llm, sizes, seed, context.progress)
             if sizes.tune_steps > 0 and getattr(llm, "backend", None) == "embedded" else None)
    cal = balanced_sample(task.train, sizes.n_calibrate, seed=seed + 1) if len(task.train) \
        else task.train
    if tuned is not None:  # the tuned head replaces the calibration
        probs, method = tuned
    elif len(cal) >= 2 * len(labels) and cal["label"].nunique() == len(labels):
        cprobs = predict_labels(llm, task.name, cal, labels)
        bias = fit_bias(cprobs, cal["label"].tolist(), labels)
        probs = apply_bias(probs, bias)
        method = f"label-prior calibration on {len(cal)} train items"
    metrics = task_metrics(ev["label"], probs, labels, pos)
    seconds = time.perf_counter() - t0
    baselines, base_probs = label_baseline(task)
    entry = {"n": int(len(ev)), "metrics": metrics, "baselines": baselines,
             "method": method, "zero_shot": zero, "seconds": round(seconds, 1),
             "label_counts": _label_counts(ev)}
    if bias is not None:
        entry["bias"] = [float(b) for b in bias]
    return DatasetResult(task.dataset, entry, _predictions(task, probs, zero_probs, baselines,
                                                           base_probs))


def _predictions(task: Task, probs, zero_probs, baselines: dict, base_probs
                 ) -> LabelPredictions:
    return LabelPredictions(
        labels=list(task.labels), y=task.eval["label"].tolist(),
        probs=np.asarray(probs, dtype=float),
        zero_shot=None if zero_probs is None else np.asarray(zero_probs, dtype=float),
        baseline=None if base_probs is None else np.asarray(base_probs, dtype=float),
        baseline_name=None if base_probs is None else next(iter(baselines)))


def _evaluate_with_heads(task: Task, heads, zero: dict, zero_probs, t0: float
                         ) -> DatasetResult:
    """s3kit's figure from the calibrated heads (fitted on the train side only)."""
    head = {v: k for k, v in HEAD_TASK.items()}[task.name]
    labels = list(task.labels)
    if head == "action":  # balanced eval items: the repost head at a 50% prior, as the
        # class-balanced baselines (its shipped rate is the observed 0.6% per exposure)
        task = action_items(task)
        heads = heads.with_action_rate(0.5)
    ev = task.eval
    probs = heads.predict_proba(head, ev)
    metrics = task_metrics(ev["label"], probs, labels, labels[1] if len(labels) == 2 else None)
    seconds = time.perf_counter() - t0
    baselines, base_probs = label_baseline(task)
    entry = {"n": int(len(ev)), "metrics": metrics, "baselines": baselines,
             "method": f"calibrated {head} head on {heads.embedder.name} "
                       f"({heads.heads[head].n_train_} train items)",
             "zero_shot": zero, "seconds": round(seconds, 1),
             "label_counts": _label_counts(ev)}
    return DatasetResult(task.dataset, entry, _predictions(task, probs, zero_probs, baselines,
                                                           base_probs))


# ----------------------------------------------------------------------------- content


def _evaluate_content(task: Task, context: BenchContext, sizes: BenchSizes) -> DatasetResult:
    ev, llm = task.eval, context.llm
    prompts, system = content_prompts(ev)
    t0 = time.perf_counter()
    # as a replay's agents write a repost comment: greedy, one line
    gen = llm.generate(prompts, system=system, max_new_tokens=sizes.max_new_tokens,
                       temperature=0.0, seed=context.seed, stop=list(COMMENT_STOP))
    lp, nt = llm.logprob(prompts, [str(t) for t in ev["text"]], system=system)
    emb = context.embedder(str(ev["language"].iloc[0]))
    real = emb.embed([str(t) for t in ev["text"]])
    cos = embedding_cosine(emb.embed([g or "" for g in gen]), real)
    seconds = time.perf_counter() - t0
    metrics = {"perplexity": perplexity(lp, nt), "cosine": float(np.nanmean(cos)),
               "tokens": int(np.sum(nt))}
    entry = {"n": int(len(ev)), "metrics": metrics,
             "baselines": content_baselines(task, emb, real),
             "method": f"generate (greedy, one line, at most {sizes.max_new_tokens} new "
                       "tokens) + logprob",
             "embedder": type(emb).__name__, "seconds": round(seconds, 1),
             "examples": [{"context": str(c)[:200], "real": str(r)[:200], "generated": g[:200]}
                          for c, r, g in list(zip(ev["context"], ev["text"], gen,
                                                  strict=True))[:3]],
             "notes_perplexity": "no classical perplexity baseline: token units differ"}
    return DatasetResult(task.dataset, entry)


# ----------------------------------------------------------------------------- events


def _evaluate_events(task: str, name: str, pair, data: DatasetPairs, context: BenchContext,
                     sizes: BenchSizes) -> DatasetResult | str:
    train, ev = pair
    seed = context.seed
    if task != "spread" and name not in ("ced", "rumoureval2017"):
        return "no post texts/labels for trends"
    events = event_task(task, train, ev, name, n_eval=sizes.n_events, min_size=10,
                        max_size=sizes.max_agents * 20, seed=seed)
    if events is None:
        return "no event with at least 10 adopters"
    graph_models = None
    if task == "spread" and len(train.follows):
        graph_models = fit_graph_models(train, sizes, seed)
    classifier = trend_classifier(data, task) if task != "spread" else None
    rows, curves = [], []
    for event_id in events.eval["event_id"]:
        replay = context.replay(name, ev, event_id, sizes)
        if task == "spread":
            base = spread_baseline_curves(replay, graph_models, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MetricUndefinedWarning)
                row = {"event_id": event_id, "real_final": float(replay.real[-1]),
                       "sim_final": float(replay.sim[-1]), "population": replay.population,
                       "graph": replay.graph, "step_hours": replay.step_hours,
                       "nrmse": spread_nrmse(replay.real, replay.sim),
                       "final_size_error": final_size_error(replay.real, replay.sim)}
                for b, c in base.items():
                    if isinstance(c, np.ndarray):
                        row[f"{b}:nrmse"] = spread_nrmse(replay.real, c)
                        row[f"{b}:final_size_error"] = final_size_error(replay.real, c)
            rows.append(row)
            curves.append({"event_id": str(event_id), "real": replay.real.tolist(),
                           "sim": replay.sim.tolist(),
                           **{b: c.tolist() for b, c in base.items()
                              if isinstance(c, np.ndarray)}})
        else:
            lang = detect_language(replay.posts["text"].fillna("").tolist())
            real, source = real_trend(task, replay.dataset.posts, replay.t0,
                                      replay.step_hours, len(replay.real) - 1,
                                      (classifier or {}).get(lang))
            sim = simulated_trend(task, replay)
            early = replay.early_steps
            persist = np.full(len(real), np.nan)
            obs = real[: early + 1][~np.isnan(real[: early + 1])]
            if len(obs):
                persist[early + 1:] = obs.mean()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MetricUndefinedWarning)
                mask = np.arange(len(real)) > early
                row = {"event_id": event_id, "real_source": source,
                       "pearson_r": pearson_r(sim[mask], real[mask]),
                       "rmse": trend_rmse(sim[mask], real[mask]),
                       "persistence:rmse": trend_rmse(persist[mask], real[mask]),
                       "persistence:pearson_r": float("nan")}
            rows.append(row)
            curves.append({"event_id": str(event_id), "real": real.tolist(),
                           "sim": sim.tolist(), "persistence": persist.tolist()})
    return DatasetResult(name, _events_entry(task, pd.DataFrame(rows), curves, events, sizes))


def _events_entry(task: str, df: pd.DataFrame, curves: list[dict], events: Task,
                  sizes: BenchSizes) -> dict:
    """Mean of each per-event metric (columns ``baseline:metric`` are the baselines')."""
    metric_cols = [c for c in df.columns if c in HEADLINE[task]]
    metrics = {c: float(np.nanmean(df[c].to_numpy(float))) if df[c].notna().any()
               else float("nan") for c in metric_cols}
    baselines: dict[str, dict] = {}
    for c in df.columns:
        if ":" in c:
            b, m = c.split(":", 1)
            vals = df[c].to_numpy(float)
            baselines.setdefault(b, {})[m] = (float(np.nanmean(vals)) if np.isfinite(vals).any()
                                              else float("nan"))
    entry = {"n": int(len(df)), "metrics": metrics, "baselines": baselines,
             "events": json_safe(df.to_dict("records")), "curves": curves,
             "method": (f"simulation replay from the source + adopters of the first step, then "
                        f"{sizes.n_steps} simulated steps (step = 90% adoption time / "
                        f"{sizes.n_steps + 1}); <= {sizes.max_agents} sampled participants "
                        "(+ as many followers on a follow graph)"),
             "notes": events.notes}
    if task != "spread":
        entry["real_trend_source"] = sorted(set(df["real_source"]))
        entry["trend"] = ("share of non-calm (moderate+intense) posts per step" if
                          task == "emotion_trend" else "share of positive attitudes per step")
    return entry
