"""Agents: emotion / attitude state and batched LLM decisions (S3 sections 3.3, 4.2-4.4).

State of one agent (:class:`AgentState`):

* ``emotion`` in ``calm < moderate < intense`` (``calm`` before the agent is aware of the
  event);
* ``attitude`` in ``negative`` / ``positive`` towards the topic (``None`` until formed;
  :func:`initial_attitude` forms it from profile + posting history);
* ``aware``: whether the agent has received anything about the event.

Each simulation step the caller builds one :class:`AgentContext` per active agent (profile,
state, remembered texts from :mod:`s3kit.memory`, posts received this step) and calls the
decision functions below. :func:`decision_prompt` and :func:`writing_prompt` are the one place
a context becomes a prompt: the simulation, the tuning code (:mod:`s3kit.tuning`) and the
benchmark (:mod:`s3kit.evaluation.decisions`) all call them, the latter two on contexts of a
reader who has just become aware (:func:`reader_context`), so what is trained is what is
simulated is what is scored. Each takes **many** contexts and makes **one** batched
``llm.score`` call (per prompt language) per decision kind; none mutates its input. They
return ``(labels, proba)``: an array of label strings and the ``(n, k)`` probabilities.

Emotion is a Markov chain. With new input, the next emotion is drawn from (or the argmax of)
the LLM's distribution over ``calm / moderate / intense``. With nothing new, the chain decays
towards calm with coefficient ``d = emotion_decay``::

    P(next | current), rows = current (calm, moderate, intense):
        calm     [1,   0,   0  ]
        moderate [d,   1-d, 0  ]
        intense  [0,   d,   1-d]

i.e. each quiet step an agent drops one level with probability ``d`` (sampling) or, without
sampling, drops one level when ``d >= 0.5`` (the most likely transition). The expected
emotion after ``t`` quiet steps is ``p @ T(d)^t`` (:func:`decay_distribution`).

Examples:
    >>> from s3kit.llm import FakeLLM
    >>> ctx = [AgentContext({"gender": "female", "age": 30}, AgentState(),
    ...                     received=[{"text": "Breaking news", "kind": "mutual"}]),
    ...        AgentContext({"gender": "male"}, AgentState("intense", "negative", aware=True))]
    >>> labels, proba = decide_emotion(FakeLLM(), ctx, emotion_decay=1.0)
    >>> proba.shape, labels[1]   # agent 2 read nothing: decays one level
    ((2, 3), 'moderate')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .llm.base import cut_at_stop
from .prompts import (
    action_prompt,
    attitude_prompt,
    emotion_prompt,
    options,
    post_prompt,
    resolve_language,
    share_prompt,
    system_prompt,
)
from .text import post_words
from .vocabulary import ACTIONS, ATTITUDES, EMOTIONS, LABELS

__all__ = ["AgentState", "AgentContext", "EMOTIONS", "ATTITUDES", "ACTIONS",
           "decay_matrix", "decay_distribution", "decay_emotions", "choose",
           "decide_emotion", "decide_attitude", "decide_action", "initial_attitude",
           "message", "reader_context", "decision_prompt", "writing_prompt",
           "decide_calibrated", "calibrated_items", "profile_text",
           "write_posts", "update_states", "COMMENT_STOP"]


@dataclass(frozen=True)
class AgentState:
    """Emotion, attitude and awareness of one agent.

    Attributes:
        emotion: ``"calm"``, ``"moderate"`` or ``"intense"``.
        attitude: ``"negative"``, ``"positive"`` or ``None`` (not formed yet).
        aware: whether the agent has received anything about the event.
    """

    emotion: str = "calm"
    attitude: str | None = None
    aware: bool = False

    def __post_init__(self):
        if self.emotion not in EMOTIONS:
            raise ValueError(f"emotion must be one of {EMOTIONS}, got {self.emotion!r}")
        if self.attitude is not None and self.attitude not in ATTITUDES:
            raise ValueError(f"attitude must be one of {ATTITUDES} or None, got "
                             f"{self.attitude!r}")


@dataclass
class AgentContext:
    """Everything one decision looks at.

    Attributes:
        profile: demographics + bio (``gender``, ``age``, ``occupation``, ``bio``, ``name``).
        state: the current :class:`AgentState`.
        memory: remembered texts, most influential first (``MemoryPool.texts()``).
        received: posts received this step: dicts with ``text`` and ``kind`` (source kind
            ``mutual``/``followee``/``recommended``/``own``, as the environment tags feed
            posts) or plain strings.
        topic: what the event is about (e.g. ``"the two-child policy"``).
        language: ``"auto"``, ``"en"`` or ``"zh"``.
        compact: use the compact prompts and system prompt (:data:`s3kit.prompts.SYSTEM_COMPACT`;
            fewer tokens, for population simulations).
    """

    profile: Mapping = field(default_factory=dict)
    state: AgentState = field(default_factory=AgentState)
    memory: Sequence[str] = ()
    received: Sequence = ()
    topic: str | None = None
    language: str = "auto"
    compact: bool = False

    def lang(self) -> str:
        """The resolved prompt language of this context."""
        return resolve_language(self.language, self.profile, self.topic or "",
                                  list(self.memory), list(self.received))


# ------------------------------------------------------------------------------ Markov decay
def decay_matrix(decay: float) -> np.ndarray:
    """Transition matrix of one quiet step (rows = current emotion, see module docstring).

    Examples:
        >>> decay_matrix(0.25).tolist()
        [[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.0, 0.25, 0.75]]
    """
    d = float(decay)
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"emotion_decay must be in [0, 1], got {decay!r}")
    return np.array([[1.0, 0.0, 0.0], [d, 1.0 - d, 0.0], [0.0, d, 1.0 - d]])


def decay_distribution(proba: np.ndarray, decay: float, steps: int = 1) -> np.ndarray:
    """Emotion distribution(s) after ``steps`` quiet steps: ``proba @ T(decay)^steps``."""
    return np.asarray(proba, dtype=float) @ np.linalg.matrix_power(decay_matrix(decay), steps)


def decay_emotions(emotions: Sequence[str], decay: float,
                   rng: np.random.Generator | None = None,
                   uniforms: np.ndarray | None = None) -> np.ndarray:
    """One quiet Markov step for many agents.

    Args:
        emotions: current emotion labels.
        decay: the coefficient ``d``.
        rng: sample each transition with this generator; ``None`` (and no ``uniforms``)
            takes the most likely transition (drop one level iff ``d >= 0.5``).
        uniforms: pre-drawn uniforms, one per agent, instead of ``rng``.

    Returns:
        Array of the next emotion labels.

    Examples:
        >>> decay_emotions(["intense", "moderate", "calm"], 1.0).tolist()
        ['moderate', 'calm', 'calm']
        >>> decay_emotions(["intense"], 0.0).tolist()
        ['intense']
    """
    idx = np.array([EMOTIONS.index(e) for e in emotions], dtype=np.int64)
    if uniforms is not None:
        drop = np.asarray(uniforms, dtype=float) < float(decay)
    elif rng is None:
        drop = np.full(len(idx), float(decay) >= 0.5)
    else:
        drop = rng.random(len(idx)) < float(decay)
    nxt = np.where(drop, np.maximum(idx - 1, 0), idx)
    return np.array(EMOTIONS, dtype=object)[nxt]


def choose(proba: np.ndarray, classes: Sequence[str], rng: np.random.Generator | None = None,
           sample: bool = False, uniforms: np.ndarray | None = None) -> np.ndarray:
    """Labels from probabilities: sampled (``sample=True``, needs ``rng``) or argmax.

    Args:
        proba: ``(n, k)`` probabilities.
        classes: the ``k`` labels.
        rng: generator of the uniform draws (one per row).
        sample: sample instead of argmax.
        uniforms: the draws themselves (``(n,)`` in [0, 1)), instead of ``rng``: a caller
            that draws them up front gets labels that do not depend on how it batches rows.

    Examples:
        >>> choose(np.array([[0.2, 0.8]]), ["a", "b"]).tolist()
        ['b']
        >>> choose(np.array([[0.2, 0.8]]), ["a", "b"], sample=True, uniforms=[0.1]).tolist()
        ['a']
    """
    proba = np.asarray(proba, dtype=float)
    if len(proba) == 0:
        return np.array([], dtype=object)
    if sample:
        if uniforms is None and rng is None:
            raise ValueError("sample=True needs a numpy Generator (rng) or uniforms")
        u = (rng.random((len(proba), 1)) if uniforms is None
             else np.asarray(uniforms, dtype=float).reshape(-1, 1))
        cum = np.cumsum(proba / proba.sum(axis=1, keepdims=True), axis=1)
        idx = (u > cum).sum(axis=1)
        idx = np.minimum(idx, proba.shape[1] - 1)
    else:
        idx = proba.argmax(axis=1)
    return np.array(classes, dtype=object)[idx]


# ------------------------------------------------------------------------------ prompts
_PROMPT_FN = {"emotion": emotion_prompt, "attitude": attitude_prompt,
              "action": action_prompt}


def message(text, source: str = "followee") -> dict:
    """One post an agent receives, as the prompts read it: its text and its source kind.

    Args:
        text: the post's text (``None`` or NaN: an empty post).
        source: where it came from: ``mutual``, ``followee``, ``recommended`` or ``own``.

    Examples:
        >>> message("Big news", "mutual")
        {'text': 'Big news', 'kind': 'mutual'}
        >>> message(float("nan"))["text"]
        ''
    """
    missing = text is None or (isinstance(text, float) and math.isnan(text))
    return {"text": "" if missing else str(text), "kind": source}


def reader_context(received: Sequence, *, profile: Mapping | None = None,
                   topic: str | None = None, language: str = "auto") -> AgentContext:
    """The context of an agent that has just become aware: calm, no attitude, no memory.

    How labelled posts are shown to an agent outside a simulation (tuning, benchmark items).

    Args:
        received: what the agent reads (:func:`message` dicts or plain strings).
        profile: demographics + bio (``None``: no persona beyond "a person").
        topic: what the event is about.
        language: ``"auto"``, ``"en"`` or ``"zh"``.

    Examples:
        >>> c = reader_context([message("so happy today", "own")], language="en")
        >>> c.state, len(c.received)
        (AgentState(emotion='calm', attitude=None, aware=False), 1)
    """
    return AgentContext(dict(profile or {}), AgentState(), (), list(received), topic, language)


def decision_prompt(task: str, context: AgentContext, language: str | None = None) -> str:
    """The exact prompt the ``task`` decision (``emotion``/``attitude``/``action``) sends.

    Args:
        task: ``"emotion"``, ``"attitude"`` or ``"action"``.
        context: what the agent looks at.
        language: ``"en"``/``"zh"`` (``None``: the context's own, :meth:`AgentContext.lang`).

    Examples:
        >>> p = decision_prompt("action", AgentContext({"gender": "male"}, language="en"))
        >>> p.startswith("You are a male person.")
        True
    """
    c = context
    lang = c.lang() if language is None else language
    return _PROMPT_FN[task](c.profile, c.state.emotion, c.state.attitude, c.topic,
                            list(c.memory), list(c.received), lang, compact=c.compact)


def writing_prompt(context: AgentContext, mode: str = "post", language: str | None = None
                   ) -> str:
    """The exact prompt that asks the agent to write a post or a repost comment.

    Args:
        context: what the agent looks at.
        mode: ``"post"`` (a post of its own), ``"share"`` (the comment it adds when it reposts
            the first post it received: :func:`sharing_context`, the shared post first in the
            prompt) or ``"repost"`` (the comment of a repost of one of the posts received).
        language: as in :func:`decision_prompt`.

    Examples:
        >>> writing_prompt(reader_context(["hi"], language="en"), "repost").endswith(
        ...     "Reply with the post text only.")
        True
        >>> writing_prompt(reader_context(["hi"], language="en"), "share").splitlines()[:2]
        ['You share this post:', '<post>hi</post>']
    """
    c = context
    lang = c.lang() if language is None else language
    if mode == "share":
        shared = c.received[0] if c.received else None
        return share_prompt(c.profile, c.state.emotion, c.state.attitude, c.topic,
                            list(c.memory), shared, lang, compact=c.compact)
    return post_prompt(c.profile, c.state.emotion, c.state.attitude, c.topic, list(c.memory),
                       list(c.received), lang, mode=mode, compact=c.compact)


def sharing_context(context: AgentContext, shared: Mapping) -> AgentContext:
    """What an agent reads while it writes the comment of a repost: the post it shares.

    The comment is about that post, so the rest of the feed stays out of the prompt (as in the
    benchmark's content task, :func:`s3kit.evaluation.decisions.content_prompts`); the persona,
    the state and the strongest memory stay. About half the prompt tokens of the full context,
    and generation time is mostly those tokens' prefill.

    Args:
        context: the agent's decision context.
        shared: the shared feed item (``text``, and ``source``: where it came from).

    Examples:
        >>> c = AgentContext(memory=["m1", "m2"], received=[message("a"), message("b")])
        >>> s = sharing_context(c, {"text": "b", "source": "mutual"})
        >>> s.received, s.memory
        ([{'text': 'b', 'kind': 'mutual'}], ['m1'])
    """
    # a feed item's ``kind`` is original/repost, not where it came from: ``source`` is
    return replace(context, received=[message(shared.get("text"),
                                              shared.get("source") or "followee")],
                   memory=list(context.memory)[:1])


# ------------------------------------------------------------------------------ LLM decisions
def _score(llm, task: str, contexts: Sequence[AgentContext], rows: np.ndarray) -> np.ndarray:
    """One batched score call per language over ``contexts[rows]``; (len(rows), k).

    Identical prompts (same persona, state, memory and posts) are scored once.
    """
    k = len(LABELS[task])
    out = np.zeros((len(rows), k))
    if len(rows) == 0:
        return out
    groups = np.array([f"{contexts[i].lang()}|{int(contexts[i].compact)}" for i in rows])
    for group in dict.fromkeys(groups):
        lang, compact = group.split("|")
        sel = np.flatnonzero(groups == group)
        prompts = [decision_prompt(task, contexts[rows[j]], lang) for j in sel]
        unique = list(dict.fromkeys(prompts))
        where = {p: i for i, p in enumerate(unique)}
        proba = np.asarray(llm.score(unique, options(task, lang),
                                     system=system_prompt(lang, compact == "1")))
        out[sel] = proba[[where[p] for p in prompts]]
    return out


def _at(uniforms, rows):
    """The pre-drawn uniforms of ``rows`` (``None`` when the caller gave none)."""
    return None if uniforms is None else np.asarray(uniforms, dtype=float)[rows]


def _has_input(contexts) -> np.ndarray:
    return np.array([len(c.received) > 0 for c in contexts], dtype=bool)


def decide_emotion(llm, contexts: Sequence[AgentContext], rng: np.random.Generator | None = None,
                   *, sample: bool = False, emotion_decay: float = 0.5,
                   uniforms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Next emotion of many agents (one batched ``score`` call for those with new input).

    Agents that received posts get the LLM's distribution over ``calm/moderate/intense``;
    the others take one quiet Markov step (``emotion_decay``), whose distribution is the row
    of :func:`decay_matrix` for their current emotion.

    Args:
        llm: an LLM backend.
        contexts: one :class:`AgentContext` per agent.
        rng: generator for sampling (required when ``sample=True`` or to sample the decay).
        sample: sample from the probabilities instead of taking the argmax.
        emotion_decay: the decay coefficient ``d`` (``ReplayConfig.emotion_decay``).
        uniforms: one pre-drawn uniform per agent, used instead of ``rng`` (see
            :func:`choose`).

    Returns:
        ``(labels, proba)``: next emotions and the ``(n, 3)`` distributions they came from.
    """
    contexts = list(contexts)
    has = _has_input(contexts)
    proba = np.zeros((len(contexts), 3))
    rows = np.flatnonzero(has)
    proba[rows] = _score(llm, "emotion", contexts, rows)
    quiet = np.flatnonzero(~has)
    T = decay_matrix(emotion_decay)
    current = np.array([EMOTIONS.index(contexts[i].state.emotion) for i in quiet], dtype=int)
    proba[quiet] = T[current] if len(quiet) else proba[quiet]
    labels = np.empty(len(contexts), dtype=object)
    labels[rows] = choose(proba[rows], EMOTIONS, rng, sample, _at(uniforms, rows))
    labels[quiet] = decay_emotions([contexts[i].state.emotion for i in quiet], emotion_decay,
                                   rng if sample else None,
                                   _at(uniforms, quiet) if sample else None)
    return labels, proba


def decide_attitude(llm, contexts: Sequence[AgentContext],
                    rng: np.random.Generator | None = None, *, sample: bool = False,
                    uniforms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Attitude after reading (one batched ``score`` call for agents with new input).

    Agents without new input keep their attitude (probability 1; ``None`` stays ``None``
    with a uniform row). ``uniforms``: as in :func:`decide_emotion`.

    Returns:
        ``(labels, proba)`` with ``proba`` of shape ``(n, 2)`` over ``negative, positive``.
    """
    contexts = list(contexts)
    has = _has_input(contexts)
    rows = np.flatnonzero(has)
    proba = np.full((len(contexts), 2), 0.5)
    proba[rows] = _score(llm, "attitude", contexts, rows)
    labels = np.empty(len(contexts), dtype=object)
    labels[rows] = choose(proba[rows], ATTITUDES, rng, sample, _at(uniforms, rows))
    for i in np.flatnonzero(~has):
        att = contexts[i].state.attitude
        labels[i] = att
        if att is not None:
            proba[i] = np.eye(2)[ATTITUDES.index(att)]
    return labels, proba


def decide_action(llm, contexts: Sequence[AgentContext], rng: np.random.Generator | None = None,
                  *, sample: bool = False, only_with_input: bool = True,
                  uniforms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Action in ``repost / post / nothing`` (one batched ``score`` call).

    Args:
        llm: an LLM backend.
        contexts: one context per agent.
        rng: generator for sampling.
        sample: sample instead of argmax.
        only_with_input: agents that received nothing do ``nothing`` without an LLM call
            (``False``: ask the LLM for them too, e.g. for spontaneous posting).
        uniforms: as in :func:`decide_emotion`.

    Returns:
        ``(labels, proba)`` with ``proba`` of shape ``(n, 3)`` over ``ACTIONS``.
    """
    contexts = list(contexts)
    ask = _has_input(contexts) if only_with_input else np.ones(len(contexts), dtype=bool)
    rows = np.flatnonzero(ask)
    proba = np.tile(np.eye(3)[ACTIONS.index("nothing")], (len(contexts), 1))
    proba[rows] = _score(llm, "action", contexts, rows)
    labels = np.full(len(contexts), "nothing", dtype=object)
    labels[rows] = choose(proba[rows], ACTIONS, rng, sample, _at(uniforms, rows))
    return labels, proba


def profile_text(profile: Mapping,
                 fields: Sequence[str] = ("name", "screen_name", "gender", "age", "occupation")
                 ) -> str:
    """The profile as text: the given fields that are set, then the bio.

    The default fields are what the action head reads (the name first); memory relevance
    reads demographics and location (:mod:`s3kit.simulation`).

    Examples:
        >>> profile_text({"name": "ann_b", "gender": "female", "bio": "nurse"})
        'ann_b female nurse'
        >>> profile_text({"name": "ann_b", "location": "Leeds"}, ("gender", "location"))
        'Leeds'
    """
    parts = [str(profile[k]) for k in fields if profile.get(k)]
    bio = profile.get("bio") or profile.get("description") or ""
    return " ".join(parts + [str(bio)]).strip()


def calibrated_items(contexts: Sequence[AgentContext], perceived=None, rows=None):
    """What the heads read for each context in ``rows`` (default: those with new input).

    Columns ``text`` (the received texts' :func:`post_words`, a list per agent), ``topic``,
    ``profile`` (:func:`profile_text`) and the perceived-context features.
    """
    import pandas as pd

    contexts = list(contexts)
    if rows is None:
        rows = np.flatnonzero(_has_input(contexts))
    texts = [[post_words(r["text"] if isinstance(r, Mapping) else str(r))
              for r in contexts[i].received] for i in rows]
    items = pd.DataFrame({"text": pd.Series(texts, dtype=object),
                          "topic": [contexts[i].topic for i in rows],
                          "profile": [profile_text(contexts[i].profile) for i in rows]})
    if perceived is not None:
        perceived = pd.DataFrame(perceived).reset_index(drop=True)
        for c in perceived.columns:
            items[c] = perceived[c].to_numpy()[rows]
    return items


def decide_calibrated(model, contexts: Sequence[AgentContext], perceived=None, *,
                      emotion_decay: float = 0.5, uniforms: np.ndarray | None = None,
                      sample: bool = True) -> dict:
    """Emotion, attitude and action of many agents from the calibrated heads.

    All of an agent's decisions read one representation of what it reads: the texts it
    received are encoded once each (cached by content, so a post in a hundred feeds costs one
    pass) and pooled per agent; the heads of ``model`` (:class:`s3kit.heads.DecisionModel`)
    turn it into probabilities. S3's structure stays: an agent with new input draws its next
    emotion from the emotion head (the transition of the Markov chain when something
    arrives) and its attitude from the attitude head; a quiet agent takes one decay step
    (:func:`decay_matrix`), keeps its attitude and does nothing. The action head gives
    P(repost) from the profile and what the agent perceives (``perceived``: one row per
    context with :data:`s3kit.heads.PERCEIVED`), at the rate observed in real exposures;
    calibrated agents never ``post`` unprompted here (spontaneous posts come from the
    simulation's activation rate).

    Args:
        model: a :class:`~s3kit.heads.DecisionModel` with emotion, attitude and action heads.
        contexts: one :class:`AgentContext` per agent.
        perceived: a DataFrame (or dict of columns) of the perceived-context features.
        emotion_decay: the decay coefficient of quiet agents.
        uniforms: ``(3, n)`` pre-drawn uniforms (emotion, attitude, action).
        sample: sample labels (``False``: argmax; quiet decay then follows ``d >= 0.5``).

    Returns:
        ``{"emotion": (labels, proba), "attitude": ..., "action": ...}`` with probabilities
        over :data:`EMOTIONS`, :data:`ATTITUDES` and :data:`ACTIONS`.
    """
    contexts = list(contexts)
    n = len(contexts)
    if uniforms is None:
        uniforms = np.random.default_rng(0).random((3, n)) if sample else None

    def u(k, rows):
        return None if uniforms is None else np.asarray(uniforms)[k][rows]

    has = _has_input(contexts)
    rows = np.flatnonzero(has)
    quiet = np.flatnonzero(~has)
    items = calibrated_items(contexts, perceived, rows)
    # emotion: head with input, Markov decay without
    p_emo = np.zeros((n, 3))
    p_emo[rows] = model.predict_proba("emotion", items)
    cur = np.array([EMOTIONS.index(contexts[i].state.emotion) for i in quiet], dtype=int)
    p_emo[quiet] = decay_matrix(emotion_decay)[cur] if len(quiet) else p_emo[quiet]
    emo = np.empty(n, dtype=object)
    emo[rows] = choose(p_emo[rows], EMOTIONS, None, sample, u(0, rows))
    emo[quiet] = decay_emotions([contexts[i].state.emotion for i in quiet], emotion_decay,
                                None, u(0, quiet) if sample else None)
    # attitude: head with input, kept without
    p_att = np.full((n, 2), 0.5)
    p_att[rows] = model.predict_proba("attitude", items)
    att = np.empty(n, dtype=object)
    att[rows] = choose(p_att[rows], ATTITUDES, None, sample, u(1, rows))
    for i in quiet:
        att[i] = contexts[i].state.attitude
        if att[i] is not None:
            p_att[i] = np.eye(2)[ATTITUDES.index(att[i])]
    # action: P(repost) at the observed rate; nothing otherwise
    p_act = np.tile(np.eye(3)[ACTIONS.index("nothing")], (n, 1))
    if len(rows):
        p_rep = model.predict_proba("action", items)[:, 1]
        p_act[rows] = 0.0
        p_act[rows, ACTIONS.index("repost")] = p_rep
        p_act[rows, ACTIONS.index("nothing")] = 1.0 - p_rep
    act = np.full(n, "nothing", dtype=object)
    act[rows] = choose(p_act[rows], ACTIONS, None, sample, u(2, rows))
    return {"emotion": (emo, p_emo), "attitude": (att, p_att), "action": (act, p_act)}


def initial_attitude(llm, profiles: Sequence[Mapping], histories: Sequence[Sequence[str]] = (),
                     topic: str | None = None, rng: np.random.Generator | None = None, *,
                     sample: bool = False, language: str = "auto"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Initial attitude from profile + posting history (one batched ``score`` call).

    The history is shown as the agent's remembered posts and the question asks for the
    attitude towards ``topic``.

    Returns:
        ``(labels, proba)`` over ``negative, positive``.
    """
    histories = list(histories) or [[] for _ in profiles]
    contexts = [AgentContext(p, AgentState(), memory=list(h), received=[], topic=topic,
                             language=language) for p, h in zip(profiles, histories, strict=True)]
    rows = np.arange(len(contexts))
    proba = _score(llm, "attitude", contexts, rows)
    return choose(proba, ATTITUDES, rng, sample), proba


#: Where a repost comment ends (one sentence is asked): :func:`write_posts` and the
#: benchmark's content task stop generating there.
COMMENT_STOP = ("\n",)


def write_posts(llm, contexts: Sequence[AgentContext], modes: Sequence[str] | str = "post", *,
                max_new_tokens: int = 40, temperature: float = 0.0, seed: int | None = None
                ) -> list[str]:
    """Generate post texts (or repost comments) conditioned on profile and state.

    One batched ``llm.generate`` call per prompt language (and one for the comments of
    ``"share"``, which stop at the end of their first line).

    Args:
        llm: an LLM backend.
        contexts: one context per writing agent.
        modes: ``"post"``, ``"share"`` or ``"repost"`` (:func:`writing_prompt`), one for all
            or one per context.
        max_new_tokens: length cap.
        temperature: sampling temperature (0 = greedy).
        seed: sampling seed.

    Returns:
        One stripped text per context (empty where the model only echoed its prompt,
        :func:`echoes_prompt`).
    """
    contexts = list(contexts)
    modes = [modes] * len(contexts) if isinstance(modes, str) else list(modes)
    out = [""] * len(contexts)
    groups = [(c.lang(), c.compact, m == "share") for c, m in zip(contexts, modes, strict=True)]
    for lang, compact, share in dict.fromkeys(groups):
        sel = [i for i, g in enumerate(groups) if g == (lang, compact, share)]
        prompts = [writing_prompt(contexts[i], modes[i], lang) for i in sel]
        # a comment is one line: the model stops at its end instead of the length cap
        stop = list(COMMENT_STOP) if share else []
        texts = llm.generate(prompts, system=system_prompt(lang, compact),
                             max_new_tokens=max_new_tokens, temperature=temperature,
                             seed=seed, **({"stop": stop} if stop else {}))
        for i, p, t in zip(sel, prompts, texts, strict=True):
            t = cut_at_stop(t.strip(), stop)[0]  # also where a server ignored the stop
            t = t.strip().strip('"').strip()
            out[i] = "" if echoes_prompt(p, t) else t
    return out


def echoes_prompt(prompt: str, text: str, n: int = 16) -> bool:
    """Whether a generated text merely repeats its prompt (a persona line, the post read).

    Small models asked for a comment often copy a line of the prompt instead; a text whose
    first ``n`` characters occur in the prompt is dropped (a repost then carries no comment),
    so echoes do not spread along repost chains.

    Examples:
        >>> echoes_prompt("You: 25, male, financial. Bio: ...", "You: 25, male, financial.")
        True
        >>> echoes_prompt("<post>They can't force us!</post>", "They can't force us! #no")
        True
        >>> echoes_prompt("You: 25, male, financial. Bio: ...", "So true, share it!")
        False
    """
    head = " ".join(text.split()).lower()[:n]
    return len(head) == n and head in " ".join(prompt.split()).lower()


def update_states(contexts: Sequence[AgentContext], emotions=None, attitudes=None
                  ) -> list[AgentState]:
    """New states from decided labels (agents with input become aware).

    Examples:
        >>> update_states([AgentContext(received=["x"])], ["intense"], ["negative"])[0]
        AgentState(emotion='intense', attitude='negative', aware=True)
    """
    out = []
    for i, c in enumerate(contexts):
        changes = {"aware": c.state.aware or len(c.received) > 0}
        if emotions is not None:
            changes["emotion"] = str(emotions[i])
        if attitudes is not None and attitudes[i] is not None:
            changes["attitude"] = str(attitudes[i])
        out.append(replace(c.state, **changes))
    return out
