"""Every item's predictions as one tidy frame, and the ROC / calibration numbers drawn from it.

The frame has one row per task, dataset, model, item and label (``task, dataset, model, item,
y_true, label, prob``; ``model`` is ``"s3kit"`` for the agents, ``"zero-shot"`` for the LLM's
answer words, else the baseline's name). :func:`tidy_predictions` makes it from a runner's
:class:`~s3kit.evaluation.results.LabelPredictions`; :func:`roc_frame` and
:func:`calibration_frame` return the numbers the figures of :mod:`s3kit.plotting` draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .results import LabelPredictions

__all__ = ["AGENTS", "ZERO_SHOT", "PREDICTION_COLUMNS", "tidy_predictions",
           "select_predictions", "wide_predictions", "roc_frame", "calibration_frame"]

#: The agents' model name in prediction frames.
AGENTS = "s3kit"
#: Model name of the zero-shot answers in prediction frames (kept next to calibrated agents).
ZERO_SHOT = "zero-shot"
#: Columns of a prediction frame.
PREDICTION_COLUMNS = ["task", "dataset", "model", "item", "y_true", "label", "prob"]


def tidy_predictions(task: str, dataset: str, pred: LabelPredictions,
                     zero_shot: bool = False) -> pd.DataFrame:
    """One task's predictions on one dataset as a tidy frame (agents, baseline, zero-shot).

    Args:
        task: the task's name.
        dataset: the dataset's name.
        pred: the runner's per-item probabilities.
        zero_shot: also keep the zero-shot answers (as model ``"zero-shot"``).
    """
    parts = [(AGENTS, pred.probs)]
    if pred.baseline is not None:
        parts.append((pred.baseline_name, pred.baseline))
    if zero_shot and pred.zero_shot is not None:
        parts.append((ZERO_SHOT, pred.zero_shot))
    frames = []
    for model, probs in parts:
        n, k = probs.shape
        frames.append(pd.DataFrame({
            "task": task, "dataset": dataset, "model": model,
            "item": np.repeat(np.arange(n), k),
            "y_true": np.repeat(np.asarray(pred.y, dtype=object), k),
            "label": np.tile(np.asarray(pred.labels, dtype=object), n),
            "prob": probs.reshape(-1)}))
    return pd.concat(frames, ignore_index=True)


def select_predictions(predictions: pd.DataFrame, task: str | None, model: str | None = None,
                       dataset: str | None = None) -> pd.DataFrame:
    """Rows of one task / model / dataset (``model="baseline"``: the first non-agent model).

    Raises:
        ValueError: nothing matches.
    """
    df = predictions
    if task is not None:
        df = df[df["task"] == task]
    if model == "baseline":  # the task's baseline: the first model that is not the agents
        others = [m for m in dict.fromkeys(df["model"]) if m != AGENTS]
        model = others[0] if others else model
    if model is not None:
        df = df[df["model"] == model]
    if dataset is not None:
        df = df[df["dataset"] == dataset]
    if df.empty:
        raise ValueError(f"no predictions for task={task!r} model={model!r} "
                         f"dataset={dataset!r}")
    return df


def wide_predictions(df: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """Items as rows, labels as columns (probabilities), plus ``y_true``; label order kept."""
    labels = list(dict.fromkeys(df["label"]))
    keys = [c for c in ("task", "dataset", "model", "item") if c in df.columns]
    wide = df.pivot_table(index=keys, columns="label", values="prob", aggfunc="first",
                          observed=True)[labels]
    truth = df.groupby(keys, observed=True)["y_true"].first()
    wide["y_true"] = truth.reindex(wide.index).to_numpy()
    return wide.reset_index(), labels


def roc_frame(predictions: pd.DataFrame, task: str | None = None) -> pd.DataFrame:
    """ROC curve points per model (all datasets of the task pooled).

    Two labels: the positive class is the task's second label (``positive``, ``female``,
    ``repost``), as in the benchmark's AUC. More labels: the micro-average of one-vs-rest
    (every item-label pair is one binary decision).

    Args:
        predictions: a prediction frame (:attr:`s3kit.reports.LabelRun.predictions`).
        task: the task to draw (``None``: the frame holds one task).

    Returns:
        Tidy frame ``model, fpr, tpr, threshold, auc`` (``auc`` repeated on every row).

    Examples:
        >>> p = pd.DataFrame({"task": "t", "dataset": "d", "model": "m",
        ...                   "item": [0, 0, 1, 1, 2, 2], "y_true": ["a", "a", "b", "b", "b", "b"],
        ...                   "label": ["a", "b"] * 3, "prob": [.8, .2, .3, .7, .6, .4]})
        >>> float(roc_frame(p)["auc"].iloc[0])
        1.0
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    df = select_predictions(predictions, task)
    out = []
    for model, part in df.groupby("model", sort=False, observed=True):
        wide, labels = wide_predictions(part)
        if len(labels) == 2:
            truth = (wide["y_true"] == labels[1]).to_numpy(int)
            score = wide[labels[1]].to_numpy(float)
        else:
            truth = np.concatenate([(wide["y_true"] == lab).to_numpy(int) for lab in labels])
            score = np.concatenate([wide[lab].to_numpy(float) for lab in labels])
        if truth.min() == truth.max():
            continue  # one class only: the ROC is undefined
        fpr, tpr, thr = roc_curve(truth, score)
        out.append(pd.DataFrame({"model": model, "fpr": fpr, "tpr": tpr, "threshold": thr,
                                 "auc": float(roc_auc_score(truth, score))}))
    if not out:
        return pd.DataFrame(columns=["model", "fpr", "tpr", "threshold", "auc"])
    return pd.concat(out, ignore_index=True)


