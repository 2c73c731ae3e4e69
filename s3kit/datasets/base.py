"""The one data model every loader returns: :class:`SocialDataset`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["SocialDataset", "data_dir", "USER_COLUMNS", "FOLLOW_COLUMNS", "POST_COLUMNS",
           "EVENT_COLUMNS", "LABEL_COLUMNS"]

USER_COLUMNS = {"user_id": "string"}
FOLLOW_COLUMNS = {"follower": "string", "followee": "string"}
POST_COLUMNS = {
    "post_id": "string",
    "user_id": "string",
    "time": "datetime64[ns, UTC]",
    "text": "string",
    "parent_id": "string",
    "event_id": "string",
    "kind": "string",
}
EVENT_COLUMNS = {"event_id": "string", "root_post_id": "string", "label": "string",
                 "topic": "string"}
LABEL_COLUMNS = {"text": "string", "label": "string", "split": "string", "task": "string"}


def _frame(df: pd.DataFrame | None, columns: dict[str, str]) -> pd.DataFrame:
    """Return ``df`` with at least ``columns``, in that order first, with fixed dtypes."""
    df = pd.DataFrame(columns=list(columns)) if df is None else df.copy()
    for col, dtype in columns.items():
        if col not in df.columns:
            df[col] = pd.Series(pd.NA, index=df.index, dtype="object")
        if dtype.startswith("datetime64"):
            df[col] = pd.to_datetime(df[col], utc=True).astype(dtype)
        else:
            df[col] = df[col].astype(dtype)
    extra = [c for c in df.columns if c not in columns]
    return df[list(columns) + extra].reset_index(drop=True)


@dataclass
class SocialDataset:
    """Tidy frames describing one social-media dataset (docs/datasets.md).

    Attributes:
        name: short dataset name, e.g. ``"ced"``.
        source: where the data came from (folder, URL or ``"synthetic"``).
        users: one row per user; ``user_id`` plus whatever is known (gender, age, bio ...).
        follows: directed edges ``follower -> followee`` (the follower sees the followee's posts).
        posts: ``post_id, user_id, time (UTC), text, parent_id, event_id, kind`` (+ labels).
        events: ``event_id, root_post_id, label, topic``.
        labels: plain labelled text ``text, label, split, task``.

    Examples:
        >>> ds = SocialDataset(name="toy", source="doctest")
        >>> ds.summary()["posts"]
        0
    """

    name: str
    source: str = ""
    users: pd.DataFrame = field(default=None)
    follows: pd.DataFrame = field(default=None)
    posts: pd.DataFrame = field(default=None)
    events: pd.DataFrame = field(default=None)
    labels: pd.DataFrame = field(default=None)

    def __post_init__(self):
        self.users = _frame(self.users, USER_COLUMNS)
        self.follows = _frame(self.follows, FOLLOW_COLUMNS)
        self.posts = _frame(self.posts, POST_COLUMNS)
        self.events = _frame(self.events, EVENT_COLUMNS)
        self.labels = _frame(self.labels, LABEL_COLUMNS)

    def summary(self) -> dict[str, int | str]:
        """Counts a researcher looks at first: users, posts, follow edges, events, labels."""
        return {
            "name": self.name,
            "users": int(len(self.users)),
            "posts": int(len(self.posts)),
            "edges": int(len(self.follows)),
            "events": int(len(self.events)),
            "labels": int(len(self.labels)),
        }

    def to_dir(self, path: str | os.PathLike, format: str = "parquet",  # noqa: A002
               notes: list[str] | None = None) -> Path:
        """Write the dataset as a tidy folder that every loader entry point reads back.

        One file per table (``users``, ``follows``, ``posts``, ``events``, ``labels``) plus
        ``dataset.json`` (name, source, timezone, column dtypes, notes); see
        :mod:`s3kit.datasets.tidy` and docs/datasets.md.

        Args:
            path: the folder (created if needed).
            format: ``"parquet"`` or ``"csv"``.
            notes: what the data cannot say, kept in ``dataset.json``.

        Returns:
            The folder.

        Examples:
            >>> import tempfile
            >>> from s3kit.datasets import load_dataset
            >>> ds = SocialDataset("toy", follows=pd.DataFrame({"follower": ["a"],
            ...                                                 "followee": ["b"]}))
            >>> folder = ds.to_dir(tempfile.mkdtemp() + "/toy", format="csv")
            >>> load_dataset(str(folder)).follows.equals(ds.follows)
            True
        """
        from .tidy import write_tidy  # tidy imports this module (SocialDataset, columns)

        return write_tidy(self, path, format=format, notes=notes)

    def __repr__(self) -> str:
        s = self.summary()
        return (f"SocialDataset({s['name']!r}: {s['users']} users, {s['posts']} posts, "
                f"{s['edges']} edges, {s['events']} events, {s['labels']} labels)")


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Resolve the shared data folder: ``path``, else ``$S3KIT_DATA_DIR``, else ``../shared/data``.

    Raises:
        FileNotFoundError: if no such folder exists (the message says how to set it).
    """
    candidates = [path] if path is not None else [os.environ.get("S3KIT_DATA_DIR"),
                                                  Path.cwd() / ".." / "shared" / "data"]
    for cand in candidates:
        if cand and Path(cand).is_dir():
            return Path(cand).resolve()
    raise FileNotFoundError(
        "No data folder found. Pass data_dir=..., or set S3KIT_DATA_DIR to a folder laid out "
        "like shared/data (see data/README.md)."
    )
