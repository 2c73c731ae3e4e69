"""Metrics of the s3kit benchmark (docs/evaluation.md), each with its definition.

The classification metrics (:func:`accuracy`, :func:`f1`, :func:`macro_f1`, :func:`auc`,
:func:`classification_report`) live in :mod:`s3kit.classification`, shared with the tuning
code, and are re-exported here; :func:`task_metrics` is their benchmark entry. Metrics that are
undefined on a given input (an AUC when ``y_true`` holds a single class, a Pearson r of a
constant series, a relative error when the real size is 0) return ``nan`` and emit a
:class:`MetricUndefinedWarning` that says why; :func:`classification_report` records the
reason under ``"auc_note"``. Nothing here raises on such inputs, so one degenerate event never
stops a benchmark run.

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

from ..classification import (
    MetricUndefinedWarning,
    accuracy,
    auc,
    classification_report,
    f1,
    macro_f1,
)

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


def _undefined(reason: str) -> float:
    warnings.warn(reason, MetricUndefinedWarning, stacklevel=3)
    return float("nan")


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
