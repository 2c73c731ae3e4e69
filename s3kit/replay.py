"""The main job: replay one event of a dataset with LLM agents and write the artefacts.

``run_replay(config)`` (also ``s3kit replay data/scenarios/default.yaml``):

1. loads the data: ``dataset="sample"`` is the shipped synthetic sample
   (:func:`s3kit.sample.load_sample`), anything else a shared dataset
   (:func:`s3kit.datasets.load_dataset` from ``data_dir`` / ``$S3KIT_DATA_DIR``);
2. picks the event (``event_id``, else the event with the most posts) and builds the
   environment: the dataset's follow graph when it has one, else the documented parent proxy
   built from the event's reposts/replies (see :mod:`s3kit.environment`). The *seed* of the
   replay is the event's source post plus the real posts of its first ``step_hours``
   (the early adopters); the clock starts at the end of that window;
3. runs a :class:`~s3kit.simulation.Simulation` for ``n_steps`` steps with the configured
   backend (``llm_from_config``), checkpointing every ``checkpoint_every`` steps into the run
   folder (a second call with the same config resumes from there);
4. writes into ``out_dir`` (default ``runs/<name>/``): ``results.parquet`` (one row per
   replicate, step and agent), ``curves.parquet`` (simulated curves plus, where the data has
   the event's real cascade, the real curve: ``source`` = ``"simulated"`` / ``"real"``),
   ``manifest.json`` (parameters, versions, git SHA, seed, backend, model, LLM call and token
   counts, wall time; never an API key) and ``figures/*.png``.

Hours in ``curves`` count from the event's source post, for both sources, so the curves are
comparable; simulated step ``t`` ends ``(t + 1) * step_hours`` hours after the source post.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._version import __version__
from .cascades import spread_curve
from .config import ReplayConfig
from .datasets import load_dataset
from .datasets.base import SocialDataset
from .environment import SocialNetwork
from .errors import CheckpointError, ConfigError
from .sample import load_sample
from .simulation import Simulation
from .vocabulary import ATTITUDES, EMOTIONS

__all__ = ["ReplayResult", "run_replay", "load_config", "build_replay"]

CHECKPOINT_NAME = "checkpoint.s3k"


@dataclass
class ReplayResult:
    """What :func:`run_replay` wrote (and the frames themselves).

    Attributes:
        config: the run's config.
        out_dir: the run folder.
        results: the tidy per-agent frame (``results.parquet``).
        curves: simulated and real curves (``curves.parquet``).
        manifest: the ``manifest.json`` content.
        figures: paths of the figures written.
    """

    config: ReplayConfig
    out_dir: Path
    results: pd.DataFrame
    curves: pd.DataFrame
    manifest: dict
    figures: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for a terminal: the run, its cost, the curves per step, the files.

        The curves are the mean over replicates of the simulated adopters, share of intense
        emotion and share of positive attitude, next to the real ones where the data has them.
        """
        m = self.manifest
        net, llm = m.get("network", {}), m.get("llm", {})
        cfg = self.config
        how = m.get("decision_mode", {})
        agents = ("zero-shot agents" if how.get("mode") != "calibrated" else
                  f"calibrated agents (heads {how.get('heads')!r}, mean repost rate "
                  f"{how.get('repost_rate') or 0:.3f} per exposure)")
        head = (f"replay {cfg.name!r}: {net.get('users', '?')} users, {cfg.n_steps} steps x "
                f"{cfg.n_replicates} replicate(s), {m.get('backend')} {m.get('model')}, "
                f"{agents}\n"
                f"{m.get('decisions', 0):,} decisions, {m.get('posts_written', 0):,} posts "
                f"written, {llm.get('prompts', 0):,} LLM prompts ({llm.get('cache_hits', 0):,} "
                f"from the cache), {m.get('wall_seconds', 0):.1f} s")
        c = self.curves
        cols = {"adopters": "adopters", "intense": "intense", "positive_share": "positive"}
        table = (c[c["step"] >= 0].groupby(["step", "source"])[list(cols)].mean()
                 .rename(columns=cols).unstack("source"))
        table.columns = [f"{name} ({src})" for name, src in table.columns]
        with pd.option_context("display.width", 120, "display.precision", 2):
            body = table.to_string()
        files = ", ".join(list(m.get("files", [])) + list(m.get("figures", [])))
        return f"{head}\n{body}\nwrote {self.out_dir}: {files}"


