"""How close a replay comes to the real event, next to classical forecasts of the same event.

:func:`spread_baselines` fits the classical spread models of :mod:`s3kit.baselines` to what the
agents of a :func:`s3kit.replay.run_replay` run were given (the source post and the adopters
of the first ``step_hours``) and forecasts the rest; :func:`replay_fidelity` scores simulated
and baseline curves against the real one; :func:`replay_shares` reads the emotion / attitude
share per step that :func:`s3kit.plotting.plot_replay_trend` draws.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..baselines import HawkesProcess, IndependentCascade, LogisticGrowth
from ..replay import build_replay, load_config
from .metrics import (
    MetricUndefinedWarning,
    final_size_error,
    pearson_r,
    spread_nrmse,
    trend_rmse,
)

__all__ = ["spread_baselines", "replay_fidelity", "replay_shares"]


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
    replay_config = load_config(config)
    net, event_id, _, posts, t0 = build_replay(replay_config)
    sh = float(replay_config.step_hours)
    first = posts.dropna(subset=["user_id"]).groupby("user_id")["time"].min()
    hours = ((first - t0) / pd.Timedelta(hours=1)).astype(float)
    early = hours[hours <= sh + 1e-9].sort_values()
    steps = np.arange(-1, replay_config.n_steps + 1)
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
                ic = IndependentCascade(seed=replay_config.seed).fit(net.graph, casc,
                                                                     horizon=n_sub)
                sim = ic.simulate(seeds, (replay_config.n_steps + 1) * n_sub,
                                  n_replicates=n_replicates, seed=replay_config.seed)
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


def replay_shares(curves: pd.DataFrame, measure: str) -> pd.DataFrame:
    """``curves`` plus ``share``: non-calm (``emotion``) or positive (``attitude``) share.

    Raises:
        ValueError: another ``measure``.
    """
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
            shares = replay_shares(curves, measure)
            r = shares[shares["source"] == "real"].set_index("hours")["share"]
            s = _sim_mean(shares, "share")
            rows.append(("simulated", f"{measure}_pearson_r", pearson_r(s, r)))
            rows.append(("simulated", f"{measure}_rmse", trend_rmse(s, r)))
    out = pd.DataFrame(rows, columns=["source", "metric", "value"])
    out["value"] = out["value"].astype(float)
    return out
