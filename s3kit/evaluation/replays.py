"""Replay one real event through the simulation, for the ``spread`` and trend tasks.

:func:`replay_event` samples an event's participants (:func:`event_population`), builds the
small network they live in (:func:`event_subdataset`), gives the event its own step length
(:func:`event_step_hours`), starts the simulation from the source and the adopters of the
first step and returns an :class:`EventReplay`: the real and simulated adopter curves on the
same grid and the simulation's per-step curves. :func:`real_trend` and :func:`simulated_trend`
read the emotion / attitude shares per step from it.

Examples:
    >>> t = pd.to_datetime(["2020-01-01 00:00", "2020-01-01 05:00", "2020-01-01 10:00"],
    ...                    utc=True)
    >>> event_step_hours(pd.DataFrame({"user_id": ["a", "b", "c"], "time": t}), 9)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..cascades import spread_curve
from ..config import ReplayConfig
from ..datasets import SocialDataset
from ..environment import SocialNetwork
from ..simulation import Simulation
from ..text import detect_language
from .sizes import BenchSizes
from .tasks import STANCE_ATTITUDE

__all__ = ["EventReplay", "replay_event", "event_population", "event_subdataset",
           "event_step_hours", "real_trend", "simulated_trend"]


@dataclass
class EventReplay:
    """One event replayed: real and simulated cumulative adopters per step, and what made them.

    Attributes:
        posts: the replayed participants' real posts.
        t0: time of the event's first post (hour 0).
        real: real cumulative adopters per step (``early_steps + n_steps + 1`` points).
        sim: simulated cumulative adopters on the same grid (the first ``early_steps`` points
            are the real ones the agents were given).
        curves: the simulation's per-step curves (replicates averaged).
        population: users in the replayed network.
        graph: where the network's edges came from (``SocialNetwork.graph_source``).
        n_edges: edges of the replayed network.
        early_steps: steps of real adoptions the simulation starts from.
        until: end of the seed window (``t0 + early_steps * step``).
        dataset: the event's small dataset (:func:`event_subdataset`).
        step_hours: the event's step length (:func:`event_step_hours`).
    """

    posts: pd.DataFrame
    t0: pd.Timestamp
    real: np.ndarray
    sim: np.ndarray
    curves: pd.DataFrame
    population: int
    graph: str
    n_edges: int
    early_steps: int
    until: pd.Timestamp
    dataset: SocialDataset
    step_hours: float


def event_population(ds: SocialDataset, event_id: str, max_agents: int, seed: int
                     ) -> tuple[pd.DataFrame, list[str]]:
    """Posts of one event and its sampled participants (the source's author always kept).

    Users unknown (RumourEval): one pseudo user per post. More than ``max_agents``
    participants: a deterministic random sample, so the real curve of the sample is the whole
    cascade's curve scaled down (not its first minutes).
    """
    posts = ds.posts[ds.posts["event_id"].astype("string") == event_id].copy()
    posts = posts.dropna(subset=["time"]).sort_values("time", kind="stable")
    if posts["user_id"].isna().all():
        posts["user_id"] = "u" + posts["post_id"].astype(str)
    posts = posts.dropna(subset=["user_id"])
    posts["user_id"] = posts["user_id"].astype(str)
    adopters = list(dict.fromkeys(posts["user_id"]))
    if len(adopters) > max_agents:
        rng = np.random.default_rng(seed)
        rest = rng.permutation(len(adopters) - 1)[: max_agents - 1] + 1
        adopters = [adopters[0]] + [adopters[i] for i in sorted(rest)]
    return posts, adopters


def event_subdataset(ds: SocialDataset, posts: pd.DataFrame, adopters: list[str],
                     max_agents: int, seed: int) -> SocialDataset:
    """A small SocialDataset for replaying one event: its adopters (+ followers if a graph).

    Without a follow graph, the reply/repost edges between the adopters stand for it.
    """
    rng = np.random.default_rng(seed)
    users = list(adopters)
    if len(ds.follows):
        f = ds.follows.astype(str)
        aset = set(adopters)
        cand = sorted(set(f.loc[f["followee"].isin(aset), "follower"]) - aset)
        room = max(0, 2 * max_agents - len(users))
        if cand and room:
            users += list(rng.permutation(cand)[:room])
        uset = set(users)
        follows = f[f["follower"].isin(uset) & f["followee"].isin(uset)]
    else:
        uset = set(users)
        by_post = posts.set_index("post_id")["user_id"]
        par = posts["parent_id"].map(by_post)
        edges = pd.DataFrame({"follower": posts["user_id"], "followee": par}).dropna()
        follows = edges[(edges["follower"] != edges["followee"]) & edges["follower"].isin(uset)
                        & edges["followee"].isin(uset)].drop_duplicates()
    sub_posts = posts[posts["user_id"].isin(uset)]
    known = ds.users[ds.users["user_id"].astype(str).isin(uset)] if len(ds.users) else None
    udf = pd.DataFrame({"user_id": sorted(uset)})
    if known is not None and len(known):
        udf = udf.merge(known.astype({"user_id": str}), on="user_id", how="left")
    return SocialDataset(name=ds.name, users=udf, follows=follows, posts=sub_posts)


def event_step_hours(posts: pd.DataFrame, n_steps: int, quantile: float = 0.9) -> float:
    """Step length that puts ``quantile`` of an event's adoptions within ``n_steps`` steps.

    Cascades differ by orders of magnitude in speed (Weibo reposts in minutes, MCID over
    days), so each replay gets its own step: ``t_q / n_steps`` hours, where ``t_q`` is the
    time by which ``quantile`` of the participants had adopted, rounded up to a multiple of
    1/12 h (5 minutes).
    """
    first = posts.groupby("user_id")["time"].min()
    hours = ((first - first.min()) / pd.Timedelta(hours=1)).to_numpy(float)
    tq = float(np.quantile(hours, quantile)) if len(hours) else 1.0
    return max(1 / 12, math.ceil(tq / max(1, n_steps) * 12) / 12)


def _real_curve(posts: pd.DataFrame, t0, step_hours: float, n: int) -> np.ndarray:
    c = spread_curve(posts.assign(event_id="e"), freq=f"{step_hours}h", origin=t0, periods=n)
    return c["adopters"].to_numpy(float)


def replay_event(ds: SocialDataset, event_id: str, llm, sizes: BenchSizes, seed: int,
                 early_steps: int = 1, progress: bool = False, heads=None,
                 embedder: Callable[[str], Any] | None = None) -> EventReplay:
    """Replay one event through the simulation; real and simulated curves per step.

    Args:
        ds: the eval side of the event's dataset.
        event_id: the event.
        llm: the agents' LLM backend.
        sizes: ``max_agents``, ``n_steps`` and ``max_new_tokens`` of the replay.
        seed: sampling and simulation seed.
        early_steps: steps of real adoptions the agents start from.
        progress: the simulation's progress bar.
        heads: calibrated decision heads (``None``: the agents decide zero-shot).
        embedder: ``language -> embedder`` for the agents' memories (``None``: the
            simulation's default).
    """
    posts, adopters = event_population(ds, event_id, sizes.max_agents, seed)
    t0 = posts["time"].min()
    sub = event_subdataset(ds, posts, adopters, sizes.max_agents, seed)
    n_total = early_steps + sizes.n_steps
    step_hours = event_step_hours(sub.posts, n_total)
    until = t0 + early_steps * pd.Timedelta(hours=step_hours)
    net = SocialNetwork.from_dataset(sub, step_hours=step_hours, until=until)
    backend = getattr(llm, "backend", None)
    config = ReplayConfig(n_steps=sizes.n_steps, step_hours=step_hours, seed=seed,
                          backend=backend if backend in ("embedded", "openai", "fake")
                          else "embedded", generate_posts=False, progress=progress,
                          max_new_tokens=sizes.max_new_tokens,
                          decisions="calibrated" if heads is not None else "zero_shot")
    lang = detect_language([str(t) for t in sub.posts["text"].dropna().head(50)])
    sim = Simulation(net, config, llm=llm, event_id=event_id,
                     embedder=embedder(lang) if embedder is not None else None,
                     decision_model=heads)
    res = sim.run()
    curves = res.curves.groupby("step", as_index=False).mean(numeric_only=True)
    real = _real_curve(sub.posts, t0, step_hours, n_total)
    n0 = float(len(set(sub.posts.loc[sub.posts["time"] <= until, "user_id"])))
    sim_curve = np.concatenate([real[:early_steps], [n0],
                                curves["adopters"].to_numpy(float)])[: n_total + 1]
    if len(sim_curve) < n_total + 1:
        sim_curve = np.concatenate([sim_curve, np.repeat(sim_curve[-1], n_total + 1 -
                                                         len(sim_curve))])
    return EventReplay(posts=sub.posts, t0=t0, real=real, sim=sim_curve, curves=curves,
                       population=len(sub.users), graph=net.graph_source,
                       n_edges=int(net.graph.number_of_edges()), early_steps=early_steps,
                       until=until, dataset=sub, step_hours=step_hours)


def real_trend(task: str, posts: pd.DataFrame, t0, step_hours: float, n_total: int,
               classifier: dict | None) -> tuple[np.ndarray, str]:
    """Real share per step: non-calm share (emotion) or positive share (attitude).

    Stance labels are used where the posts have them (attitude); otherwise ``classifier``
    (``{"model", "source"}``, see :func:`s3kit.evaluation.task_baselines.trend_classifier`)
    labels the texts.

    Returns:
        ``(shares, source)``: ``n_total + 1`` shares (``nan`` where a step has no post) and
        where the labels came from.
    """
    df = posts.copy()
    if task == "attitude_trend" and "stance" in df.columns and df["stance"].notna().any():
        df["att"] = df["stance"].astype("string").str.lower().map(STANCE_ATTITUDE)
        source = "real stance labels (support=positive, deny=negative)"
        lab, pos = "att", "positive"
    else:
        if classifier is None:
            return np.full(n_total + 1, np.nan), "no classifier available"
        text = df["text"].fillna("").astype(str).tolist()
        df["lab"] = classifier["model"].predict(text) if text else []
        source = classifier["source"]
        lab = "lab"
        pos = "positive" if task == "attitude_trend" else None
    step = ((df["time"] - t0) // pd.Timedelta(hours=step_hours)).astype(int)
    df = df.assign(step=step)[df[lab].notna()]
    share = np.full(n_total + 1, np.nan)
    for s, grp in df.groupby("step"):
        if 0 <= s <= n_total:
            share[s] = (grp[lab] == pos).mean() if pos else (grp[lab] != "calm").mean()
    return share, source


def simulated_trend(task: str, replay: EventReplay) -> np.ndarray:
    """Simulated share per step on the real curve's grid (``nan`` over the seed window)."""
    c = replay.curves
    vals = (c["positive_share"] if task == "attitude_trend"
            else c["moderate"] + c["intense"]).to_numpy(float)
    early = replay.early_steps
    return np.concatenate([np.full(early + 1, np.nan), vals])[: len(replay.real)]
