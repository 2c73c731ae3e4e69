"""The simulated platform: :class:`SocialNetwork` (follow graph, users, posts, feed, clock).

Conventions used throughout:

* **Edge direction** is ``follower -> followee`` (as in ``SocialDataset.follows``): an edge
  ``a -> b`` means *a follows b* and therefore *a sees b's posts*. Hence
  ``followers(u)`` are the graph's predecessors of ``u`` and ``followees(u)`` its successors;
  in-degree = number of followers, out-degree = number of followees.
* **Proxy graph.** A dataset without a follow graph (CED, Twitter15/16, RumourEval) gets the
  documented proxy ``proxy="parent"``: whenever a post reacts to another post (``parent_id``,
  a repost or reply), its author is taken to follow the parent's author (edge
  ``child author -> parent author``, ``weight`` = number of such reactions; self-loops dropped).
  This is a lower bound of the real exposure graph: it only holds edges that were *used*.
* **Clock and visibility.** The network has a clock (``now``), advanced by :meth:`tick` in steps
  of ``step_hours``. A post is visible in feeds once ``post.time <= now``. Built from a
  dataset, the clock starts at ``until`` if given, else at the earliest post, so the real posts
  appear in feeds as the clock reaches them (a replay of the record).
* **Feed.** ``feed(u, k)`` returns at most ``k`` post dicts, newest first: the newest visible
  posts of ``u``'s followees (tagged ``source="mutual"`` when the author also follows ``u``,
  else ``"followee"``), ``recommend_k`` of the slots going to recommender posts
  (``"recommended"``; the recommenders are in :mod:`s3kit.recommenders`), optionally ``u``'s
  own posts (``"own"``). Removed posts and posts of banned users never appear.

Posts are kept column-wise (plain lists) with a per-user list of row numbers sorted by time,
so a feed costs O(followees + k log followees), never a scan of all posts.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from .errors import S3kitError
from .recommenders import make_recommender

if TYPE_CHECKING:
    from .datasets.base import SocialDataset

__all__ = [
    "SocialNetwork",
    "BannedUserError",
    "TIERS",
]

#: Tier labels of :meth:`SocialNetwork.user_tiers`, most to least influential.
TIERS = ("influential", "regular", "low-impact")
_CORE = ("post_id", "user_id", "time", "text", "parent_id", "event_id", "kind")
_DEFAULT_START = pd.Timestamp("2023-01-01T00:00:00Z")
_NS_PER_HOUR = 3_600_000_000_000


class BannedUserError(S3kitError, PermissionError):
    """A banned user tried to post (see :meth:`SocialNetwork.ban_user`)."""


def _to_ns(value: Any) -> int:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def _ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def _clean(value: Any) -> Any:
    """Missing values (pd.NA, NaN, None) become None; numpy scalars become Python scalars."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


