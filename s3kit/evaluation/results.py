"""What a benchmark run produces: result objects, the JSON of docs/benchmark.md, the table.

* :class:`TaskResult` is one task over the datasets it ran on (:class:`DatasetResult` each,
  with the per-item :class:`LabelPredictions` of label tasks as fields);
  :meth:`TaskResult.entry` is the task's entry in the JSON (pooled metrics + ``by_dataset``).
* :func:`json_safe` and :func:`write_results` write strict JSON (``NaN`` -> ``null``).
* :func:`results_table` compares s3kit, the zero-shot answers, the best baseline and the S3
  paper's figures per task and headline metric.

Examples:
    >>> json_safe({"a": float("nan"), "_private": 1, "b": [np.int64(2)]})
    {'a': None, 'b': [2]}
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .metrics import task_metrics
from .tasks import TASKS

__all__ = ["S3_FIGURES", "HEADLINE", "LOWER_IS_BETTER", "LabelPredictions", "DatasetResult",
           "TaskResult", "json_safe", "write_results", "results_table"]

#: The S3 paper's figures (Gao et al. 2023; two numbers = its two events).
S3_FIGURES: dict[str, dict[str, list[float]]] = {
    "repost": {"acc": [0.662, 0.695], "auc": [0.662, 0.681], "f1": [0.667, 0.758]},
    "emotion": {"acc": [0.718]},
    "attitude": {"acc": [0.743], "auc": [0.727]},
    "attitude_change": {"acc": [0.839], "auc": [0.865]},
    "gender": {"acc": [0.710], "f1": [0.667], "auc": [0.708]},
    "content": {"perplexity": [19.3, 16.1], "cosine": [0.723, 0.741]},
}

#: Headline metrics per task (the table's columns; all are in the JSON).
HEADLINE = {
    "repost": ("acc", "auc", "f1"), "emotion": ("acc", "macro_f1"),
    "attitude": ("acc", "macro_f1", "auc"), "attitude_change": ("acc", "macro_f1", "auc"),
    "gender": ("acc", "f1", "auc"), "content": ("perplexity", "cosine"),
    "spread": ("nrmse", "final_size_error"), "emotion_trend": ("pearson_r", "rmse"),
    "attitude_trend": ("pearson_r", "rmse"),
}

#: Metrics where lower is better (for "beats the baseline").
LOWER_IS_BETTER = {"perplexity", "nrmse", "final_size_error", "rmse"}


# ----------------------------------------------------------------------------- result objects


@dataclass
class LabelPredictions:
    """Every eval item's probabilities on a label task, per model.

    Attributes:
        labels: the label order of the probability columns.
        y: the items' true labels.
        probs: s3kit's probabilities ``(n, len(labels))`` (the calibrated heads, or the
            label-bias calibrated / tuned answer words).
        zero_shot: the LLM's answer-word probabilities (``None``: not scored).
        baseline: the first baseline's probabilities (``None``: no baseline fitted).
        baseline_name: that baseline's name in the entry's ``baselines``.
    """

    labels: list[str]
    y: list
    probs: np.ndarray
    zero_shot: np.ndarray | None = None
    baseline: np.ndarray | None = None
    baseline_name: str | None = None


@dataclass
class DatasetResult:
    """One task evaluated on one dataset.

    Attributes:
        dataset: where the items came from (``"tweeteval"``, ``"mcid_twitter"`` ...).
        entry: the JSON fields of this dataset (``n``, ``metrics``, ``baselines``,
            ``method`` ... as in ``by_dataset`` of docs/benchmark.md).
        predictions: per-item probabilities (label tasks only).
    """

    dataset: str
    entry: dict
    predictions: LabelPredictions | None = None


@dataclass
class TaskResult:
    """One task over every dataset it ran on (or why it could not run).

    Attributes:
        task: the task's name.
        parts: one :class:`DatasetResult` per dataset used, in preference order.
        not_used: why each other candidate dataset was not used.
        seconds: wall time of the evaluation.
    """

    task: str
    parts: list[DatasetResult] = field(default_factory=list)
    not_used: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> str | None:
        """Why the task has no result (``None`` when it ran on at least one dataset)."""
        if self.parts:
            return None
        return "; ".join(self.not_used) or "no dataset"

    def entry(self) -> dict:
        """The task's entry of the results JSON (pooled over datasets, plus ``by_dataset``).

        Label tasks pool the items of every dataset and score them together; the others
        take the item-weighted mean of each metric. ``not_used`` lists the datasets left out.

        Raises:
            ValueError: the task did not run (see :attr:`skipped`).
        """
        if not self.parts:
            raise ValueError(f"{self.task} did not run: {self.skipped}")
        entry = _combine(self.parts)
        if self.not_used:
            entry["not_used"] = list(self.not_used)
        return entry


def _combine(parts: list[DatasetResult]) -> dict:
    if len(parts) == 1:
        part = parts[0]
        return {"dataset": part.dataset, **part.entry,
                "by_dataset": {part.dataset: dict(part.entry)}}
    entry: dict[str, Any] = {"dataset": "+".join(p.dataset for p in parts),
                             "n": int(sum(p.entry["n"] for p in parts))}
    if all(p.predictions is not None for p in parts):
        preds = [p.predictions for p in parts]
        labels = preds[0].labels
        y = sum((list(p.y) for p in preds), [])
        pos = labels[1] if len(labels) == 2 else None
        entry["metrics"] = task_metrics(y, np.concatenate([p.probs for p in preds]), labels,
                                        pos)

        def pooled(name):
            arrays = [getattr(p, name) for p in preds]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        bp, zp = pooled("baseline"), pooled("zero_shot")
        entry["baselines"] = {} if bp is None else {"tfidf_logreg": task_metrics(y, bp, labels,
                                                                                 pos)}
        if zp is not None:
            entry["zero_shot"] = task_metrics(y, zp, labels, pos)
        elif "zero_shot" in parts[0].entry:  # not scored (--quick): keep the reason
            entry["zero_shot"] = parts[0].entry["zero_shot"]
        entry["pooling"] = "metrics on the pooled items of every dataset"
    else:  # content / events: item-weighted mean of each metric
        w = np.array([p.entry["n"] for p in parts], dtype=float)
        entries = [p.entry for p in parts]
        keys = sorted(set.intersection(*(set(e["metrics"]) for e in entries)))
        entry["metrics"] = {k: _weighted_mean([e["metrics"][k] for e in entries], w)
                            for k in keys}
        names = sorted(set.intersection(*(set(e["baselines"]) for e in entries)))
        entry["baselines"] = {}
        for b in names:
            bk = sorted(set.intersection(*(set(e["baselines"][b]) for e in entries)))
            entry["baselines"][b] = {k: _weighted_mean([e["baselines"][b][k] for e in entries], w)
                                     for k in bk
                                     if isinstance(entries[0]["baselines"][b][k], int | float)}
        entry["pooling"] = "item-weighted mean over datasets"
    entry["by_dataset"] = {p.dataset: dict(p.entry) for p in parts}
    return entry


def _weighted_mean(vals, w) -> float:
    v = np.array([np.nan if x is None else float(x) for x in vals])
    ok = ~np.isnan(v)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() else float("nan")


# ----------------------------------------------------------------------------- JSON


def json_safe(obj):
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, ``_``-prefixed keys dropped."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.integer | bool | np.bool_):
        return bool(obj) if isinstance(obj, bool | np.bool_) else int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return obj


def write_results(results: dict, path: str | os.PathLike) -> Path:
    """Write results as strict JSON (``NaN`` -> ``null``), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(results), indent=1, allow_nan=False,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- table


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, list):
        return "/".join(_fmt(x) for x in v)
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"


