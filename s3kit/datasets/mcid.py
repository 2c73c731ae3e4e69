"""MCID Twitter: information cascades plus a follower graph: :func:`load_mcid`.

Layout (``shared/data/mcid_twitter``)::

    cascades.txt      <cascade_id> <user_id>,<time> <user_id>,<time> ...   (time order)
    edges.txt         <user_id>,<user_id>        follower graph, numeric ids
    social_graph.txt  <name>,<name>              the same graph by screen name, line by line

Edge direction (measured, see docs/datasets.md): cascade timing carries no signal (for the
non-reciprocal edges the first column adopts first 321 times, second 325 times), but the file
is grouped by its second column, as a crawl of "followers of X" lists is, and in-degree on the
second column is heavy-tailed (max 1155 vs 149). So a line ``a,b`` is read as "a follows b":
``follower=a, followee=b``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import DataFormatError
from ._common import as_path, guard, read_text, split_lines
from .base import SocialDataset

__all__ = ["load_mcid"]


def _cascade_files(root: Path) -> list[Path]:
    files = sorted(p for p in root.glob("cascade*.txt") if p.is_file())
    return files


def _read_edges(path: Path) -> tuple[list[str], list[str]]:
    a, b = [], []
    for lineno, line in enumerate(split_lines(read_text(path)), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DataFormatError(path, record=lineno, field="edge",
                                  reason="expected '<user_id>,<user_id>'")
        a.append(parts[0].strip())
        b.append(parts[1].strip())
    return a, b


@guard
def load_mcid(path: str | os.PathLike, progress: bool = True) -> SocialDataset:
    """Load MCID-Twitter cascades (adoptions with times) and the follower graph.

    Every ``user,time`` pair of a cascade is one post (an adoption): ``post_id`` is
    ``"<cascade>:<n>"``; the first adopter's post is ``kind="original"``, later ones
    ``kind="repost"`` with ``parent_id`` missing (the data does not say whom they saw).
    Times are seconds; they run over ~19 days with a clear daily cycle but the origin is not
    documented (as UTC epochs they fall in Dec 1974 - Jan 1975), so only differences are
    meaningful; the raw value is kept in ``timestamp``. ``follows`` reads ``edges.txt`` as
    ``follower,followee`` (direction measured, see module docstring); ``users`` holds every id
    of the cascades and the graph, with ``screen_name`` from ``social_graph.txt`` when that file
    lines up with ``edges.txt``. Every ``cascade*.txt`` file is read; its stem is the ``split``.

    Args:
        path: the ``mcid_twitter`` folder.
        progress: show a progress bar over cascade lines.

    Returns:
        SocialDataset with users, follows, posts and events (one per cascade, ``label`` empty).

    Raises:
        DataFormatError: a cascade entry that is not ``user,time``, a bad edge line...

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_mcid(f"{root}/mcid_twitter", progress=False) if root else None
        >>> ds is None or len(ds.follows) > 0
        True
    """
    root = as_path(path)
    files = _cascade_files(root)
    edges_file = root / "edges.txt"
    if not files and not edges_file.is_file():
        raise DataFormatError(root, field="cascades.txt",
                              reason="expected cascades.txt (and edges.txt), MCID layout")

    post_id, uid, ts, event, kind, split = [], [], [], [], [], []
    ev_ids, ev_root, ev_split = [], [], []
    seen: dict[str, tuple[Path, int]] = {}
    for f in files:
        lines = split_lines(read_text(f))
        for lineno, line in enumerate(tqdm(lines, desc=f.name, disable=not progress,
                                           unit="cascade"), start=1):
            parts = line.split()
            if not parts:
                continue
            cid = parts[0]
            if "," in cid:
                raise DataFormatError(f, record=lineno, field="cascade_id",
                                      reason="line must start with '<cascade_id> '")
            if cid in seen:
                raise DataFormatError(f, record=lineno, field="cascade_id",
                                      reason=f"duplicate cascade id {cid!r} (first in "
                                      f"{seen[cid][0].name} line {seen[cid][1]})")
            seen[cid] = (f, lineno)
            n = 0
            for tok in parts[1:]:
                user, sep, t = tok.partition(",")
                if not sep or not user:
                    raise DataFormatError(f, record=lineno, field="adoption",
                                          reason=f"expected '<user_id>,<time>', got {tok!r}")
                try:
                    tv = float(t)
                except ValueError:
                    raise DataFormatError(f, record=lineno, field="time",
                                          reason=f"not a number: {t!r}") from None
                if not np.isfinite(tv) or abs(tv) > 1e11:
                    raise DataFormatError(f, record=lineno, field="time",
                                          reason=f"time out of range: {t!r}")
                post_id.append(f"{cid}:{n}")
                uid.append(user)
                ts.append(tv)
                event.append(cid)
                kind.append("original" if n == 0 else "repost")
                split.append(f.stem)
                n += 1
            ev_ids.append(cid)
            ev_root.append(f"{cid}:0" if n else None)
            ev_split.append(f.stem)

    posts = pd.DataFrame({
        "post_id": post_id, "user_id": uid,
        "time": pd.to_datetime(np.asarray(ts, dtype=float), unit="s", utc=True),
        "text": None, "parent_id": None, "event_id": event, "kind": kind,
        "timestamp": np.asarray(ts, dtype=float), "split": split,
    })
    posts["split"] = posts["split"].astype("string")

    follower, followee = _read_edges(edges_file) if edges_file.is_file() else ([], [])
    follows = pd.DataFrame({"follower": follower, "followee": followee})

    names: dict[str, str] = {}
    sg = root / "social_graph.txt"
    if sg.is_file() and follower:
        na, nb = _read_edges(sg)
        ok = len(na) == len(follower)
        if ok:
            for ids, nms in ((follower, na), (followee, nb)):
                for i, nm in zip(ids, nms, strict=True):
                    if names.setdefault(i, nm) != nm:
                        ok = False
                        break
        if not ok:
            names = {}
            warnings.warn(f"{sg} does not line up with {edges_file}; screen names skipped",
                          stacklevel=2)

    users = pd.DataFrame({"user_id": list(dict.fromkeys(uid + follower + followee))})
    if names:
        users["screen_name"] = users["user_id"].map(names).astype("string")
    events = pd.DataFrame({"event_id": ev_ids, "root_post_id": ev_root, "label": None,
                           "topic": None, "split": ev_split})
    events["split"] = events["split"].astype("string")
    return SocialDataset(name="mcid_twitter", source=str(root), users=users, follows=follows,
                         posts=posts, events=events)
