"""The classroom activities: each compares two settings on a number the dashboard shows.

One place for what ``widgets/classroom.ipynb`` asks students to try, so the notebook's text
and the test that checks each activity really shows something (``tests/test_widgets.py``)
read the same settings. :func:`compare` runs both settings over a few seeds and
:func:`effect` says whether the difference is larger than the seed-to-seed spread.

Where a parameter acts only later, the activity says so: the emotion decay pulls an agent
towards calm only in steps where nothing new reaches it, so it shows in the mood of *all*
agents (``excited_all``) once the rumour has passed some of them by; the memory half-life
changes what agents remember (the memory inspector), while the calibrated agents decide from
what they read now, so it shows in the memory scores, not in the spread.

Switching the recommender is not among them: recommended posts only reach agents who are
active anyway, and with the calibrated agents its effect on the spread stayed within the
seed-to-seed spread in our runs (``docs/widgets.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._sim import DEFAULT_SIMULATION_FACTORY, as_config, curves_frame
from .interventions import DEBUNK_TEXT

__all__ = ["Activity", "ACTIVITIES", "compare", "effect", "memory_time_share"]


@dataclass(frozen=True)
class Activity:
    """Two settings to compare and the number that shows the difference.

    Attributes:
        key: short name.
        title: what the students change.
        before: configuration changes of the first run.
        after: configuration changes of the second run.
        metric: the curves column compared (``memory_time_share``: see
            :func:`memory_time_share`).
        label: how the dashboard names that number.
        shows_from_step: the first step (1-based) where a difference is expected.
        why: the explanation to give when the difference appears (or not).
    """

    key: str
    title: str
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    metric: str = "adopters"
    label: str = "adopters"
    shows_from_step: int = 1
    why: str = ""


ACTIVITIES: tuple[Activity, ...] = (
    Activity("emotion_decay", "emotion decay 0.1 -> 0.9", {"emotion_decay": 0.1},
             {"emotion_decay": 0.9}, "excited_all", "not calm, all agents", 4,
             "decay acts on agents that received nothing new in a step; they are few while "
             "the rumour is fresh and many once it has passed them by (after 3 to 4 steps)"),
    Activity("half_life", "memory half-life 24 h -> 1 h", {"half_life_hours": 24.0},
             {"half_life_hours": 1.0}, "memory_time_share",
             "share of the time factor in memory scores", 1,
             "a short half-life makes older messages fade fast, so relevance and source "
             "decide what an agent remembers; the agents' decisions read what arrives now, "
             "so the spread does not change"),
    Activity("debunk", "a debunking post from the most-followed user at step 0",
             {}, {"interventions": [{"step": 0, "kind": "inject_post", "user": "most_followed",
                                     "text": DEBUNK_TEXT}]},
             "positive_share", "positive attitude (active agents)", 1,
             "the followers who get the rumour get the debunk in the same feed and read it "
             "together; a later debunk reaches people who already made up their minds"),
)


def memory_time_share(sim) -> float:
    """The share of the time factor in the memory scores of all agents, now.

    The mean over agents of ``sum(time) / sum(score)`` over the messages each remembers
    (:meth:`s3kit.memory.MemoryPool.explain`); NaN before anything is remembered.
    """
    rep = sim.replicate_
    if rep is None or rep.memory is None:
        return float("nan")
    now = sim.current_network.now
    shares = []
    for user in rep.users:
        table = sim.memory_pool(user).explain(now=now)
        total = float(table["score"].sum()) if len(table) else 0.0
        if total > 0:
            shares.append(float(table["time"].sum()) / total)
    return float(np.mean(shares)) if shares else float("nan")


def compare(activity: Activity, config: Any = None, *, seeds: Sequence[int] = (0, 1, 2),
            n_steps: int | None = None,
            simulation_factory: Callable | None = None) -> pd.DataFrame:
    """Run both settings of ``activity`` for each seed; tidy ``arm, seed, step, value`` rows.

    Args:
        activity: what to compare.
        config: the base configuration (the activity's settings are applied on top).
        seeds: replicate seeds (the spread across them is the noise to beat).
        n_steps: steps per run (default: the configuration's).
        simulation_factory: ``factory(config) -> Simulation`` (default: the dashboard's).
    """
    factory = simulation_factory or DEFAULT_SIMULATION_FACTORY
    base = as_config(config)
    rows = []
    for arm, changes in (("before", activity.before), ("after", activity.after)):
        for seed in seeds:
            cfg = base.replace(seed=int(seed), **changes,
                               **({"n_steps": n_steps} if n_steps else {}))
            sim = factory(cfg)
            for _ in range(cfg.n_steps):
                sim.step()
                if activity.metric == "memory_time_share":
                    value = memory_time_share(sim)
                else:
                    value = float(curves_frame(sim)[activity.metric].iloc[-1])
                rows.append({"activity": activity.key, "arm": arm, "seed": int(seed),
                             "step": int(sim.replicate_.step), "value": value})
    return pd.DataFrame(rows)


def effect(frame: pd.DataFrame, step: int | None = None) -> dict[str, float]:
    """Difference between the arms at ``step`` (default: the last) against the seed spread.

    Returns:
        ``difference`` (mean after - mean before), ``spread`` (the larger range of the
        value across seeds within one arm) and ``ratio`` = ``|difference| / spread``.
    """
    step = int(frame["step"].max()) if step is None else int(step)
    at = frame[frame["step"] == step]
    means = at.groupby("arm")["value"].mean()
    spread = float(at.groupby("arm")["value"].agg(lambda v: v.max() - v.min()).max())
    diff = float(means.get("after", np.nan) - means.get("before", np.nan))
    return {"step": step, "difference": diff, "spread": spread,
            "ratio": abs(diff) / spread if spread > 0 else float("inf")}
