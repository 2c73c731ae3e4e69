"""Memory pools: which received messages an agent remembers, and why (S3 section 3.3).

Each message in a user's memory gets an **influence score**

.. code-block:: text

    score = w_time * decay + w_relevance * relevance + w_source * authenticity
    decay        = 0.5 ** (age_hours / half_life_hours)     # exponential forgetting, 1 -> 0
    relevance    = max(0, cosine(embed(user profile), embed(message text)))   # 0..1
    authenticity = source_weights[kind]   # kind in mutual, followee, recommended, own

``decay`` is the forgetting curve: a message loses half of its time weight every
``half_life_hours`` (age is measured from the message's time to ``now``; a message from the
future counts as age 0). ``relevance`` is how close the message is to who the user is (their
demographics + bio), from sentence embeddings (:mod:`s3kit.embeddings`); negative cosines are
clipped to 0 (unrelated). ``authenticity`` trusts a mutual follow more than a one-way followee,
more than a platform recommendation; the user's own posts are remembered weakly (defaults in
:data:`DEFAULT_SOURCE_WEIGHTS`, which :class:`s3kit.config.ReplayConfig` takes too).

Each pool keeps the ``memory_size`` (top-k) most influential messages. Pruning happens when
messages arrive, scored at that moment: a message pushed out is forgotten for good.

Two classes:

* :class:`MemoryBank` holds the pools of *many* users in flat numpy arrays (``n_users x k``
  slots). ``add_message`` delivers one message to many pools with one embedding and one
  vectorised update; ``deliver`` handles many messages to many users at once (a simulation
  step). Scoring is vectorised: no Python loop per message or per user.
* :class:`MemoryPool` is one user's view (standalone or a row of a bank), with ``add``,
  ``items``, ``texts`` and ``explain``.

Examples:
    >>> from s3kit.embeddings import HashingEmbedder
    >>> pool = MemoryPool("nurse, mother of two, worried about vaccines",
    ...                   embedder=HashingEmbedder(dim=64), memory_size=2, half_life_hours=12)
    >>> pool.add("vaccines are safe, says the nurses union", time=0, kind="followee")
    >>> pool.add("my lunch today", time=1, kind="recommended")
    >>> pool.add("breaking: vaccine recall", time=2, kind="mutual")
    >>> len(pool)
    2
    >>> ex = pool.explain(now=2)
    >>> bool(((ex.time + ex.relevance + ex.source) - ex.score).abs().max() < 1e-6)
    True
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from .errors import ConfigError
from .text import post_words
from .vocabulary import SOURCE_KINDS

__all__ = ["MemoryBank", "MemoryPool", "MemoryParams", "influence", "SOURCE_KINDS",
           "DEFAULT_SOURCE_WEIGHTS"]

#: Authenticity per source kind by default (:class:`s3kit.config.ReplayConfig` takes it too).
DEFAULT_SOURCE_WEIGHTS = MappingProxyType(
    {"mutual": 1.0, "followee": 0.7, "recommended": 0.4, "own": 0.2})


@dataclass(frozen=True)
class MemoryParams:
    """Influence-score parameters (names mirror :class:`~s3kit.config.ReplayConfig`).

    These defaults are the defaults of the run config too (it takes them from here).

    Attributes:
        half_life_hours: hours for the time factor to halve.
        memory_size: messages kept per user (top-k).
        w_time: weight of temporal decay.
        w_relevance: weight of content relevance.
        w_source: weight of source authenticity.
        source_weights: authenticity per source kind.
    """

    half_life_hours: float = 12.0
    memory_size: int = 5
    w_time: float = 1.0
    w_relevance: float = 1.0
    w_source: float = 1.0
    source_weights: dict = field(default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS))

    def __post_init__(self):
        if not self.half_life_hours > 0:
            raise ConfigError(f"half_life_hours must be > 0, got {self.half_life_hours!r}")
        if int(self.memory_size) < 1:
            raise ConfigError(f"memory_size must be >= 1, got {self.memory_size!r}")
        missing = set(SOURCE_KINDS) - set(self.source_weights)
        if missing:
            raise ConfigError(f"source_weights lacks {sorted(missing)} (needs {SOURCE_KINDS})")

    @classmethod
    def from_config(cls, cfg) -> MemoryParams:
        """Take the memory fields of a :class:`~s3kit.config.ReplayConfig` (or alike)."""
        return cls(half_life_hours=cfg.half_life_hours, memory_size=cfg.memory_size,
                   w_time=cfg.w_time, w_relevance=cfg.w_relevance, w_source=cfg.w_source,
                   source_weights=dict(cfg.source_weights))

    def authenticity_table(self) -> np.ndarray:
        """Source weights as an array indexed by kind code (order of ``SOURCE_KINDS``)."""
        return np.array([float(self.source_weights[k]) for k in SOURCE_KINDS], dtype=np.float64)


def _hours(t) -> np.ndarray:
    """Times as float hours: numbers pass through; datetimes become hours since the epoch."""
    arr = np.asarray(t)
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    ts = pd.to_datetime(pd.Series(np.atleast_1d(t)), utc=True)
    hours = ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
    return hours.reshape(arr.shape) if arr.ndim else hours[0]


def _kind_codes(kinds, n: int) -> np.ndarray:
    if isinstance(kinds, str):
        kinds = [kinds] * n
    kinds = list(kinds)
    if len(kinds) != n:
        raise ValueError(f"got {len(kinds)} source kinds for {n} deliveries")
    lookup = {k: i for i, k in enumerate(SOURCE_KINDS)}
    try:
        return np.fromiter((lookup[k] for k in kinds), dtype=np.int8, count=n)
    except KeyError as exc:
        raise ValueError(f"unknown source kind {exc.args[0]!r}; use one of {SOURCE_KINDS}") \
            from None


def influence(age_hours, relevance, kind_codes, params: MemoryParams) -> dict[str, np.ndarray]:
    """The three weighted factors and their sum, vectorised.

    Args:
        age_hours: array of message ages in hours (negative ages count as 0).
        relevance: array of cosine relevances (clipped to [0, 1]).
        kind_codes: array of source-kind codes (index into ``SOURCE_KINDS``).
        params: weights and half-life.

    Returns:
        Dict with arrays ``time``, ``relevance``, ``source`` (each already weighted) and
        ``score`` (their sum), plus the unweighted ``decay`` and ``authenticity``.

    Examples:
        >>> f = influence(np.array([0.0, 12.0, 24.0]), np.zeros(3), np.zeros(3, int),
        ...               MemoryParams(half_life_hours=12, w_source=0))
        >>> f["decay"].tolist()
        [1.0, 0.5, 0.25]
    """
    age = np.maximum(np.asarray(age_hours, dtype=np.float64), 0.0)
    decay = np.power(0.5, age / float(params.half_life_hours))
    rel = np.clip(np.asarray(relevance, dtype=np.float64), 0.0, 1.0)
    auth = params.authenticity_table()[np.asarray(kind_codes, dtype=np.int64)]
    t = params.w_time * decay
    r = params.w_relevance * rel
    s = params.w_source * auth
    return {"time": t, "relevance": r, "source": s, "score": t + r + s, "decay": decay,
            "authenticity": auth}


class MemoryBank:
    """Memory pools of many users in flat arrays (the fast path of a simulation).

    Args:
        user_ids: one id per user (any hashable; row order is kept).
        profiles: one text per user describing who they are (demographics + bio), embedded
            once for relevance, when the user first receives a message
            (:attr:`profile_vectors`). ``None`` gives relevance 0 for everybody.
        embedder: an embedder from :mod:`s3kit.embeddings` (needed when ``profiles`` is given
            or message texts must be embedded). Each message's words
            (:func:`s3kit.text.post_words`) are embedded once.
        params: a :class:`MemoryParams`; or pass its fields as keyword arguments.
        **kwargs: ``half_life_hours``, ``memory_size``, ``w_time``, ``w_relevance``,
            ``w_source``, ``source_weights`` (same names as ``ReplayConfig``).

    Examples:
        >>> from s3kit.embeddings import HashingEmbedder
        >>> bank = MemoryBank(["a", "b", "c"], ["likes football", "likes cats", "likes cats"],
        ...                   embedder=HashingEmbedder(dim=64), memory_size=3)
        >>> _ = bank.add_message("a video of cats", users=["b", "c"], kind="followee", time=0)
        >>> [len(bank.pool(u)) for u in "abc"]
        [0, 1, 1]
    """

    def __init__(self, user_ids: Sequence[Hashable], profiles: Sequence[str] | None = None, *,
                 embedder=None, params: MemoryParams | None = None, **kwargs):
        if params is None:
            params = MemoryParams(**kwargs)
        elif kwargs:
            raise TypeError("pass either params= or keyword parameters, not both")
        self.params = params
        self.embedder = embedder
        self.user_index = pd.Index(list(user_ids))
        if not self.user_index.is_unique:
            raise ValueError("user_ids must be unique")
        n, k = len(self.user_index), int(params.memory_size)
        self.profiles: list[str] | None = None
        if profiles is not None:
            if len(profiles) != n:
                raise ValueError(f"got {len(profiles)} profiles for {n} users")
            if embedder is None:
                raise ValueError("profiles need an embedder")
            self.profiles = [str(t) for t in profiles]
            # embedded on first use: a replay reads the profiles of the users it reaches only
            self._profile_vecs = np.zeros((n, embedder.dim), dtype=np.float32)
            self._profile_done = np.zeros(n, dtype=bool)
        # slot arrays: msg = -1 means empty
        self._msg = np.full((n, k), -1, dtype=np.int64)
        self._time = np.zeros((n, k), dtype=np.float64)
        self._rel = np.zeros((n, k), dtype=np.float32)
        self._kind = np.zeros((n, k), dtype=np.int8)
        # message table (shared by all users)
        self._texts: list[str] = []
        self._post_ids: list = []
        self._vectors: list[np.ndarray] = []

    def __setstate__(self, state: dict) -> None:
        if "profile_vectors" in state:  # a checkpoint from before profiles were embedded lazily
            vecs = state.pop("profile_vectors")
            state["profiles"] = None if vecs is None else [""] * len(vecs)
            if vecs is not None:
                state["_profile_vecs"] = vecs
                state["_profile_done"] = np.ones(len(vecs), dtype=bool)
        self.__dict__.update(state)

    @classmethod
    def from_config(cls, cfg, user_ids, profiles=None, *, embedder=None):
        """Build a bank with the memory parameters of a run config (``ReplayConfig``)."""
        return cls(user_ids, profiles, embedder=embedder, params=MemoryParams.from_config(cfg))

    def __len__(self) -> int:
        return len(self.user_index)

    @property
    def n_messages(self) -> int:
        """Messages registered in the shared message table."""
        return len(self._texts)

    # -- messages ------------------------------------------------------------------------
    def register(self, texts: Sequence[str], post_ids: Sequence | None = None) -> np.ndarray:
        """Add messages to the shared table (embedding each once); returns their ids."""
        texts = [str(t) if t is not None else "" for t in texts]
        post_ids = list(post_ids) if post_ids is not None else [None] * len(texts)
        start = len(self._texts)
        self._texts.extend(texts)
        self._post_ids.extend(post_ids)
        if self.profiles is not None and texts:
            vecs = self.embedder.embed([post_words(t) for t in texts])  # a chain's words
            self._vectors.extend(vecs)
        return np.arange(start, start + len(texts))

    def _rows(self, users) -> np.ndarray:
        if isinstance(users, str) or not hasattr(users, "__len__"):
            users = [users]
        rows = self.user_index.get_indexer(pd.Index(list(users)))
        if (rows < 0).any():
            bad = [u for u, r in zip(users, rows, strict=False) if r < 0][:3]
            raise KeyError(f"unknown user ids {bad}")
        return rows

    @property
    def profile_vectors(self) -> np.ndarray | None:
        """``(n, dim)`` unit vectors of every user's profile (``None`` without profiles).

        Profiles are embedded when first needed (a delivery to the user, or this property),
        so a replay that reaches a tenth of a large population embeds a tenth of its profiles.
        """
        if self.profiles is None:
            return None
        return self._profile_rows(np.arange(len(self.user_index)))

    def _profile_rows(self, rows: np.ndarray) -> np.ndarray:
        """The profile vectors of ``rows``, embedding those not embedded yet."""
        todo = np.unique(rows[~self._profile_done[rows]])
        if len(todo):
            self._profile_vecs[todo] = self.embedder.embed([self.profiles[i] for i in todo])
            self._profile_done[todo] = True
        return self._profile_vecs[rows]

    def _relevance(self, rows: np.ndarray, msgs: np.ndarray) -> np.ndarray:
        if self.profiles is None or len(rows) == 0:
            return np.zeros(len(rows), dtype=np.float32)
        uniq, inv = np.unique(msgs, return_inverse=True)
        mv = np.stack([self._vectors[m] for m in uniq])
        # rows of users x their message: einsum over the gathered pairs
        return np.einsum("ij,ij->i", self._profile_rows(rows), mv[inv]).astype(np.float32)

    def add_message(self, text: str, users, kind="followee", time=0.0, *, post_id=None,
                    now=None) -> int:
        """Deliver one message to many users' pools (one embedding, one vectorised update).

        Args:
            text: the message text.
            users: user ids receiving it.
            kind: one source kind for all, or one per user.
            time: the message time (hours, or a datetime).
            post_id: optional id kept with the message.
            now: time at which pools are re-ranked (default: ``time``).

        Returns:
            The message id in the shared table.
        """
        msg = int(self.register([text], [post_id])[0])
        rows = self._rows(users)
        n = len(rows)
        self.deliver(self.user_index[rows], np.full(n, msg), kinds=kind,
                     times=np.full(n, _hours(time)), now=now)
        return msg

    def deliver(self, users, messages, kinds="followee", times=0.0, now=None) -> None:
        """Deliver many (user, message) pairs at once and keep each user's top-k.

        Args:
            users: user ids, one per delivery.
            messages: message ids from :meth:`register` / :meth:`add_message`, one per delivery.
            kinds: source kind per delivery (or one for all).
            times: message time per delivery (or one for all), hours or datetimes.
            now: ranking time (default: the latest delivery time).
        """
        rows = self._rows(users)
        msgs = np.asarray(messages, dtype=np.int64).reshape(-1)
        if len(msgs) != len(rows):
            raise ValueError(f"{len(rows)} users but {len(msgs)} messages")
        if len(rows) == 0:
            return
        codes = _kind_codes(kinds, len(rows))
        t = np.broadcast_to(_hours(times), rows.shape).astype(np.float64)
        now = float(t.max()) if now is None else float(_hours(now))
        rel = self._relevance(rows, msgs)
        k = self._msg.shape[1]
        touched = np.unique(rows)
        # candidates = current slots of touched users + new deliveries
        old_rows = np.repeat(touched, k)
        cand_rows = np.concatenate([old_rows, rows])
        cand_msg = np.concatenate([self._msg[touched].ravel(), msgs])
        cand_time = np.concatenate([self._time[touched].ravel(), t])
        cand_rel = np.concatenate([self._rel[touched].ravel(), rel])
        cand_kind = np.concatenate([self._kind[touched].ravel(), codes])
        score = influence(now - cand_time, cand_rel, cand_kind, self.params)["score"]
        score = np.where(cand_msg < 0, -np.inf, score)
        # a message already in a user's pool is not stored twice: keep its best delivery
        order = np.lexsort((-score, cand_msg, cand_rows))
        dup = np.zeros(len(order), dtype=bool)
        same = (cand_rows[order][1:] == cand_rows[order][:-1]) & (
            cand_msg[order][1:] == cand_msg[order][:-1]) & (cand_msg[order][1:] >= 0)
        dup[1:] = same
        score[order[dup]] = -np.inf
        # rank within user by score (stable: older candidate wins ties)
        order = np.lexsort((np.arange(len(score)), -score, cand_rows))
        sorted_rows = cand_rows[order]
        first = np.r_[0, np.flatnonzero(sorted_rows[1:] != sorted_rows[:-1]) + 1]
        group_start = np.repeat(first, np.diff(np.r_[first, len(order)]))
        rank = np.arange(len(order)) - group_start
        keep = order[rank < k]
        slot = rank[rank < k]
        krows = cand_rows[keep]
        valid = np.isfinite(score[keep])
        self._msg[touched] = -1
        self._msg[krows, slot] = np.where(valid, cand_msg[keep], -1)
        self._time[krows, slot] = cand_time[keep]
        self._rel[krows, slot] = cand_rel[keep]
        self._kind[krows, slot] = cand_kind[keep]

    # -- reading -------------------------------------------------------------------------
    def explain(self, user, now=None) -> pd.DataFrame:
        """Why each message is in ``user``'s memory: one row per message, best first.

        Columns: ``post_id, text, kind, time, age_hours, decay, relevance_raw, authenticity``
        (unweighted factors) and ``time, relevance, source`` (weighted contributions) summing
        to ``score``.
        """
        row = int(self._rows([user])[0])
        filled = self._msg[row] >= 0
        msgs = self._msg[row][filled]
        t = self._time[row][filled]
        now_h = (float(t.max()) if len(t) else 0.0) if now is None else float(_hours(now))
        f = influence(now_h - t, self._rel[row][filled], self._kind[row][filled], self.params)
        df = pd.DataFrame({
            "message": msgs,
            "post_id": [self._post_ids[m] for m in msgs],
            "text": [self._texts[m] for m in msgs],
            "kind": [SOURCE_KINDS[c] for c in self._kind[row][filled]],
            "message_time": t,
            "age_hours": np.maximum(now_h - t, 0.0),
            "decay": f["decay"],
            "relevance_raw": np.clip(self._rel[row][filled].astype(np.float64), 0, 1),
            "authenticity": f["authenticity"],
            "time": f["time"],
            "relevance": f["relevance"],
            "source": f["source"],
            "score": f["score"],
        })
        return df.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)

    def top(self, users, now, k: int | None = None) -> list[list[tuple]]:
        """Top-``k`` remembered ``(post_id, text)`` of many users, most influential first.

        One vectorised ranking for all ``users`` (ties: the older slot first), the fast path
        a simulation step uses to build its prompts.

        Args:
            users: user ids.
            now: ranking time (hours, or a datetime).
            k: messages per user (``None``: the whole pool).

        Returns:
            One list per user of ``(post_id, text)`` pairs.

        Examples:
            >>> bank = MemoryBank(["a", "b"], memory_size=3)
            >>> _ = bank.add_message("old", ["a"], time=0, post_id="p0")
            >>> _ = bank.add_message("new", ["a"], time=5, post_id="p1")
            >>> bank.top(["a", "b"], now=5, k=1)
            [[('p1', 'new')], []]
        """
        rows = self._rows(users) if len(users) else np.zeros(0, dtype=np.int64)
        if len(rows) == 0:
            return []
        k = self._msg.shape[1] if k is None else int(k)
        msg = self._msg[rows]
        score = influence(float(_hours(now)) - self._time[rows], self._rel[rows],
                          self._kind[rows], self.params)["score"]
        score = np.where(msg < 0, -np.inf, score)
        order = np.argsort(-score, axis=1, kind="stable")
        out = []
        for r in range(len(rows)):
            ms = msg[r][order[r]]
            out.append([(self._post_ids[m], self._texts[m]) for m in ms[:k] if m >= 0])
        return out

    def kinds(self, user) -> list[str]:
        """Source kinds of the messages in ``user``'s pool (slot order)."""
        row = int(self._rows([user])[0])
        filled = self._msg[row] >= 0
        return [SOURCE_KINDS[c] for c in self._kind[row][filled]]

    def texts(self, user, now=None, k: int | None = None) -> list[str]:
        """Remembered message texts of ``user``, most influential first."""
        return self.explain(user, now)["text"].head(k).tolist() if k else \
            self.explain(user, now)["text"].tolist()

    def sizes(self) -> np.ndarray:
        """Number of messages in each user's pool (row order of ``user_ids``)."""
        return (self._msg >= 0).sum(axis=1)

    def pool(self, user) -> MemoryPool:
        """A :class:`MemoryPool` view of one user's row (shares this bank's storage)."""
        return MemoryPool._view(self, user)


