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

__all__ = ["ResponseCache", "cache_key", "default_cache_path", "open_cache"]


def cache_key(parts: dict[str, Any]) -> str:
    """Stable SHA-256 hex digest of a JSON-able mapping (key order does not matter)."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_path() -> Path:
    """``<cache_dir()>/llm_responses.sqlite``."""
    from ..config import cache_dir

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
