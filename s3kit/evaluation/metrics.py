"""Metrics of the s3kit benchmark (docs/evaluation.md), each with its definition.

Classification metrics wrap scikit-learn. Metrics that are undefined on a given input (an AUC
when ``y_true`` holds a single class, a Pearson r of a constant series, a relative error when
the real size is 0) return ``nan`` and emit a :class:`MetricUndefinedWarning` that says why;
:func:`classification_report` records the reason under ``"auc_note"``. Nothing here raises on
such inputs, so one degenerate event never stops a benchmark run.

Conventions:

* natural logarithms everywhere (perplexity is ``exp`` of the mean negative log-likelihood);
* spread curves are *cumulative* adopter counts per step; two curves are compared on a common
  step grid after forward-filling (a cascade keeps its last cumulative size after its last
  observation, and is 0 before its first one);
* the normalised RMSE of spread curves is the RMSE over the grid divided by the real final size.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MetricUndefinedWarning",
    "accuracy",
    "auc",
    "f1",
    "macro_f1",
    "perplexity",
    "embedding_cosine",
    "as_curve",
    "align_curves",
    "spread_nrmse",
    "final_size_error",
    "pearson_r",
    "trend_rmse",
    "classification_report",
    "task_metrics",
]


class MetricUndefinedWarning(UserWarning):
    """A metric is undefined on this input and was returned as ``nan`` (the message says why)."""


def _undefined(reason: str) -> float:
    warnings.warn(reason, MetricUndefinedWarning, stacklevel=3)
    return float("nan")


# ----------------------------------------------------------------------------- classification


def accuracy(y_true, y_pred) -> float:
    """Share of predictions equal to the truth.

    Definition: ``acc = (1/n) * sum_i [y_pred_i == y_true_i]`` (scikit-learn's
    ``accuracy_score``). Empty input gives ``nan``.

    Args:
        y_true: true labels, length ``n``.
        y_pred: predicted labels, length ``n``.

    Returns:
        The accuracy in ``[0, 1]``.

    Examples:
        >>> accuracy(["a", "b", "b", "a"], ["a", "b", "a", "a"])
        0.75
    """
    from sklearn.metrics import accuracy_score

    if len(y_true) == 0:
        return _undefined("accuracy of an empty sample is undefined")
    return float(accuracy_score(list(y_true), list(y_pred)))


def f1(y_true, y_pred, average: str = "binary", pos_label=1, labels=None) -> float:
    """F1 score, the harmonic mean of precision and recall.

    Definition: for one class ``c``, ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` (0 when the
    class is never predicted nor present). ``average="binary"`` returns ``F1_{pos_label}``;
    ``average="macro"`` the unweighted mean of ``F1_c`` over ``labels`` (default: every label
    seen in ``y_true`` or ``y_pred``). Computed by scikit-learn's ``f1_score`` with
    ``zero_division=0``.

    Args:
        y_true: true labels.
        y_pred: predicted labels.
        average: ``"binary"`` or ``"macro"`` (any ``f1_score`` average is passed through).
        pos_label: the positive class for ``average="binary"``.
        labels: the label set to average over (macro).

    Returns:
        The F1 score in ``[0, 1]``.

    Examples:
        TP=2, FP=1, FN=1 for class 1, so F1 = 4 / (4 + 1 + 1):

        >>> round(f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]), 4)
        0.6667
        >>> round(f1([1, 1, 1, 0, 0], [1, 1, 0, 1, 0], average="macro"), 4)
        0.5833
    """
    from sklearn.metrics import f1_score

    if len(y_true) == 0:
        return _undefined("F1 of an empty sample is undefined")
    kwargs = {"average": average, "zero_division": 0}
    if average == "binary":
        kwargs["pos_label"] = pos_label
    if labels is not None:
        kwargs["labels"] = list(labels)
    return float(f1_score(list(y_true), list(y_pred), **kwargs))


def macro_f1(y_true, y_pred, labels=None) -> float:
    """Macro-averaged F1: the unweighted mean of per-class F1 (see :func:`f1`).

    Args:
        y_true: true labels.
        y_pred: predicted labels.
        labels: classes to average over (default: all labels seen).

    Returns:
        Macro F1 in ``[0, 1]``.

    Examples:
        Class ``a``: F1 = 2/3; class ``b``: F1 = 1/2; mean 7/12:

        >>> round(macro_f1(["a", "a", "a", "b", "b"], ["a", "a", "b", "a", "b"]), 4)
        0.5833
    """
    return f1(y_true, y_pred, average="macro", labels=labels)


def _auc_with_reason(y_true, y_score, labels=None) -> tuple[float, str | None]:
    """AUC and, when it is undefined or partial, the reason in words."""
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(list(y_true), dtype=object)
    score = np.asarray(y_score, dtype=float)
    if len(y_true) == 0:
        return float("nan"), "AUC of an empty sample is undefined"
    if score.ndim == 1 or (score.ndim == 2 and score.shape[1] == 1):
        # binary: score of the positive class = labels[1] (default: the larger label)
        score = score.reshape(-1)
        labs = list(labels) if labels is not None else sorted(set(y_true.tolist()))
        if len(labs) == 1:
            return float("nan"), f"AUC undefined: only one class ({labs[0]!r}) present in y_true"
        if len(labs) != 2:
            return float("nan"), f"1-D scores need exactly two labels, got {labs!r}"
        pos = y_true == labs[1]
        if pos.all() or (~pos).all():
            return float("nan"), (f"AUC undefined: only one class "
                                  f"({y_true[0]!r}) present in y_true")
        return float(roc_auc_score(pos.astype(int), score)), None
    if score.ndim != 2:
        raise ValueError(f"y_score must be 1-D or 2-D, got shape {score.shape}")
    labs = list(labels) if labels is not None else sorted(set(y_true.tolist()))
    if len(labs) != score.shape[1]:
        raise ValueError(f"y_score has {score.shape[1]} columns but there are {len(labs)} "
                         f"labels {labs!r}; pass labels= in column order")
    if len(labs) == 2:
        return _auc_with_reason(y_true, score[:, 1], labels=labs)
    per_class, skipped = [], []
    for j, lab in enumerate(labs):
        pos = y_true == lab
        if pos.all() or not pos.any():
            skipped.append(lab)
            continue
        per_class.append(roc_auc_score(pos.astype(int), score[:, j]))
    if not per_class:
        return float("nan"), "AUC undefined: only one class present in y_true"
    note = None
    if skipped:
        note = (f"macro AUC over {len(per_class)} of {len(labs)} classes; classes absent from "
                f"y_true skipped: {skipped!r}")
    return float(np.mean(per_class)), note


def auc(y_true, y_score, labels: Sequence | None = None) -> float:
    """Area under the ROC curve; macro one-vs-rest for more than two classes.

    Definition: the probability that a random positive example scores higher than a random
    negative one (ties count 1/2), computed by scikit-learn's ``roc_auc_score``.

    * Binary: ``y_score`` is 1-D, the score of the positive class ``labels[1]`` (default: the
      larger of the two labels present), or 2-D with one column per label.
    * Multi-class: ``y_score`` is ``(n, k)`` with columns in the order of ``labels``
      (default: sorted labels of ``y_true``); the result is the unweighted mean over classes
      ``c`` of the AUC of ``y_true == c`` against ``y_score[:, c]`` (as scikit-learn's
      ``multi_class="ovr", average="macro"``, but rows need not sum to 1). Classes absent from
      ``y_true`` are skipped with a warning.
    * Only one class in ``y_true``: ``nan`` and a :class:`MetricUndefinedWarning`.

    Args:
        y_true: true labels, length ``n``.
        y_score: scores or probabilities, shape ``(n,)`` or ``(n, k)``.
        labels: label order of the columns of ``y_score`` (or the two labels, negative first).

    Returns:
        The AUC in ``[0, 1]``, or ``nan`` if undefined.

    Examples:
        Pairs (positive, negative): (.8,.1) (.8,.4) (.35,.1) (.35,.4) -> 3 of 4 ranked right:

        >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     auc([1, 1, 1], [0.2, 0.5, 0.9])
        nan
    """
    value, note = _auc_with_reason(y_true, y_score, labels)
    if note is not None:
        warnings.warn(note, MetricUndefinedWarning, stacklevel=2)
    return value


def classification_report(y_true, y_prob, labels: Sequence, pos_label=None) -> dict:
    """Bundle accuracy, macro F1, F1 and AUC of probabilistic predictions.

    The prediction is the label of the largest probability (first one on ties).

    * ``acc``: :func:`accuracy`; ``macro_f1``: :func:`macro_f1` over ``labels``;
    * ``f1``: binary F1 of ``pos_label`` (default: ``labels[1]`` when there are two labels),
      else macro F1;
    * ``auc``: binary AUC of ``pos_label`` (one-vs-rest when there are more than two labels)
      if ``pos_label`` is given or there are two labels, else macro one-vs-rest AUC;
    * ``auc_note`` (only when present): why the AUC is ``nan`` or partial;
    * ``n``: number of examples.

    Args:
        y_true: true labels (values from ``labels``).
        y_prob: probabilities ``(n, k)`` with columns in the order of ``labels``; for two
            labels a 1-D array of ``P(labels[1])`` is accepted.
        labels: the label set, in column order.
        pos_label: the positive class for ``f1``/``auc`` (default: ``labels[1]`` if binary).

    Returns:
        A JSON-friendly dict of floats (``nan`` where undefined) and ``n``.

    Examples:
        >>> r = classification_report([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], labels=[0, 1])
        >>> r["acc"], round(r["f1"], 4), r["auc"]
        (0.75, 0.6667, 0.75)
    """
    labels = list(labels)
    y_true = list(y_true)
    prob = np.asarray(y_prob, dtype=float)
    if prob.ndim == 1:
        if len(labels) != 2:
            raise ValueError("1-D y_prob needs exactly two labels")
        prob = np.column_stack([1.0 - prob, prob])
    if prob.shape != (len(y_true), len(labels)):
        raise ValueError(f"y_prob has shape {prob.shape}, expected {(len(y_true), len(labels))}")
    unknown = set(y_true) - set(labels)
    if unknown:
        raise ValueError(f"y_true holds labels not in labels: {sorted(map(str, unknown))}")
    y_pred = [labels[j] for j in prob.argmax(axis=1)] if len(y_true) else []
    if pos_label is None and len(labels) == 2:
        pos_label = labels[1]
    out: dict = {"n": len(y_true)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricUndefinedWarning)
        out["acc"] = accuracy(y_true, y_pred)
        out["macro_f1"] = macro_f1(y_true, y_pred, labels=labels)
        if pos_label is not None:
            j = labels.index(pos_label)
            out["f1"] = f1(y_true, y_pred, pos_label=pos_label)
            binary_true = [int(y == pos_label) for y in y_true]
            value, note = _auc_with_reason(binary_true, prob[:, j], labels=[0, 1])
        else:
            out["f1"] = out["macro_f1"]
            value, note = _auc_with_reason(y_true, prob, labels=labels)
    out["auc"] = value
    if note is not None:
        out["auc_note"] = note
    return out


def task_metrics(y_true, y_prob, labels: Sequence, pos_label=None) -> dict:
    """:func:`classification_report` without ``n`` (a benchmark entry records ``n`` once).

    Examples:
        >>> sorted(task_metrics(["a", "b"], [[0.9, 0.1], [0.2, 0.8]], ["a", "b"]))
        ['acc', 'auc', 'f1', 'macro_f1']
    """
    report = classification_report(list(y_true), y_prob, labels=list(labels),
                                   pos_label=pos_label)
    return {k: v for k, v in report.items() if k != "n"}


# ----------------------------------------------------------------------------- text


def perplexity(logprobs, n_tokens) -> float:
    """Corpus perplexity from per-text summed log-probabilities and token counts.

    Definition: ``PPL = exp(-sum_i logprob_i / sum_i n_tokens_i)``, where ``logprob_i`` is the
    natural-log probability the model gives to text ``i`` (summed over its ``n_tokens_i``
    tokens). This is the token-weighted corpus perplexity, not the mean of per-text
    perplexities. Texts with 0 tokens contribute nothing; with no tokens at all it is ``nan``.

    Args:
        logprobs: summed natural-log probabilities, one per text (``<= 0``).
        n_tokens: number of scored tokens, one per text.

    Returns:
        The perplexity (``>= 1`` for proper probabilities).

    Examples:
        Two texts of 2 tokens, each token with probability 1/4:

        >>> import math
        >>> round(perplexity([2 * math.log(0.25), 2 * math.log(0.25)], [2, 2]), 6)
        4.0
    """
    lp = np.asarray(logprobs, dtype=float).reshape(-1)
    nt = np.asarray(n_tokens, dtype=float).reshape(-1)
    if lp.shape != nt.shape:
        raise ValueError(f"logprobs and n_tokens differ in length: {lp.shape} vs {nt.shape}")
    if (nt < 0).any():
        raise ValueError("n_tokens must be non-negative")
    total = nt.sum()
    if total == 0:
        return _undefined("perplexity undefined: no tokens")
    if not np.isfinite(lp).all():
        return float("inf")
    return math.exp(-lp.sum() / total)


def embedding_cosine(a, b) -> np.ndarray:
    """Row-wise cosine similarity between two embedding matrices.

    Definition: ``cos_i = <a_i, b_i> / (||a_i|| ||b_i||)``; rows where either vector is all
    zeros give ``nan``. Average with ``numpy.nanmean`` for a corpus figure.

    Args:
        a: array ``(n, d)`` (or ``(d,)`` for one pair).
        b: array of the same shape.

    Returns:
        Array ``(n,)`` of cosines in ``[-1, 1]``.

    Examples:
        >>> embedding_cosine([[1, 0], [1, 1]], [[0, 2], [2, 2]]).round(4).tolist()
        [0.0, 1.0]
    """
    a = np.atleast_2d(np.asarray(a, dtype=float))
    b = np.atleast_2d(np.asarray(b, dtype=float))
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    denom = na * nb
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("ij,ij->i", a, b) / denom
    cos[denom == 0] = np.nan
    return np.clip(cos, -1.0, 1.0)


# ----------------------------------------------------------------------------- spread curves


def as_curve(curve, value: str | None = None) -> pd.Series:
    """Turn a cumulative curve into a float Series indexed by step (sorted).

    Accepted inputs: a DataFrame with a ``step`` column and a value column (``value``; by
    default ``cumulative`` as returned by the baselines' ``simulate``, else ``adopters`` as
    returned by :func:`s3kit.cascades.spread_curve`), a Series indexed by step, a dict
    ``{step: value}``, or a 1-D array-like whose position is the step (``0, 1, ...``).
    Duplicate steps keep the last value.

    Args:
        curve: the curve (one cascade).
        value: value column when ``curve`` is a DataFrame.

    Returns:
        ``pandas.Series`` of floats, index ``step``.

    Raises:
        ValueError: if the curve decreases (a cumulative curve never does; you probably passed
            per-step counts: use ``.cumsum()``).

    Examples:
        >>> as_curve([1, 3, 4]).to_dict()
        {0: 1.0, 1: 3.0, 2: 4.0}
    """
    if isinstance(curve, pd.DataFrame):
        if value is None:
            value = next((c for c in ("cumulative", "adopters") if c in curve.columns),
                         "cumulative")
        if "event_id" in curve.columns and curve["event_id"].nunique(dropna=False) > 1:
            raise ValueError("the curve frame holds several events: select one event_id")
        if "step" not in curve.columns or value not in curve.columns:
            raise ValueError(f"a curve frame needs columns 'step' and {value!r}, "
                             f"got {list(curve.columns)}")
        s = pd.Series(curve[value].to_numpy(dtype=float), index=curve["step"].to_numpy())
    elif isinstance(curve, pd.Series):
        s = curve.astype(float)
    elif isinstance(curve, dict):
        s = pd.Series(curve, dtype=float)
    else:
        arr = np.asarray(curve, dtype=float).reshape(-1)
        s = pd.Series(arr, index=np.arange(len(arr)))
    s = s[~s.index.duplicated(keep="last")].sort_index()
    s.index.name = "step"
    vals = s.to_numpy()
    if len(vals) > 1 and (np.diff(vals[~np.isnan(vals)]) < -1e-9 * max(1.0, np.nanmax(vals))).any():
        raise ValueError("curve decreases: spread metrics expect cumulative counts "
                         "(per-step counts? use .cumsum())")
    return s


def align_curves(real, sim, grid=None) -> pd.DataFrame:
    """Put a real and a simulated cumulative curve on one step grid.

    Each curve is forward-filled onto the grid: at step ``g`` it takes its value at the last
    observed step ``<= g`` (0 before its first observation). The default grid is every integer
    step from the smaller to the larger observed step of either curve (non-integer steps: the
    sorted union of both curves' steps).

    Args:
        real: the observed cumulative curve (see :func:`as_curve` for the formats).
        sim: the simulated cumulative curve.
        grid: steps to compare at (default described above).

    Returns:
        DataFrame with columns ``step``, ``real``, ``sim``.

    Examples:
        >>> align_curves({0: 1, 2: 3}, {0: 1, 1: 2}).to_dict("list")
        {'step': [0, 1, 2], 'real': [1.0, 1.0, 3.0], 'sim': [1.0, 2.0, 2.0]}
    """
    r, s = as_curve(real), as_curve(sim)
    if grid is None:
        steps = np.union1d(r.index.to_numpy(dtype=float), s.index.to_numpy(dtype=float))
        if len(steps) and np.allclose(steps, np.round(steps)):
            grid = np.arange(int(round(steps.min())), int(round(steps.max())) + 1)
        else:
            grid = steps
    grid = np.asarray(grid)

    def _ffill(c: pd.Series) -> np.ndarray:
        idx = c.index.to_numpy(dtype=float)
        pos = np.searchsorted(idx, grid.astype(float), side="right") - 1
        vals = np.where(pos >= 0, c.to_numpy()[np.clip(pos, 0, None)], 0.0) if len(c) else \
            np.zeros(len(grid))
        return vals.astype(float)

    return pd.DataFrame({"step": grid, "real": _ffill(r), "sim": _ffill(s)})


def spread_nrmse(real, sim, grid=None) -> float:
    """Normalised RMSE between a real and a simulated cumulative adopter curve.

    Definition: with both curves aligned by :func:`align_curves` on grid steps
    ``g_1..g_T``, ``NRMSE = sqrt((1/T) sum_t (sim_t - real_t)^2) / real_T``, i.e. the RMSE in
    units of the real final size (``real_T``, the real cumulative count at the last grid step).
    0 is a perfect replay; 1 means an error as large as the whole cascade. ``nan`` (with a
    warning) when the real final size is 0.

    Args:
        real: observed cumulative curve.
        sim: simulated cumulative curve (e.g. the Monte-Carlo mean).
        grid: steps to compare at (default: see :func:`align_curves`).

    Returns:
        The normalised RMSE (``>= 0``).

    Examples:
        Errors -1, 0, 1 on a cascade of final size 3: sqrt(2/3) / 3:

        >>> round(spread_nrmse([1, 2, 3], [0, 2, 4]), 4)
        0.2722
    """
    df = align_curves(real, sim, grid)
    final = float(df["real"].iloc[-1]) if len(df) else 0.0
    if final == 0:
        return _undefined("normalised RMSE undefined: the real final size is 0")
    rmse = math.sqrt(float(np.mean((df["sim"] - df["real"]) ** 2)))
    return rmse / final


def final_size_error(real, sim, grid=None, signed: bool = False) -> float:
    """Relative error of the simulated final cascade size.

    Definition: with ``R`` and ``S`` the real and simulated cumulative counts at the last grid
    step (see :func:`align_curves`), ``|S - R| / R`` (``(S - R) / R`` with ``signed=True``:
    positive means the simulation over-spreads). ``nan`` (with a warning) when ``R == 0``.

    Args:
        real: observed cumulative curve.
        sim: simulated cumulative curve.
        grid: steps to compare at.
        signed: return the signed relative error.

    Returns:
        The relative final-size error.

    Examples:
        >>> round(final_size_error([1, 5, 10], [1, 4, 8]), 6)
        0.2
        >>> round(final_size_error([1, 5, 10], [1, 4, 8], signed=True), 6)
        -0.2
    """
    df = align_curves(real, sim, grid)
    r = float(df["real"].iloc[-1]) if len(df) else 0.0
    s = float(df["sim"].iloc[-1]) if len(df) else 0.0
    if r == 0:
        return _undefined("final-size error undefined: the real final size is 0")
    err = (s - r) / r
    return err if signed else abs(err)


# ----------------------------------------------------------------------------- trends


def _paired(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Two float arrays of equal length (Series are aligned on their index), NaN pairs dropped."""
    if isinstance(x, pd.Series) and isinstance(y, pd.Series):
        x, y = x.align(y, join="inner")
    xa = np.asarray(x, dtype=float).reshape(-1)
    ya = np.asarray(y, dtype=float).reshape(-1)
    if xa.shape != ya.shape:
        raise ValueError(f"series differ in length: {xa.shape} vs {ya.shape}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep], ya[keep]


def pearson_r(x, y) -> float:
    """Pearson correlation between two trends (NaN-safe).

    Definition: ``r = sum (x_t - mean x)(y_t - mean y) / sqrt(sum (x_t - mean x)^2 sum
    (y_t - mean y)^2)`` over the steps where both values are present (pandas Series are first
    aligned on their index). ``nan`` with a :class:`MetricUndefinedWarning` when fewer than two
    pairs remain or either series is constant (its variance is 0).

    Args:
        x: one trend (e.g. simulated share of emotional posts per step).
        y: the other trend (e.g. the real share).

    Returns:
        r in ``[-1, 1]`` or ``nan``.

    Examples:
        >>> round(pearson_r([1, 2, 3, float("nan")], [2, 4, 7, 1]), 4)
        0.9934
    """
    xa, ya = _paired(x, y)
    if len(xa) < 2:
        return _undefined(f"Pearson r undefined: {len(xa)} complete pair(s)")
    dx, dy = xa - xa.mean(), ya - ya.mean()
    sx, sy = math.sqrt(float(dx @ dx)), math.sqrt(float(dy @ dy))
    scale = max(1.0, float(np.abs(xa).max()), float(np.abs(ya).max()))
    if sx <= 1e-12 * scale or sy <= 1e-12 * scale:
        return _undefined("Pearson r undefined: a series is constant")
    return float(np.clip((dx @ dy) / (sx * sy), -1.0, 1.0))


def trend_rmse(x, y) -> float:
    """Root-mean-square difference between two trends (NaN-safe).

    Definition: ``sqrt((1/T) sum_t (x_t - y_t)^2)`` over the steps where both are present
    (pandas Series aligned on their index); ``nan`` if none are.

    Args:
        x: simulated trend.
        y: real trend.

    Returns:
        The RMSE, in the units of the trends (shares: 0..1).

    Examples:
        >>> round(trend_rmse([0.5, 0.5, float("nan")], [0.2, 0.6, 0.9]), 4)
        0.2236
    """
    xa, ya = _paired(x, y)
    if len(xa) == 0:
        return _undefined("trend RMSE undefined: no complete pairs")
    return math.sqrt(float(np.mean((xa - ya) ** 2)))