def load_config(config: ReplayConfig | dict | str | os.PathLike | None) -> ReplayConfig:
    """A :class:`ReplayConfig` from a config, a mapping or a scenario YAML path."""
    if config is None:
        return ReplayConfig()
    if isinstance(config, ReplayConfig):
        return config
    if isinstance(config, dict):
        return ReplayConfig.from_dict(config)
    if isinstance(config, str | os.PathLike):
        return ReplayConfig.from_yaml(config)
    raise ConfigError(f"config must be a ReplayConfig, a dict or a YAML path, got "
                      f"{type(config).__name__}")


def _load_dataset(cfg: ReplayConfig):
    if cfg.dataset == "sample":
        return load_sample()
    return load_dataset(cfg.dataset, cfg.data_dir)


def _choose_event(ds, event_id: str | None) -> tuple[str, str | None, str | None]:
    """(event id, root post id, topic) of the event to replay."""
    posts = ds.posts
    if posts is None or not len(posts) or posts["event_id"].isna().all():
        raise ConfigError(f"dataset {ds.name!r} has no event with posts to replay")
    counts = posts["event_id"].dropna().astype(str).value_counts()
    if event_id is None:
        top = counts.max()
        event_id = sorted(counts.index[counts == top])[0]
    elif str(event_id) not in counts.index:
        raise ConfigError(f"event_id {event_id!r} has no posts in dataset {ds.name!r}")
    event_id = str(event_id)
    root, topic = None, None
    events = ds.events
    if events is not None and len(events):
        match = events[events["event_id"].astype(str) == event_id]
        if len(match):
            r = match.iloc[0]
            root = r.get("root_post_id")
            root = None if pd.isna(root) else str(root)
            topic = r.get("topic")
            topic = None if pd.isna(topic) else str(topic)
    return event_id, root, topic


def build_replay(cfg: ReplayConfig):
    """Build the environment of a replay.

    Returns:
        ``(network, event_id, topic, event_posts, t0)``: the seeded network, the event, its
        topic, all its real posts (for the real curve) and the source post time.
    """
    ds = _load_dataset(cfg)
    event_id, root, topic = _choose_event(ds, cfg.event_id)
    posts = ds.posts
    ev = posts[posts["event_id"].astype("string") == event_id]
    ev = ev[ev["time"].notna()].sort_values("time", kind="stable")
    if root is not None and (ev["post_id"].astype(str) == root).any():
        t0 = ev.loc[ev["post_id"].astype(str) == root, "time"].iloc[0]
    else:
        t0 = ev["time"].iloc[0]
    until = t0 + pd.Timedelta(hours=cfg.step_hours)
    follows = ds.follows if ds.follows is not None else pd.DataFrame()
    if len(follows):
        sub = SocialDataset(name=ds.name, source=ds.source, users=ds.users, follows=follows,
                            posts=ev)
        net = SocialNetwork.from_dataset(sub, step_hours=cfg.step_hours, until=until,
                                         proxy="follows", seed=cfg.seed)
    else:  # parent proxy from the whole event (documented lower bound of exposure)
        users = ds.users
        if users is not None and len(users):
            involved = set(ev["user_id"].astype(str))
            users = users[users["user_id"].astype(str).isin(involved)]
        sub = SocialDataset(name=ds.name, source=ds.source, users=users, posts=ev)
        net = SocialNetwork.from_dataset(sub, step_hours=cfg.step_hours, until=until,
                                         proxy="parent", seed=cfg.seed)
    return net, event_id, topic, ev, t0


def _git_sha() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    if out.returncode != 0 or not sha:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=10, check=False)
    return sha + ("-dirty" if dirty.stdout.strip() else "")


