r"""Batch runs: execute the scenario notebook once per scenario YAML with papermill, then collect.

``run_scenarios(["data/scenarios/a.yaml", ...], out="runs/")`` is the library form of::

    papermill notebooks/04_population_replay.ipynb runs/<name>/04_population_replay.ipynb \
        -f data/scenarios/<name>.yaml --cwd runs/<name>

for every YAML: the YAML mapping is the parameter dict (keys = ``ReplayConfig`` fields = the
notebook's ``parameters`` cell), the executed notebook is kept as the record of the run, and the
notebook writes ``results.parquet`` + ``manifest.json`` into the run folder.

Choices (documented in ``docs/widgets.md``):

* **Run name** = the YAML's ``name`` key, else the file stem. Two YAMLs with the same name are
  an error (they would overwrite each other).
* **Working directory.** Under papermill the kernel runs in ``cwd``; we set it to the run
  folder ``<out>/<name>``, so a notebook writing relative paths writes into its own run
  folder. If the notebook's ``parameters`` cell declares ``out_dir``, it also receives the
  absolute run folder as ``out_dir`` (the YAML cannot override it).
* **Failures.** A run whose notebook raises, or that does not write ``results.parquet`` and
  ``manifest.json``, is reported as failed (status, error) and its partially executed notebook
  is kept; the other runs continue. ``scenario.json`` in each run folder records the YAML,
  parameters, status, error and duration.
* **Parallelism.** ``parallel > 1`` runs that many notebooks at once, each in its own process
  (and kernel).

``collect_runs("runs/")`` concatenates every run's ``results.parquet`` into one tidy frame with
a ``run`` column and one column per scalar parameter (a results column of the same name wins).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import read_scenario_yaml
from .errors import ConfigError

__all__ = ["ScenarioRun", "run_scenarios", "collect_runs", "load_scenario", "add_scenario_parsers"]

#: The scenario notebook of the source checkout, resolved from the package (not the working
#: directory, so ``s3kit run-scenarios`` works from any folder).
DEFAULT_NOTEBOOK = str(Path(__file__).resolve().parents[1] / "notebooks"
                       / "04_population_replay.ipynb")
REQUIRED_OUTPUTS = ("results.parquet", "manifest.json")
RECORD = "scenario.json"


@dataclass
class ScenarioRun:
    """The outcome of one scenario run.

    Attributes:
        name: run name (folder under ``out``).
        yaml: the scenario file.
        status: ``"ok"`` or ``"failed"``.
        notebook: the executed (or partially executed) notebook.
        out_dir: the run folder.
        seconds: wall time of the run.
        error: why it failed (``None`` when ok).
        parameters: the parameters passed to the notebook.
    """

    name: str
    yaml: str
    status: str
    notebook: str
    out_dir: str
    seconds: float
    error: str | None = None
    parameters: dict | None = None


def load_scenario(path: str | os.PathLike) -> tuple[str, dict[str, Any]]:
    r"""Read a scenario YAML: returns ``(run name, parameters)``.

    Args:
        path: YAML file holding one mapping (keys = notebook parameters).

    Returns:
        The run name (the ``name`` key, else the file stem) and the parameter dict.

    Raises:
        ConfigError: unreadable file or not a mapping.

    Examples:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.yaml"
        >>> _ = p.write_text("n_steps: 2\nseed: 3\n")
        >>> load_scenario(p)
        ('tiny', {'n_steps': 2, 'seed': 3})
    """
    path = Path(path)
    values = read_scenario_yaml(path)
    name = str(values.get("name") or path.stem)
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"{path}: bad run name {name!r}")
    return name, values


def _declared_parameters(notebook: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(notebook)))


def _run_one(notebook: str, yaml_path: str, name: str, parameters: dict, out_dir: str,
             kernel_name: str | None, timeout: float | None, declared: list[str]) -> dict:
    """Execute one scenario (top-level so a process pool can pickle it)."""
    import papermill as pm

    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (*REQUIRED_OUTPUTS, RECORD):
        (run_dir / stale).unlink(missing_ok=True)
    params = dict(parameters)
    if "out_dir" in declared:
        params["out_dir"] = str(run_dir.resolve())
    output = run_dir / Path(notebook).name
    start = time.perf_counter()
    error = None
    try:
        pm.execute_notebook(
            notebook, str(output), parameters=params, cwd=str(run_dir), kernel_name=kernel_name,
            progress_bar=False, execution_timeout=timeout, log_output=False)
        missing = [f for f in REQUIRED_OUTPUTS if not (run_dir / f).is_file()]
        if missing:
            error = f"the notebook ran but did not write {', '.join(missing)} into {run_dir}"
    except Exception as exc:  # every failure is reported, the batch continues
        error = _short_error(exc)
    run = ScenarioRun(name=name, yaml=str(yaml_path), status="failed" if error else "ok",
                      notebook=str(output), out_dir=str(run_dir),
                      seconds=round(time.perf_counter() - start, 3), error=error,
                      parameters=params)
    (run_dir / RECORD).write_text(json.dumps(asdict(run), indent=2, default=str) + "\n",
                                  encoding="utf-8")
    return asdict(run)


def _short_error(exc: BaseException) -> str:
    name = getattr(exc, "ename", None)
    value = getattr(exc, "evalue", None)
    if name:  # papermill.PapermillExecutionError: the cell's exception
        cell = getattr(exc, "exec_count", None)
        return f"{name}: {value} (cell {cell})"
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def run_scenarios(yaml_paths: str | os.PathLike | Iterable[str | os.PathLike],
                  out: str | os.PathLike = "runs/", parallel: int = 1,
                  notebook: str | os.PathLike = DEFAULT_NOTEBOOK,
                  kernel_name: str | None = None, timeout: float | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """Execute the scenario notebook once per YAML with papermill.

    Each run gets the folder ``<out>/<name>`` holding the executed notebook (the record),
    ``results.parquet``, ``manifest.json`` and ``scenario.json``. A failed run keeps its
    partially executed notebook and is reported; the others continue.

    Args:
        yaml_paths: scenario YAML files (a single path, a list, or glob results).
        out: folder of the run folders.
        parallel: notebooks executed at once (each in its own process and kernel).
        notebook: the parameterised notebook to execute.
        kernel_name: Jupyter kernel (``None``: the notebook's own).
        timeout: per-cell time limit in seconds (``None``: none).
        progress: show a progress bar over the runs.

    Returns:
        One row per run (in the order given): ``name, yaml, status, notebook, out_dir,
        seconds, error``.

    Raises:
        ConfigError: unreadable YAML, duplicate run names, or a missing notebook (before any
            run starts).
    """
    from tqdm.auto import tqdm

    if isinstance(yaml_paths, str | os.PathLike):
        yaml_paths = [yaml_paths]
    yaml_paths = [Path(p) for p in yaml_paths]
    notebook = Path(notebook)
    if not notebook.is_file():
        raise ConfigError(f"scenario notebook not found: {notebook}")
    if int(parallel) < 1:
        raise ConfigError(f"parallel must be >= 1, got {parallel!r}")
    jobs = []
    seen: dict[str, Path] = {}
    for path in yaml_paths:
        name, params = load_scenario(path)
        if name in seen:
            raise ConfigError(f"two scenarios are named {name!r}: {seen[name]} and {path}")
        seen[name] = path
        jobs.append((name, path, params))
    declared = sorted(_declared_parameters(notebook))
    out = Path(out)
    args = [(str(notebook.resolve()), str(path), name, params, str((out / name).resolve()),
             kernel_name, timeout, declared) for name, path, params in jobs]
    results: dict[str, dict] = {}
    bar = tqdm(total=len(args), desc="scenarios", disable=not progress)
    try:
        if int(parallel) == 1 or len(args) <= 1:
            for a in args:
                results[a[2]] = _run_one(*a)
                bar.update()
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(max_workers=int(parallel),
                                     mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(_run_one, *a): a for a in args}
                for fut in as_completed(futures):
                    a = futures[fut]
                    try:
                        results[a[2]] = fut.result()
                    except Exception as exc:  # the worker itself died
                        results[a[2]] = asdict(ScenarioRun(
                            name=a[2], yaml=a[1], status="failed",
                            notebook=str(Path(a[4]) / notebook.name), out_dir=a[4],
                            seconds=0.0, error=_short_error(exc), parameters=a[3]))
                    bar.update()
    finally:
        bar.close()
    frame = pd.DataFrame([results[a[2]] for a in args])
    return frame.drop(columns=["parameters"])


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def collect_runs(runs_dir: str | os.PathLike = "runs/", include_failed: bool = False
                 ) -> pd.DataFrame:
    """Concatenate every run's ``results.parquet`` into one tidy frame.

    Args:
        runs_dir: the ``out`` folder of :func:`run_scenarios` (one sub-folder per run).
        include_failed: also collect runs recorded as failed that still wrote results.

    Returns:
        The rows of all runs with a ``run`` column (the run name) first, then one column per
        parameter (from ``manifest.json``'s ``parameters``/``config``, else ``scenario.json``;
        lists and dicts as JSON text), then the results columns. A parameter whose name is
        already a results column is not added (the results column wins).

    Raises:
        FileNotFoundError: ``runs_dir`` does not exist.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"no runs folder {runs_dir}")
    frames = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        res = run_dir / "results.parquet"
        if not res.is_file():
            continue
        record = _read_json(run_dir / RECORD)
        if record.get("status") == "failed" and not include_failed:
            continue
        manifest = _read_json(run_dir / "manifest.json")
        params = (manifest.get("parameters") or manifest.get("config")
                  or record.get("parameters") or {})
        df = pd.read_parquet(res)
        name = record.get("name") or manifest.get("name") or run_dir.name
        extra = {"run": name}
        for key, value in params.items():
            if key not in df.columns and key not in ("run", "out_dir"):
                extra[key] = _scalar(value)
        head = pd.DataFrame({k: [v] * len(df) for k, v in extra.items()}, index=df.index)
        frames.append(pd.concat([head, df], axis=1))
    if not frames:
        return pd.DataFrame({"run": pd.Series(dtype="string")})
    out = pd.concat(frames, ignore_index=True, sort=False)
    out["run"] = out["run"].astype("string")
    return out


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def add_scenario_parsers(sub) -> None:
    """Register ``run-scenarios`` and ``collect`` on an argparse subparsers object."""
    run = sub.add_parser("run-scenarios", help="execute the scenario notebook once per YAML")
    run.add_argument("yaml", nargs="+", help="scenario YAML files (keys = ReplayConfig fields)")
    run.add_argument("--out", default="runs/", help="folder of run folders (default: runs/)")
    run.add_argument("--parallel", type=int, default=1, help="notebooks run at once")
    run.add_argument("--notebook", default=DEFAULT_NOTEBOOK, help="the scenario notebook")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)
    col = sub.add_parser("collect", help="concatenate runs into one tidy frame")
    col.add_argument("runs_dir", nargs="?", default="runs/")
    col.add_argument("--to", default=None, help="write .parquet or .csv (default: print)")
    col.set_defaults(func=_cmd_collect)


def _cmd_run(args) -> int:
    table = run_scenarios(args.yaml, out=args.out, parallel=args.parallel,
                          notebook=args.notebook, progress=not args.quiet)
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(table[["name", "status", "seconds", "error"]].to_string(index=False))
    return int((table["status"] != "ok").any())


def _cmd_collect(args) -> int:
    frame = collect_runs(args.runs_dir)
    if args.to:
        (frame.to_parquet if args.to.endswith(".parquet") else frame.to_csv)(args.to)
        print(f"wrote {len(frame)} rows to {args.to}")
    else:
        print(frame.to_string(max_rows=40))
    return 0
