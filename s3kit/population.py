"""The agents of one replicate as a population of arrays: their state, inboxes and memories.

A :class:`Population` holds what S3's agents are between two steps (emotion and attitude as
``int8`` indices into :data:`~s3kit.vocabulary.EMOTIONS` / :data:`~s3kit.vocabulary.ATTITUDES`,
the posts pushed to each agent and not read yet, the memory pools) and does what the agents do
in a step, for all of them at once: read their feeds into memory, build their decision
contexts (:class:`~s3kit.agent.AgentContext`), take the decided states, and act. What an act
*is* lives here too: :meth:`Population.act` turns a decided action into a concrete one (which post a
repost shares, which event a post belongs to) and :meth:`Population.fill_texts` writes the texts (a
repost is ``comment //@author: parent text``). The decisions themselves come from
:mod:`s3kit.agent`; the step loop (:class:`s3kit.simulation.Simulation`) drives the order.

Examples:
    >>> from s3kit.environment import SocialNetwork
    >>> net = SocialNetwork(start="2023-01-01 00:00")
    >>> for u in "abc":
    ...     net.add_user(u)
    >>> net.add_follows([("b", "a"), ("c", "a")])
    >>> agents = Population(["a", "b", "c"])
    >>> agents.push(net, net.add_post("a", "hello"))
    ['b', 'c']
    >>> agents.has_input().tolist()
    [False, True, True]
    >>> agents.labels()[0].tolist()
    ['calm', 'calm', 'calm']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .agent import AgentContext, AgentState
from .environment import SocialNetwork
from .heads import PERCEIVED
from .memory import MemoryBank
from .vocabulary import ATTITUDES, EMOTIONS

__all__ = ["Population"]


class Population:
    """The agents of one replicate: state arrays, inboxes and memory pools.

    Args:
        users: the agents' user ids, in the order of every array.
        memory: their memory pools (one :class:`~s3kit.memory.MemoryBank` for all).

    Attributes:
        users: user ids; ``row[u]`` is the index of user ``u``.
        emotion: ``int8`` index into ``EMOTIONS`` per agent (calm at the start).
        attitude: ``int8`` index into ``ATTITUDES`` per agent, ``-1`` while not formed.
        inbox: per agent, the ids of posts pushed to it since its last decision.
        memory: the memory pools.
        msg_ids: post id -> message id in the memory bank.
    """

    def __init__(self, users: list[str], memory: MemoryBank | None = None):
        self.users = users
        self.row = {u: i for i, u in enumerate(users)}
        n = len(users)
        self.emotion = np.zeros(n, dtype=np.int8)  # index into EMOTIONS
        self.attitude = np.full(n, -1, dtype=np.int8)  # -1 unknown, else index into ATTITUDES
        self.inbox: list[list[str]] = [[] for _ in range(n)]
        self.memory = memory
        self.msg_ids: dict[str, int] = {}  # post id -> message id in the memory bank

    def __len__(self) -> int:
        return len(self.users)

    # ------------------------------------------------------------------ input
    def push(self, network: SocialNetwork, post_id: str) -> list[str]:
        """Deliver a post to its author's followers' inboxes; returns the receivers."""
        banned = network.banned
        receivers = [f for f in network.graph.predecessors(network.author(post_id))
                     if f not in banned]
        for f in receivers:
            self.inbox[self.row[f]].append(post_id)
        return receivers

    def has_input(self) -> np.ndarray:
        """Whether each agent has posts in its inbox (new input since its last decision)."""
        return np.fromiter((len(b) > 0 for b in self.inbox), dtype=bool, count=len(self.inbox))

    # ------------------------------------------------------------------ perception
    def read_feeds(self, network: SocialNetwork, active: np.ndarray,
                   feed_size: int) -> list[list[dict]]:
        """The feed each active agent reads now (its inbox is then read: emptied)."""
        feeds = []
        for i in active:
            feeds.append(network.feed(self.users[i], feed_size))
            self.inbox[i] = []
        return feeds

    def remember(self, feeds: list[list[dict]], active: np.ndarray, now_h: float) -> None:
        """Put the posts each active agent read into its memory pool (one vectorised update)."""
        bank = self.memory
        fresh: dict[str, str] = {}
        for feed in feeds:
            for p in feed:
                if p["post_id"] not in self.msg_ids and p["post_id"] not in fresh:
                    fresh[p["post_id"]] = p["text"] or ""
        if fresh:
            ids = bank.register(list(fresh.values()), list(fresh))
            self.msg_ids.update(zip(fresh, ids.tolist(), strict=True))
        users, msgs, kinds, times = [], [], [], []
        for j, feed in enumerate(feeds):
            u = self.users[active[j]]
            for p in feed:
                users.append(u)
                msgs.append(self.msg_ids[p["post_id"]])
                kinds.append(p["source"])
                times.append(p["time"].value / 3.6e12)
        if users:
            bank.deliver(users, msgs, kinds=kinds, times=np.asarray(times), now=now_h)

    def recall(self, active: np.ndarray, now_h: float, k: int) -> list:
        """Each active agent's ``k`` most influential memories: ``[(post id, text), ...]``."""
        return self.memory.top([self.users[i] for i in active], now_h, k)

    # ------------------------------------------------------------------ decisions
    def contexts(self, network: SocialNetwork, active: np.ndarray, feeds: list[list[dict]],
                 memories: list, event: str | None, *, topic: str | None, language: str,
                 compact: bool) -> tuple[list[AgentContext], list[bool]]:
        """The decision context of each active agent, and whether it was exposed to the event.

        Exposed: the event (``None``: any post) is in its feed or its memory.
        """
        contexts, exposed = [], []
        for j, i in enumerate(active):
            feed = feeds[j]
            seen = {p["post_id"] for p in feed}
            exposed.append(event is None or any(p["event_id"] == event for p in feed) or any(
                network.has_post(pid) and network.event_of(pid) == event
                for pid, _ in memories[j]))
            contexts.append(AgentContext(
                profile=network.graph.nodes[self.users[i]],
                state=AgentState(EMOTIONS[self.emotion[i]],
                                 ATTITUDES[self.attitude[i]] if self.attitude[i] >= 0 else None),
                memory=[text for pid, text in memories[j] if pid not in seen],
                received=[{"text": p["text"], "source": p["source"]} for p in feed],
                topic=topic, language=language, compact=compact))
        return contexts, exposed

    def perceived(self, network: SocialNetwork, active: np.ndarray, feeds: list[list[dict]],
                  event: str | None, history: dict[str, int]) -> pd.DataFrame:
        """What each active agent perceives besides the texts (the action head's features).

        ``history``: posts each user wrote before, outside the event.
        """
        g = network.graph
        rows = []
        for j, i in enumerate(active):
            u = self.users[i]
            about = [p for p in feeds[j] if event is None or p["event_id"] == event]
            rows.append((len({p["user_id"] for p in about}),
                         len({p["user_id"] for p in about if p["source"] == "mutual"}),
                         history.get(u, 0), g.out_degree(u), g.in_degree(u)))
        return pd.DataFrame(rows, columns=list(PERCEIVED))

    def relax(self, quiet: np.ndarray, uniforms: np.ndarray, decay: float) -> None:
        """Quiet agents drop one emotion level towards calm with probability ``decay``."""
        relax = quiet & (self.emotion > 0) & (uniforms < decay)
        self.emotion[relax] -= 1

    def update(self, active: np.ndarray, decided: list[dict]) -> None:
        """Take the active agents' decided emotion and attitude (``None`` keeps the attitude)."""
        for j, i in enumerate(active):
            d = decided[j]
            self.emotion[i] = EMOTIONS.index(d["emotion"])
            if d["attitude"] is not None:
                self.attitude[i] = ATTITUDES.index(d["attitude"])

    # ------------------------------------------------------------------ acting (what a post is)
    def publish(self, network: SocialNetwork, active: np.ndarray, decided: list[dict]
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Publish the active agents' posts and reposts (in agent order) on ``network``.

        Returns:
            ``(actions, post_ids, new_posts)``: per agent its action and the id of the post it
            published (``None`` for inactive agents or nothing published), and the new post
            ids in order.
        """
        n = len(self.users)
        actions = np.full(n, None, dtype=object)
        post_ids = np.full(n, None, dtype=object)
        new_posts = []
        for j, i in enumerate(active):
            d = decided[j]
            actions[i] = d["action"]
            if d["action"] in ("post", "repost"):
                pid = network.add_post(self.users[i], d["text"], parent_id=d["parent_id"],
                                       kind="repost" if d["action"] == "repost" else "original",
                                       event_id=d["event_id"], emotion=d["emotion"],
                                       stance=d["attitude"])
                post_ids[i] = pid
                new_posts.append(pid)
        return actions, post_ids, new_posts

    def labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Each agent's emotion and attitude as labels (attitude ``None`` while not formed)."""
        emotions = np.array(EMOTIONS, dtype=object)[self.emotion]
        attitudes = np.array((*ATTITUDES, None), dtype=object)[self.attitude]
        return emotions, attitudes

    @staticmethod
    def act(emotion: str, attitude, action: str, feed: list[dict], exposed: bool,
            event: str | None) -> dict:
        """One agent's decided action made concrete: what it reposts (the event's post first).

        Returns:
            ``emotion, attitude, action`` (``nothing`` when a repost has nothing to share),
            ``parent`` (the post shared) and ``parent_id``, ``event_id`` (a repost's parent's; a
            post's is the event when the agent was exposed to it) and ``text`` (``None``: written
            by :meth:`fill_texts`).

        Examples:
            >>> feed = [{"post_id": "p1", "event_id": None}, {"post_id": "p2", "event_id": "e"}]
            >>> Population.act("calm", None, "repost", feed, True, "e")["parent_id"]
            'p2'
            >>> Population.act("calm", None, "repost", [], True, "e")["action"]
            'nothing'
        """
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

    @staticmethod
    def fill_texts(out: list[dict], writers: list[int], texts: list, *, topic: str | None,
                   language: str) -> None:
        """Final post texts: a repost is ``comment //@user: parent``; a post its own text.

        ``out[j]`` (an :meth:`act` result) of each writer ``j`` gets its text from ``texts`` (the
        generated words, or ``None``: a repost without comment, a templated post about ``topic``).

        Examples:
            >>> feed = [{"post_id": "p1", "event_id": None, "user_id": "ann", "text": "it rains"}]
            >>> out = [Population.act("calm", "positive", "repost", feed, True, None)]
            >>> Population.fill_texts(out, [0], ["so true"], topic=None, language="en")
            >>> out[0]["text"]
            'so true //@ann: it rains'
        """
        subject = topic or ("这件事" if language == "zh" else "the event")
        for j, text in zip(writers, texts, strict=True):
            d = out[j]
            if d["action"] == "repost":
                parent = d["parent"]
                lead = _clip(text, 140) if text else ""
                d["text"] = _clip(f"{lead} //@{parent['user_id']}: {parent['text'] or ''}")
            else:
                d["text"] = _clip(text) if text else (
                    f"{subject}: {d['attitude'] or 'undecided'} ({d['emotion']})")

    # ------------------------------------------------------------------ checkpoints
    #: The attributes a checkpoint keeps (on the replicate, as checkpoint schema 2 laid out).
    STATE = ("users", "row", "emotion", "attitude", "inbox", "memory", "msg_ids")

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Population:
        """A population from its :data:`STATE` attributes (as a checkpoint holds them)."""
        population = cls.__new__(cls)
        for name in cls.STATE:
            setattr(population, name, state[name])
        return population


def _clip(text: str | None, n: int = 280) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[:n - 1] + "…"