def real_curve(event_posts: pd.DataFrame, t0: pd.Timestamp, cfg: ReplayConfig) -> pd.DataFrame:
    """The event's real cumulative adopters (and label shares) on the simulation's grid."""
    freq = pd.Timedelta(hours=cfg.step_hours)
    curve = spread_curve(event_posts, freq=freq, origin=t0, periods=cfg.n_steps + 1)
    curve = curve.drop(columns=["event_id"])
    # label shares per bin (posts in (t_{i-1}, t_i]) where the data has labels
    bins = np.ceil((event_posts["time"] - t0) / freq).astype("int64").to_numpy()
    for name in (*EMOTIONS, "positive_share"):
        curve[name] = np.nan
    if "emotion" in event_posts:
        emo = event_posts["emotion"].astype("string")
        for i in range(len(curve)):
            sel = emo[(bins == i) & emo.notna().to_numpy()]
            if len(sel):
                for name in EMOTIONS:
                    curve.loc[i, name] = float((sel == name).mean())
    if "stance" in event_posts:
        st = event_posts["stance"].astype("string")
        if st.isin(ATTITUDES).any():
            for i in range(len(curve)):
                sel = st[(bins == i) & st.isin(ATTITUDES).to_numpy()]
                if len(sel):
                    curve.loc[i, "positive_share"] = float((sel == "positive").mean())
    curve["step"] = curve["step"] - 1  # hour h of the real record = end of simulated step h-1
    curve["source"] = "real"
    return curve


def _curve_shares(curves: pd.DataFrame, column: str) -> pd.DataFrame:
    """Long frame (hours, source, label, share) of the emotion or attitude curves.

    Emotion levels keep S3's order (calm, moderate, intense); attitude is positive vs
    negative. Steps where nobody decided (no share) are left out.
    """
    if column == "emotion":
        wide = curves[["hours", "source", *EMOTIONS]]
    else:
        wide = curves[["hours", "source", "positive_share"]].rename(
            columns={"positive_share": "positive"})
        wide = wide.assign(negative=1.0 - wide["positive"])[["hours", "source", *ATTITUDES]]
    long = wide.melt(id_vars=["hours", "source"], var_name=column, value_name="share")
    long = long.dropna(subset=["share"])
    order = EMOTIONS if column == "emotion" else ATTITUDES
    long[column] = pd.Categorical(long[column], categories=list(order), ordered=True)
    long["source"] = long["source"].astype(str)
    return long.sort_values([column, "source", "hours"]).reset_index(drop=True)


