"""How the panels build and read a :class:`~s3kit.simulation.Simulation` (one place).

Everything a panel shows about a running simulation is read here: the per-agent frame and
curves of the steps run so far, memory pools, agent state histories and the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..config import ReplayConfig
from ..embeddings import embedder_parts
from ..prompts import OPTIONS
from ..vocabulary import LABELS
from ._base import escape, new_figure

__all__ = ["as_config", "build_simulation", "DEFAULT_SIMULATION_FACTORY", "records_frame",
           "curves_frame", "draw_curves", "draw_network", "network_legend", "summary_text",
           "model_usage", "population_of", "memory_table",
           "agent_history", "last_decision", "replicate", "RecordingLLM"]

EMOTION_COLORS = {"calm": "#4c9be8", "moderate": "#f0a030", "intense": "#d03030"}


def as_config(config: ReplayConfig | Mapping | None) -> ReplayConfig:
    """A ``ReplayConfig`` from a config, a mapping of its fields or ``None`` (defaults)."""
    if config is None:
        return ReplayConfig()
    if isinstance(config, ReplayConfig):
        return config
    return ReplayConfig.from_dict(dict(config))


def build_simulation(config: ReplayConfig | Mapping | None = None):
    """The default ``simulation_factory``: dataset -> network -> LLM -> ``Simulation``.

    The environment is :func:`s3kit.replay.build_replay`'s, as in ``run_replay``: the event's
    source post and its first ``step_hours`` of real posts (the early adopters); the rest is
    for the agents to decide. The ``"fake"`` backend gets the
    dependency-free hashing embedder so plumbing runs (tests, classroom demos) stay light;
    other backends use the simulation's default embedder. The event's real curve
    (:func:`s3kit.replay.real_curve`) is kept as ``real_curve_`` for the plots.

    Args:
        config: the run configuration.

    Returns:
        A fresh :class:`~s3kit.simulation.Simulation` at step 0.
    """
    from ..llm import llm_from_config
    from ..replay import build_replay, real_curve
    from ..simulation import Simulation

    cfg = as_config(config)
    network, event_id, topic, event_posts, t0 = build_replay(cfg)
    embedder = None
    if cfg.backend == "fake":
        from ..embeddings import HashingEmbedder

        embedder = HashingEmbedder(dim=64)
    recorder = RecordingLLM(llm_from_config(cfg))
    sim = Simulation(network, cfg.replace(progress=False), llm=recorder, event_id=event_id,
                     topic=topic, embedder=embedder, progress=False)
    recorder.simulation = sim
    sim.real_curve_ = (real_curve(event_posts, t0, cfg) if len(event_posts) > 1 else None)
    return sim


class RecordingLLM:
    """A pass-through LLM that keeps the prompts and probabilities of each step's decisions.

    The simulation sends each decision kind of a step as *one* ``score`` call over the active
    agents in agent order; the recorder files every call under (replicate, step), so
    :func:`last_decision` can give any agent's prompt and option probabilities. Only the last
    ``keep_steps`` steps are kept.

    Args:
        llm: the backend answering the calls.
        keep_steps: how many steps of calls to keep.
    """

    def __init__(self, llm: Any, keep_steps: int = 48):
        self.llm = llm
        self.keep_steps = int(keep_steps)
        self.simulation = None
        self.calls: dict[tuple[int, int], list[tuple[list[str], tuple, np.ndarray]]] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "llm":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.llm, name)

    def __repr__(self) -> str:
        return f"RecordingLLM({self.llm!r})"

    def _key(self) -> tuple[int, int]:
        rep = replicate(self.simulation) if self.simulation is not None else None
        return (rep.index, rep.step) if rep is not None else (-1, -1)

    def score(self, prompts, options, *, system=None):
        """``llm.score``, recorded."""
        probs = self.llm.score(prompts, options, system=system)
        key = self._key()
        self.calls.setdefault(key, []).append((list(prompts), tuple(options),
                                               np.asarray(probs)))
        while len(self.calls) > self.keep_steps:
            self.calls.pop(next(iter(self.calls)))
        return probs

    def generate(self, prompts, **kwargs):
        """``llm.generate`` (not recorded)."""
        return self.llm.generate(prompts, **kwargs)

    def logprob(self, prompts, continuations, **kwargs):
        """``llm.logprob`` (not recorded)."""
        return self.llm.logprob(prompts, continuations, **kwargs)


DEFAULT_SIMULATION_FACTORY = build_simulation


# ---------------------------------------------------------------------------- reading
def replicate(sim):
    """The replicate being stepped (or the last finished one); ``None`` before any step."""
    return None if sim is None else sim.replicate_


def records_frame(sim) -> pd.DataFrame:
    """Per-step, per-agent tidy frame of the steps run so far (current replicate)."""
    return sim.records()


def curves_frame(sim) -> pd.DataFrame:
    """Aggregate curves (one row per step run so far) of the current replicate.

    Besides the simulation's curves (emotion shares among the agents active in a step), the
    column ``excited_all`` is the share of *all* agents not calm after the step: the emotion
    decay acts on agents without new input, who are mostly not active, so it shows there.
    """
    curves = sim.curves()
    if len(curves):
        rec = sim.records()
        excited = (rec["emotion"].astype("string") != "calm").groupby(rec["step"]).mean()
        curves = curves.assign(excited_all=curves["step"].map(excited).astype(float))
    return curves


def network_of(sim):
    """The network the current replicate lives in (the original before the first step)."""
    return sim.current_network


def memory_table(sim, user_id: str) -> pd.DataFrame:
    """``MemoryPool.explain()`` of one user at the current clock time."""
    pool = sim.memory_pool(user_id)
    if pool is None:
        return pd.DataFrame()
    return pool.explain(now=sim.current_network.now)


def agent_history(sim, user_id: str) -> pd.DataFrame:
    """One row per step of one agent: ``step, active, emotion, attitude, action, post_id``."""
    rec = records_frame(sim)
    if rec.empty:
        return rec
    rows = rec[rec["user_id"] == user_id]
    cols = [c for c in ("step", "active", "emotion", "attitude", "action", "post_id")
            if c in rows.columns]
    return rows[cols].reset_index(drop=True)


def last_decision(sim, user_id: str) -> dict[str, Any] | None:
    """The prompts and option probabilities of the agent's last decision, if recorded.

    Returns:
        ``{kind: {"prompt": str, "options": [...], "probs": [...], "choice": str}}`` or
        ``None`` when the simulation keeps no such trace.
    """
    trace = getattr(sim, "last_decisions", None)
    if trace is not None:  # the simulation's own trace (Simulation.last_decisions)
        value = trace(user_id) if callable(trace) else trace.get(user_id)
        if value:
            return value
    recorder = getattr(sim, "llm", None)
    rep = replicate(sim)
    if not isinstance(recorder, RecordingLLM) or rep is None:
        return None
    rec = records_frame(sim)
    mine = rec[(rec["user_id"] == user_id) & rec["active"].astype(bool)]
    if mine.empty:
        return None
    step = int(mine["step"].iloc[-1])
    calls = recorder.calls.get((rep.index, step))
    if not calls:
        return None
    active = rec[(rec["step"] == step) & rec["active"].astype(bool)]["user_id"].tolist()
    j = active.index(user_id)
    row = mine.iloc[-1]
    out = {}
    for i, (prompts, options, probs) in enumerate(calls):
        if len(prompts) != len(active):  # not a population-wide decision call
            continue
        task, names = _task_of(options)
        task = task or f"decision {i + 1}"
        out[task] = {"prompt": prompts[j], "options": list(names),
                     "probs": [float(p) for p in probs[j]],
                     "choice": str(row[task]) if task in row.index else "?"}
    return out or None


def _task_of(options: tuple) -> tuple[str | None, tuple]:
    for task in ("emotion", "attitude", "action"):
        for lang in ("en", "zh"):
            if tuple(OPTIONS[lang][task]) == tuple(options):
                return task, tuple(LABELS[task])
    return None, tuple(options)


# ---------------------------------------------------------------------------- drawing
def draw_curves(curves: pd.DataFrame, n_steps: int | None = None, *,
                population: int | None = None, real: pd.DataFrame | None = None,
                step_hours: float = 1.0):
    """Three panels against hours since the first post: adopters, emotion and attitude shares.

    Step ``t`` (0-based) is drawn at its end time, ``hours`` of the curves frame (``(t + 1) *
    step_hours``: the time its posts carry, the convention of :mod:`s3kit.replay`), so the
    first step is not drawn at 0. The spread axis starts at 0 and the population (every
    agent) is drawn as a dashed line, so a jump is seen at its true size; the real cascade
    (``real``, :func:`s3kit.replay.real_curve`) is drawn on the same axes where it exists.

    Args:
        curves: the simulation's curves frame (one row per step run).
        n_steps: steps of the whole run: the x axis spans them from the start.
        population: agents in the network (the spread axis' ceiling line).
        real: the real curve of the event (``hours``, ``adopters``, shares), if any.
        step_hours: hours per step (x of rows without ``hours``; the span of the axis).
    """
    fig, (ax_spread, ax_emo, ax_att) = new_figure(10.5, 2.9, ncols=3)
    sh = float(step_hours or 1.0)
    if n_steps:
        for ax in (ax_spread, ax_emo, ax_att):
            ax.set_xlim(0, (max(1, n_steps) + 0.3) * sh)
    if real is not None and len(real):
        real = real[real["hours"] <= (n_steps or len(curves)) * sh + 1e-9]
        ax_spread.plot(real["hours"], real["adopters"], color="#999", linestyle="--",
                       marker=".", label="real (data)")
        if "positive_share" in real and real["positive_share"].notna().any():
            ax_att.plot(real["hours"], real["positive_share"], color="#2a8a4a", linestyle="--",
                        alpha=0.5, label="positive (data)")
    if len(curves):
        x = _hours(curves, sh)
        ax_spread.plot(x, curves["adopters"].to_numpy(), marker="o", color="#333",
                       label="simulated")
        for emotion, color in EMOTION_COLORS.items():
            if emotion in curves:
                ax_emo.plot(x, curves[emotion].to_numpy(dtype=float), marker=".", color=color,
                            label=emotion)
        if "excited_all" in curves:
            ax_emo.plot(x, curves["excited_all"].to_numpy(dtype=float), color="black",
                        linestyle="--", label="not calm, all agents")
        if "positive_share" in curves:
            pos = curves["positive_share"].to_numpy(dtype=float)
            ax_att.plot(x, pos, marker=".", color="#2a8a4a", label="positive")
            ax_att.plot(x, 1 - pos, marker=".", color="#8a2a6a", label="negative")
        ax_emo.legend(fontsize=7, loc="upper right")
        if "positive_share" in curves:
            ax_att.legend(fontsize=7, loc="upper right")
    else:
        for ax in (ax_spread, ax_emo, ax_att):
            ax.text(0.5, 0.5, "press step or start", ha="center", va="center",
                    transform=ax.transAxes, color="#888")
    if population:
        ax_spread.axhline(population, color="#4c9be8", linestyle=":", linewidth=1.2,
                          label=f"population {population}")
    top = max([population or 0, *(curves["adopters"].tolist() if len(curves) else [1])])
    ax_spread.set_ylim(0, top * 1.08 + 1)
    if ax_spread.get_legend_handles_labels()[0]:
        ax_spread.legend(fontsize=7, loc="center right")
    title = "spread"
    if len(curves) and population:
        title = f"spread: {int(curves['adopters'].iloc[-1])} of {population} adopted"
    xlabel = "hours since the first post"
    ax_spread.set(title=title, xlabel=xlabel, ylabel="adopters (cumulative)")
    ax_emo.set(title="emotion (active agents)", xlabel=xlabel, ylabel="share",
               ylim=(-0.02, 1.02))
    ax_att.set(title="attitude (active agents)", xlabel=xlabel, ylabel="share",
               ylim=(-0.02, 1.02))
    return fig


def _hours(curves: pd.DataFrame, step_hours: float) -> np.ndarray:
    """The x of each curves row: its ``hours`` (its end), else ``(step + 1) * step_hours``."""
    if "hours" in curves and curves["hours"].notna().all():
        return curves["hours"].to_numpy(dtype=float)
    return (curves["step"].to_numpy(dtype=float) + 1) * step_hours


def _layout(network, nodes: list[str], seed: int) -> dict[str, np.ndarray]:
    import networkx as nx

    sub = network.graph.subgraph(nodes).to_undirected()
    return nx.spring_layout(sub, seed=seed, k=1.5 / max(1, len(nodes)) ** 0.5)


def draw_network(sim, size: int = 60, cache: dict | None = None):
    """The ``size`` most-followed users: coloured by emotion when active in the last step,
    grey when idle; a black ring marks adopters of the event; red crosses banned users.
    """  # noqa: D205
    import networkx as nx

    fig, (ax,) = new_figure(5.6, 3.6)
    network = network_of(sim)
    g = network.graph
    key = (id(sim), size)
    cache = {} if cache is None else cache
    if key not in cache:
        nodes = sorted(g.nodes, key=lambda u: (-len(g.pred[u]), str(u)))[:size]
        cache[key] = (nodes, _layout(network, nodes, seed=0))
    nodes, pos = cache[key]
    rec = records_frame(sim)
    last = rec[rec["step"] == rec["step"].max()] if len(rec) else rec
    active = {}
    if len(last):
        act = last[last["active"].astype(bool)]
        active = dict(zip(act["user_id"].astype(str), act["emotion"].astype(str), strict=True))
    adopters = sim.adopters()
    banned = set(network.banned)
    colors = [EMOTION_COLORS.get(active[u], "#999") if u in active else "#d9d9d9"
              for u in nodes]
    edge = ["black" if u in adopters else "white" for u in nodes]
    sub = g.subgraph(nodes)
    nx.draw_networkx_edges(sub, pos, ax=ax, alpha=0.15, arrows=False, width=0.6)
    xy = np.array([pos[u] for u in nodes]) if nodes else np.zeros((0, 2))
    ax.scatter(xy[:, 0], xy[:, 1], s=60, c=colors, edgecolors=edge, linewidths=1.2, zorder=3)
    for i, u in enumerate(nodes):
        if u in banned:
            ax.scatter([xy[i, 0]], [xy[i, 1]], marker="x", s=90, c="red", zorder=4)
    step = int(rec["step"].max()) + 1 if len(rec) else 0
    n_active = sum(1 for u in nodes if u in active)
    ax.set_title(f"top {len(nodes)} users by followers, step {step}: {n_active} active",
                 fontsize=9)
    ax.set_axis_off()
    ax.legend(handles=network_legend(bool(banned & set(nodes))), fontsize=7,
              loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.subplots_adjust(left=0.02, right=0.72, bottom=0.02, top=0.9)
    return fig


def network_legend(banned: bool = False) -> list:
    """Legend handles of :func:`draw_network`: fill = emotion (active) or idle, ring, cross."""
    from matplotlib.lines import Line2D

    def dot(color, edge="white", label=""):
        return Line2D([], [], linestyle="", marker="o", markersize=7, markerfacecolor=color,
                      markeredgecolor=edge, markeredgewidth=1.2, label=label)

    handles = [dot(color, label=f"active: {emotion}")
               for emotion, color in EMOTION_COLORS.items()]
    handles += [dot("#d9d9d9", label="not active"),
                dot("white", "black", "ring: adopted")]
    if banned:
        handles.append(Line2D([], [], linestyle="", marker="x", color="red", markersize=7,
                              label="banned"))
    return handles


def summary_text(sim, curves: pd.DataFrame, step: int, cfg: ReplayConfig,
                 last_step: Mapping | None = None) -> str:
    """One HTML line: step, adopters of the population, who was active and why, model use.

    Args:
        sim: the simulation.
        curves: its curves so far.
        step: steps run.
        cfg: the run's configuration.
        last_step: the last progress report of the step shown (``Simulation.step``'s
            ``progress``): splits the active agents into those with new input and those
            activated by the activation rate.
    """
    if sim is None:
        return "<b>no simulation</b>"
    population = population_of(sim)
    parts = [f"<b>step {step}/{cfg.n_steps}</b>"]
    if len(curves):
        last = curves.iloc[-1]
        parts.append(f"adopters <b>{int(last['adopters'])}</b> of {population} "
                     f"(+{int(last.get('new_adopters', 0))})")
        active = f"active {int(last.get('n_active', 0))} of {population}"
        if last_step and "with_input" in last_step:
            active += (f" ({int(last_step['with_input'])} with new input, "
                       f"{int(last_step['by_rate'])} by activation rate "
                       f"{cfg.activation_rate:.2f})")
        parts.append(active)
        parts.append(f"posts {int(last.get('n_posts', 0))}")
        emo = [f"{e} {float(last[e]):.0%}" for e in EMOTION_COLORS
               if e in last and pd.notna(last[e])]
        if emo:
            parts.append("emotion of the active " + " / ".join(emo))
        if "excited_all" in last and pd.notna(last["excited_all"]):
            parts.append(f"not calm (all agents) {float(last['excited_all']):.0%}")
        if "positive_share" in last and pd.notna(last["positive_share"]):
            parts.append(f"positive {float(last['positive_share']):.0%}")
    else:
        parts.append(f"adopters {len(sim.adopters())} of {population}")
    usage = model_usage(sim)
    parts.append(f"model prompts {usage['prompts']:,} / cached {usage['cached']:,} / "
                 f"replayed from data {usage['replayed']:,} posts")
    parts.append(escape(f"{cfg.backend}/{cfg.model} seed {cfg.seed}"))
    return " · ".join(parts)


def population_of(sim) -> int:
    """Agents in the simulation's network (the denominator of adopters and active)."""
    return int(network_of(sim).graph.number_of_nodes())


def _counter(embedder, name: str) -> int:
    if embedder is None:
        return 0
    parts = embedder_parts(embedder)
    if parts != [embedder]:  # a fused representation reads each text once per part: count
        return max(_counter(p, name) for p in parts)  # texts once
    return int(getattr(embedder, name, 0) or 0)


def model_usage(sim) -> dict[str, int]:
    """What the model did so far, kept apart from what it did not have to do.

    Returns:
        ``prompts``: prompts the LLM answered plus texts it read for the calibrated heads;
        ``cached``: prompts and texts answered from a cache (no model pass); ``replayed``:
        real posts of the dataset the replay starts from (they come from data, not from a
        model).
    """
    llm = getattr(sim, "llm", None)
    stats = getattr(llm, "stats", None)
    model = getattr(sim, "decision_model_", None)
    embedder = getattr(model, "embedder", None)
    prompts = int(getattr(stats, "prompts", 0)) + _counter(embedder, "n_encoded")
    cached = int(getattr(stats, "cache_hits", 0)) + _counter(embedder, "n_cached")
    network = getattr(sim, "network", None)
    replayed = len(network.posts_frame()) if network is not None else 0
    return {"prompts": prompts, "cached": cached, "replayed": replayed}
