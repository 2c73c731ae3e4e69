"""On-disk response cache shared by all backends (sqlite, one row per prompt).

The key is a SHA-256 of everything that determines an answer: backend, model, adapter (name
and a fingerprint of its weights), dtype or server URL, system prompt, prompt, options or
continuation, and generation parameters. A re-run of the same simulation is then answered
entirely from disk: identical results, zero model calls (``stats.cache_hits`` counts them).

Examples:
    >>> import tempfile, pathlib
    >>> cache = ResponseCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
    >>> key = cache_key({"kind": "score", "prompt": "hi", "options": ["a", "b"]})
    >>> cache.get(key) is None
    True
    >>> cache.put(key, [0.25, 0.75])
    >>> cache.get(key)
    [0.25, 0.75]
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import cache_dir
from .base import as_str_list, text_pairs

__all__ = ["CachedBackend", "ResponseCache", "cache_key", "default_cache_path", "open_cache"]


def cache_key(parts: dict[str, Any]) -> str:
    """Stable SHA-256 hex digest of a JSON-able mapping (key order does not matter)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    """``<cache_dir()>/llm_responses.sqlite``."""
    return cache_dir() / "llm_responses.sqlite"


class ResponseCache:
    """A thread- and process-safe key -> JSON value store in one sqlite file.

    Args:
        path: sqlite file (created with its folder).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT)")
            conn.commit()
            self._conn = conn
        return self._conn

    def get(self, key: str) -> Any | None:
        """The stored value, or ``None``."""
        with self._lock:
            row = self._connect().execute(
                "SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """Stored values of the keys present (one query per 500 keys)."""
        found: dict[str, Any] = {}
        with self._lock:
            conn = self._connect()
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for key, value in conn.execute(
                        f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                    found[key] = json.loads(value)
        return found

    def put(self, key: str, value: Any) -> None:
        """Store one value."""
        self.put_many({key: value})

    def put_many(self, items: dict[str, Any]) -> None:
        """Store several values in one transaction."""
        if not items:
            return
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in items.items()]
        with self._lock:
            conn = self._connect()
            conn.executemany("INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)", rows)
            conn.commit()

    def __len__(self) -> int:
        """Number of stored responses."""
        with self._lock:
            return self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def clear(self) -> None:
        """Delete every stored response."""
        with self._lock:
            self._connect().execute("DELETE FROM responses")
            self._connect().commit()

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __getstate__(self):
        """Pickle the path only (connections do not travel between processes)."""
        return {"path": self.path}

    def __setstate__(self, state):
        """Rebuild from the path."""
        self.__init__(state["path"])

    def __repr__(self) -> str:
        """Show the file."""
        return f"ResponseCache({str(self.path)!r})"


def open_cache(cache: bool | str | os.PathLike | ResponseCache | None) -> ResponseCache | None:
    """``True`` -> the default file, a path -> that file, ``False``/``None`` -> no cache."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, ResponseCache):
        return cache
    if cache is True:
        return ResponseCache(default_cache_path())
    return ResponseCache(cache)


class CachedBackend:
    """Mixin with the response-cache keys and look-ups shared by the model backends.

    The class using it has ``backend``, ``model``, ``stats`` (a ``CallStats``) and ``_cache``
    (a ``ResponseCache`` or ``None``) and names, in ``_key_identity()``, what else besides
    backend and model decides an answer (adapter, dtype, server URL, ...).
    """

    @property
    def response_cache(self) -> ResponseCache | None:
        """The response cache answers are read from and written to (``None``: none).

        Assign ``None`` to bypass it for a while and the old value to restore it (the model
        server does so for requests sent with ``cache=False``).
        """
        return self._cache

    @response_cache.setter
    def response_cache(self, cache: ResponseCache | None) -> None:
        self._cache = cache

    def _key_identity(self) -> dict[str, Any]:
        raise NotImplementedError

    def _key(self, kind: str, system, prompt: str, **extra) -> str:
        return cache_key({"kind": kind, "backend": self.backend, "model": self.model,
                          **self._key_identity(),
                          "system": system, "prompt": prompt, **extra})

    def ensure_loaded(self) -> None:
        """Hook run after the argument checks, before keys are made (e.g. load the model)."""

    def _cached_scores(self, prompts, options, system):
        """Checked ``score`` arguments with the rows the cache answers already filled in.

        Returns:
            ``(prompts, options, result, keys, todo)``: ``result`` (n_prompts, n_options) has
            the cached rows, ``todo`` the indices still to compute.
        """
        prompts = as_str_list(prompts, "prompts")
        options = as_str_list(options, "options")
        if not options or len(set(options)) != len(options) or any(not o for o in options):
            raise ValueError("options must be distinct non-empty strings")
        self.ensure_loaded()
        result = np.zeros((len(prompts), len(options)))
        keys = [self._key("score", system, p, options=options) for p in prompts]
        found = self._lookup(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        for i, k in enumerate(keys):
            if k in found:
                result[i] = found[k]
        return prompts, options, result, keys, todo

    def _cached_generations(self, prompts, system, max_new_tokens, temperature, seed,
                            stop=()):
        """Checked ``generate`` arguments with the answers the cache has already filled in.

        Returns:
            ``(prompts, result, keys, todo, seed)``: ``result`` holds ``None`` where
            ``todo`` (the indices to generate) points; ``seed`` defaults to ``self.seed``.
        """
        prompts = as_str_list(prompts, "prompts")
        self.ensure_loaded()
        seed = self.seed if seed is None else seed
        params = {"max_new_tokens": int(max_new_tokens), "temperature": float(temperature),
                  "seed": seed if temperature > 0 else None}
        if stop:  # keys without stop strings stay those of earlier releases
            params["stop"] = list(stop)
        keys = [self._key("generate", system, p, **params) for p in prompts]
        found = self._lookup(keys)
        result = [found.get(k) for k in keys]
        todo = [i for i, k in enumerate(keys) if k not in found]
        return prompts, result, keys, todo, seed

    def _cached_logprobs(self, prompts, continuations, system):
        """Checked ``logprob`` arguments with the sums and counts the cache answers filled in.

        Returns:
            ``(prompts, continuations, sums, counts, keys, found)``.
        """
        prompts, continuations = text_pairs(prompts, continuations)
        self.ensure_loaded()
        sums = np.zeros(len(prompts))
        counts = np.zeros(len(prompts), dtype=np.int64)
        keys = [self._key("logprob", system, p, continuation=c)
                for p, c in zip(prompts, continuations, strict=True)]
        found = self._lookup(keys)
        for i, k in enumerate(keys):
            if k in found:
                sums[i], counts[i] = found[k]
        return prompts, continuations, sums, counts, keys, found

    def _lookup(self, keys: list[str]) -> dict[str, Any]:
        """Cached answers for ``keys`` (counted in ``stats.cache_hits``); ``{}`` without a cache."""
        if self._cache is None:
            return {}
        found = self._cache.get_many(list(dict.fromkeys(keys)))
        self.stats.cache_hits += sum(1 for k in keys if k in found)
        return found

    def _store(self, items: dict[str, Any]) -> None:
        """Write fresh answers to the cache, if there is one."""
        if self._cache is not None:
            self._cache.put_many(items)