def results_table(results: dict) -> pd.DataFrame:
    """One row per task and headline metric: s3kit, zero-shot, best baseline, S3 paper, who wins.

    ``s3kit`` is the agents' figure (calibrated heads by default); ``zero_shot`` the same LLM
    answering with its answer words, where the task has it.

    Examples:
        >>> r = {"tasks": {"emotion": {"dataset": "x", "n": 10, "metrics": {"acc": 0.5,
        ...      "macro_f1": 0.4}, "baselines": {"tfidf_logreg": {"acc": 0.6,
        ...      "macro_f1": 0.5}}}}, "skipped": {}}
        >>> results_table(r)[["task", "metric", "s3kit", "baseline", "s3_paper"]].values.tolist()[0]
        ['emotion', 'acc', '0.500', '0.600 (tfidf_logreg)', '0.718']
    """
    rows = []
    for task in TASKS:
        entry = results.get("tasks", {}).get(task)
        if entry is None:
            if task in results.get("skipped", {}):
                rows.append({"task": task, "dataset": "-", "n": 0, "metric": "-",
                             "s3kit": "skipped", "zero_shot": "-", "baseline": "-",
                             "s3_paper": "-",
                             "beats_baseline": "-"})
            continue
        for m in HEADLINE[task]:
            ours = entry.get("metrics", {}).get(m)
            best_name, best = None, None
            for b, vals in (entry.get("baselines") or {}).items():
                v = vals.get(m) if isinstance(vals, dict) else None
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    continue
                if best is None or (v < best if m in LOWER_IS_BETTER else v > best):
                    best_name, best = b, v
            beats = "-"
            if ours is not None and best is not None and math.isfinite(ours):
                beats = "yes" if (ours < best if m in LOWER_IS_BETTER else ours > best) else "no"
            zero = (entry.get("zero_shot") or {}).get(m)
            rows.append({"task": task, "dataset": entry.get("dataset"), "n": entry.get("n"),
                         "metric": m, "s3kit": _fmt(ours),
                         "zero_shot": _fmt(zero) if zero is not None else "-",
                         "baseline": f"{_fmt(best)} ({best_name})" if best_name else "-",
                         "s3_paper": _fmt(S3_FIGURES.get(task, {}).get(m)),
                         "beats_baseline": beats})
    return pd.DataFrame(rows, columns=["task", "dataset", "n", "metric", "s3kit", "zero_shot",
                                       "baseline", "s3_paper", "beats_baseline"])
