"""A bounded cache of prompt key/value states, reused across calls by longest token prefix.

An agent's decisions of one step (emotion, attitude, action, then maybe a post) send prompts
that share a long head (persona, memory, posts read) and differ only in the last lines (state
and question; see the compact templates of :mod:`s3kit.prompts`). The embedded backend keeps
the key/value tensors of prompts it has run here and, for a new prompt, starts from the
longest cached token prefix, so the head is computed once per agent instead of once per
decision (what vLLM and llama.cpp call prefix caching).

Entries are keyed by the system prefix they were computed after and looked up through the
first few tokens of the prompt body; the longest common prefix with each candidate wins. The
cache is bounded in bytes and evicts the least recently used entry first. A prompt that reuses
a cached head is not stored again (its head is already there; its tail, the question, is not
worth keeping), so a step costs one entry per agent.

Examples:
    >>> import torch
    >>> cache = PrefixKVCache(max_bytes=10**6, min_tokens=2)
    >>> kv = torch.zeros(2, 2, 1, 5, 4)          # layers, k/v, heads, tokens, head dim
    >>> cache.put("sys", [1, 2, 3, 4, 5], kv)
    True
    >>> n, hit = cache.match("sys", [1, 2, 3, 9, 9, 9])
    >>> n, tuple(hit.shape)
    (3, (2, 2, 1, 3, 4))
    >>> cache.match("other system", [1, 2, 3, 9])[0]
    0
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["PrefixKVCache"]


class PrefixKVCache:
    """Key/value states of prompt bodies, found again by longest common token prefix.

    Args:
        max_bytes: memory bound of the stored tensors (0 disables the cache).
        min_tokens: shortest prefix worth reusing.
        probe: number of leading tokens the lookup index hashes (at most ``min_tokens``:
            a prefix worth reusing always shares them).

    Attributes:
        hits: lookups that reused a prefix.
        reused_tokens: tokens those hits did not have to compute.
    """

    def __init__(self, max_bytes: int = 1 << 30, min_tokens: int = 16, probe: int = 8):
        self.max_bytes = int(max_bytes)
        self.min_tokens = int(min_tokens)
        self.probe = max(1, min(int(probe), self.min_tokens))
        self._entries: OrderedDict = OrderedDict()  # (system, tokens) -> (array, tensor)
        self._index: dict = {}  # (system, first tokens) -> set of entry keys
        self.nbytes = 0
        self.hits = 0
        self.reused_tokens = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        self._entries.clear()
        self._index.clear()
        self.nbytes = 0

    def _bucket(self, system: Hashable, tokens: Sequence[int]) -> tuple:
        return (system, tuple(tokens[:self.probe]))

    def match(self, system: Hashable, tokens: Sequence[int]):
        """Longest cached prefix of ``tokens``: ``(n, kv[..., :n, :])`` or ``(0, None)``.

        ``kv`` has shape ``(layers, 2, heads, n, head_dim)``; prefixes shorter than
        ``min_tokens`` are not reported.
        """
        if not self.max_bytes or len(tokens) < self.min_tokens:
            return 0, None
        keys = self._index.get(self._bucket(system, tokens))
        if not keys:
            return 0, None
        query = np.asarray(tokens, dtype=np.int64)
        best, best_key = 0, None
        for key in keys:
            stored = self._entries[key][0]
            m = min(len(stored), len(query))
            diff = np.flatnonzero(stored[:m] != query[:m])
            n = int(diff[0]) if len(diff) else m
            if n > best:
                best, best_key = n, key
        if best < self.min_tokens:
            return 0, None
        self._entries.move_to_end(best_key)
        self.hits += 1
        self.reused_tokens += best
        return best, self._entries[best_key][1][:, :, :, :best]

    def put(self, system: Hashable, tokens: Sequence[int], kv) -> bool:
        """Store the states ``kv`` (``(layers, 2, heads, len(tokens), head_dim)``) of ``tokens``.

        Returns whether it was stored (not when the cache is off, the prompt is too short or
        the entry alone exceeds the bound).
        """
        size = kv.numel() * kv.element_size()
        if not self.max_bytes or len(tokens) < self.min_tokens or size > self.max_bytes:
            return False
        key = (system, tuple(tokens))
        if key in self._entries:
            self._entries.move_to_end(key)
            return True
        self._entries[key] = (np.asarray(tokens, dtype=np.int64), kv)
        self._index.setdefault(self._bucket(system, tokens), set()).add(key)
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            old, (_, tensor) = self._entries.popitem(last=False)
            self.nbytes -= tensor.numel() * tensor.element_size()
            bucket = self._bucket(old[0], old[1])
            self._index[bucket].discard(old)
            if not self._index[bucket]:
                del self._index[bucket]
        return True