def calibration_frame(predictions: pd.DataFrame, task: str | None = None, n_bins: int = 10
                      ) -> pd.DataFrame:
    """Reliability of the top-label confidence, per model (Guo et al. 2017).

    Each item's confidence is its largest probability and it is correct when that label is
    the true one. Items are binned by confidence into ``n_bins`` equal-width bins on [0, 1];
    per bin: mean confidence, accuracy and count. ``ece`` (expected calibration error) is
    ``sum_b (n_b / n) |accuracy_b - confidence_b|``, repeated on every row of the model.

    Args:
        predictions: a prediction frame (:attr:`s3kit.reports.LabelRun.predictions`).
        task: the task (``None``: all tasks in the frame, pooled).
        n_bins: number of confidence bins.

    Returns:
        Tidy frame ``model, bin, confidence, accuracy, count, ece`` (empty bins omitted).

    Examples:
        >>> p = pd.DataFrame({"task": "t", "dataset": "d", "model": "m",
        ...                   "item": [0, 0, 1, 1], "y_true": ["a", "a", "b", "b"],
        ...                   "label": ["a", "b", "a", "b"], "prob": [.9, .1, .9, .1]})
        >>> calibration_frame(p)[["confidence", "accuracy", "count", "ece"]].values.tolist()
        [[0.9, 0.5, 2.0, 0.4]]
    """
    df = select_predictions(predictions, task)
    out = []
    for model, part in df.groupby("model", sort=False, observed=True):
        frames = []
        for _, sub in part.groupby(["task", "dataset"], sort=False, observed=True):
            wide, labels = wide_predictions(sub)
            probs = wide[labels].to_numpy(float)
            frames.append(pd.DataFrame({
                "confidence": probs.max(axis=1),
                "correct": (np.asarray(labels, dtype=object)[probs.argmax(axis=1)]
                            == wide["y_true"].to_numpy()).astype(float)}))
        items = pd.concat(frames, ignore_index=True)
        items["bin"] = np.minimum((items["confidence"] * n_bins).astype(int), n_bins - 1)
        agg = items.groupby("bin").agg(confidence=("confidence", "mean"),
                                       accuracy=("correct", "mean"),
                                       count=("correct", "size")).reset_index()
        agg["count"] = agg["count"].astype(float)
        ece = float((agg["count"] * (agg["accuracy"] - agg["confidence"]).abs()).sum()
                    / agg["count"].sum())
        agg.insert(0, "model", model)
        agg["ece"] = round(ece, 12)
        out.append(agg)
    return pd.concat(out, ignore_index=True)
