"""Feed recommenders: what fills the recommended slots of a network's feed.

A :class:`~s3kit.environment.SocialNetwork` built with a recommender gives ``recommend_k`` slots
of each feed to the posts it returns.

A recommender is any callable ``(network, user_id, k) -> list of post ids``
(:class:`Recommender`); :func:`make_recommender` turns a name (``"none"``, ``"popular"``,
``"random"``) or a callable into one. The shipped ones are seeded and keep no global state:

* :class:`PopularRecommender`: the most reposted posts of the last hours (a "trending" list);
* :class:`RandomRecommender`: random recent posts (a uniform baseline).

Both skip posts by the user and by accounts the user already follows (those reach the user
through the follow graph). They read the network through its public API only
(:attr:`~s3kit.environment.SocialNetwork.now_ns`, ``version``,
:meth:`~s3kit.environment.SocialNetwork.reposts_between`, ``posts_between``,
``recommendable``, ``has_post``, ``is_visible``, ``post_time_ns``, ``post_index``), as a
recommender written elsewhere would.

Examples:
    >>> make_recommender("random", seed=3)
    RandomRecommender(seed=3, window_hours=24.0)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .environment import SocialNetwork

__all__ = ["Recommender", "PopularRecommender", "RandomRecommender", "make_recommender"]

_NS_PER_HOUR = 3_600_000_000_000


@runtime_checkable
class Recommender(Protocol):
    """What a recommender is: a callable ``(network, user_id, k) -> list of post ids``.

    It is called once per :meth:`SocialNetwork.feed` call (when ``recommend_k > 0``) and may
    return fewer than ``k`` ids. The network drops ids that are unknown, removed, not yet
    visible, by banned users, by ``user_id`` itself or already in the feed.
    """

    def __call__(self, network: SocialNetwork, user_id: str, k: int) -> list[str]:
        """Return up to ``k`` post ids to show ``user_id``."""
        ...



class PopularRecommender:
    """Recommend the most reposted posts of the last ``window_hours`` (a "trending" list).

    A post's score is the number of its visible reposts (posts of a kind in ``kinds`` whose
    ``parent_id`` is that post) made in ``(now - window_hours, now]``; ties go to the newer
    post. Posts by the user and by accounts the user already follows are skipped (those reach
    the user through the follow graph). The ranking is cached per clock time and network state.

    Args:
        window_hours: how far back reposts count.
        kinds: post kinds that count as a repost.

    Examples:
        >>> from s3kit.environment import SocialNetwork
        >>> net = SocialNetwork()
        >>> for u in "abc":
        ...     net.add_user(u)
        >>> root = net.add_post("a", "news")
        >>> _ = net.add_post("b", "RT news", parent_id=root, kind="repost")
        >>> PopularRecommender()(net, "c", 2)
        ['p0']
    """

    def __init__(self, window_hours: float = 24.0, kinds: tuple[str, ...] = ("repost",)):
        self.window_hours = window_hours
        self.kinds = kinds
        self._cache_key = None
        self._ranking: list[str] = []

    def ranking(self, network: SocialNetwork) -> list[str]:
        """All currently recommendable post ids, most reposted first."""
        key = (id(network), network.now_ns, network.version)
        if key != self._cache_key:
            lo = network.now_ns - int(self.window_hours * _NS_PER_HOUR)
            counts: Counter[str] = Counter(
                parent for parent, _ in network.reposts_between(lo, network.now_ns, self.kinds))
            scored = []
            for pid, n in counts.items():
                if network.has_post(pid) and network.is_visible(pid):
                    scored.append((-n, -network.post_time_ns(pid), -network.post_index(pid), pid))
            scored.sort()
            self._ranking = [s[-1] for s in scored]
            self._cache_key = key
        return self._ranking

    def __call__(self, network: SocialNetwork, user_id: str, k: int) -> list[str]:
        """Return up to ``k`` popular post ids outside ``user_id``'s follow circle."""
        return network.recommendable(user_id, self.ranking(network), k)

    def __repr__(self) -> str:
        return f"PopularRecommender(window_hours={self.window_hours}, kinds={self.kinds})"


class RandomRecommender:
    """Recommend random visible posts of the last ``window_hours`` (a seeded, uniform baseline).

    Posts by the user and by accounts the user follows are skipped.

    Args:
        seed: seed of the recommender's own ``numpy.random.Generator``.
        window_hours: only posts this recent are candidates.

    Examples:
        >>> from s3kit.environment import SocialNetwork
        >>> net = SocialNetwork()
        >>> for u in "abc":
        ...     net.add_user(u)
        >>> _ = net.add_post("a", "hello")
        >>> RandomRecommender(seed=0)(net, "c", 3)
        ['p0']
    """

    def __init__(self, seed: int | None = 0, window_hours: float = 24.0):
        self.seed = seed
        self.window_hours = window_hours
        self._rng = np.random.default_rng(seed)

    def __call__(self, network: SocialNetwork, user_id: str, k: int) -> list[str]:
        """Return up to ``k`` random post ids outside ``user_id``'s follow circle."""
        lo = network.now_ns - int(self.window_hours * _NS_PER_HOUR)
        window = network.posts_between(lo, network.now_ns)
        n = len(window)
        if n <= 0 or k <= 0:
            return []
        if n > 4 * k + 32:  # draw with replacement, then drop repeats (cheap for large n)
            picks = dict.fromkeys(self._rng.integers(n, size=4 * k + 32).tolist())
        else:
            picks = self._rng.permutation(n).tolist()
        return network.recommendable(user_id, (window[i] for i in picks), k)

    def __repr__(self) -> str:
        return f"RandomRecommender(seed={self.seed}, window_hours={self.window_hours})"


def make_recommender(recommender: str | Callable | None, seed: int | None = 0):
    """Turn ``"popular"``, ``"random"``, ``"none"``/``None`` or a callable into a recommender.

    Args:
        recommender: a name or any callable following :class:`Recommender`.
        seed: seed for ``"random"``.

    Returns:
        The recommender callable, or ``None`` for no recommendation.

    Raises:
        ValueError: for an unknown name or a non-callable object.

    Examples:
        >>> make_recommender("popular")
        PopularRecommender(window_hours=24.0, kinds=('repost',))
        >>> make_recommender("none") is None
        True
    """
    if recommender is None or recommender == "none":
        return None
    if isinstance(recommender, str):
        if recommender == "popular":
            return PopularRecommender()
        if recommender == "random":
            return RandomRecommender(seed=seed)
        raise ValueError(f"unknown recommender {recommender!r}: use 'none', 'popular', 'random' "
                         "or a callable (network, user_id, k) -> list of post ids")
    if not callable(recommender):
        raise ValueError(f"recommender must be a name or a callable, got {recommender!r}")
    return recommender