def _figures(out: Path, curves: pd.DataFrame, results: pd.DataFrame) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    # lazy: matplotlib/seaborn only when figures are written (and plotting is a higher layer)
    from .plotting import plot_spread, plot_trend

    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_spread(curves, x="hours", y="adopters", hue="source", ax=ax)
    ax.set_title("cumulative adopters: simulated vs real")
    fig.tight_layout()
    paths.append(fig_dir / "spread.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    for column, shares in (("emotion", _curve_shares(curves, "emotion")),
                           ("attitude", _curve_shares(curves, "attitude"))):
        if shares.empty:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_trend(shares, column, x="hours", style="source", ax=ax)
        ax.set_xlabel("hours since the event's first post")
        ax.set_title(f"{column} of the agents deciding at each step: simulated vs real")
        fig.tight_layout()
        paths.append(fig_dir / f"{column}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths


def _decision_info(sim) -> dict:
    """How the agents decided: zero-shot, or which calibrated heads at which repost rate."""
    mode = sim.decision_mode
    if mode != "calibrated" or sim.decision_model_ is None:
        return {"mode": mode}
    model = sim.decision_model_
    return {"mode": mode, "heads": sim.cfg.heads, "representation": model.embedder.name,
            "training_data_digest": model.info.get("training_data_digest"),
            "repost_rate": sim.repost_rate_, "comment_share": model.info.get("comment_share")}


def run_replay(config: ReplayConfig | dict | str | os.PathLike | None = None,
               out_dir: str | os.PathLike | None = None, progress: bool = True, *,
               llm: Any = None, engine: str | Any = "local", embedder: Any = None,
               resume: bool = True) -> ReplayResult:
    """Replay one event with LLM agents and write results, curves, manifest and figures.

    Args:
        config: a :class:`ReplayConfig`, a mapping of its fields or a scenario YAML path.
        out_dir: run folder (default ``runs/<name>``).
        progress: show progress bars (and ``config.progress`` must allow it).
        llm: a backend to use instead of ``llm_from_config(config)``.
        engine: ``"local"``, ``"ray"`` or an engine object (see :mod:`s3kit.engines`).
        embedder: memory embedder (default: by language, see :mod:`s3kit.embeddings`).
        resume: continue from ``out_dir/checkpoint.s3k`` when it holds this same config.

    Returns:
        A :class:`ReplayResult`.

    Examples:
        >>> import tempfile
        >>> res = run_replay({"backend": "fake", "n_steps": 2, "generate_posts": False,
        ...                   "w_relevance": 0, "progress": False}, tempfile.mkdtemp())
        >>> sorted(p.name for p in res.out_dir.iterdir() if p.is_file())
        ['curves.parquet', 'manifest.json', 'results.parquet']
        >>> sorted(res.curves["source"].unique())
        ['real', 'simulated']
    """
    cfg = load_config(config)
    out = Path(out_dir) if out_dir is not None else Path("runs") / cfg.name
    out.mkdir(parents=True, exist_ok=True)
    show = bool(progress and cfg.progress)
    t_start = time.perf_counter()
    net, event_id, topic, event_posts, t0 = build_replay(cfg)
    ckpt = out / CHECKPOINT_NAME
    sim = None
    if resume and ckpt.exists():
        try:
            candidate = Simulation.resume(ckpt, llm=llm, engine=engine, embedder=embedder,
                                          progress=show)
            if candidate.cfg == cfg:
                sim = candidate
            else:
                warnings.warn(f"{ckpt} holds another configuration: starting afresh (it will "
                              "be overwritten by this run's checkpoints)", stacklevel=2)
        except CheckpointError as exc:
            kept = ckpt.with_name(ckpt.name + ".damaged")
            os.replace(ckpt, kept)
            warnings.warn(f"cannot resume: {exc}; starting afresh (the damaged file is kept "
                          f"as {kept})", stacklevel=2)
    if sim is None:
        sim = Simulation(net, cfg, llm, engine=engine, event_id=event_id, topic=topic,
                         checkpoint_path=ckpt, progress=show, embedder=embedder)
    try:
        res = sim.run()
        decisions = _decision_info(sim)
    finally:
        sim.close()
    curves = res.curves
    real = real_curve(event_posts, t0, cfg) if len(event_posts) > 1 else None
    if real is not None:
        keep = [c for c in curves.columns if c in real.columns]
        curves = pd.concat([curves, real[keep]], ignore_index=True)
    curves["source"] = curves["source"].astype("string")
    for col in ("replicate", "seed", "n_active", "n_posts"):
        if col in curves:
            curves[col] = curves[col].astype("Int64")
    results = res.results
    results.to_parquet(out / "results.parquet", index=False)
    curves.to_parquet(out / "curves.parquet", index=False)
    stats = res.llm_stats
    manifest = {
        "name": cfg.name,
        "s3kit_version": __version__,
        "git_sha": _git_sha(),
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "parameters": cfg.to_dict(),
        "seed": cfg.seed,
        "replicate_seeds": sorted({int(s) for s in results["seed"].unique()}),
        "backend": cfg.backend,
        "model": cfg.model,
        "adapter": cfg.adapter,
        "engine": engine if isinstance(engine, str) else type(engine).__name__,
        "dataset": cfg.dataset,
        "event_id": event_id,
        "topic": topic,
        "network": {"users": len(net), "edges": net.graph.number_of_edges(),
                    "graph_source": net.graph_source, "seed_posts": net.n_posts},
        "llm": stats,
        "decision_mode": decisions,
        "decisions": int(results["active"].sum()) * 3,
        # of which sent to the LLM in this process (an agent with an empty feed follows the
        # decay rule without a call; a resumed run counts only the steps it ran)
        "llm_decisions": int(sim.n_decisions_),
        "posts_written": int(results["post_id"].notna().sum()),
        "wall_seconds": round(time.perf_counter() - t_start, 3),
        "simulation_seconds": round(res.seconds, 3),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "files": ["results.parquet", "curves.parquet", "manifest.json"],
    }
    figures = []
    try:
        figures = _figures(out, curves, results)
    except ImportError as exc:  # seaborn missing: artefacts without figures
        manifest["figures_error"] = str(exc)
    manifest["figures"] = [str(p.relative_to(out)) for p in figures]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                       encoding="utf-8")
    if ckpt.exists() and sim.finished:
        ckpt.unlink()
    return ReplayResult(config=cfg, out_dir=out, results=results, curves=curves,
                        manifest=manifest, figures=figures)