class MemoryPool:
    """One user's memory: add messages, read them back ranked, explain the ranking.

    Args:
        profile: text describing the user (demographics + bio) for relevance; ``None`` gives
            relevance 0.
        embedder: embedder for profile and messages (required with a profile).
        params: a :class:`MemoryParams`, or its fields as keyword arguments
            (``half_life_hours``, ``memory_size``, ``w_time``, ``w_relevance``, ``w_source``,
            ``source_weights``).
        **kwargs: the fields of :class:`MemoryParams`.
    """

    def __init__(self, profile: str | None = None, *, embedder=None,
                 params: MemoryParams | None = None, **kwargs):
        self._bank = MemoryBank(["user"], None if profile is None else [profile],
                                embedder=embedder, params=params, **kwargs)
        self._user = "user"

    @classmethod
    def _view(cls, bank: MemoryBank, user) -> MemoryPool:
        self = cls.__new__(cls)
        self._bank, self._user = bank, user
        return self

    @property
    def params(self) -> MemoryParams:
        """The influence parameters."""
        return self._bank.params

    def add(self, text: str, time=0.0, kind: str = "followee", *, post_id=None, now=None):
        """Receive one message (kept only if it ranks in the top ``memory_size``)."""
        self._bank.add_message(text, [self._user], kind=kind, time=time, post_id=post_id,
                               now=now)

    def add_many(self, texts: Sequence[str], times, kinds="followee", post_ids=None, now=None):
        """Receive several messages at once (one embedding batch, one ranking)."""
        ids = self._bank.register(texts, post_ids)
        self._bank.deliver([self._user] * len(ids), ids, kinds=kinds,
                           times=np.broadcast_to(_hours(times), (len(ids),)), now=now)

    def explain(self, now=None) -> pd.DataFrame:
        """Per-factor breakdown (see :meth:`MemoryBank.explain`).

        ``time + relevance + source == score`` on every row.
        """
        return self._bank.explain(self._user, now)

    def scores(self, now=None) -> np.ndarray:
        """Influence scores of the remembered messages, best first."""
        return self.explain(now)["score"].to_numpy()

    def texts(self, now=None, k: int | None = None) -> list[str]:
        """Remembered texts, most influential first."""
        return self._bank.texts(self._user, now, k)

    def __len__(self) -> int:
        row = int(self._bank._rows([self._user])[0])
        return int((self._bank._msg[row] >= 0).sum())

    def __repr__(self) -> str:
        return f"MemoryPool({len(self)}/{self.params.memory_size} messages)"
