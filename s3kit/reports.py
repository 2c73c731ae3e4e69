"""Notebook helpers: a label-task run with every item's predictions, a tuning experiment's files.

* :func:`run_label_tasks` runs the label tasks of ``s3kit bench`` (``emotion``, ``attitude``,
  ``attitude_change``, ``gender``, ``repost``) through the benchmark's public runner
  (:func:`s3kit.evaluation.runner.evaluate`), with sizes a classroom can afford, and keeps
  every item's probabilities as a tidy ``predictions`` frame
  (:mod:`s3kit.evaluation.predictions`; notebook 03 draws it with
  :func:`s3kit.plotting.plot_confusion`, :func:`~s3kit.plotting.plot_roc` and
  :func:`~s3kit.plotting.plot_calibration`).
* :func:`write_experiment` writes the metrics, tuning curve and figures of a demographic
  tuning experiment (notebook 02, :mod:`s3kit.evaluation.demographics`).

The replay's fidelity helpers of notebook 04 are in :mod:`s3kit.evaluation.fidelity`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ._version import __version__
from .datasets.base import data_dir as resolve_data_dir
from .evaluation.context import BenchContext
from .evaluation.predictions import PREDICTION_COLUMNS, tidy_predictions
from .evaluation.results import S3_FIGURES, json_safe, results_table
from .evaluation.runner import evaluate
from .evaluation.sizes import BenchSizes
from .evaluation.tasks import LABEL_TASKS, TASK_DATASETS, DatasetPairs
from .heads import DecisionModel, resolve_decisions
from .llm import DEFAULT_MODEL, load_llm
from .plotting import confusion_heatmap, plot_tuning_curve

__all__ = ["LABEL_TASKS", "LabelRun", "run_label_tasks", "write_experiment"]


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
            frames.append(tidy_predictions(name, part.dataset, part.predictions,
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
    preds = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame(columns=PREDICTION_COLUMNS))
    for col in ("task", "dataset", "model"):
        preds[col] = preds[col].astype("string")
    return LabelRun(results=clean, predictions=preds, table=results_table(clean))


def write_experiment(result: dict, out_dir) -> dict:
    """Write ``metrics.json``, ``curve.csv`` and figures of a tuning experiment.

    ``result`` is what :func:`s3kit.evaluation.demographics.gender_tuning_experiment` returns
    (notebook 02 assembles the same dict from its cells).

    Returns:
        Mapping of artefact name to path.
    """
    import matplotlib.pyplot as plt  # lazy: matplotlib only when figures are written

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
