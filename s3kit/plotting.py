"""Figures: tidy frame in, matplotlib Axes out (``ax=None`` draws on a new figure).

Built on seaborn's function API (seaborn is imported when a plot is drawn; it comes with the
``notebooks`` extra). Curves to compare (real vs simulated, several scenarios) go in one frame
with a label column passed as ``hue``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .cascades import spread_curve, trend_shares
from .evaluation.fidelity import replay_shares
from .evaluation.predictions import (
    AGENTS,
    calibration_frame,
    roc_frame,
    select_predictions,
    wide_predictions,
)

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = ["plot_spread", "plot_degree_distribution", "plot_trend", "degree_ccdf",
           "confusion_heatmap", "plot_confusion", "plot_roc", "plot_calibration",
           "plot_replay_trend", "plot_tuning_curve", "save_figure"]

_DIRECTION_LABEL = {"in": "in (followers)", "out": "out (followees)"}


def _seaborn():
    try:
        import seaborn as sns
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("s3kit.plotting needs seaborn: pip install 's3kit[notebooks]'") from exc
    return sns


def _axes(ax, figsize: tuple[float, float] = (6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_spread(df: pd.DataFrame, x: str = "hours", y: str = "adopters", hue: str | None = None,
                ax: matplotlib.axes.Axes | None = None, freq: str = "1h",
                **kwargs: Any) -> matplotlib.axes.Axes:
    """Cumulative adopters against time: one curve per ``hue`` level.

    Args:
        df: a :func:`~s3kit.cascades.spread_curve` frame (``hours``/``step``, ``adopters``);
            a raw posts frame (``user_id``, ``time``) is converted with ``spread_curve``.
        x: x column (``"hours"``, ``"step"`` or ``"time"``).
        y: y column (``"adopters"`` or ``"new_adopters"``).
        hue: column separating curves (e.g. ``"source"`` = real / simulated). ``None``: uses
            ``"source"`` when the frame has it. Several events within one level are drawn as
            their mean with a band (seaborn ``errorbar``, default the 50% interval); each
            event's final size is carried forward until the longest curve of its level ends.
        ax: Axes to draw on (``None``: a new figure).
        freq: sampling interval when ``df`` is a posts frame.
        **kwargs: passed to ``seaborn.lineplot``.

    Returns:
        The Axes.

    Examples:
        >>> from s3kit.sample import generate_sample
        >>> ax = plot_spread(spread_curve(generate_sample(n_users=80).posts, event_id="e0"))
        >>> ax.get_ylabel()
        'cumulative adopters'
    """
    sns = _seaborn()
    if y not in df.columns and {"user_id", "time"} <= set(df.columns):
        df = spread_curve(df, freq=freq)
    if hue is None and "source" in df.columns:
        hue = "source"
    if "event_id" in df.columns and y == "adopters" and df["event_id"].nunique() > 1:
        df = _pad_curves(df, x, y, hue)
    ax = _axes(ax)
    kwargs.setdefault("errorbar", ("pi", 50))
    kwargs.setdefault("drawstyle", "steps-post")
    # a marker at every measured point: a curve's last value has no step after it, and a
    # simulated step equal to the real one is otherwise hidden under it
    kwargs.setdefault("marker", "o")
    sns.lineplot(data=df, x=x, y=y, hue=hue, ax=ax, **kwargs)
    ax.set_xlabel({"hours": "hours since first post", "step": "step"}.get(x, x))
    ax.set_ylabel({"adopters": "cumulative adopters", "new_adopters": "new adopters"}.get(y, y))
    ax.set_ylim(bottom=0)
    return ax


def _pad_curves(df: pd.DataFrame, x: str, y: str, hue: str | None) -> pd.DataFrame:
    """Carry each event's final size forward to the longest curve of its group.

    Without this, the mean over events drops whenever a short cascade's curve ends.
    """
    parts = []
    for key, group in df.groupby(hue, sort=False, observed=True) if hue else [(None, df)]:
        wide = group.pivot_table(index=x, columns="event_id", values=y, aggfunc="max",
                                 observed=True).sort_index().ffill()
        long = wide.reset_index().melt(id_vars=x, var_name="event_id", value_name=y).dropna()
        if hue:
            long[hue] = key
        parts.append(long)
    return pd.concat(parts, ignore_index=True)


def degree_ccdf(network_or_frame: Any, directions: tuple[str, ...] = ("in", "out")
                ) -> pd.DataFrame:
    """Complementary cumulative degree distribution ``P(D >= k)`` for ``k >= 1``.

    Args:
        network_or_frame: a :class:`~s3kit.environment.SocialNetwork`, a networkx ``DiGraph``
            (edges follower -> followee) or a frame with ``in_degree``/``out_degree`` columns.
        directions: ``"in"`` (followers) and/or ``"out"`` (followees).

    Returns:
        Tidy frame ``direction, degree, ccdf``; the denominator is all users (users with
        degree 0 included), so ``ccdf`` at ``k = 1`` is the share of users with any edge.

    Examples:
        >>> import networkx as nx
        >>> ccdf = degree_ccdf(nx.DiGraph([(1, 0), (2, 0), (3, 0), (1, 2)]), ("in",))
        >>> ccdf["degree"].tolist(), ccdf["ccdf"].tolist()
        ([1, 3], [0.5, 0.25])
    """
    frame = _degree_frame(network_or_frame)
    parts = []
    for d in directions:
        deg = np.sort(frame[f"{d}_degree"].to_numpy())
        ks = np.unique(deg[deg >= 1])
        ccdf = (len(deg) - np.searchsorted(deg, ks, side="left")) / max(len(deg), 1)
        parts.append(pd.DataFrame({"direction": d, "degree": ks.astype(np.int64),
                                   "ccdf": ccdf.astype(float)}))
    return pd.concat(parts, ignore_index=True)


def _degree_frame(obj: Any) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        missing = {"in_degree", "out_degree"} - set(obj.columns)
        if missing:
            raise KeyError(f"degree frame needs columns {sorted(missing)}")
        return obj
    if hasattr(obj, "degree_frame"):
        return obj.degree_frame()
    if hasattr(obj, "in_degree") and hasattr(obj, "out_degree"):
        nodes = list(obj.nodes)
        return pd.DataFrame({"in_degree": [obj.in_degree(n) for n in nodes],
                             "out_degree": [obj.out_degree(n) for n in nodes]})
    raise TypeError(f"expected a SocialNetwork, a DiGraph or a degree frame, got {type(obj)}")


def plot_degree_distribution(network_or_frame: Any, ax: matplotlib.axes.Axes | None = None,
                             directions: tuple[str, ...] = ("in", "out"),
                             **kwargs: Any) -> matplotlib.axes.Axes:
    """Log-log CCDF of in-degree (followers) and out-degree (followees).

    Args:
        network_or_frame: see :func:`degree_ccdf`.
        ax: Axes to draw on (``None``: a new figure).
        directions: which degrees to draw.
        **kwargs: passed to ``seaborn.lineplot``.

    Returns:
        The Axes (both axes logarithmic).

    Examples:
        >>> import networkx as nx
        >>> ax = plot_degree_distribution(nx.DiGraph([(1, 0), (2, 0), (0, 1)]))
        >>> ax.get_xscale(), ax.get_yscale()
        ('log', 'log')
    """
    sns = _seaborn()
    data = degree_ccdf(network_or_frame, directions)
    data["direction"] = data["direction"].map(_DIRECTION_LABEL).fillna(data["direction"])
    ax = _axes(ax)
    kwargs.setdefault("marker", ".")
    kwargs.setdefault("linewidth", 1)
    sns.lineplot(data=data, x="degree", y="ccdf", hue="direction", ax=ax, **kwargs)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("degree k")
    ax.set_ylabel("P(degree >= k)")
    return ax


def plot_trend(df: pd.DataFrame, column: str, x: str = "step", ax: matplotlib.axes.Axes | None
               = None, freq: str | None = None, style: str | None = None, kind: str = "line",
               **kwargs: Any) -> matplotlib.axes.Axes:
    """Share of each label (emotion, stance ...) per step: one line (or band) per label.

    Args:
        df: a :func:`~s3kit.cascades.trend_shares` frame (has ``share``), or posts with
            ``column`` and ``x`` (shares are then computed per ``x``, and per ``style`` if
            given).
        column: the label column (lines coloured by its values).
        x: x column; with ``freq``, a time column binned every ``freq`` (x becomes hours).
        ax: Axes to draw on (``None``: a new figure).
        freq: time bin for raw posts, e.g. ``"3h"``.
        style: column separating line styles, e.g. ``"source"`` (real / simulated).
        kind: ``"line"`` or ``"area"`` (stacked shares; needs a single ``style`` level).
        **kwargs: passed to ``seaborn.lineplot`` (``kind="line"``).

    Returns:
        The Axes (y = share, 0..1).

    Examples:
        >>> posts = pd.DataFrame({"step": [0, 0, 1, 1], "stance": ["positive", "negative",
        ...                                                        "negative", "negative"]})
        >>> plot_trend(posts, "stance").get_ylabel()
        'share of stance'
    """
    if kind not in ("line", "area"):
        raise ValueError(f"kind must be 'line' or 'area', got {kind!r}")
    if "share" not in df.columns:
        df = trend_shares(df, column, x=x, freq=freq, by=style)
        if freq is not None:
            x = "hours"
    ax = _axes(ax)
    if kind == "area":
        if style is not None and df[style].nunique() > 1:
            raise ValueError("kind='area' draws one group: filter the frame by its style first")
        wide = df.pivot_table(index=x, columns=column, values="share", aggfunc="mean",
                              observed=True).fillna(0.0)
        ax.stackplot(wide.index.to_numpy(), wide.to_numpy().T,
                     labels=[str(c) for c in wide.columns], alpha=0.8)
        ax.legend(title=column)
    else:
        sns = _seaborn()
        kwargs.setdefault("marker", "o")
        sns.lineplot(data=df, x=x, y="share", hue=column, style=style, ax=ax, **kwargs)
    ax.set_ylim(0, 1)
    ax.set_xlabel({"hours": "hours since first post"}.get(x, x))
    ax.set_ylabel(f"share of {column}")
    return ax


# ----------------------------------------------------------------------------- label tasks


def confusion_heatmap(y_true, y_pred, labels: Sequence[str], normalize: bool = False,
                      ax: matplotlib.axes.Axes | None = None, title: str | None = None,
                      figsize: tuple[float, float] = (4, 3.5)) -> matplotlib.axes.Axes:
    """Confusion matrix of label sequences (rows: true label, columns: predicted label).

    Values outside ``labels`` are not counted; a label never seen still gets its row/column.

    Args:
        y_true: true labels.
        y_pred: predicted labels (same length).
        labels: label order of the rows and columns.
        normalize: show row shares (recall per true label) instead of counts.
        ax: Axes to draw on (``None``: a new figure of ``figsize``).
        title: Axes title (``None``: none).
        figsize: size of the new figure.

    Returns:
        The Axes (a seaborn heatmap; cell texts are the shares or counts).

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> ax = confusion_heatmap(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
        >>> [t.get_text() for t in ax.texts]
        ['1', '1', '0', '1']
    """
    sns = _seaborn()
    labels = list(labels)
    y_true, y_pred = pd.Series(list(y_true), dtype=object), pd.Series(list(y_pred), dtype=object)
    known = (y_true.isin(labels) & y_pred.isin(labels)).to_numpy()
    table = pd.crosstab(pd.Categorical(y_true[known], categories=labels),
                        pd.Categorical(y_pred[known], categories=labels), dropna=False)
    if normalize:
        table = table.div(table.sum(axis=1).replace(0, np.nan), axis=0)
    ax = _axes(ax, figsize)
    sns.heatmap(table, annot=True, fmt=".2f" if normalize else "d", cmap="Blues",
                vmin=0, vmax=1 if normalize else None, cbar=False, ax=ax)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax


def plot_confusion(predictions: pd.DataFrame, task: str, model: str = AGENTS,
                   normalize: bool = True, ax: matplotlib.axes.Axes | None = None
                   ) -> matplotlib.axes.Axes:
    """Confusion matrix (rows: true label, columns: predicted = most probable label).

    Args:
        predictions: :attr:`s3kit.reports.LabelRun.predictions`.
        task: the task (all its datasets pooled).
        model: ``"s3kit"`` (the agents), a baseline's name, or ``"baseline"`` (the task's
            baseline, e.g. ``tfidf_logreg``).
        normalize: show row shares (recall per true label) instead of counts.
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (a seaborn heatmap; cell texts are the shares or counts).
    """
    part = select_predictions(predictions, task, model)
    wide, labels = wide_predictions(part)
    pred = np.asarray(labels, dtype=object)[wide[labels].to_numpy(float).argmax(axis=1)]
    return confusion_heatmap(wide["y_true"], pred, labels, normalize=normalize, ax=ax,
                             title=f"{task}: {part['model'].iloc[0]}")


def plot_roc(predictions: pd.DataFrame, task: str, ax: matplotlib.axes.Axes | None = None
             ) -> matplotlib.axes.Axes:
    """ROC curves of the agents and the baselines on one task (see :func:`roc_frame`).

    Args:
        predictions: :attr:`s3kit.reports.LabelRun.predictions`.
        task: the task.
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (legend: model and AUC).
    """
    roc = roc_frame(predictions, task)
    ax = _axes(ax, (5, 4))
    for model, part in roc.groupby("model", sort=False):
        ax.plot(part["fpr"], part["tpr"], label=f"{model} (AUC {part['auc'].iloc[0]:.2f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{task}: ROC" + (" (micro one-vs-rest)" if predictions.loc[
        predictions["task"] == task, "label"].nunique() > 2 else ""))
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_calibration(predictions: pd.DataFrame, task: str | None = None, n_bins: int = 10,
                     ax: matplotlib.axes.Axes | None = None) -> matplotlib.axes.Axes:
    """Reliability diagram: accuracy against top-label confidence, per model.

    Args:
        predictions: :attr:`s3kit.reports.LabelRun.predictions`.
        task: the task (``None``: all tasks pooled).
        n_bins: confidence bins (see :func:`calibration_frame`).
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (legend: model and ECE; the diagonal is perfect calibration).
    """
    cal = calibration_frame(predictions, task, n_bins)
    ax = _axes(ax, (5, 4))
    for model, part in cal.groupby("model", sort=False):
        ax.plot(part["confidence"], part["accuracy"], marker="o",
                label=f"{model} (ECE {part['ece'].iloc[0]:.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (largest probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{task or 'all tasks'}: calibration")
    ax.legend(loc="upper left", fontsize="small")
    return ax


# ----------------------------------------------------------------------------- replays and tuning


def plot_replay_trend(curves: pd.DataFrame, measure: str = "emotion",
                      ax: matplotlib.axes.Axes | None = None) -> matplotlib.axes.Axes:
    """Real vs simulated trend of a replay (S3 Figure 3 style).

    Args:
        curves: ``curves.parquet`` of a replay.
        measure: ``"emotion"`` (share of moderate + intense among the agents deciding at each
            step; real: among the posts of that step) or ``"attitude"`` (share of positive
            attitudes).
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (y: share in [0, 1]; several replicates drawn as mean and range).
    """
    sns = _seaborn()
    data = replay_shares(curves, measure)
    data = data[data["share"].notna()]
    ax = _axes(ax, (5, 4))
    sns.lineplot(data=data, x="hours", y="share", hue="source", marker="o",
                 errorbar=("pi", 100), ax=ax)
    ax.set_ylim(0, 1)
    ax.set_xlabel("hours since first post")
    ax.set_ylabel({"emotion": "share of emotional (non-calm)",
                   "attitude": "share of positive attitude"}[measure])
    return ax


def plot_tuning_curve(curve: pd.DataFrame, ax: matplotlib.axes.Axes | None = None
                      ) -> matplotlib.axes.Axes:
    """Training loss per step and monitoring accuracy (right axis); returns the Axes.

    Args:
        curve: a tuning curve (``step, loss, val_acc``; :attr:`s3kit.tuning.TuningResult.history`).
        ax: Axes to draw on (``None``: a new figure).
    """
    ax = _axes(ax, (5, 3))
    ax.plot(curve["step"], curve["loss"], color="tab:blue", alpha=0.6, label="train loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    val = curve.dropna(subset=["val_acc"])
    if len(val):
        ax2 = ax.twinx()
        ax2.plot(val["step"], val["val_acc"], "o-", color="tab:orange", label="monitor acc")
        ax2.set_ylabel("accuracy (monitoring split)")
        ax2.set_ylim(0, 1)
    return ax


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a figure (creating its folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
