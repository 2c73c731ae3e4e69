"""``s3kit bench``: the benchmark of docs/evaluation.md, on any folder laid out like shared/data.

:func:`run_bench` builds every task (:mod:`s3kit.evaluation.tasks`) from the datasets present,
fits the calibrated agents' heads on ``train_dir`` (or adapts the answer-word path), evaluates
the LLM agents and the classical baseline of each task on the same items through the public
runner (:func:`s3kit.evaluation.runner.evaluate`), writes the JSON of the contract
(:mod:`s3kit.evaluation.results`) and prints a table next to the S3 paper's figures. A task
whose data is absent is recorded under ``"skipped"`` with the reason, never silently dropped.
The command-line front is in :mod:`s3kit.cli`.

JSON (``NaN`` written as ``null``)::

    {"s3kit_version": ..., "backend": ..., "seed": ...,
     "tasks": {"<task>": {"dataset": ..., "n": ..., "metrics": {...},
                          "baselines": {"<name>": {...}}, ...}},
     "skipped": {"<task>": "<reason>"}, ...}

Where the parts live: task names and items in :mod:`~s3kit.evaluation.tasks`, sizes in
:mod:`~s3kit.evaluation.sizes`, the agents' prompts and answers in
:mod:`~s3kit.evaluation.decisions`, baselines in :mod:`~s3kit.evaluation.task_baselines`,
replays in :mod:`~s3kit.evaluation.replays`, the per-run caches in
:mod:`~s3kit.evaluation.context`, the runner in :mod:`~s3kit.evaluation.runner`, the JSON
and the table in :mod:`~s3kit.evaluation.results`.

Examples:
    >>> sorted(S3_FIGURES)[:3]
    ['attitude', 'attitude_change', 'content']
    >>> TASKS[:2]
    ('repost', 'emotion')
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .._version import __version__
from ..heads import resolve_decisions
from ..llm import DEFAULT_MODEL, load_llm
from ..llm.models import release_heap
from ..paths import cache_dir
from .calibrate import default_embedder, fit_decision_model
from .context import BenchContext
from .results import S3_FIGURES, json_safe, results_table, write_results
from .runner import candidate_datasets, evaluate
from .sizes import BenchSizes
from .tasks import TASKS, DatasetPairs

__all__ = ["run_bench", "SIMULATION_HEADS", "TASKS", "S3_FIGURES", "BenchSizes",
           "results_table", "write_results"]

#: Heads a calibrated agent decides with (a replay needs all three).
SIMULATION_HEADS = ("emotion", "attitude", "action")


def run_bench(train_dir: str | os.PathLike, eval_dir: str | os.PathLike | None = None,
              out: str | os.PathLike | None = "results.json", backend: str = "embedded",
              quick: bool = False, progress: bool = True, *, model: str | None = None,
              base_url: str | None = None, tasks: Sequence[str] | None = None, seed: int = 0,
              llm: Any = None, print_table: bool = True, tune: int = 0,
              decisions: str = "auto", representation: str = "llm+e5") -> dict:
    """Run the benchmark and write its JSON.

    Args:
        train_dir: folder laid out like shared/data; what needs fitting is fitted on it.
        eval_dir: folder to evaluate on (same layout; other split names or a subset of
            datasets are fine). ``None``: a deterministic validation split of ``train_dir``
            (20% of events / threads / users / labelled rows by id hash, see
            :func:`s3kit.evaluation.tasks.split_dataset`).
        out: JSON path (``None``: do not write).
        backend: ``"embedded"`` (default), ``"openai"`` or ``"fake"`` (plumbing only).
        quick: small sizes (:class:`~s3kit.evaluation.sizes.BenchSizes`), < 10 minutes on 2
            cores.
        progress: progress bars.
        model: LLM model name (default: the backend's default).
        base_url: OpenAI-compatible server (``backend="openai"``).
        tasks: subset of :data:`~s3kit.evaluation.tasks.TASKS` (default: all).
        seed: master seed (samples, replays, generation).
        llm: an already loaded backend (overrides ``backend``/``model``).
        print_table: print the comparison table at the end.
        tune: prefix-tuning steps per label task and dataset on the train side (embedded
            backend; 0 = calibration only). Adapters are saved and reused by digest.
        decisions: ``"calibrated"``: s3kit's figure comes from decision heads fitted here on
            the train side (:func:`s3kit.evaluation.calibrate.fit_decision_model`; never on
            the rows scored), and the replays run on them; the zero-shot answers stay as
            the ``zero_shot`` row. ``"zero_shot"``: the LLM's answer words (label-prior
            calibrated). ``"auto"``: calibrated on the embedded backend without ``tune``,
            else zero-shot (``tune`` prefix-tunes the answer-word heads).
        representation: what the calibrated heads read
            (:func:`s3kit.evaluation.calibrate.default_embedder`; ``"hashing"`` for tests).

    Returns:
        The results dict (as written, ``NaN`` -> ``None``), plus ``"_raw"``: the
        :class:`~s3kit.evaluation.results.TaskResult` of each task that ran, with every
        item's predictions (kept in memory for notebooks; not written).
    """
    t_start = time.perf_counter()
    sizes = BenchSizes(quick)
    sizes.tune_steps = max(0, int(tune))
    names = list(TASKS if tasks is None else tasks)
    unknown = [t for t in names if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known: {list(TASKS)}")
    data = DatasetPairs(train_dir, eval_dir, progress)
    own_llm = llm is None
    if own_llm:
        kwargs = {"base_url": base_url} if backend == "openai" else {}
        llm = load_llm(backend, model or (DEFAULT_MODEL if backend != "openai" else
                                          os.environ.get("OPENAI_MODEL", "default")),
                       seed=seed, **kwargs)
    results: dict[str, Any] = {
        "s3kit_version": __version__, "backend": getattr(llm, "backend", backend),
        "seed": seed, "model": getattr(llm, "model", model),
        "train_dir": str(Path(train_dir).resolve()),
        "eval_dir": str(Path(eval_dir).resolve()) if eval_dir is not None else None,
        "split": ("eval_dir" if eval_dir is not None else
                  "deterministic 20% validation split of train_dir (md5 of event/thread/"
                  "user/text id)"),
        "quick": bool(quick), "sizes": sizes.as_dict(), "tasks": {}, "skipped": {},
        "s3_paper": S3_FIGURES,
    }
    # --tune tunes the answer-word path: it is the figure then
    mode = ("zero_shot" if decisions == "auto" and tune
            else resolve_decisions(decisions, llm))
    results["decisions"] = mode
    if own_llm and mode != "zero_shot" and hasattr(llm, "prefix_cache"):
        # every zero-shot figure asks one question per item and the replays decide by heads:
        # no prompt head is asked twice, so cached heads only held memory (with a fresh answer
        # cache the full bench's zero-shot column took its RSS from 2.3 to 5.0 GB)
        llm.prefix_cache.max_bytes = 0
    heads = None
    if mode == "calibrated":
        t0 = time.perf_counter()
        embedder = default_embedder(llm, representation=representation,
                                    cache=cache_dir() / "representations")
        heads, _ = fit_decision_model(train_dir, llm=llm, embedder=embedder,
                                      n_train=sizes.n_train_heads, seed=seed,
                                      progress=progress, data=data, validate=False)
        results["heads"] = {"representation": heads.embedder.name,
                            "n_train_per_dataset": sizes.n_train_heads,
                            "training_data_digest": heads.info["training_data_digest"],
                            "fitted_on": "train side only", "skipped": heads.info["skipped"],
                            "seconds": round(time.perf_counter() - t0, 1)}
    replay_heads = heads
    if heads is not None:
        missing = sorted(set(SIMULATION_HEADS) - set(heads.heads))
        if missing:  # e.g. a train dir of own data without emotion/attitude labels
            results["heads"]["not_used"] = (
                f"the train side has no items for the {', '.join(missing)} head(s) the "
                "agents decide with: the replays (spread, trends) decide zero-shot; the label "
                "tasks with a head use it")
            replay_heads = None
    context = BenchContext(llm, heads, replay_heads, seed=seed, progress=progress)
    raw = {}
    bar = tqdm(names, desc="bench", disable=not progress)
    for k, name in enumerate(bar):
        bar.set_postfix_str(name)
        # only the datasets the tasks left to run read, and their pages back to the system
        # (the full run's resident memory rose from 1.1 to 2.9 GB over the label tasks; with
        # this and the trim after each dataset, 2.4 GB at the content task)
        data.keep({d for t in names[k:] for d in candidate_datasets(t, data)})
        release_heap()
        t0 = time.perf_counter()
        try:
            result = evaluate(name, data, context, sizes)
        except ImportError as exc:
            results["skipped"][name] = f"a module it needs is not available: {exc}"
            continue
        if result.skipped is not None:
            results["skipped"][name] = result.skipped
            continue
        entry = result.entry()
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        raw[name] = result
        results["tasks"][name] = entry
    bar.close()
    results["llm_stats"] = llm.stats.as_dict() if hasattr(llm, "stats") else {}
    results["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    clean = json_safe(results)
    if out is not None:
        write_results(clean, out)
    if print_table:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(results_table(clean).to_string(index=False))
        print(f"wall time {clean['wall_seconds']:.0f} s; "
              f"skipped: {sorted(clean['skipped']) or 'none'}")
    clean["_raw"] = raw  # kept in memory for notebooks; not written
    return clean
