"""The population simulation: step loop, batched decisions, interventions, checkpoint/resume.

One :class:`Simulation` replays a :class:`~s3kit.environment.SocialNetwork` for ``n_steps``
steps of ``step_hours`` with LLM-driven agents (S3, Gao et al. 2023, section 3). Each step:

1. **Interventions** scheduled for this step are applied (``inject_post``, ``remove_post``,
   ``ban_user``, ``set_recommender``; see :meth:`Simulation.intervene`).
2. **Activation.** An agent decides when it has *new input* (a post pushed to it since its last
   decision: a followee posted or reposted) or, otherwise, with probability
   ``activation_rate``. Banned users never decide. Everybody else keeps its state (its emotion
   relaxes towards calm by ``emotion_decay``).
3. **Perception.** Each active agent reads its feed (``feed_size`` newest posts of its
   followees, plus recommended posts when a recommender is set); the posts enter its memory
   pool (time decay x relevance x source authenticity, top ``memory_size``).
4. **Decisions** go through :mod:`s3kit.agent` (the one decision path of the package):
   ``decide_emotion``, then ``decide_attitude``, then ``decide_action`` (each kind sees the
   state the previous one produced), each *one* ``llm.score`` call for the whole population
   (identical prompts scored once; the backend sorts prompts by length into batches and reuses
   the shared system prefix's KV cache), then ``write_posts`` (one batched ``llm.generate``;
   ``generate_posts``) or a template for the texts. An active agent whose feed is empty takes
   one Markov decay step instead (no LLM call). Labels are sampled from the probabilities with
   the step's generator, in the driver, in agent order, so every engine gives the same run.
   Prompts are the compact variant of :mod:`s3kit.prompts` unless ``compact_prompts=False``
   or an adapter is configured.
5. **Propagation.** New posts are published at the step's time and pushed to the authors'
   followers: they are the followers' new input, read at the next step.
6. **Record.** One tidy row per agent (``results``) and one row of aggregates (``curves``),
   then the clock ticks and, every ``checkpoint_every`` steps, the state is checkpointed.

Determinism: every random draw of step ``t`` of replicate ``r`` comes from a generator seeded
by ``SeedSequence(seed).spawn(n_replicates)[r]`` extended with ``t``, so a run resumed from a
checkpoint needs no pickled generator and reproduces the uninterrupted run exactly.

Checkpoints are written atomically (temporary file, ``fsync``, ``os.replace``) with a SHA-256
checksum; a truncated or corrupted file raises :class:`~s3kit.errors.CheckpointError`.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import pickle
import struct
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .agent import (
    AgentContext,
    AgentState,
    calibrated_items,
    decide_action,
    decide_attitude,
    decide_calibrated,
    decide_emotion,
    decision_prompt,
    profile_text,
    update_states,
    write_posts,
)
from .config import ReplayConfig
from .embeddings import get_embedder
from .engines import LocalEngine, make_engine
from .environment import SocialNetwork
from .errors import CheckpointError, ConfigError
from .heads import PERCEIVED, DecisionModel, resolve_decisions
from .llm import llm_from_config
from .memory import MemoryBank, MemoryParams
from .text import detect_language
from .vocabulary import ACTIONS, ATTITUDES, EMOTIONS, INTERVENTION_KINDS, LABELS

__all__ = [
    "Simulation",
    "SimulationResult",
    "EMOTIONS",
    "ATTITUDES",
    "ACTIONS",
    "INTERVENTION_KINDS",
    "replicate_seeds",
    "step_rng",
    "write_checkpoint",
    "read_checkpoint",
]

RESULT_COLUMNS = ("replicate", "seed", "step", "user_id", "active", "emotion", "attitude",
                  "action", "post_id")
_MAGIC = b"S3KCKPT1"
_HEADER = struct.Struct("<8s32sQ")  # magic, sha256(payload), len(payload)
_FORMAT = 1


# ---------------------------------------------------------------------------- seeds
def replicate_seeds(seed: int, n_replicates: int) -> list[np.random.SeedSequence]:
    """One independent ``SeedSequence`` per replicate: ``SeedSequence(seed).spawn(n)``.

    Examples:
        >>> [s.spawn_key for s in replicate_seeds(7, 2)]
        [(0,), (1,)]
    """
    return np.random.SeedSequence(int(seed)).spawn(int(n_replicates))


def step_rng(replicate_seed: np.random.SeedSequence, step: int) -> np.random.Generator:
    """The generator of one step: the replicate's seed sequence extended with ``step``.

    Needs no state from earlier steps, so a resumed run draws exactly what it would have.

    Examples:
        >>> ss = replicate_seeds(0, 1)[0]
        >>> bool(step_rng(ss, 3).random() == step_rng(ss, 3).random())
        True
    """
    ss = np.random.SeedSequence(replicate_seed.entropy,
                                spawn_key=(*replicate_seed.spawn_key, int(step)))
    return np.random.default_rng(ss)


def _seed_int(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint32)[0])


# ---------------------------------------------------------------------------- checkpoints
def write_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Pickle ``state`` to ``path`` atomically, with a SHA-256 checksum header.

    The bytes go to a temporary file in the same folder, are flushed and ``fsync``-ed, then
    ``os.replace`` swaps the file in (and the folder is ``fsync``-ed), so a crash at any moment
    leaves either the previous checkpoint or the new one, never a mix.

    Args:
        path: checkpoint file.
        state: any picklable mapping.

    Returns:
        The path written.

    Raises:
        CheckpointError: the state cannot be pickled (e.g. a lambda recommender).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"cannot checkpoint the simulation state: {exc} (custom "
                              "recommenders must be picklable: a module-level class or "
                              "function, not a lambda)") from exc
    header = _HEADER.pack(_MAGIC, hashlib.sha256(payload).digest(), len(payload))
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - platforms without directory fsync
        pass
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`write_checkpoint`, verifying its checksum.

    Raises:
        CheckpointError: the file is missing, truncated, corrupted or not a checkpoint.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc}") from exc
    if len(data) < _HEADER.size:
        raise CheckpointError(f"{path}: truncated checkpoint ({len(data)} bytes, header needs "
                              f"{_HEADER.size})")
    magic, digest, size = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise CheckpointError(f"{path}: not an s3kit checkpoint (bad magic {magic!r})")
    payload = data[_HEADER.size:]
    if len(payload) != size:
        raise CheckpointError(f"{path}: truncated checkpoint ({len(payload)} of {size} "
                              "payload bytes)")
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{path}: corrupted checkpoint (checksum mismatch)")
    try:
        state = pickle.load(io.BytesIO(payload))
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
        raise CheckpointError(f"{path}: cannot unpickle checkpoint: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise CheckpointError(f"{path}: unsupported checkpoint format "
                              f"{state.get('format') if isinstance(state, dict) else '?'}")
    return state


# ---------------------------------------------------------------------------- results
@dataclass
class SimulationResult:
    """What a run produced.

    Attributes:
        results: tidy frame, one row per replicate, step and agent: ``replicate, seed, step,
            user_id, active`` (decided this step), ``emotion, attitude, action`` (``repost``,
            ``post``, ``nothing``; missing when inactive) and ``post_id`` (the post it
            published, if any).
        curves: one row per replicate and step: ``replicate, seed, step, time, hours``
            (since the event's first post, or the start), ``adopters`` (cumulative distinct
            users who posted in the event), ``new_adopters, n_active, n_posts``, emotion shares
            ``calm, moderate, intense`` and ``positive_share`` among the agents active in the
            step (NaN when none), and ``source="simulated"``.
        posts: every post of the last replicate's network (``SocialNetwork.posts_frame``).
        llm_stats: the backend's counters (calls, prompts, tokens, cache hits, seconds).
        seconds: wall time of the run.
    """

    results: pd.DataFrame
    curves: pd.DataFrame
    posts: pd.DataFrame = field(default_factory=pd.DataFrame)
    llm_stats: dict = field(default_factory=dict)
    seconds: float = 0.0


def _user_ref(network: SocialNetwork, ref: Any, event_id: str | None) -> str:
    """Resolve ``most_followed`` / ``source`` / a user id."""
    if ref == "most_followed":
        g = network.graph
        return max(g.nodes, key=lambda u: (len(g.pred[u]), str(u)))
    if ref == "source":
        post = _event_root(network, event_id)
        if post is None:
            raise ConfigError("intervention user 'source' needs an event with posts")
        return network.post(post)["user_id"]
    ref = str(ref)
    if ref not in network:
        raise ConfigError(f"intervention refers to unknown user {ref!r}")
    return ref


def _event_root(network: SocialNetwork, event_id: str | None) -> str | None:
    """The first post of the event (or of the network when ``event_id`` is None)."""
    posts = network.event_posts(event_id, visible_only=False)
    return posts[0] if posts else None


# ---------------------------------------------------------------------------- the engine
class _Replicate:
    """Mutable state of one replicate (everything a checkpoint must hold)."""

    def __init__(self, index: int, seed_seq: np.random.SeedSequence, network: SocialNetwork,
                 users: list[str]):
        self.index = index
        self.seed_seq = seed_seq
        self.seed = _seed_int(seed_seq)
        self.network = network
        self.users = users
        self.row = {u: i for i, u in enumerate(users)}
        n = len(users)
        self.emotion = np.zeros(n, dtype=np.int8)  # index into EMOTIONS
        self.attitude = np.full(n, -1, dtype=np.int8)  # -1 unknown, else index into ATTITUDES
        self.inbox: list[list[str]] = [[] for _ in range(n)]
        self.memory = None  # MemoryBank, built by the simulation
        self.msg_ids: dict[str, int] = {}  # post id -> message id in the memory bank
        self.adopters: set[str] = set()
        self.initial_adopters = 0
        self.origin_ns = network.now.value
        self.step = 0
        self.frames: list[pd.DataFrame] = []
        self.curves: list[dict] = []


class Simulation:
    """LLM-driven agents on a social network, stepped in population-wide batches.

    Args:
        network: the environment (it is copied per replicate; the original is not modified).
        config: a :class:`~s3kit.config.ReplayConfig`, a mapping of its fields, or ``None``
            (defaults).
        llm: an object following the ``s3kit.llm`` protocol (``score`` / ``generate``).
            ``None``: built from the config (``llm_from_config``) when the run starts.
        engine: ``"local"`` (default), ``"ray"`` (:class:`~s3kit.engines.RayEngine` built from
            the config) or an engine object.
        event_id: the event whose adopters the curves count (``None``: the network's first
            event, if any).
        seed_posts: post ids that are new input at step 0 (``None``: posts of ``event_id``
            visible at the start, else every post of the last ``step_hours``).
        checkpoint_path: where checkpoints go (``checkpoint_every`` > 0); default
            ``checkpoint.s3k`` in the current folder.
        progress: show a progress bar (default: ``config.progress``).
        embedder: the memory pools' embedder (``None``: ``s3kit.embeddings.get_embedder`` for
            the config's language).
        on_step: called as ``on_step(simulation, replicate, step)`` after each step (and after
            its checkpoint).
        compact_prompts: send the compact decision prompts (:mod:`s3kit.prompts`,
            ``compact=True``: about half the tokens, the content note in the shared system
            prompt). ``None`` (default): compact unless the config names an ``adapter``
            (adapters are tuned on the full prompts, which they then get).
        chunk_size: active agents decided together: their emotion, attitude and action calls
            (and posts) run chunk by chunk, so each agent's shared prompt head stays in the
            embedded backend's prefix cache between its decisions. A speed/memory knob: the
            labels use uniforms drawn up front, so they do not depend on it (up to the
            backend's batch-to-batch rounding).
        decision_model: the calibrated heads (:class:`s3kit.heads.DecisionModel`) for
            ``decisions: calibrated``; ``None``: loaded by the config's ``heads`` name.

    Attributes:
        repost_rate_: the mean repost probability of the calibrated agents' action head in
            this run (see ``ReplayConfig.repost_rate``).
        n_decisions_: LLM decisions the agents needed in this process (agents that read
            something x 3 kinds; identical prompts count once per agent).
        results_: the tidy per-agent frame of the finished run.
        curves_: the aggregate curves of the finished run.
        network_: the network of the current (last) replicate.

    Examples:
        >>> from s3kit.llm import FakeLLM
        >>> from s3kit.sample import generate_sample
        >>> net = SocialNetwork.from_dataset(generate_sample(n_users=40, seed=1),
        ...                                  until="2023-03-01 09:00")
        >>> sim = Simulation(net, {"n_steps": 3, "progress": False, "generate_posts": False},
        ...                  llm=FakeLLM(seed=0), event_id="e0")
        >>> res = sim.run()
        >>> sorted(res.results.columns) == sorted(RESULT_COLUMNS)
        True
        >>> res.curves["step"].tolist()
        [0, 1, 2]
    """

    def __init__(self, network: SocialNetwork, config: ReplayConfig | dict | None = None,
                 llm: Any = None, *, engine: str | Any = "local", event_id: str | None = None,
                 seed_posts: Sequence[str] | None = None, topic: str | None = None,
                 checkpoint_path: str | os.PathLike | None = None, progress: bool | None = None,
                 embedder: Any = None, on_step: Callable | None = None,
                 compact_prompts: bool | None = None, chunk_size: int = 64,
                 decision_model: Any = None):
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
        self.chunk_size = int(chunk_size)
        self.network = network
        self.config = config
        self.llm = llm
        self.engine = engine
        self.event_id = event_id
        self.seed_posts = seed_posts
        self.topic = topic
        self.checkpoint_path = checkpoint_path
        self.progress = progress
        self.embedder = embedder
        self.on_step = on_step
        self.compact_prompts = compact_prompts
        self._rep: _Replicate | None = None
        self._last_rep: _Replicate | None = None
        self._lang_cache: str | None = None
        self._done: list[tuple[pd.DataFrame, pd.DataFrame]] = []
        self._engine = None
        self._seeds: list[np.random.SeedSequence] | None = None
        self._t0 = None
        self._elapsed = 0.0
        self._trace: dict | None = None
        self.n_decisions_ = 0
        self.decision_model = decision_model
        self.decision_model_ = decision_model
        self._history: dict[str, int] | None = None
        self.repost_rate_: float | None = None
        self._rated = None  # the decision model at this event's repost rate

    # ------------------------------------------------------------------ setup
    @property
    def cfg(self) -> ReplayConfig:
        """The validated config."""
        cfg = self.config
        if cfg is None:
            cfg = ReplayConfig()
        elif isinstance(cfg, dict):
            cfg = ReplayConfig.from_dict(cfg)
        self.config = cfg
        return cfg

    def _get_engine(self):
        if self._engine is None:
            if self.engine == "local" or self.engine is None:
                llm = self.llm
                if llm is None:
                    llm = self.llm = llm_from_config(self.cfg)
                self._engine = LocalEngine(llm)
            else:
                self._engine = make_engine(self.engine, llm=self.llm, config=self.cfg)
            self._engine.start()
        return self._engine

    @property
    def active_llm(self) -> Any:
        """The backend the decisions go to (the sharded one under the Ray engine)."""
        return self._get_engine().llm

    @property
    def decision_mode(self) -> str:
        """``"calibrated"`` (trained heads) or ``"zero_shot"`` (answer words scored by the LLM).

        ``decisions: auto`` (the default) is calibrated on the embedded backend, whose hidden
        states the shipped heads read, and zero-shot on the others (a server gives no hidden
        states; the deterministic fake backend has none).
        """
        return resolve_decisions(self.cfg.decisions, self.active_llm)

    def _decision_model(self):
        if self.decision_model_ is None:
            self.decision_model_ = DecisionModel.load(self.cfg.heads, llm=self.active_llm)
        model = self.decision_model_
        if self.repost_rate_ is None:
            rate = self.cfg.repost_rate
            if rate == "observed":
                net = self.network if self.network is not None else self._rep.network
                rate = observed_repost_rate(net, self._resolve_event())
            self.repost_rate_ = (float(rate) if rate not in (None, "heads") else
                                 getattr(model.heads["action"], "base_rate_", None))
        return model

    def _perceived(self, rep: _Replicate, active: np.ndarray, feeds: list,
                   event: str | None) -> pd.DataFrame:
        """What each active agent perceives besides the texts (the action head's features)."""
        net = rep.network
        g = net.graph
        if self._history is None:  # posts each user wrote before, outside the event
            posts = net.posts_frame()
            if event is not None and "event_id" in posts.columns:
                posts = posts[posts["event_id"].astype("string") != str(event)]
            self._history = posts.groupby("user_id").size().to_dict() if len(posts) else {}
        rows = []
        for j, i in enumerate(active):
            u = rep.users[i]
            about = [p for p in feeds[j] if event is None or p["event_id"] == event]
            rows.append((len({p["user_id"] for p in about}),
                         len({p["user_id"] for p in about if p["source"] == "mutual"}),
                         self._history.get(u, 0), g.out_degree(u), g.in_degree(u)))
        return pd.DataFrame(rows, columns=list(PERCEIVED))

    def _get_embedder(self):
        if self.embedder is None:
            self.embedder = get_embedder(self._lang)
        return self.embedder

    def _resolve_event(self) -> str | None:
        if self.event_id is not None:
            return self.event_id
        for pid in self.network.event_posts(visible_only=False):
            ev = self.network.event_of(pid)
            if ev is not None:
                self.event_id = ev
                return ev
        return None

    def _new_replicate(self, index: int) -> _Replicate:
        cfg = self.cfg
        seeds = self._replicate_seeds()
        net = copy.deepcopy(self.network)
        net.seed = _seed_int(seeds[index])
        if cfg.recommender != "none" or net.recommender is None:
            net.set_recommender(cfg.recommender)
        users = [str(u) for u in net.graph.nodes]
        rep = _Replicate(index, seeds[index], net, users)
        rep.memory = self._make_memory(net, users)
        event = self._resolve_event()
        # initial adopters: everyone who already posted in the event
        if event is not None:
            rep.adopters.update(net.author(pid) for pid in net.event_posts(event))
            root = _event_root(net, event)
            if root is not None:
                rep.origin_ns = net.post_time(root).value
        rep.initial_adopters = len(rep.adopters)
        # initial new input
        if self.seed_posts is not None:
            seed_ids = [str(p) for p in self.seed_posts]
        else:
            if event is not None:
                seed_ids = net.event_posts(event)
            else:
                seed_ids = net.event_posts(since=net.now - net.step)
        for pid in seed_ids:
            self._push(rep, pid)
        return rep

    def _replicate_seeds(self) -> list[np.random.SeedSequence]:
        if self._seeds is None:
            self._seeds = replicate_seeds(self.cfg.seed, self.cfg.n_replicates)
        return self._seeds

    def _make_memory(self, net: SocialNetwork, users: list[str]):
        cfg = self.cfg
        params = MemoryParams.from_config(cfg)
        profiles = None
        embedder = None
        if cfg.w_relevance > 0:
            embedder = self._get_embedder()
            profiles = [_profile_text(net.graph.nodes[u]) for u in users]
        return MemoryBank(users, profiles, embedder=embedder, params=params)

    # ------------------------------------------------------------------ propagation
    def _push(self, rep: _Replicate, post_id: str) -> list[str]:
        """Deliver a post to its author's followers' inboxes; returns the receivers."""
        net = rep.network
        banned = net.banned
        receivers = [f for f in net.graph.predecessors(net.author(post_id)) if f not in banned]
        for f in receivers:
            rep.inbox[rep.row[f]].append(post_id)
        return receivers

    # ------------------------------------------------------------------ interventions
    def intervene(self, kind: str, **params: Any) -> Any:
        """Apply one intervention to the current replicate now (between two steps).

        Kinds and parameters:

        * ``inject_post``: ``user`` (a user id, ``"most_followed"`` or ``"source"`` = the
          event's first author), ``text``, optional ``event_id`` (default: the simulated
          event) and labels (``emotion=``, ``stance=``). The post is published at the current
          time and pushed to the author's followers (new input this step). Returns its id.
        * ``remove_post``: ``post_id`` (or ``"root"``: the event's first post). The post
          leaves every feed and every inbox not yet read; memories keep what was read.
        * ``ban_user``: ``user``. The user stops deciding, their posts leave feeds and unread
          inboxes, and they cannot post.
        * ``set_recommender``: ``recommender`` (``"none"``, ``"popular"``, ``"random"``).

        Raises:
            ConfigError: unknown kind, missing parameter or unknown user/post.
        """
        rep = self._ensure_started()
        net = rep.network
        event = self._resolve_event()
        try:
            if kind == "inject_post":
                user = _user_ref(net, params["user"], event)
                labels = {k: v for k, v in params.items()
                          if k not in ("user", "text", "event_id", "step", "kind")}
                ev = params.get("event_id", event)
                pid = net.add_post(user, str(params["text"]), kind="original", event_id=ev,
                                   **labels)
                if ev is not None and ev == event:
                    rep.adopters.add(user)
                self._push(rep, pid)
                return pid
            if kind == "remove_post":
                pid = params["post_id"]
                if pid == "root":
                    pid = _event_root(net, event)
                if pid is None or not net.has_post(pid):
                    raise ConfigError(f"remove_post: unknown post {pid!r}")
                net.remove_post(pid)
                for box in rep.inbox:
                    if pid in box:
                        box[:] = [p for p in box if p != pid]
                return pid
            if kind == "ban_user":
                user = _user_ref(net, params["user"], event)
                net.ban_user(user)
                for box in rep.inbox:
                    if box:
                        box[:] = [p for p in box if net.author(p) != user]
                return user
            if kind == "set_recommender":
                net.set_recommender(params["recommender"])
                return params["recommender"]
        except KeyError as exc:
            raise ConfigError(f"intervention {kind!r} needs parameter {exc.args[0]!r}") from None
        raise ConfigError(f"unknown intervention kind {kind!r}; use one of "
                          f"{INTERVENTION_KINDS}")

    def _scheduled(self, step: int) -> list[dict]:
        out = []
        for item in self.cfg.interventions:
            if int(item["step"]) == step:
                out.append(item)
        return out

    # ------------------------------------------------------------------ stepping
    def _ensure_started(self) -> _Replicate:
        if self._rep is None:
            self._rep = self._new_replicate(len(self._done))
        return self._rep

    @property
    def network_(self) -> SocialNetwork:
        """The network of the current replicate (after the steps run so far)."""
        return self._ensure_started().network

    # ------------------------------------------------------------------ reading (public)
    @property
    def replicate_(self) -> _Replicate | None:
        """State of the replicate being stepped, else of the last finished one (``None``
        before the first step). Read-only use: ``index``, ``step`` (steps run), ``network``,
        ``memory`` (the :class:`~s3kit.memory.MemoryBank`), ``adopters``, ``users``.
        """  # noqa: D205
        return self._rep if self._rep is not None else self._last_rep

    @property
    def current_network(self) -> SocialNetwork:
        """The network of :attr:`replicate_` (the original network before the first step).

        Unlike :attr:`network_`, reading it never starts a replicate.
        """
        rep = self.replicate_
        return rep.network if rep is not None else self.network

    def records(self) -> pd.DataFrame:
        """Per-step, per-agent tidy frame of :attr:`replicate_`'s steps so far.

        Columns are those of ``SimulationResult.results``; empty (with those columns) before
        the first step.
        """
        rep = self.replicate_
        if rep is None or not rep.frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS})
        return pd.concat(rep.frames, ignore_index=True)

    def curves(self) -> pd.DataFrame:
        """Aggregate curves (one row per step run so far) of :attr:`replicate_`."""
        rep = self.replicate_
        if rep is None or not rep.curves:
            return pd.DataFrame({"step": pd.Series(dtype="int64"),
                                 "adopters": pd.Series(dtype="int64")})
        return pd.DataFrame(rep.curves)

    def adopters(self) -> set[str]:
        """Users of :attr:`replicate_` who have posted in the event so far."""
        rep = self.replicate_
        return set(rep.adopters) if rep is not None else set()

    def memory_pool(self, user_id: str):
        """The :class:`~s3kit.memory.MemoryPool` of one agent (``None`` before the first step).

        ``memory_pool(u).explain(now=sim.current_network.now)`` is why each message is there.
        """
        rep = self.replicate_
        if rep is None or rep.memory is None:
            return None
        return rep.memory.pool(user_id)

    def last_decisions(self, user_id: str) -> dict | None:
        """Prompts and probabilities of the agent's decisions in the last step run.

        Returns:
            ``{kind: {"prompt", "options", "probs", "choice", "scored"}}`` for ``emotion``,
            ``attitude`` and ``action`` (``scored`` is False when the agent read nothing new
            and the label came from the decay rule, not the LLM), or ``None`` when the agent
            was not active in the last step (or no step ran in this process).
        """
        trace = self._trace
        if not trace or user_id not in trace["users"]:
            return None
        j = trace["users"][user_id]
        out = {}
        for task, ctxs, proba, labels in zip(("emotion", "attitude", "action"),
                                             trace["contexts"], trace["proba"],
                                             trace["labels"], strict=True):
            c = ctxs[j]
            out[task] = {"prompt": decision_prompt(task, c), "options": list(LABELS[task]),
                         "probs": [float(p) for p in proba[j]], "choice": labels[j],
                         "scored": bool(len(c.received) > 0)}
        return out

    @property
    def finished(self) -> bool:
        """Whether every replicate has run all its steps."""
        return len(self._done) >= self.cfg.n_replicates

    def step(self) -> pd.DataFrame:
        """Run one step of the current replicate; returns its tidy per-agent frame.

        Starts the next replicate when the current one has run ``n_steps`` steps.

        Raises:
            RuntimeError: every replicate has already finished.
        """
        if self.finished:
            raise RuntimeError("the simulation has finished: every replicate ran n_steps")
        cfg = self.cfg
        rep = self._ensure_started()
        t = rep.step
        for item in self._scheduled(t):
            params = {k: v for k, v in item.items() if k not in ("step", "kind")}
            self.intervene(item["kind"], **params)
        rng = step_rng(rep.seed_seq, t)
        reset = getattr(self.active_llm, "reset_prefix_cache", None)
        if reset is not None:  # a step's answers never depend on an earlier step's KV
            reset()
        frame = self._decide_and_act(rep, rng)
        rep.frames.append(frame)
        rep.network.tick()
        rep.step += 1
        if rep.step >= cfg.n_steps:
            self._done.append((pd.concat(rep.frames, ignore_index=True),
                               pd.DataFrame(rep.curves)))
            self._rep = None
            self._last_rep = rep
        k = cfg.checkpoint_every
        if k and (rep.step % k == 0 or self._rep is None):
            self.save()
        if self.on_step is not None:
            self.on_step(self, rep.index, t)
        return frame


    # ------------------------------------------------------------------ one step's work
    @property
    def uses_compact_prompts(self) -> bool:
        """Whether the decisions use the compact prompts (see ``compact_prompts``)."""
        if self.compact_prompts is not None:
            return bool(self.compact_prompts)
        return not self.cfg.adapter

    @property
    def _lang(self) -> str:
        """Prompt language: the config's, or detected from the network's texts (``auto``)."""
        if self._lang_cache is None:
            lang = self.cfg.language
            if lang == "auto":
                net = self.network if self.network is not None else self._rep.network
                texts = net.post_texts(500)
                lang = detect_language(texts + [str(self.topic or "")])
            self._lang_cache = lang
        return self._lang_cache

    def _decide_and_act(self, rep: _Replicate, rng: np.random.Generator) -> pd.DataFrame:
        cfg = self.cfg
        net = rep.network
        n = len(rep.users)
        banned = net.banned
        event = self._resolve_event()
        lang = self._lang
        # 1. activation: one uniform per user, in user order (independent of who has input)
        draws = rng.random(n)
        has_input = np.fromiter((len(b) > 0 for b in rep.inbox), dtype=bool, count=n)
        active_mask = has_input | (draws < cfg.activation_rate)
        for u in sorted(banned):
            active_mask[rep.row[u]] = False
        active = np.flatnonzero(active_mask)
        # 2. perception: feed -> memory
        now_h = net.now.value / 3.6e12
        feeds = []
        for i in active:
            feeds.append(net.feed(rep.users[i], cfg.feed_size))
            rep.inbox[i] = []
        _deliver(rep, feeds, active, now_h)
        memories = rep.memory.top([rep.users[i] for i in active], now_h, cfg.memory_size)
        # 3. decisions (s3kit.agent): one batched score call per kind for the population;
        #    every label is drawn here, in the driver, in agent order, whatever the engine
        contexts, exposed = [], []
        for j, i in enumerate(active):
            feed = feeds[j]
            seen = {p["post_id"] for p in feed}
            exposed.append(event is None or any(p["event_id"] == event for p in feed) or any(
                net.has_post(pid) and net.event_of(pid) == event for pid, _ in memories[j]))
            contexts.append(AgentContext(
                profile=net.graph.nodes[rep.users[i]],
                state=AgentState(EMOTIONS[rep.emotion[i]],
                                   ATTITUDES[rep.attitude[i]] if rep.attitude[i] >= 0 else None),
                memory=[text for pid, text in memories[j] if pid not in seen],
                received=[{"text": p["text"], "source": p["source"]} for p in feed],
                topic=self.topic, language=lang, compact=self.uses_compact_prompts))
        decided = self._decide(rep, active, contexts, feeds, exposed, event, rng)
        # 4. state updates; inactive agents relax towards calm
        relax = (~active_mask) & (rep.emotion > 0) & (rng.random(n) < cfg.emotion_decay)
        rep.emotion[relax] -= 1
        actions = np.full(n, None, dtype=object)
        post_ids = np.full(n, None, dtype=object)
        new_posts = []
        for j, i in enumerate(active):
            d = decided[j]
            rep.emotion[i] = EMOTIONS.index(d["emotion"])
            if d["attitude"] is not None:
                rep.attitude[i] = ATTITUDES.index(d["attitude"])
            actions[i] = d["action"]
            if d["action"] in ("post", "repost"):
                pid = net.add_post(rep.users[i], d["text"], parent_id=d["parent_id"],
                                   kind="repost" if d["action"] == "repost" else "original",
                                   event_id=d["event_id"], emotion=d["emotion"],
                                   stance=d["attitude"])
                post_ids[i] = pid
                new_posts.append(pid)
                if event is not None and net.event_of(pid) == event:
                    rep.adopters.add(rep.users[i])
        # 5. propagation to followers (read at the next step)
        for pid in new_posts:
            self._push(rep, pid)
        # 6. record
        emotions = np.array(EMOTIONS, dtype=object)[rep.emotion]
        attitudes = np.array((*ATTITUDES, None), dtype=object)[rep.attitude]
        frame = pd.DataFrame({
            "replicate": np.full(n, rep.index, dtype=np.int64),
            "seed": np.full(n, rep.seed, dtype=np.int64),
            "step": np.full(n, rep.step, dtype=np.int64),
            "user_id": pd.array(rep.users, dtype="string"),
            "active": active_mask,
            "emotion": pd.array(emotions, dtype="string"),
            "attitude": pd.array(attitudes, dtype="string"),
            "action": pd.array(actions, dtype="string"),
            "post_id": pd.array(post_ids, dtype="string"),
        })
        prev = rep.curves[-1]["adopters"] if rep.curves else rep.initial_adopters
        act_emo = rep.emotion[active]
        k = len(active)
        rep.curves.append({
            "replicate": rep.index, "seed": rep.seed, "step": rep.step, "time": net.now,
            "hours": (net.now.value - rep.origin_ns) / 3.6e12,
            "adopters": len(rep.adopters), "new_adopters": len(rep.adopters) - prev,
            "n_active": k, "n_posts": len(new_posts),
            **{e: float((act_emo == c).mean()) if k else float("nan")
               for c, e in enumerate(EMOTIONS)},
            "positive_share": float((rep.attitude[active] == ATTITUDES.index("positive"))
                                    .mean()) if k else float("nan"),
            "source": "simulated",
        })
        return frame

    def _decide(self, rep: _Replicate, active: np.ndarray, contexts: list, feeds: list,
                exposed: list[bool], event: str | None, rng: np.random.Generator) -> list[dict]:
        """Emotion, attitude, action (and post texts) of the active agents via :mod:`agent`.

        Each kind sees the state the previous kind produced (emotion, then attitude, then
        action, as in S3). Labels are sampled from the LLM's probabilities with ``rng`` in
        agent order; a quiet agent (empty feed) takes one Markov decay step, keeps its
        attitude and does nothing.
        """
        from dataclasses import replace

        cfg = self.cfg
        if not contexts:
            self._trace = {"replicate": rep.index, "step": rep.step, "users": {}}
            return []
        llm = self.active_llm
        seed = int(rng.integers(2**31 - 1))
        draws = rng.random((3, len(contexts)))  # emotion, attitude, action: one per agent
        n = len(contexts)
        if self.decision_mode == "calibrated":
            return self._decide_calibrated(rep, active, contexts, feeds, exposed, event, rng,
                                           draws, seed)
        emo, att, act = (np.empty(n, dtype=object) for _ in range(3))
        p_emo, p_att, p_act = np.zeros((n, 3)), np.zeros((n, 2)), np.zeros((n, 3))
        c_att, c_act, final = [], [], []
        out, writers, texts = [], [], []
        # agents in chunks: one chunk's emotion, attitude and action prompts (and posts) share
        # each agent's head, which the embedded backend's prefix cache computes once
        for lo in range(0, n, self.chunk_size):
            sl = slice(lo, min(n, lo + self.chunk_size))
            part = contexts[sl]
            emo[sl], p_emo[sl] = decide_emotion(llm, part, sample=True, uniforms=draws[0, sl],
                                                  emotion_decay=cfg.emotion_decay)
            part = [replace(c, state=replace(c.state, emotion=str(e)))
                    for c, e in zip(part, emo[sl], strict=True)]
            c_att += part
            att[sl], p_att[sl] = decide_attitude(llm, part, sample=True, uniforms=draws[1, sl])
            part = [replace(c, state=replace(c.state, attitude=a))
                    for c, a in zip(part, att[sl], strict=True)]
            c_act += part
            act[sl], p_act[sl] = decide_action(llm, part, sample=True, uniforms=draws[2, sl])
            final += [replace(c, state=st)
                      for c, st in zip(part, update_states(part), strict=True)]
            chunk_writers = []
            for j in range(sl.start, sl.stop):
                d = _act(str(emo[j]), att[j], str(act[j]), feeds[j], exposed[j], event)
                act[j] = d["action"]
                if d["action"] != "nothing":
                    chunk_writers.append(j)
                out.append(d)
            if chunk_writers and cfg.generate_posts:
                texts += write_posts(llm, [final[j] for j in chunk_writers],
                                       [out[j]["action"] for j in chunk_writers],
                                       max_new_tokens=cfg.max_new_tokens,
                                       temperature=cfg.temperature, seed=seed)
            else:
                texts += [None] * len(chunk_writers)
            writers += chunk_writers
        self._record(rep, active, (contexts, c_att, c_act), (p_emo, p_att, p_act),
                     (emo, att, act))
        self._fill_texts(out, writers, texts)
        return out

    def _decide_calibrated(self, rep, active, contexts, feeds, exposed, event, rng, draws,
                           seed) -> list[dict]:
        """Every decision from the calibrated heads (:func:`s3kit.agent.decide_calibrated`).

        Texts are written only where an agent really writes: a repost carries a generated
        comment with the probability the heads' training data shows (``comment_share`` of
        the manifest: the share of real reposts with the reposter's own words), otherwise
        it is the plain ``//@user: text`` chain; ``post`` actions always generate.
        """
        from dataclasses import replace

        cfg = self.cfg
        perceived = self._perceived(rep, active, feeds, event)
        model = self._decision_model()
        if self._rated is None and self.repost_rate_ is not None:
            # the event's rate among the agents exposed now (the first step that has any)
            now = calibrated_items(contexts, perceived)
            if len(now):
                self._rated = model.with_action_rate(self.repost_rate_, now)
        res = decide_calibrated(self._rated or model, contexts, perceived,
                                  emotion_decay=cfg.emotion_decay, uniforms=draws)
        (emo, p_emo), (att, p_att), (act, p_act) = res["emotion"], res["attitude"], res["action"]
        comment = rng.random(len(contexts)) < float(model.info.get("comment_share") or 0.0)
        final = [replace(c, state=st) for c, st in
                 zip(contexts, update_states(contexts, emo, att), strict=True)]
        out, writers, plain = [], [], []
        for j in range(len(contexts)):
            d = _act(str(emo[j]), att[j], str(act[j]), feeds[j], exposed[j], event)
            act[j] = d["action"]
            if d["action"] == "post" or (d["action"] == "repost" and comment[j]):
                writers.append(j)
            elif d["action"] == "repost":
                plain.append(j)  # the plain //@user: chain, no text generated
            out.append(d)
        texts = [None] * len(writers)
        if writers and cfg.generate_posts:
            texts = write_posts(self.active_llm, [final[j] for j in writers],
                                  [out[j]["action"] for j in writers],
                                  max_new_tokens=cfg.max_new_tokens,
                                  temperature=cfg.temperature, seed=seed)
        self._record(rep, active, (contexts, contexts, contexts), (p_emo, p_att, p_act),
                     (emo, att, act))
        self._fill_texts(out, writers + plain, list(texts) + [None] * len(plain))
        return out

    def _record(self, rep: _Replicate, active: np.ndarray, contexts: tuple, proba: tuple,
                labels: tuple) -> None:
        """Count the step's decisions and keep its trace (``last_decisions``)."""
        self.n_decisions_ += 3 * sum(1 for c in contexts[0] if c.received)
        self._trace = {"replicate": rep.index, "step": rep.step,
                       "users": {rep.users[i]: j for j, i in enumerate(active)},
                       "contexts": contexts, "proba": proba, "labels": labels}

    def _fill_texts(self, out: list[dict], writers: list[int], texts: list) -> None:
        """Final post texts: a repost is ``comment //@user: parent``; a post its own text."""
        subject = self.topic or ("这件事" if self._lang == "zh" else "the event")
        for j, text in zip(writers, texts, strict=True):
            d = out[j]
            if d["action"] == "repost":
                parent = d["parent"]
                lead = _clip(text, 140) if text else ""
                d["text"] = _clip(f"{lead} //@{parent['user_id']}: {parent['text'] or ''}")
            else:
                d["text"] = _clip(text) if text else (
                    f"{subject}: {d['attitude'] or 'undecided'} ({d['emotion']})")

    # ------------------------------------------------------------------ running
    def run(self) -> SimulationResult:
        """Run (or finish) every replicate; returns the tidy results and curves.

        Returns:
            A :class:`SimulationResult`; also stored as ``results_`` / ``curves_``.
        """
        from tqdm.auto import tqdm

        cfg = self.cfg
        progress = cfg.progress if self.progress is None else self.progress
        total = cfg.n_replicates * cfg.n_steps
        done = len(self._done) * cfg.n_steps + (self._rep.step if self._rep is not None else 0)
        t0 = time.perf_counter()
        with tqdm(total=total, initial=done, disable=not progress, desc="simulating",
                  unit="step") as bar:
            while not self.finished:
                self.step()
                bar.update(1)
        self._elapsed += time.perf_counter() - t0
        return self.result()

    def result(self) -> SimulationResult:
        """The results of the replicates finished so far (and the current one's steps)."""
        parts = [r for r, _ in self._done]
        curves = [c for _, c in self._done]
        if self._rep is not None and self._rep.frames and not self.finished:
            parts.append(pd.concat(self._rep.frames, ignore_index=True))
            curves.append(pd.DataFrame(self._rep.curves))
        results = (pd.concat(parts, ignore_index=True) if parts else
                   pd.DataFrame({c: [] for c in RESULT_COLUMNS}))
        curve_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
        last = self._last_rep or self._rep
        posts = last.network.posts_frame() if last is not None else pd.DataFrame()
        stats = {}
        if self._engine is not None:
            stats = self._engine.llm.stats.as_dict()
        self.results_, self.curves_ = results, curve_df
        return SimulationResult(results=results, curves=curve_df, posts=posts, llm_stats=stats,
                                seconds=self._elapsed)

    def close(self) -> None:
        """Release the engine (stops Ray actors this simulation started)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_file(self) -> Path:
        return Path(self.checkpoint_path or "checkpoint.s3k")

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the full state (atomically, checksummed) so :meth:`resume` can continue."""
        rep = self._rep
        bank = rep.memory if rep is not None else None
        embedder = getattr(bank, "embedder", None)
        if bank is not None:
            bank.embedder = None
        try:
            state = {
                "format": _FORMAT,
                "config": self.cfg.to_dict(),
                "event_id": self.event_id,
                "seed_posts": list(self.seed_posts) if self.seed_posts is not None else None,
                "topic": self.topic,
                "compact_prompts": self.compact_prompts,
                "network": self.network if not self.finished else None,
                "done": self._done,
                "replicate": rep,
                "last": self._last_rep if rep is None else None,
                "elapsed": self._elapsed,
            }
            return write_checkpoint(path or self._checkpoint_file(), state)
        finally:
            if bank is not None:
                bank.embedder = embedder

    @classmethod
    def resume(cls, path: str | os.PathLike, llm: Any = None, *, engine: str | Any = "local",
               embedder: Any = None, progress: bool | None = None,
               on_step: Callable | None = None,
               checkpoint_path: str | os.PathLike | None = None) -> Simulation:
        """Rebuild a simulation from a checkpoint; ``run()`` then continues where it stopped.

        Args:
            path: the checkpoint file.
            llm: the backend (``None``: built from the saved config).
            engine: ``"local"``, ``"ray"`` or an engine object.
            embedder: the memory embedder (``None``: the default for the language).
            progress: progress bar override.
            on_step: per-step callback.
            checkpoint_path: where further checkpoints go (default: ``path``).

        Raises:
            CheckpointError: missing, truncated or corrupted checkpoint.
        """
        state = read_checkpoint(path)
        sim = cls(state["network"], ReplayConfig.from_dict(state["config"]), llm,
                  engine=engine, event_id=state["event_id"], seed_posts=state["seed_posts"],
                  topic=state["topic"], checkpoint_path=checkpoint_path or path,
                  progress=progress, embedder=embedder, on_step=on_step,
                  compact_prompts=state.get("compact_prompts"))
        sim._done = state["done"]
        sim._rep = state["replicate"]
        sim._last_rep = state["last"]
        sim._elapsed = state["elapsed"]
        if sim._rep is not None and sim._rep.memory.profile_vectors is not None:
            sim._rep.memory.embedder = sim._get_embedder()
        return sim


