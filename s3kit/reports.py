"""Report helpers for the evaluation notebooks (03 individual prediction, 04 population replay).

Two groups, both taking and returning tidy frames so that a notebook cell stays one call:

* **Individual prediction.** :func:`run_label_tasks` runs the label tasks of ``s3kit bench``
  (``emotion``, ``attitude``, ``attitude_change``, ``gender``, ``repost``) through the same code
  path as :func:`s3kit.evaluation.bench.run_bench` (the public runner
  :func:`s3kit.evaluation.runner.evaluate`), with sizes a classroom can afford, and keeps
  every item's probabilities as a tidy ``predictions`` frame (one row per task, dataset, model,
  item and label). :func:`plot_confusion`, :func:`plot_roc` and :func:`plot_calibration` draw
  from it; :func:`roc_frame` and :func:`calibration_frame` return the numbers they draw.
* **Population replay.** :func:`spread_baselines` fits the classical spread models of
  :mod:`s3kit.baselines` to what the agents of a :func:`s3kit.replay.run_replay` run were
  given (the source post and the adopters of the first ``step_hours``) and forecasts the rest;
  :func:`replay_fidelity` scores simulated and baseline curves against the real one;
  :func:`plot_replay_trend` draws the real vs simulated emotion or attitude trend.

Plotting functions take ``ax=None`` (a new figure) and return the Axes, as in :mod:`s3kit.plotting`.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ._version import __version__
from .baselines import HawkesProcess, IndependentCascade, LogisticGrowth
from .datasets.base import data_dir as resolve_data_dir
from .evaluation.context import BenchContext
from .evaluation.metrics import (
    MetricUndefinedWarning,
    final_size_error,
    pearson_r,
    spread_nrmse,
    trend_rmse,
)
from .evaluation.results import S3_FIGURES, LabelPredictions, json_safe, results_table
from .evaluation.runner import evaluate
from .evaluation.sizes import BenchSizes
from .evaluation.tasks import LABEL_TASKS, TASK_DATASETS, DatasetPairs
from .heads import DecisionModel, resolve_decisions
from .llm import DEFAULT_MODEL, load_llm
from .replay import build_replay, load_config

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = [
    "LABEL_TASKS",
    "LabelRun",
    "run_label_tasks",
    "roc_frame",
    "calibration_frame",
    "confusion_heatmap",
    "plot_confusion",
    "plot_roc",
    "plot_calibration",
    "spread_baselines",
    "replay_fidelity",
    "plot_replay_trend",
    "plot_tuning_curve",
    "write_experiment",
]

#: The agents' model name in ``predictions``.
AGENTS = "s3kit"
#: Model name of the zero-shot answers in prediction frames (kept next to calibrated agents).
ZERO_SHOT = "zero-shot"


def _axes(ax, figsize=(5, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


# ----------------------------------------------------------------------------- label tasks


@dataclass
class LabelRun:
    """What :func:`run_label_tasks` measured.

    Attributes:
        results: the benchmark dict (layout of ``s3kit bench``'s JSON, ``NaN`` as ``None``);
            write it with :func:`s3kit.evaluation.results.write_results`.
        predictions: tidy frame ``task, dataset, model, item, y_true, label, prob`` (one row
            per item and label; ``model`` is ``"s3kit"`` for the agents, else the baseline's
            name). Probabilities of one item and model sum to 1.
        table: :func:`s3kit.evaluation.results.results_table` of ``results`` (s3kit vs best
            baseline vs the S3 paper's figure, per task and headline metric).
    """

    results: dict
    predictions: pd.DataFrame
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def _tidy_predictions(task: str, dataset: str, pred: LabelPredictions,
                      zero_shot: bool = False) -> pd.DataFrame:
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


def run_label_tasks(data_dir: str | os.PathLike | None = None,
                    tasks: str | Sequence[str] = ("emotion", "attitude", "gender"),
                    backend: str = "embedded", n_items: int = 60, n_calibrate: int = 24,
                    seed: int = 0, *, datasets: str | Sequence[str] | None = None,
                    model: str | None = None, llm: Any = None,
                    progress: bool = True, decisions: str = "auto",
                    heads: str = "default") -> LabelRun:
    """Evaluate the agents and the baselines on the individual-level label tasks.

    Same items, prompts, label-prior calibration, baselines and metrics as ``s3kit bench``
    (the public runner :func:`s3kit.evaluation.runner.evaluate`, on the deterministic
    validation split of ``data_dir``), but with chosen sizes and with every item's
    probabilities kept for confusion matrices, ROC and calibration.

    Args:
        data_dir: folder laid out like shared/data (``None``: ``$S3KIT_DATA_DIR``).
        tasks: subset of :data:`LABEL_TASKS`, a list or a comma-separated string.
        backend: ``"embedded"``, ``"openai"`` or ``"fake"`` (plumbing only, never results).
        n_items: eval items per dataset and task (balanced over labels).
        n_calibrate: training items per dataset scored to fit the agents' label bias.
        seed: master seed (item samples, the LLM's seed).
        datasets: restrict to these datasets (list or comma-separated; ``None``: every
            dataset present). Tasks left without data are listed under ``skipped``.
        model: LLM model name (default: the backend's default).
        llm: an already loaded backend (overrides ``backend``/``model``).
        progress: progress bars.
        decisions: ``"calibrated"``: the agents' figure comes from the decision heads
            ``heads`` (the packaged ones were fitted on the train side of shared/data's
            split, never on its validation rows); the zero-shot answers are kept as the
            ``zero-shot`` model. ``"zero_shot"``: the label-bias calibrated answer words.
            ``"auto"``: calibrated on the embedded backend.
        heads: decision heads name or folder (:class:`s3kit.heads.DecisionModel`).

    Returns:
        A :class:`LabelRun`.

    Raises:
        ValueError: an unknown task name.
    """
    t_start = time.perf_counter()
    names = [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else list(tasks)
    names = [t for t in names if t]
    unknown = [t for t in names if t not in LABEL_TASKS]
    if unknown:
        raise ValueError(f"unknown label task(s) {unknown}; known: {list(LABEL_TASKS)}")
    root = resolve_data_dir(data_dir)
    sizes = BenchSizes(quick=True)
    sizes.n_label, sizes.n_calibrate = int(n_items), int(n_calibrate)
    sizes.zero_shot_row = True  # the notebook compares calibrated, zero-shot and baseline
    data = DatasetPairs(root, None, progress)
    keep = None
    if datasets is not None:
        keep = ({d.strip() for d in datasets.split(",")} if isinstance(datasets, str)
                else set(datasets))
        data.train_names = [n for n in data.train_names if n in keep]
        data.eval_names = [n for n in data.eval_names if n in keep]
    if llm is None:
        default = os.environ.get("OPENAI_MODEL", "default") if backend == "openai" else \
            DEFAULT_MODEL
        llm = load_llm(backend, model or default, seed=seed)
    mode = resolve_decisions(decisions, llm)
    decision_model = DecisionModel.load(heads, llm=llm) if mode == "calibrated" else None
    context = BenchContext(llm, decision_model, seed=seed, progress=progress)
    results: dict[str, Any] = {
        "s3kit_version": __version__, "backend": getattr(llm, "backend", backend),
        "decisions": mode,
        "seed": seed, "model": getattr(llm, "model", model), "train_dir": str(root),
        "eval_dir": None,
        "split": "deterministic 20% validation split of train_dir (md5 of event/thread/"
                 "user/text id)",
        "quick": True, "sizes": sizes.as_dict(), "tasks": {}, "skipped": {},
        "s3_paper": S3_FIGURES,
    }
    frames = []
    for name in tqdm(names, desc="tasks", disable=not progress):
        left_out = [f"{d}: left out (datasets={sorted(keep)})"
                    for d in TASK_DATASETS[name] if keep is not None and d not in keep]
        result = evaluate(name, data, context, sizes,
                          datasets=[d for d in TASK_DATASETS[name] if keep is None or d in keep])
        result.not_used[:0] = left_out
        for part in result.parts:
            frames.append(_tidy_predictions(name, part.dataset, part.predictions,
                                            zero_shot=decision_model is not None))
        if result.skipped is not None:
            results["skipped"][name] = result.skipped
            continue
        entry = result.entry()
        entry["seconds"] = round(result.seconds, 1)
        results["tasks"][name] = entry
    results["llm_stats"] = llm.stats.as_dict() if hasattr(llm, "stats") else {}
    results["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    clean = json_safe(results)
    preds = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["task", "dataset", "model", "item", "y_true", "label", "prob"]))
    for col in ("task", "dataset", "model"):
        preds[col] = preds[col].astype("string")
    return LabelRun(results=clean, predictions=preds, table=results_table(clean))


def _select(predictions: pd.DataFrame, task: str | None, model: str | None = None,
            dataset: str | None = None) -> pd.DataFrame:
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


def _wide(df: pd.DataFrame) -> tuple[pd.DataFrame, list]:
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
        predictions: :attr:`LabelRun.predictions` (or any frame with its columns).
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

    df = _select(predictions, task)
    out = []
    for model, part in df.groupby("model", sort=False, observed=True):
        wide, labels = _wide(part)
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
        predictions: :attr:`LabelRun.predictions`.
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
    df = _select(predictions, task)
    out = []
    for model, part in df.groupby("model", sort=False, observed=True):
        frames = []
        for _, sub in part.groupby(["task", "dataset"], sort=False, observed=True):
            wide, labels = _wide(sub)
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


def plot_confusion(predictions: pd.DataFrame, task: str, model: str = AGENTS,
                   normalize: bool = True, ax: matplotlib.axes.Axes | None = None
                   ) -> matplotlib.axes.Axes:
    """Confusion matrix (rows: true label, columns: predicted = most probable label).

    Args:
        predictions: :attr:`LabelRun.predictions`.
        task: the task (all its datasets pooled).
        model: ``"s3kit"`` (the agents), a baseline's name, or ``"baseline"`` (the task's
            baseline, e.g. ``tfidf_logreg``).
        normalize: show row shares (recall per true label) instead of counts.
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (a seaborn heatmap; cell texts are the shares or counts).
    """
    part = _select(predictions, task, model)
    wide, labels = _wide(part)
    pred = np.asarray(labels, dtype=object)[wide[labels].to_numpy(float).argmax(axis=1)]
    return confusion_heatmap(wide["y_true"], pred, labels, normalize=normalize, ax=ax,
                             title=f"{task}: {part['model'].iloc[0]}")


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
    import seaborn as sns

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


def plot_roc(predictions: pd.DataFrame, task: str, ax: matplotlib.axes.Axes | None = None
             ) -> matplotlib.axes.Axes:
    """ROC curves of the agents and the baselines on one task (see :func:`roc_frame`).

    Args:
        predictions: :attr:`LabelRun.predictions`.
        task: the task.
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (legend: model and AUC).
    """
    roc = roc_frame(predictions, task)
    ax = _axes(ax)
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
        predictions: :attr:`LabelRun.predictions`.
        task: the task (``None``: all tasks pooled).
        n_bins: confidence bins (see :func:`calibration_frame`).
        ax: Axes to draw on (``None``: a new figure).

    Returns:
        The Axes (legend: model and ECE; the diagonal is perfect calibration).
    """
    cal = calibration_frame(predictions, task, n_bins)
    ax = _axes(ax)
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


# ----------------------------------------------------------------------------- replay


def spread_baselines(config: Any, models: Sequence[str] = ("logistic", "hawkes",
                                                           "independent_cascade"),
                     n_sub: int = 6, n_replicates: int = 50) -> pd.DataFrame:
    """Forecast a replayed event with the classical spread models, from what the agents saw.

    Every model is fitted only on the replay's seed window: the source post and the real
    posts of the first ``step_hours`` (the early adopters the simulation starts from), and
    forecasts the cumulative adopters up to ``(n_steps + 1) * step_hours`` hours:

    * ``logistic``: :class:`~s3kit.baselines.LogisticGrowth` fitted to the early adoption times;
    * ``hawkes``: :class:`~s3kit.baselines.HawkesProcess` fitted to the same times;
    * ``independent_cascade``: :class:`~s3kit.baselines.IndependentCascade` on the replay's
      graph, ``p`` estimated by maximum likelihood on the seed window binned into ``n_sub``
      sub-steps per step (attempts after the window are not counted), then simulated forward
      from the early adopters (Monte-Carlo mean over ``n_replicates``) and read every
      ``n_sub`` sub-steps. Skipped when the graph has no edge.

    Forecasts are capped at the replay's population. A model that cannot be fitted (fewer than
    three early adopters, no convergence) is left out with a warning.

    Args:
        config: the replay's config (a :class:`~s3kit.config.ReplayConfig`, a mapping or a
            scenario YAML path, as for :func:`s3kit.replay.run_replay`).
        models: which models to fit.
        n_sub: sub-steps per step for the independent cascade's fit and simulation.
        n_replicates: Monte-Carlo replicates of the independent cascade.

    Returns:
        Tidy frame ``source, step, hours, adopters`` on the grid of the real curve in
        ``curves.parquet`` (``step = -1`` is the source post at hour 0; step ``s`` ends at
        ``(s + 1) * step_hours``); ``source`` is the model's name. ``attrs["params"]`` holds the
        fitted parameters.

    Examples:
        >>> b = spread_baselines({"n_steps": 3, "backend": "fake"}, models=("logistic",))
        >>> b["step"].tolist(), b["source"].unique().tolist()
        ([-1, 0, 1, 2, 3], ['logistic'])
    """
    cfg = load_config(config)
    net, event_id, _, posts, t0 = build_replay(cfg)
    sh = float(cfg.step_hours)
    first = posts.dropna(subset=["user_id"]).groupby("user_id")["time"].min()
    hours = ((first - t0) / pd.Timedelta(hours=1)).astype(float)
    early = hours[hours <= sh + 1e-9].sort_values()
    steps = np.arange(-1, cfg.n_steps + 1)
    grid = (steps + 1) * sh
    cap = float(max(len(net), len(early)))
    out, params = [], {}

    def add(name, values):
        values = np.minimum(np.maximum.accumulate(np.asarray(values, dtype=float)), cap)
        out.append(pd.DataFrame({"source": name, "step": steps, "hours": grid,
                                 "adopters": values}))

    for name in models:
        try:
            if name == "logistic":
                m = LogisticGrowth().fit(early.to_numpy())
                add(name, np.maximum(m.predict(grid), np.searchsorted(early, grid, "right")))
                params[name] = {"K": m.K_, "r": m.r_, "t0": m.t0_}
            elif name == "hawkes":
                m = HawkesProcess().fit(early.to_numpy(), t_max=sh)
                add(name, m.predict(grid))
                params[name] = {"mu": m.mu_, "alpha": m.alpha_, "beta": m.beta_}
            elif name == "independent_cascade":
                if net.graph.number_of_edges() == 0:
                    continue
                sub = np.ceil(early.to_numpy() / sh * n_sub - 1e-9).astype(int).clip(0, n_sub)
                seeds = dict(zip(early.index.astype(str), sub.tolist(), strict=True))
                casc = pd.DataFrame({"cascade_id": str(event_id), "user_id": list(seeds),
                                     "step": list(seeds.values())})
                ic = IndependentCascade(seed=cfg.seed).fit(net.graph, casc, horizon=n_sub)
                sim = ic.simulate(seeds, (cfg.n_steps + 1) * n_sub, n_replicates=n_replicates,
                                  seed=cfg.seed)
                add(name, sim["cumulative"].to_numpy()[::n_sub])
                params[name] = {"p": ic.p_, "n_attempts": ic.n_attempts_, "n_sub": n_sub}
            else:
                raise ValueError(f"unknown spread baseline {name!r}")
        except (ValueError, RuntimeError) as exc:
            if "unknown spread baseline" in str(exc):
                raise
            warnings.warn(f"{name}: not fitted ({exc})", stacklevel=2)
    frame = (pd.concat(out, ignore_index=True) if out else
             pd.DataFrame(columns=["source", "step", "hours", "adopters"]))
    frame["source"] = frame["source"].astype("string")
    frame.attrs["params"] = params
    frame.attrs["early_adopters"] = int(len(early))
    return frame


def _sim_mean(curves: pd.DataFrame, column: str) -> pd.Series:
    sim = curves[curves["source"] == "simulated"]
    return sim.groupby("hours")[column].mean()


def _shares(curves: pd.DataFrame, measure: str) -> pd.DataFrame:
    if measure == "emotion":
        values = curves["moderate"] + curves["intense"]
    elif measure == "attitude":
        values = curves["positive_share"]
    else:
        raise ValueError(f"measure must be 'emotion' or 'attitude', got {measure!r}")
    return curves.assign(share=values.astype(float))


def replay_fidelity(curves: pd.DataFrame, baselines: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """Score the simulated (and baseline) curves of a replay against the real event.

    Spread: :func:`~s3kit.evaluation.metrics.spread_nrmse` and
    :func:`~s3kit.evaluation.metrics.final_size_error` on the hours the simulation covers
    (replicates averaged). Trends (simulation only; baselines forecast sizes, not moods):
    :func:`~s3kit.evaluation.metrics.pearson_r` and
    :func:`~s3kit.evaluation.metrics.trend_rmse` of the share of non-calm agents
    (``emotion``) and of positive attitudes (``attitude``) per step.

    Args:
        curves: ``curves.parquet`` of a replay (``source`` = simulated / real).
        baselines: :func:`spread_baselines` output (optional).

    Returns:
        Tidy frame ``source, metric, value``.
    """
    real = curves[curves["source"] == "real"].set_index("hours")
    if real.empty:
        raise ValueError("curves hold no real curve to compare with")
    sim = _sim_mean(curves, "adopters")
    grid = sim.index.to_numpy(float)
    rows = []
    candidates = {"simulated": sim}
    if baselines is not None:
        for name, part in baselines.groupby("source", sort=False, observed=True):
            candidates[str(name)] = part.set_index("hours")["adopters"].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricUndefinedWarning)
        for name, curve in candidates.items():
            rows.append((name, "spread_nrmse", spread_nrmse(real["adopters"], curve, grid)))
            rows.append((name, "final_size_error",
                         final_size_error(real["adopters"], curve, grid)))
        for measure in ("emotion", "attitude"):
            shares = _shares(curves, measure)
            r = shares[shares["source"] == "real"].set_index("hours")["share"]
            s = _sim_mean(shares, "share")
            rows.append(("simulated", f"{measure}_pearson_r", pearson_r(s, r)))
            rows.append(("simulated", f"{measure}_rmse", trend_rmse(s, r)))
    out = pd.DataFrame(rows, columns=["source", "metric", "value"])
    out["value"] = out["value"].astype(float)
    return out


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
    import seaborn as sns

    data = _shares(curves, measure)
    data = data[data["share"].notna()]
    ax = _axes(ax)
    sns.lineplot(data=data, x="hours", y="share", hue="source", marker="o",
                 errorbar=("pi", 100), ax=ax)
    ax.set_ylim(0, 1)
    ax.set_xlabel("hours since first post")
    ax.set_ylabel({"emotion": "share of emotional (non-calm)",
                   "attitude": "share of positive attitude"}[measure])
    return ax


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save a figure (creating its folder) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


# ------------------------------------------------------------- tuning experiments

def plot_tuning_curve(curve: pd.DataFrame, ax=None):
    """Training loss per step and monitoring accuracy (right axis); returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
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


def write_experiment(result: dict, out_dir) -> dict:
    """Write ``metrics.json``, ``curve.csv`` and figures of a tuning experiment.

    ``result`` is what :func:`s3kit.demographics.gender_tuning_experiment` returns.

    Returns:
        Mapping of artefact name to path.
    """
    import json

    import matplotlib.pyplot as plt

    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "curve": out / "curve.csv",
             "confusion": out / "figures" / "confusion.png",
             "tuning_curve": out / "figures" / "tuning_curve.png"}
    keep = {k: result[k] for k in ("dataset", "inputs", "split", "metrics", "tuning", "timing",
                                   "classes")
            if k in result}
    paths["metrics"].write_text(json.dumps(keep, indent=2, default=str), encoding="utf-8")
    result["curve"].to_csv(paths["curve"], index=False)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    for ax, name in zip(axes, ("zero_shot", "tuned", "tfidf_lr"), strict=True):
        acc = result["metrics"][name]["acc"]
        confusion_heatmap(result["y_true"], result["pred"][name], result["classes"], ax=ax,
                          title=f"{name} (acc {acc:.2f})")
    fig.tight_layout()
    fig.savefig(paths["confusion"], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3))
    plot_tuning_curve(result["curve"], ax=ax)
    fig.tight_layout()
    fig.savefig(paths["tuning_curve"], dpi=100)
    plt.close(fig)
    return {k: str(v) for k, v in paths.items()}
