"""Classification metrics: accuracy, F1 and AUC of probabilistic predictions, with definitions.

:func:`classification_report` is the one bundle (acc / macro F1 / F1 / AUC) that the tuning
code (:mod:`s3kit.tuning`), demographic inference (:mod:`s3kit.demographics`) and the
benchmark (:mod:`s3kit.evaluation.metrics`, which re-exports these names) all report, so a
number means the same wherever it is printed. The functions wrap scikit-learn. A metric that
is undefined on a given input (an AUC when ``y_true`` holds a single class, any metric of an
empty sample) returns ``nan`` and emits a :class:`MetricUndefinedWarning` that says why;
:func:`classification_report` records the reason under ``"auc_note"``. Nothing here raises on
such inputs, so one degenerate event never stops a benchmark run.

Examples:
    >>> r = classification_report(["a", "b", "b"], [[.9, .1], [.2, .8], [.6, .4]], ["a", "b"])
    >>> round(r["acc"], 3), r["auc"]
    (0.667, 1.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

__all__ = ["MetricUndefinedWarning", "accuracy", "f1", "macro_f1", "auc",
           "classification_report"]


class MetricUndefinedWarning(UserWarning):
    """A metric is undefined on this input and was returned as ``nan`` (the message says why)."""


def _undefined(reason: str) -> float:
    warnings.warn(reason, MetricUndefinedWarning, stacklevel=3)
    return float("nan")


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