# ---------------------------------------------------------------------------- helpers
def observed_repost_rate(network: SocialNetwork, event_id: str | None) -> float | None:
    """Share of the exposed users that adopted, in the event's posts visible so far.

    Exposed: followers of the event's authors so far. Of those, the authors who follow
    another author adopted after being exposed; the others have not (yet). The ratio is the
    event's repost rate per exposure over its observed start, ``None`` when no author was
    exposed by another (nothing to estimate from). Clipped to ``[0.001, 0.95]``.

    Examples:
        >>> import pandas as pd
        >>> from s3kit.datasets import SocialDataset
        >>> ds = SocialDataset(name="toy", follows=pd.DataFrame(
        ...     {"follower": ["b", "c", "d", "e"], "followee": ["a", "a", "a", "b"]}),
        ...     posts=pd.DataFrame({"post_id": ["1", "2"], "user_id": ["a", "b"],
        ...         "time": pd.to_datetime(["2020-01-01 00:00", "2020-01-01 00:30"], utc=True),
        ...         "text": ["x", "y"], "parent_id": [None, "1"], "event_id": ["e", "e"]}))
        >>> net = SocialNetwork.from_dataset(ds, until="2020-01-01 01:00")
        >>> observed_repost_rate(net, "e")  # b adopted; c, d, e exposed and not (yet)
        0.25
    """
    if event_id is None:
        return None
    authors = {network.author(pid) for pid in network.event_posts(event_id)}
    g = network.graph
    adopted = sum(1 for a in authors if a in g and any(f in authors for f in g.successors(a)))
    if adopted == 0:
        return None
    exposed = {f for a in authors if a in g for f in g.predecessors(a)} - authors
    return float(min(max(adopted / (adopted + len(exposed)), 0.001), 0.95))


