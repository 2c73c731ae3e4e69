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

Where the parts live: :meth:`Simulation.step` runs the phases above in that order
(``_apply_interventions``, ``_perceive``, ``_decide``, ``_propagate``, ``_record``); the
agents (state arrays, inboxes, memory pools, decision contexts, acts: what a post or a repost
is) are a :class:`~s3kit.population.Population`; the interventions are typed in
:mod:`s3kit.interventions`; the checkpoint file format is :mod:`s3kit.checkpoint` (its public
names are re-exported here).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .agent import (
    calibrated_items,
    decide_action,
    decide_attitude,
    decide_calibrated,
    decide_emotion,
    decision_prompt,
    profile_text,
    sharing_context,
    update_states,
    write_posts,
)
from .checkpoint import CHECKPOINT_SCHEMA, checkpoint_info, read_checkpoint, write_checkpoint
from .config import ReplayConfig
from .embeddings import E5Embedder, embedder_parts, get_embedder
from .engines import LocalEngine, make_engine
from .environment import SocialNetwork
from .errors import StepInterrupted
from .heads import DecisionModel, resolve_decisions
from .interventions import Intervention, event_root, make_intervention, scheduled
from .llm import llm_from_config
from .memory import MemoryBank, MemoryParams
from .population import Population
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
    "checkpoint_info",
    "CHECKPOINT_SCHEMA",
]

RESULT_COLUMNS = ("replicate", "seed", "step", "user_id", "active", "emotion", "attitude",
                  "action", "post_id")


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


# ---------------------------------------------------------------------------- the engine
@dataclass
class _Perception:
    """What a step's perception found: who decides and what they read."""

    event: str | None  # the simulated event
    active_mask: np.ndarray  # per agent: decides in this step
    active: np.ndarray  # the deciding agents' rows, in agent order
    feeds: list[list[dict]]  # per active agent: the posts it read
    memories: list  # per active agent: its top memories, [(post id, text), ...]


@dataclass
class _Published:
    """What a step's acts put on the network."""

    actions: np.ndarray  # per agent: its action (None when it did not decide)
    post_ids: np.ndarray  # per agent: the post it published, if any
    new_posts: list[str]  # the new posts, in agent order