class SocialNetwork:
    """A directed follow graph with users, posts, a feed, a clock and interventions.

    Edges go ``follower -> followee`` (see the module docstring). Build one from a dataset with
    :meth:`from_dataset`, from a networkx graph with :meth:`from_graph`, or by hand.

    Args:
        step_hours: length of one clock step (:meth:`tick`) in hours.
        start: initial clock time (anything ``pandas.Timestamp`` accepts; naive = UTC).
            ``None``: 2023-01-01 00:00 UTC.
        recommender: ``None``/``"none"``, ``"popular"``, ``"random"`` or a callable
            ``(network, user_id, k) -> list[post_id]`` (see :class:`Recommender`).
        recommend_k: feed slots given to recommended posts (when a recommender is set).
        seed: seed for the ``"random"`` recommender.

    Examples:
        >>> net = SocialNetwork(start="2023-05-01 08:00")
        >>> for u in ["ann", "bob", "cy"]:
        ...     net.add_user(u)
        >>> net.add_follows([("bob", "ann"), ("cy", "ann"), ("ann", "bob")])
        >>> sorted(net.followers("ann")), net.followees("cy"), net.is_mutual("ann", "bob")
        (['bob', 'cy'], ['ann'], True)
        >>> pid = net.add_post("ann", "Hello")
        >>> _ = net.tick()
        >>> [(p["post_id"], p["source"]) for p in net.feed("bob")]
        [('p0', 'mutual')]
        >>> net.stats()["reciprocity"]
        0.6667
    """

    def __init__(self, step_hours: float = 1.0, start: Any = None,
                 recommender: str | Callable | None = None, recommend_k: int = 2,
                 seed: int | None = 0):
        if not step_hours > 0:
            raise ValueError(f"step_hours must be positive, got {step_hours!r}")
        self.step_hours = float(step_hours)
        self.start = start
        self.recommend_k = int(recommend_k)
        self.seed = seed
        self.recommender = make_recommender(recommender, seed)
        self.graph_source = "manual"
        self._graph = nx.DiGraph()
        self._start_ns = _to_ns(_DEFAULT_START if start is None else start)
        self._now_ns = self._start_ns
        self._step_ns = int(round(self.step_hours * _NS_PER_HOUR))
        self.steps = 0
        # column-wise post store
        self._post_id: list[str] = []
        self._user: list[str] = []
        self._time: list[int] = []
        self._text: list[Any] = []
        self._parent: list[Any] = []
        self._event: list[Any] = []
        self._kind: list[Any] = []
        self._removed: list[bool] = []
        self._extra: dict[str, list[Any]] = {}
        self._index: dict[str, int] = {}
        self._by_user: dict[str, list[int]] = {}
        self._order: list[int] = []  # rows sorted by (time, row)
        self._banned: set[str] = set()
        self._version = 0
        self._next_id = 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dataset(cls, ds: SocialDataset, step_hours: float = 1.0, start: Any = None,
                     recommender: str | Callable | None = None, proxy: str = "auto",
                     until: Any = None, recommend_k: int = 2,
                     seed: int | None = 0) -> SocialNetwork:
        """Build the environment of a :class:`~s3kit.datasets.base.SocialDataset`.

        Users are the union of ``ds.users`` (their columns become node attributes), follow
        endpoints and post authors. Posts are loaded with their labels (extra columns).

        Args:
            ds: the dataset.
            step_hours: clock step in hours.
            start: initial clock time; ``None``: ``until`` if given, else the earliest post
                (2023-01-01 UTC if there are no posts).
            recommender: see :class:`SocialNetwork`.
            proxy: which edges to use. ``"auto"``: ``ds.follows`` when it has rows, else the
                parent proxy; ``"follows"``: only ``ds.follows``; ``"parent"``: only the
                parent proxy (child author follows parent author); ``"none"``: no edges.
            until: load only posts with ``time <= until`` (e.g. the source post and early
                adopters of a replay). ``None``: all posts.
            recommend_k: feed slots for recommended posts.
            seed: seed for the ``"random"`` recommender.

        Returns:
            The network; ``graph_source`` says where the edges came from
            (``"follows"``, ``"parent-proxy"`` or ``"none"``).

        Raises:
            ValueError: for an unknown ``proxy``.

        Examples:
            >>> from s3kit.sample import generate_sample
            >>> net = SocialNetwork.from_dataset(generate_sample(n_users=50, seed=1))
            >>> net.graph_source, net.stats()["users"]
            ('follows', 50)
        """
        if proxy not in ("auto", "follows", "parent", "none"):
            raise ValueError(f"proxy must be 'auto', 'follows', 'parent' or 'none', got {proxy!r}")
        posts = ds.posts
        if until is not None:
            posts = posts[posts["time"] <= pd.Timestamp(_ts(_to_ns(until)))]
        if start is None:
            if until is not None:
                start = _ts(_to_ns(until))
            elif len(posts) and posts["time"].notna().any():
                start = posts["time"].min()
        net = cls(step_hours=step_hours, start=start, recommender=recommender,
                  recommend_k=recommend_k, seed=seed)
        net.add_users(ds.users)
        use = proxy
        if proxy == "auto":
            use = "follows" if len(ds.follows) else "parent"
        if use == "follows":
            net.add_follows(zip(ds.follows["follower"].tolist(), ds.follows["followee"].tolist(),
                                strict=True))
            net.graph_source = "follows"
        elif use == "parent":
            net._graph.add_edges_from(
                (a, b, {"weight": w}) for (a, b), w in _parent_edges(ds.posts).items())
            net.graph_source = "parent-proxy"
        else:
            net.graph_source = "none"
        net.add_posts(posts)
        return net

    @classmethod
    def from_graph(cls, graph: nx.DiGraph, users: pd.DataFrame | None = None,
                   **kwargs: Any) -> SocialNetwork:
        """Wrap a networkx ``DiGraph`` whose edges go follower -> followee.

        Args:
            graph: the follow graph (node ids are converted to ``str``; node attributes kept).
            users: optional users frame (``user_id`` + attributes) merged into node attributes.
            **kwargs: passed to :class:`SocialNetwork` (``step_hours``, ``start`` ...).

        Returns:
            The network.

        Examples:
            >>> import networkx as nx
            >>> net = SocialNetwork.from_graph(nx.DiGraph([(1, 2), (2, 1), (3, 1)]))
            >>> net.followers("1")
            ['2', '3']
        """
        net = cls(**kwargs)
        g = nx.relabel_nodes(graph, {n: str(n) for n in graph.nodes}, copy=True)
        net._graph = nx.DiGraph(g)
        if users is not None:
            net.add_users(users)
        net.graph_source = "graph"
        return net

    def add_user(self, user_id: str, **attrs: Any) -> None:
        """Add a user (or update the attributes of an existing one)."""
        self._graph.add_node(str(user_id), **attrs)

    def add_users(self, users: pd.DataFrame) -> None:
        """Add users from a frame with a ``user_id`` column; other columns become attributes.

        Missing values are not stored, so ``G.nodes[u].get("age")`` is ``None`` when unknown.
        """
        if users is None or not len(users):
            return
        ids = users["user_id"].astype(str).tolist()
        self._graph.add_nodes_from(ids)
        nodes = self._graph.nodes
        for c in users.columns:
            if c == "user_id":
                continue
            col = users[c]
            mask = col.notna().to_numpy()
            for i, v in zip(np.flatnonzero(mask).tolist(), col[mask].tolist(), strict=True):
                v = _clean(v)
                if v is not None:
                    nodes[ids[i]][c] = v
        self._version += 1

    def add_follows(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add follow edges ``(follower, followee)``; unknown users are created."""
        self._graph.add_edges_from((str(a), str(b)) for a, b in pairs if a != b)
        self._version += 1

    # ------------------------------------------------------------------ graph queries
    @property
    def graph(self) -> nx.DiGraph:
        """The underlying follow graph (edges follower -> followee). Treat as read-only."""
        return self._graph

    @property
    def users(self) -> list[str]:
        """All user ids."""
        return list(self._graph.nodes)

    def __len__(self) -> int:
        return self._graph.number_of_nodes()

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._graph

    def __repr__(self) -> str:
        return (f"SocialNetwork({len(self)} users, {self._graph.number_of_edges()} edges, "
                f"{len(self._post_id)} posts, now={self.now.isoformat()})")

    def user(self, user_id: str) -> dict[str, Any]:
        """The attributes of one user (``KeyError`` if unknown)."""
        return dict(self._graph.nodes[user_id])

    def followers(self, user_id: str) -> list[str]:
        """Users who follow ``user_id`` (graph predecessors): they see its posts."""
        return list(self._graph.predecessors(user_id))

    def followees(self, user_id: str) -> list[str]:
        """Users ``user_id`` follows (graph successors): their posts fill its feed."""
        return list(self._graph.successors(user_id))

    def is_mutual(self, u: str, v: str) -> bool:
        """Whether ``u`` and ``v`` follow each other."""
        return self._graph.has_edge(u, v) and self._graph.has_edge(v, u)

    # ------------------------------------------------------------------ clock
    @property
    def now(self) -> pd.Timestamp:
        """Current clock time (UTC)."""
        return _ts(self._now_ns)

    @property
    def now_ns(self) -> int:
        """Current clock time as integer nanoseconds since the epoch (for recommenders)."""
        return self._now_ns

    @property
    def version(self) -> int:
        """A counter that changes whenever users, follows, posts or bans change (cache key)."""
        return self._version
    @property
    def step(self) -> pd.Timedelta:
        """Length of one clock step."""
        return pd.Timedelta(self._step_ns, unit="ns")

    def tick(self, n: int = 1) -> pd.Timestamp:
        """Advance the clock by ``n`` steps and return the new time."""
        self._now_ns += int(n) * self._step_ns
        self.steps += int(n)
        return self.now

    # ------------------------------------------------------------------ posts
    def add_post(self, user_id: str, text: str, time: Any = None, parent_id: str | None = None,
                 kind: str = "original", event_id: str | None = None, post_id: str | None = None,
                 **labels: Any) -> str:
        """Publish a post and return its id.

        Args:
            user_id: the author (must exist and not be banned).
            text: the content.
            time: publication time; ``None``: the clock's ``now``.
            parent_id: the post this one reacts to (repost/reply).
            kind: ``"original"``, ``"repost"`` or ``"reply"``.
            event_id: the event/cascade it belongs to; ``None`` inherits the parent's.
            post_id: explicit id; ``None``: a fresh ``"p<n>"``.
            **labels: extra columns, e.g. ``emotion="calm"``, ``stance="positive"``.

        Returns:
            The post id.

        Raises:
            KeyError: unknown author, unknown parent or duplicate ``post_id``.
            BannedUserError: the author is banned.
        """
        user_id = str(user_id)
        if user_id not in self._graph:
            raise KeyError(f"unknown user {user_id!r}: add_user() first")
        if user_id in self._banned:
            raise BannedUserError(f"user {user_id!r} is banned and cannot post")
        if parent_id is not None and parent_id not in self._index:
            raise KeyError(f"unknown parent post {parent_id!r}")
        if event_id is None and parent_id is not None:
            event_id = self._event[self._index[parent_id]]
        if post_id is None:
            while f"p{self._next_id}" in self._index:
                self._next_id += 1
            post_id = f"p{self._next_id}"
            self._next_id += 1
        elif post_id in self._index:
            raise KeyError(f"duplicate post id {post_id!r}")
        t = self._now_ns if time is None else _to_ns(time)
        self._append(post_id, user_id, t, text, parent_id, event_id, kind, labels)
        self._version += 1
        return post_id

    def add_posts(self, posts: pd.DataFrame) -> None:
        """Bulk-load a posts frame (``SocialDataset.posts`` layout); authors become users.

        Rows are inserted in time order; extra columns (labels) are kept. Duplicate post ids
        keep their first occurrence.
        """
        if posts is None or not len(posts):
            return
        posts = posts.sort_values("time", kind="stable", na_position="first")
        posts = posts[~posts["post_id"].astype(str).duplicated()]
        t = posts["time"]
        if not isinstance(t.dtype, pd.DatetimeTZDtype):
            t = pd.to_datetime(t, utc=True)
        times = t.dt.tz_convert("UTC").dt.as_unit("ns").array.asi8.tolist()
        cols = {c: _as_list(posts[c]) if c in posts else [None] * len(posts)
                for c in _CORE if c != "time"}
        cols["post_id"] = [str(v) for v in cols["post_id"]]
        cols["user_id"] = [str(v) for v in cols["user_id"]]
        extras = {c: _as_list(posts[c]) for c in posts.columns if c not in _CORE}
        new = set(cols["user_id"]).difference(self._graph)
        self._graph.add_nodes_from(sorted(new))
        if not self._post_id:  # fast path: empty store, rows already in time order
            self._bulk_load(cols, times, extras)
        else:
            for i, pid in enumerate(cols["post_id"]):
                if pid in self._index:
                    continue
                labels = {c: v[i] for c, v in extras.items()}
                self._append(pid, cols["user_id"][i], times[i], cols["text"][i],
                             cols["parent_id"][i], cols["event_id"][i], cols["kind"][i], labels)
        self._version += 1

    def _bulk_load(self, cols: dict[str, list], times: list[int],
                   extras: dict[str, list]) -> None:
        n = len(times)
        self._post_id = cols["post_id"]
        self._user = cols["user_id"]
        self._time = times
        self._text = cols["text"]
        self._parent = cols["parent_id"]
        self._event = cols["event_id"]
        self._kind = cols["kind"]
        self._removed = [False] * n
        self._extra = extras
        self._index = dict(zip(self._post_id, range(n), strict=True))
        by_user: dict[str, list[int]] = {}
        for row, user in enumerate(self._user):
            lst = by_user.get(user)
            if lst is None:
                by_user[user] = [row]
            else:
                lst.append(row)
        self._by_user = by_user
        self._order = list(range(n))

    def _append(self, post_id, user_id, t, text, parent_id, event_id, kind, labels) -> None:
        row = len(self._post_id)
        self._post_id.append(post_id)
        self._user.append(user_id)
        self._time.append(t)
        self._text.append(text)
        self._parent.append(parent_id)
        self._event.append(event_id)
        self._kind.append(kind)
        self._removed.append(False)
        for c in labels:
            if c not in self._extra:
                self._extra[c] = [None] * row
        for c, col in self._extra.items():
            col.append(_clean(labels.get(c)))
        self._index[post_id] = row
        lst = self._by_user.setdefault(user_id, [])
        if not lst or self._time[lst[-1]] <= t:
            lst.append(row)
        else:
            self._insort(lst, row)
        if not self._order or self._time[self._order[-1]] <= t:
            self._order.append(row)
        else:
            self._insort(self._order, row)

    def _insort(self, lst: list[int], row: int) -> None:
        t = self._time[row]
        i = bisect.bisect_right(lst, t, key=self._time.__getitem__)
        lst.insert(i, row)

    def _is_visible(self, row: int) -> bool:
        return (not self._removed[row] and self._time[row] <= self._now_ns
                and self._user[row] not in self._banned)

    def _order_span(self, lo_ns: int, hi_ns: int) -> tuple[int, int]:
        """Index range of ``_order`` with ``lo_ns < time <= hi_ns``."""
        key = self._time.__getitem__
        return (bisect.bisect_right(self._order, lo_ns, key=key),
                bisect.bisect_right(self._order, hi_ns, key=key))

    def _rows_between(self, lo_ns: int, hi_ns: int) -> list[int]:
        i0, i1 = self._order_span(lo_ns, hi_ns)
        return self._order[i0:i1]

    def _record(self, row: int, source: str | None = None) -> dict[str, Any]:
        rec = {
            "post_id": self._post_id[row],
            "user_id": self._user[row],
            "time": _ts(self._time[row]),
            "text": self._text[row],
            "parent_id": self._parent[row],
            "event_id": self._event[row],
            "kind": self._kind[row],
        }
        for c, col in self._extra.items():
            rec[c] = col[row]
        if source is not None:
            rec["source"] = source
        return rec

    def post(self, post_id: str) -> dict[str, Any]:
        """One post as a dict (``KeyError`` if unknown), with a ``removed`` flag."""
        row = self._index[post_id]
        return {**self._record(row), "removed": self._removed[row]}

    def has_post(self, post_id: str) -> bool:
        """Whether ``post_id`` is stored (removed posts included)."""
        return post_id in self._index

    def author(self, post_id: str) -> str:
        """The author of a post (``KeyError`` if unknown)."""
        return self._user[self._index[post_id]]

    def event_of(self, post_id: str) -> Any:
        """The event id of a post (``None`` when it belongs to none; ``KeyError`` if unknown)."""
        return self._event[self._index[post_id]]

    def post_time(self, post_id: str) -> pd.Timestamp:
        """The publication time of a post (UTC; ``KeyError`` if unknown)."""
        return _ts(self._time[self._index[post_id]])

    def is_visible(self, post_id: str) -> bool:
        """Whether a post is in feeds now: published, not removed, author not banned."""
        row = self._index[post_id]
        return (not self._removed[row] and self._time[row] <= self._now_ns
                and self._user[row] not in self._banned)

    def post_time_ns(self, post_id: str) -> int:
        """The publication time of a post as integer nanoseconds (``KeyError`` if unknown)."""
        return self._time[self._index[post_id]]

    def post_index(self, post_id: str) -> int:
        """A post's insertion position: its row in :meth:`posts_frame` (``KeyError`` if unknown).

        Later-inserted posts have larger indices; the feed breaks ties in time with it.
        """
        return self._index[post_id]

    def posts_between(self, lo_ns: int, hi_ns: int) -> Sequence[str]:
        """The ids of the posts published in ``(lo_ns, hi_ns]``, in time order (ties: insertion).

        A read-only view for recommenders (``len`` and indexing without copying the ids out);
        removed posts and posts of banned users are included: check :meth:`is_visible`.
        It reads the live store: use it before the network changes.

        Examples:
            >>> net = SocialNetwork(start="2023-01-01 02:00")
            >>> net.add_user("a")
            >>> for h in range(3):
            ...     _ = net.add_post("a", "x", time=f"2023-01-01 0{h}:00")
            >>> window = net.posts_between(net.post_time_ns("p0"), net.now_ns)
            >>> len(window), window[0], list(window)
            (2, 'p1', ['p1', 'p2'])
        """
        i0, i1 = self._order_span(lo_ns, hi_ns)
        return _PostWindow(self._order, self._post_id, i0, i1)

    def recommendable(self, user_id: str, post_ids: Iterable[str], k: int) -> list[str]:
        """The first ``k`` of ``post_ids`` that a recommender may show ``user_id``, in order.

        Those are the posts visible now (see :meth:`is_visible`) whose author is neither
        ``user_id`` nor an account ``user_id`` follows (those reach it through the follow
        graph). Unknown ids are skipped; ``post_ids`` is read lazily, only as far as needed.

        Examples:
            >>> net = SocialNetwork()
            >>> for u in "abc":
            ...     net.add_user(u)
            >>> net.add_follows([("c", "a")])
            >>> ids = [net.add_post(u, "hi") for u in "abc"]
            >>> net.recommendable("c", ids + ["nope"], 5)
            ['p1']
        """
        out: list[str] = []
        if k <= 0:
            return out
        index, user, removed, time = self._index, self._user, self._removed, self._time
        now, banned = self._now_ns, self._banned
        followees = self._graph.succ.get(user_id, {})
        for pid in post_ids:
            row = index.get(pid)
            if row is None:
                continue
            author = user[row]
            if (author != user_id and author not in followees and not removed[row]
                    and time[row] <= now and author not in banned):
                out.append(pid)
                if len(out) >= k:
                    break
        return out

    def reposts_between(self, lo_ns: int, hi_ns: int,
                        kinds: Iterable[str] = ("repost",)) -> Iterator[tuple[str, str]]:
        """Yield ``(parent_id, author)`` of the reposts published in ``(lo_ns, hi_ns]``.

        A repost is a post whose kind is in ``kinds`` and that has a ``parent_id``; removed
        reposts and reposts by banned users are skipped. Time order (ties: insertion order).
        The parent may be unknown to the network, removed or not yet visible.

        Examples:
            >>> net = SocialNetwork()
            >>> for u in "ab":
            ...     net.add_user(u)
            >>> root = net.add_post("a", "news")
            >>> _ = net.add_post("b", "RT news", parent_id=root, kind="repost")
            >>> list(net.reposts_between(net.now_ns - 1, net.now_ns))
            [('p0', 'b')]
        """
        kinds = tuple(kinds)
        kind, removed, parent, user = self._kind, self._removed, self._parent, self._user
        banned = self._banned
        for row in self._rows_between(lo_ns, hi_ns):
            if kind[row] in kinds and not removed[row]:
                pid = parent[row]
                if pid is not None and user[row] not in banned:
                    yield pid, user[row]

    def event_posts(self, event_id: Any = None, since: Any = None,
                    visible_only: bool = True) -> list[str]:
        """Post ids in time order (ties: insertion order), filtered.

        Args:
            event_id: keep the posts of this event only (``None``: posts of any event or none).
            since: keep posts published at or after this time (``None``: no lower bound).
            visible_only: keep only posts visible now (see :meth:`is_visible`).

        Examples:
            >>> net = SocialNetwork(start="2023-01-01 00:00")
            >>> net.add_user("a")
            >>> net.add_post("a", "x", event_id="e1"), net.add_post("a", "y")
            ('p0', 'p1')
            >>> net.event_posts("e1"), net.event_posts()
            (['p0'], ['p0', 'p1'])
        """
        lo = None if since is None else _to_ns(since)
        out = []
        for row in self._order:
            if event_id is not None and self._event[row] != event_id:
                continue
            if lo is not None and self._time[row] < lo:
                continue
            if visible_only and not self._is_visible(row):
                continue
            out.append(self._post_id[row])
        return out

    def post_texts(self, limit: int | None = None) -> list[str]:
        """Texts of the first ``limit`` stored posts (insertion order; missing texts skipped)."""
        texts = self._text if limit is None else self._text[:int(limit)]
        return [t for t in texts if isinstance(t, str)]

    @property
    def n_posts(self) -> int:
        """Number of posts stored (removed ones included)."""
        return len(self._post_id)

    def posts_frame(self, include_removed: bool = True) -> pd.DataFrame:
        """All posts as a tidy frame (``SocialDataset.posts`` columns + labels + ``removed``).

        Args:
            include_removed: keep posts taken down by :meth:`remove_post`.

        Returns:
            One row per post, in insertion order.
        """
        df = pd.DataFrame({
            "post_id": pd.array(self._post_id, dtype="string"),
            "user_id": pd.array(self._user, dtype="string"),
            "time": pd.to_datetime(np.asarray(self._time, dtype="int64"), utc=True),
            "text": pd.array(self._text, dtype="string"),
            "parent_id": pd.array(self._parent, dtype="string"),
            "event_id": pd.array(self._event, dtype="string"),
            "kind": pd.array(self._kind, dtype="string"),
            **{c: col for c, col in self._extra.items()},
            "removed": np.asarray(self._removed, dtype=bool),
        })
        if not include_removed:
            df = df[~df["removed"]].reset_index(drop=True)
        return df

    def user_posts(self, user_id: str, visible_only: bool = True) -> list[dict[str, Any]]:
        """A user's posts, newest first (only those visible now, by default)."""
        rows = self._by_user.get(user_id, [])
        if visible_only:
            rows = [r for r in rows if self._is_visible(r)]
        return [self._record(r) for r in reversed(rows)]

    # ------------------------------------------------------------------ feed
    def _timeline(self, author: str, lo_ns: int | None):
        """Yield (-time, -row) of ``author``'s visible posts, newest first."""
        rows = self._by_user.get(author)
        if not rows:
            return
        i = bisect.bisect_right(rows, self._now_ns, key=self._time.__getitem__)
        removed, time = self._removed, self._time
        for j in range(i - 1, -1, -1):
            r = rows[j]
            if lo_ns is not None and time[r] < lo_ns:
                return
            if not removed[r]:
                yield (-time[r], -r)

    def feed(self, user_id: str, k: int = 10, include_own: bool = False,
             max_age_hours: float | None = None) -> list[dict[str, Any]]:
        """What ``user_id`` sees now: at most ``k`` posts, newest first.

        Followees' visible posts fill the feed; when a recommender is set, up to
        ``recommend_k`` slots go to its posts (fewer if it returns fewer). Each dict has the
        post columns plus ``source``: ``"mutual"`` (author and reader follow each other),
        ``"followee"``, ``"recommended"`` or ``"own"``.

        Args:
            user_id: the reader.
            k: feed size.
            include_own: also show the reader's own posts (``source="own"``).
            max_age_hours: ignore followee posts older than this (``None``: no limit).

        Returns:
            List of post dicts, newest first (ties: later-inserted first).

        Raises:
            KeyError: unknown user.
        """
        if user_id not in self._graph:
            raise KeyError(f"unknown user {user_id!r}")
        if k <= 0:
            return []
        lo = None if max_age_hours is None else self._now_ns - int(max_age_hours * _NS_PER_HOUR)
        recommended: list[int] = []
        if self.recommender is not None and self.recommend_k > 0:
            seen: set[int] = set()
            followees = self._graph.succ[user_id]
            for pid in self.recommender(self, user_id, min(self.recommend_k, k)) or []:
                row = self._index.get(pid)
                if (row is None or row in seen or not self._is_visible(row)
                        or self._user[row] == user_id or self._user[row] in followees):
                    continue
                seen.add(row)
                recommended.append(row)
                if len(recommended) >= min(self.recommend_k, k):
                    break
        n_follow = k - len(recommended)
        authors = [a for a in self._graph.successors(user_id) if a not in self._banned]
        if include_own and user_id not in self._banned:
            authors.append(user_id)
        streams = [self._timeline(a, lo) for a in authors]
        items: list[tuple[int, int, str]] = []
        for neg_t, neg_r in heapq.merge(*streams):
            if len(items) >= n_follow:
                break
            row = -neg_r
            author = self._user[row]
            if author == user_id:
                src = "own"
            elif self._graph.has_edge(author, user_id):
                src = "mutual"
            else:
                src = "followee"
            items.append((neg_t, neg_r, src))
        items.extend((-self._time[r], -r, "recommended") for r in recommended)
        items.sort()
        return [self._record(-neg_r, src) for _, neg_r, src in items]

    # ------------------------------------------------------------------ interventions
    def remove_post(self, post_id: str) -> None:
        """Take a post down: it leaves every feed and recommendation (kept in ``posts_frame``)."""
        row = self._index[post_id]
        self._removed[row] = True
        self._version += 1

    def ban_user(self, user_id: str) -> None:
        """Ban a user: their posts leave feeds and recommendations, and they cannot post.

        Their follow edges stay (a ban is reversible with :meth:`unban_user`).
        """
        if user_id not in self._graph:
            raise KeyError(f"unknown user {user_id!r}")
        self._banned.add(user_id)
        self._version += 1

    def unban_user(self, user_id: str) -> None:
        """Lift a ban."""
        self._banned.discard(user_id)
        self._version += 1

    @property
    def banned(self) -> frozenset[str]:
        """Currently banned users."""
        return frozenset(self._banned)

    def set_recommender(self, recommender: str | Callable | None) -> None:
        """Replace the recommender (name, callable or ``None``)."""
        self.recommender = make_recommender(recommender, self.seed)
        self._version += 1

    # ------------------------------------------------------------------ statistics
    def degree_frame(self) -> pd.DataFrame:
        """One row per user: ``user_id, in_degree`` (followers), ``out_degree`` (followees),
        ``mutual`` (reciprocated ties), ``posts`` and ``tier`` (see :meth:`user_tiers`).
        """  # noqa: D205
        g = self._graph
        ids = list(g.nodes)
        succ = g.succ
        mutual = [sum(1 for v in succ[u] if u in succ[v]) for u in ids]
        df = pd.DataFrame({
            "user_id": pd.array(ids, dtype="string"),
            "in_degree": np.fromiter((len(g.pred[u]) for u in ids), dtype=np.int64,
                                     count=len(ids)),
            "out_degree": np.fromiter((len(succ[u]) for u in ids), dtype=np.int64,
                                      count=len(ids)),
            "mutual": np.asarray(mutual, dtype=np.int64),
            "posts": np.fromiter((len(self._by_user.get(u, ())) for u in ids), dtype=np.int64,
                                 count=len(ids)),
        })
        df["tier"] = self.user_tiers().reindex(ids).to_numpy()
        df["tier"] = pd.Categorical(df["tier"], categories=list(TIERS))
        return df

    def user_tiers(self, by: str = "in_degree", influential_quantile: float = 0.9,
                   low_quantile: float = 0.5) -> pd.Series:
        """Classify users as influential / regular / low-impact by follower count (S3 s. 4.1).

        S3 splits users into these three groups by their number of followers. The thresholds
        used here are quantiles of the follower counts ``x``: ``lo`` is the ``low_quantile``
        quantile of all users, ``hi`` the ``influential_quantile`` quantile of the users with
        at least one follower (so that graphs where most users have no follower, such as
        reposter proxies, still single out the real hubs), and

        * influential: ``x >= hi`` and ``x > lo`` (by default the top 10% of followed users),
        * low-impact: ``x <= lo`` (by default the bottom half, e.g. users nobody follows),
        * regular: everyone else.

        Every user gets exactly one tier.

        Args:
            by: ``"in_degree"`` (followers in this graph) or a user attribute holding a
                platform follower count (e.g. ``"followers"``; missing values count as 0).
            influential_quantile: quantile above which users are influential.
            low_quantile: quantile at or below which users are low-impact.

        Returns:
            Categorical Series indexed by user_id, named ``"tier"``.

        Examples:
            >>> import networkx as nx
            >>> star = SocialNetwork.from_graph(nx.DiGraph([(i, 0) for i in range(1, 10)]))
            >>> star.user_tiers().value_counts(sort=False).to_dict()
            {'influential': 1, 'regular': 0, 'low-impact': 9}
        """
        if not 0 <= low_quantile <= influential_quantile <= 1:
            raise ValueError("need 0 <= low_quantile <= influential_quantile <= 1")
        g = self._graph
        ids = list(g.nodes)
        if by == "in_degree":
            x = np.fromiter((len(g.pred[u]) for u in ids), dtype=float, count=len(ids))
        else:
            x = np.asarray([_num(g.nodes[u].get(by)) for u in ids], dtype=float)
        tiers = np.full(len(ids), TIERS[1], dtype=object)
        if len(ids):
            lo = np.quantile(x, low_quantile)
            hi = np.quantile(x[x > 0], influential_quantile) if (x > 0).any() else np.inf
            tiers[(x >= hi) & (x > lo)] = TIERS[0]
            tiers[x <= lo] = TIERS[2]
        return pd.Series(pd.Categorical(tiers, categories=list(TIERS)),
                         index=pd.Index(ids, name="user_id"), name="tier")

    def stats(self) -> dict[str, Any]:
        """Summary statistics of the follow graph and the posts (plain JSON-able values).

        Keys: ``users, edges, reciprocity`` (share of edges whose reverse edge exists),
        ``density, mean_in_degree, mean_out_degree`` (equal: edges / users),
        ``median_in_degree, max_in_degree, max_out_degree, isolates,
        weakly_connected_components, largest_wcc_share, strongly_connected_components,
        influential, regular, low_impact`` (tier sizes), ``posts, removed_posts,
        banned_users, graph_source, now``. Floats are rounded to 4 decimals.
        """
        g = self._graph
        n, m = g.number_of_nodes(), g.number_of_edges()
        succ = g.succ
        recip = sum(1 for u, v in g.edges if u in succ[v])
        indeg = np.fromiter((len(g.pred[u]) for u in g.nodes), dtype=np.int64, count=n)
        outdeg = np.fromiter((len(succ[u]) for u in g.nodes), dtype=np.int64, count=n)
        wcc = [len(c) for c in nx.weakly_connected_components(g)] if n else []
        tiers = self.user_tiers().value_counts()
        return {
            "users": int(n),
            "edges": int(m),
            "reciprocity": round(recip / m, 4) if m else 0.0,
            "density": round(nx.density(g), 6) if n > 1 else 0.0,
            "mean_in_degree": round(m / n, 4) if n else 0.0,
            "mean_out_degree": round(m / n, 4) if n else 0.0,
            "median_in_degree": float(np.median(indeg)) if n else 0.0,
            "max_in_degree": int(indeg.max()) if n else 0,
            "max_out_degree": int(outdeg.max()) if n else 0,
            "isolates": int(((indeg == 0) & (outdeg == 0)).sum()),
            "weakly_connected_components": len(wcc),
            "largest_wcc_share": round(max(wcc) / n, 4) if n else 0.0,
            "strongly_connected_components": nx.number_strongly_connected_components(g)
            if n else 0,
            "influential": int(tiers.get(TIERS[0], 0)),
            "regular": int(tiers.get(TIERS[1], 0)),
            "low_impact": int(tiers.get(TIERS[2], 0)),
            "posts": len(self._post_id),
            "removed_posts": int(sum(self._removed)),
            "banned_users": len(self._banned),
            "graph_source": self.graph_source,
            "now": self.now.isoformat(),
        }


class _PostWindow(Sequence):
    """Post ids of ``order[i0:i1]`` (rows sorted by time), read without copying."""

    __slots__ = ("_order", "_post_id", "_i0", "_n")

    def __init__(self, order: list[int], post_id: list[str], i0: int, i1: int):
        self._order, self._post_id, self._i0, self._n = order, post_id, i0, max(i1 - i0, 0)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if i.__class__ is int and 0 <= i < self._n:  # the common case first
            return self._post_id[self._order[self._i0 + i]]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("post window index out of range")
        return self._post_id[self._order[self._i0 + i]]

    def __repr__(self) -> str:
        return f"PostWindow({list(self)!r})"


def _as_list(col: pd.Series) -> list[Any]:
    """Column values as Python objects, missing values as None."""
    values = col.astype(object)
    return values.where(col.notna(), None).tolist()


def _num(value: Any) -> float:
    v = _clean(value)
    try:
        return float(v) if v is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _parent_edges(posts: pd.DataFrame) -> Counter:
    """Count ``(child author, parent author)`` pairs of a posts frame (self-pairs dropped)."""
    if not len(posts):
        return Counter()
    author = dict(zip(posts["post_id"].astype(str).tolist(), posts["user_id"].astype(str).tolist(),
                      strict=True))
    out: Counter = Counter()
    for child, parent in zip(posts["user_id"].astype(str).tolist(), posts["parent_id"].tolist(),
                             strict=True):
        parent = _clean(parent)
        if parent is None:
            continue
        pa = author.get(str(parent))
        if pa is not None and pa != child:
            out[(child, pa)] += 1
    return out