def _act(emotion: str, attitude, action: str, feed: list[dict], exposed: bool,
         event: str | None) -> dict:
    """One agent's decided action made concrete: what it reposts (the event's post first)."""
    parent = None
    if action == "repost":
        pool = [p for p in feed if event is not None and p["event_id"] == event] or feed
        if pool:
            parent = pool[0]
        else:
            action = "nothing"  # nothing to repost
    d = {"emotion": emotion, "attitude": attitude, "action": action,
         "parent_id": parent["post_id"] if parent else None, "text": None,
         "event_id": None, "parent": parent}
    if action == "repost":
        d["event_id"] = parent["event_id"]
    elif action == "post" and exposed:
        d["event_id"] = event
    return d


def _profile_text(attrs: dict) -> str:
    """Who a user is, as text for memory relevance (demographics + bio)."""
    return profile_text(attrs, ("gender", "age", "occupation", "location")) or "user"


def _deliver(rep: _Replicate, feeds: list[list[dict]], active: np.ndarray, now_h: float) -> None:
    """Put the posts each active agent read into its memory pool (one vectorised update)."""
    bank = rep.memory
    fresh: dict[str, str] = {}
    for feed in feeds:
        for p in feed:
            if p["post_id"] not in rep.msg_ids and p["post_id"] not in fresh:
                fresh[p["post_id"]] = p["text"] or ""
    if fresh:
        ids = bank.register(list(fresh.values()), list(fresh))
        rep.msg_ids.update(zip(fresh, ids.tolist(), strict=True))
    users, msgs, kinds, times = [], [], [], []
    for j, feed in enumerate(feeds):
        u = rep.users[active[j]]
        for p in feed:
            users.append(u)
            msgs.append(rep.msg_ids[p["post_id"]])
            kinds.append(p["source"])
            times.append(p["time"].value / 3.6e12)
    if users:
        bank.deliver(users, msgs, kinds=kinds, times=np.asarray(times), now=now_h)


def _clip(text: str | None, n: int = 280) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[:n - 1] + "…"