class _Replicate:
    """Mutable state of one replicate (everything a checkpoint must hold).

    The agents are a :class:`~s3kit.population.Population`; the replicate adds the run's
    bookkeeping (network, seeds, adopters, steps run, recorded frames and curves).
    """

    def __init__(self, index: int, seed_seq: np.random.SeedSequence, network: SocialNetwork,
                 population: Population):
        self.index = index
        self.seed_seq = seed_seq
        self.seed = _seed_int(seed_seq)
        self.network = network
        self.population = population
        self.adopters: set[str] = set()
        self.initial_adopters = 0
        self.origin_ns = network.now.value
        self.step = 0
        self.frames: list[pd.DataFrame] = []
        self.curves: list[dict] = []

    @property
    def users(self) -> list[str]:
        """The agents' user ids."""
        return self.population.users

    @property
    def memory(self) -> MemoryBank:
        """The agents' memory pools."""
        return self.population.memory

    # checkpoint schema 2 keeps the population's attributes on the replicate: pickle (and
    # copy) that layout, so checkpoints written before the population had its class still load
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        population = state.pop("population")
        state.update((name, getattr(population, name)) for name in Population.STATE)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        population = Population.from_state(state)
        for name in Population.STATE:
            del state[name]
        self.__dict__.update(state, population=population)


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
        embedder: the memory pools' embedder (``None``: the calibrated heads' e5 when they read
            it, else ``s3kit.embeddings.get_embedder`` for the config's language).
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
        self._progress = None  # the running step's progress report (step(progress=...))

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
        if self._history is None:  # posts each user wrote before, outside the event
            posts = net.posts_frame()
            if event is not None and "event_id" in posts.columns:
                posts = posts[posts["event_id"].astype("string") != str(event)]
            self._history = posts.groupby("user_id").size().to_dict() if len(posts) else {}
        return rep.population.perceived(net, active, feeds, event, self._history)

    def _get_embedder(self):
        """The memory pools' embedder: the one given, else the heads' e5, else by language.

        Calibrated agents whose heads read multilingual e5 share that model (and its cache of
        vectors) for memory relevance, so a replay loads one sentence model, not two.
        """
        if self.embedder is None:
            shared = None
            if self.decision_mode == "calibrated":
                heads = self._decision_model().embedder
                shared = next((p for p in embedder_parts(heads)
                               if isinstance(p, E5Embedder)), None)
            self.embedder = shared if shared is not None else get_embedder(self.prompt_language)
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
        rep = _Replicate(index, seeds[index], net,
                         Population(users, self._make_memory(net, users)))
        event = self._resolve_event()
        # initial adopters: everyone who already posted in the event
        if event is not None:
            rep.adopters.update(net.author(pid) for pid in net.event_posts(event))
            root = event_root(net, event)
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
            rep.population.push(net, pid)
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

    # ------------------------------------------------------------------ interventions
    def intervene(self, kind: str | Intervention, **params: Any) -> Any:
        """Apply one intervention to the current replicate now (between two steps).

        Kinds and parameters (the classes of :mod:`s3kit.interventions`; ``kind`` may also be
        one of their instances, without ``params``):

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
            ConfigError: unknown kind, missing or unknown parameter, or unknown user/post.
        """
        item = make_intervention(kind, params) if isinstance(kind, str) else kind
        rep = self._ensure_started()
        return item.apply(rep.network, rep.population, self._resolve_event(), rep.adopters)

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
    def last_step_agents(self) -> list[str]:
        """The agents active in the last step run, those :meth:`last_decisions` answers for.

        Empty before the first step of this process.
        """
        return list(self._trace["users"]) if self._trace else []

    @property
    def finished(self) -> bool:
        """Whether every replicate has run all its steps."""
        return len(self._done) >= self.cfg.n_replicates

    def step(self, progress: Callable[[dict], Any] | None = None) -> pd.DataFrame:
        """Run one step of the current replicate; returns its tidy per-agent frame.

        The step applies the scheduled interventions, then the agents perceive, decide (and
        act), their posts propagate, and the step is recorded (see the module docstring).
        Starts the next replicate when the current one has run ``n_steps`` steps.

        Args:
            progress: called while the step runs (after activation, after every batch of
                texts the model reads, after every chunk of decisions) with a dict: ``step``,
                ``phase``, ``active`` = ``with_input`` + ``by_rate`` (agents with new input /
                activated by ``activation_rate`` alone), ``decisions_done`` of
                ``decisions_total``, ``texts_read`` (texts the model encoded this step),
                ``model_seconds`` (time deciding so far) and ``seconds``. It may raise
                :class:`~s3kit.errors.StepInterrupted` to abandon the step: the replicate is
                then put back as it was before the step and the exception propagates.

        Raises:
            RuntimeError: every replicate has already finished.
            StepInterrupted: raised by ``progress``.
        """
        if self.finished:
            raise RuntimeError("the simulation has finished: every replicate ran n_steps")
        rep = self._ensure_started()
        before = _snapshot(rep) if progress is not None else None
        self._progress = _StepProgress(progress, rep.step) if progress is not None else None
        try:
            self._apply_interventions(rep)
            rng = step_rng(rep.seed_seq, rep.step)
            self._reset_prefix_cache()
            seen = self._perceive(rep, rng)
            decided = self._decide(rep, seen, rng)
            published = self._propagate(rep, seen, decided)
            frame = self._record(rep, seen, published)
        except StepInterrupted:
            self._rep = before
            raise
        finally:
            self._progress = None
        self._end_step(rep, frame)
        return frame

    def _end_step(self, rep: _Replicate, frame: pd.DataFrame) -> None:
        """Keep the step's frame, tick the clock; finish the replicate, checkpoint, report.

        The step's prefix key/values are freed now, not when the next step starts (they held
        up to the cache bound, 1 GiB, between steps).
        """
        self._reset_prefix_cache()
        cfg = self.cfg
        t = rep.step
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

    # ------------------------------------------------------------------ one step's work
    @property
    def uses_compact_prompts(self) -> bool:
        """Whether the decisions use the compact prompts (see ``compact_prompts``)."""
        if self.compact_prompts is not None:
            return bool(self.compact_prompts)
        return not self.cfg.adapter

    @property
    def prompt_language(self) -> str:
        """Prompt language: the config's, or detected from the network's texts (``auto``)."""
        if self._lang_cache is None:
            lang = self.cfg.language
            if lang == "auto":
                net = self.network if self.network is not None else self._rep.network
                texts = net.post_texts(500)
                lang = detect_language(texts + [str(self.topic or "")])
            self._lang_cache = lang
        return self._lang_cache

    def _apply_interventions(self, rep: _Replicate) -> None:
        """1. The interventions the config schedules at this step, in their order."""
        for item in scheduled(self.cfg.interventions, rep.step):
            self.intervene(item)

    def _reset_prefix_cache(self) -> None:
        """A step's answers never depend on an earlier step's KV (embedded backend)."""
        reset = getattr(self.active_llm, "reset_prefix_cache", None)
        if reset is not None:
            reset()

    def _perceive(self, rep: _Replicate, rng: np.random.Generator) -> _Perception:
        """2-3. Who decides (activation), and what they read (feeds into memory pools)."""
        cfg = self.cfg
        net = rep.network
        agents = rep.population
        n = len(agents)
        # activation: one uniform per user, in user order (independent of who has input)
        draws = rng.random(n)
        has_input = agents.has_input()
        active_mask = has_input | (draws < cfg.activation_rate)
        for u in sorted(net.banned):
            active_mask[agents.row[u]] = False
        active = np.flatnonzero(active_mask)
        report = self._report(rep)
        n_input = int(has_input[active].sum())
        report(phase="reading feeds", active=len(active), with_input=n_input,
               by_rate=len(active) - n_input, decisions_total=len(active))
        # perception: feed -> memory
        now_h = net.now.value / 3.6e12
        feeds = agents.read_feeds(net, active, cfg.feed_size)
        with report.batches(agents.memory.embedder):
            agents.remember(feeds, active, now_h)
            memories = agents.recall(active, now_h, cfg.memory_size)
        return _Perception(self._resolve_event(), active_mask, active, feeds, memories)

    def _decide(self, rep: _Replicate, seen: _Perception, rng: np.random.Generator
                ) -> list[dict]:
        """4. Decisions (:mod:`s3kit.agent`) and acts of the active agents; states updated.

        One batched score call per kind for the population; every label is drawn here, in the
        driver, in agent order, whatever the engine. Agents that did not decide relax towards
        calm.
        """
        agents = rep.population
        contexts, exposed = agents.contexts(
            rep.network, seen.active, seen.feeds, seen.memories, seen.event, topic=self.topic,
            language=self.prompt_language, compact=self.uses_compact_prompts)
        report = self._report(rep)
        report.deciding()
        decided = self._decide_active(rep, seen.active, contexts, seen.feeds, exposed,
                                      seen.event, rng)
        report(phase="updating", decisions_done=len(seen.active))
        agents.relax(~seen.active_mask, rng.random(len(agents)), self.cfg.emotion_decay)
        agents.update(seen.active, decided)
        return decided

    def _propagate(self, rep: _Replicate, seen: _Perception, decided: list[dict]
                   ) -> _Published:
        """5. New posts published now and pushed to the authors' followers (read next step)."""
        net = rep.network
        actions, post_ids, new_posts = rep.population.publish(net, seen.active, decided)
        for i in seen.active:
            pid = post_ids[i]
            if pid is not None and seen.event is not None and net.event_of(pid) == seen.event:
                rep.adopters.add(rep.users[i])
        for pid in new_posts:
            rep.population.push(net, pid)
        return _Published(actions, post_ids, new_posts)

    def _record(self, rep: _Replicate, seen: _Perception, published: _Published
                ) -> pd.DataFrame:
        """6. The step's tidy per-agent frame (returned) and its row of curves (kept)."""
        net = rep.network
        agents = rep.population
        n = len(agents)
        active = seen.active
        emotions, attitudes = agents.labels()
        frame = pd.DataFrame({
            "replicate": np.full(n, rep.index, dtype=np.int64),
            "seed": np.full(n, rep.seed, dtype=np.int64),
            "step": np.full(n, rep.step, dtype=np.int64),
            "user_id": pd.array(agents.users, dtype="string"),
            "active": seen.active_mask,
            "emotion": pd.array(emotions, dtype="string"),
            "attitude": pd.array(attitudes, dtype="string"),
            "action": pd.array(published.actions, dtype="string"),
            "post_id": pd.array(published.post_ids, dtype="string"),
        })
        prev = rep.curves[-1]["adopters"] if rep.curves else rep.initial_adopters
        act_emo = agents.emotion[active]
        k = len(active)
        rep.curves.append({
            "replicate": rep.index, "seed": rep.seed, "step": rep.step, "time": net.now,
            "hours": (net.now.value - rep.origin_ns) / 3.6e12,
            "adopters": len(rep.adopters), "new_adopters": len(rep.adopters) - prev,
            "n_active": k, "n_posts": len(published.new_posts),
            **{e: float((act_emo == c).mean()) if k else float("nan")
               for c, e in enumerate(EMOTIONS)},
            "positive_share": float((agents.attitude[active] == ATTITUDES.index("positive"))
                                    .mean()) if k else float("nan"),
            "source": "simulated",
        })
        return frame

    def _report(self, rep: _Replicate) -> _StepProgress:
        """The running step's progress report (a silent one when nobody listens)."""
        return self._progress or _StepProgress(None, rep.step)

    def _decide_active(self, rep: _Replicate, active: np.ndarray, contexts: list, feeds: list,
                       exposed: list[bool], event: str | None, rng: np.random.Generator
                       ) -> list[dict]:
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
                d = Population.act(str(emo[j]), att[j], str(act[j]), feeds[j], exposed[j],
                                   event)
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
            if self._progress is not None:
                self._progress(decisions_done=sl.stop)
        self._keep_trace(rep, active, (contexts, c_att, c_act), (p_emo, p_att, p_act),
                         (emo, att, act))
        Population.fill_texts(out, writers, texts, topic=self.topic, language=self.prompt_language)
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
        report = self._report(rep)
        with report.batches(model.embedder):
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
            d = Population.act(str(emo[j]), att[j], str(act[j]), feeds[j], exposed[j], event)
            act[j] = d["action"]
            if d["action"] == "post" or (d["action"] == "repost" and comment[j]):
                writers.append(j)
            elif d["action"] == "repost":
                plain.append(j)  # the plain //@user: chain, no text generated
            out.append(d)
        texts = [None] * len(writers)
        if writers and cfg.generate_posts:
            # a repost's comment reads the post it shares, not the whole feed
            writing = [sharing_context(final[j], out[j]["parent"]) if out[j]["parent"]
                       else final[j] for j in writers]
            texts = write_posts(self.active_llm, writing,
                                  ["share" if out[j]["parent"] else out[j]["action"]
                                   for j in writers],
                                  max_new_tokens=cfg.max_new_tokens,
                                  temperature=cfg.temperature, seed=seed)
        self._keep_trace(rep, active, (contexts, contexts, contexts), (p_emo, p_att, p_act),
                         (emo, att, act))
        Population.fill_texts(out, writers + plain, list(texts) + [None] * len(plain),
                              topic=self.topic, language=self.prompt_language)
        return out

    def _keep_trace(self, rep: _Replicate, active: np.ndarray, contexts: tuple, proba: tuple,
                    labels: tuple) -> None:
        """Count the step's decisions and keep its trace (``last_decisions``)."""
        self.n_decisions_ += 3 * sum(1 for c in contexts[0] if c.received)
        self._trace = {"replicate": rep.index, "step": rep.step,
                       "users": {rep.users[i]: j for j, i in enumerate(active)},
                       "contexts": contexts, "proba": proba, "labels": labels}

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
                "format": CHECKPOINT_SCHEMA,
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
        if sim._rep is not None and sim._rep.memory.profiles is not None:
            sim._rep.memory.embedder = sim._get_embedder()
        return sim


# ---------------------------------------------------------------------------- helpers
class _StepProgress:
    """What the running step has done so far, sent to ``Simulation.step``'s ``progress``."""

    def __init__(self, callback: Callable[[dict], Any] | None, step: int):
        self.callback = callback
        self.t0 = time.perf_counter()
        self.t_decide: float | None = None
        self.state = {"step": step, "phase": "starting", "active": 0, "with_input": 0,
                      "by_rate": 0, "decisions_done": 0, "decisions_total": 0,
                      "texts_read": 0, "model_seconds": 0.0, "seconds": 0.0}

    def __call__(self, **changes: Any) -> None:
        if self.callback is None:
            return
        self.state.update(changes)
        now = time.perf_counter()
        self.state["seconds"] = now - self.t0
        if self.t_decide is not None:
            self.state["model_seconds"] = now - self.t_decide
        self.callback(dict(self.state))

    def deciding(self) -> None:
        """The decisions (and the model's reading of what the agents read) start now."""
        self.t_decide = time.perf_counter()
        self(phase="deciding")

    def _batch(self, n: int, total: int) -> None:
        self(texts_read=self.state["texts_read"] + int(n))

    def batches(self, embedder: Any):
        """Within the ``with`` block, every batch ``embedder`` encodes is reported."""
        import contextlib

        targets = embedder_parts(embedder)
        if self.callback is None or not targets:
            return contextlib.nullcontext()

        @contextlib.contextmanager
        def hooked():
            for e in targets:
                e.on_batch = self._batch
            try:
                yield
            finally:
                for e in targets:
                    e.on_batch = None
        return hooked()


def _snapshot(rep: _Replicate) -> _Replicate:
    """A copy of a replicate to put back when a step is abandoned.

    The step frames and curves (appended only once a step cannot be abandoned any more) and
    the memory's embedder are shared, not copied.
    """
    embedder = getattr(rep.memory, "embedder", None)
    memo = {id(rep.frames): rep.frames, id(rep.curves): rep.curves}
    if embedder is not None:
        memo[id(embedder)] = embedder
    return copy.deepcopy(rep, memo)


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


def _profile_text(attrs: dict) -> str:
    """Who a user is, as text for memory relevance (demographics + bio)."""
    return profile_text(attrs, ("gender", "age", "occupation", "location")) or "user"
