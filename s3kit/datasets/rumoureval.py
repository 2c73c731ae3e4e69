"""RumourEval-2017 (SemEval-2017 Task 8, PHEME subset), processed: :func:`load_rumoureval`.

Layout (``shared/data/rumoureval2017``)::

    stanceCategory.json, rumorCategory.json      label name -> integer code
    <split>/posts.json          {post_id: {time (UTC epoch s), text}}
    <split>/structures.json     {thread_id: {root_id: {reply_id: {...} or []}}}
    <split>/post_id.txt + post_label.txt       stance code per post (line by line)
    <split>/thread_id.txt + thread_label.txt   veracity code per thread

Any sub-folder holding ``posts.json`` is a split (``traindev/`` here, ``test/`` in held-out
copies); its name goes into the ``split`` column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from ._common import (
    as_path,
    epoch_to_utc,
    expect_type,
    guard,
    load_json,
    read_text,
    split_lines,
)
from .base import SocialDataset

__all__ = ["load_rumoureval"]

_DEFAULT_STANCE = {"support": 0, "query": 1, "deny": 2, "comment": 3}
_DEFAULT_VERACITY = {"true": 0, "false": 1, "unverified": 2}


def _category(root: Path, split_dir: Path, name: str, default: dict) -> dict[str, str]:
    """Integer code (as text) -> label name, from ``<name>.json`` (split folder first)."""
    for folder in (split_dir, root):
        f = folder / name
        if f.is_file():
            d = expect_type(load_json(f), dict, f, what="a JSON object {name: code}")
            out = {}
            for k, v in d.items():
                if isinstance(v, bool) or not isinstance(v, int | str):
                    raise DataFormatError(f, record=k, field=k,
                                          reason=f"code must be an integer, got {v!r}")
                out[str(v).strip()] = str(k)
            return out
    return {str(v): k for k, v in default.items()}


def _paired(ids_file: Path, labels_file: Path, mapping: dict[str, str], what: str
            ) -> dict[str, str]:
    """Read ``*_id.txt`` and ``*_label.txt`` line by line into {id: label name}."""
    if not ids_file.is_file() or not labels_file.is_file():
        return {}
    ids = [s.strip() for s in split_lines(read_text(ids_file))]
    labs = [s.strip() for s in split_lines(read_text(labels_file))]
    while ids and not ids[-1]:
        ids.pop()
    while labs and not labs[-1]:
        labs.pop()
    if len(ids) != len(labs):
        raise DataFormatError(labels_file, record=min(len(ids), len(labs)) + 1, field=what,
                              reason=f"{len(labs)} labels for {len(ids)} ids in "
                              f"{ids_file.name}")
    out = {}
    for lineno, (i, lab) in enumerate(zip(ids, labs, strict=True), start=1):
        if not i:
            raise DataFormatError(ids_file, record=lineno, field="id", reason="empty id")
        if lab not in mapping:
            raise DataFormatError(labels_file, record=lineno, field=what,
                                  reason=f"unknown code {lab!r} (known: {sorted(mapping)})")
        out[i] = mapping[lab]
    return out


def _walk(tree, parent: str | None, out: dict[str, str | None], path: Path, thread: str):
    """Depth-first over ``{id: subtree}`` (leaves are ``[]`` or ``{}``), iteratively."""
    stack = [(tree, parent)]
    while stack:
        node, par = stack.pop()
        if isinstance(node, list):
            if node:
                raise DataFormatError(path, record=thread, field="structure",
                                      reason="a reply list must be empty or an object")
            continue
        if not isinstance(node, dict):
            raise DataFormatError(path, record=thread, field="structure",
                                  reason=f"expected an object of replies, got {node!r:.40}")
        for k, sub in node.items():
            out.setdefault(str(k), par)
            stack.append((sub, str(k)))


@guard
def load_rumoureval(path: str | os.PathLike) -> SocialDataset:
    """Load RumourEval-2017 threads: posts with stance, reply parents, thread veracity.

    Args:
        path: the ``rumoureval2017`` folder (split sub-folders with ``posts.json``), or one
            split folder itself.

    Returns:
        SocialDataset: ``posts`` (``time`` UTC, ``text``, ``parent_id`` from structures.json,
        ``event_id`` = thread, ``kind`` original/reply, ``stance`` support/query/deny/comment,
        ``split``) and ``events`` (one per thread, ``label`` true/false/unverified, ``split``).
        Users are unknown in this processed copy. A ``parent_id`` may name a post missing from
        ``posts.json`` (deleted tweets kept in the reply tree).

    Raises:
        DataFormatError: truncated JSON, a post without ``time``, label files out of step...

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_rumoureval(f"{root}/rumoureval2017") if root else None
        >>> ds is None or set(ds.posts["stance"].dropna()) <= {"support", "query", "deny",
        ...                                                   "comment"}
        True
    """
    root = as_path(path)
    if (root / "posts.json").is_file():
        splits, top = [root], root.parent
    else:
        splits = sorted(p for p in root.iterdir() if p.is_dir() and (p / "posts.json").is_file())
        top = root
    if not splits:
        raise DataFormatError(root, field="posts.json",
                              reason="no split folder with posts.json (RumourEval layout)")

    post_frames, event_frames = [], []
    for sd in splits:
        stance_map = _category(top, sd, "stanceCategory.json", _DEFAULT_STANCE)
        rumor_map = _category(top, sd, "rumorCategory.json", _DEFAULT_VERACITY)
        pfile = sd / "posts.json"
        posts = expect_type(load_json(pfile), dict, pfile, what="a JSON object {post_id: post}")
        ids, times, texts = [], [], []
        for pid, rec in posts.items():
            if not isinstance(rec, dict):
                raise DataFormatError(pfile, record=pid, field="time",
                                      reason=f"expected an object, got {type(rec).__name__}")
            if "time" not in rec:
                raise DataFormatError(pfile, record=pid, field="time", reason="missing field")
            t = rec["time"]
            if isinstance(t, bool) or not isinstance(t, int | float):
                try:
                    t = float(t)
                except (TypeError, ValueError):
                    raise DataFormatError(pfile, record=pid, field="time",
                                          reason=f"not an epoch time: {t!r}") from None
            if not np.isfinite(t):
                raise DataFormatError(pfile, record=pid, field="time",
                                      reason=f"not an epoch time: {t!r}")
            text = rec.get("text")
            ids.append(str(pid))
            times.append(float(t))
            texts.append(text if text is None or isinstance(text, str) else str(text))

        sfile = sd / "structures.json"
        parent: dict[str, str | None] = {}
        thread_of: dict[str, str] = {}
        threads: list[str] = []
        if sfile.is_file():
            structs = expect_type(load_json(sfile), dict, sfile,
                                  what="a JSON object {thread_id: tree}")
            for tid, tree in structs.items():
                tid = str(tid)
                threads.append(tid)
                local: dict[str, str | None] = {}
                _walk(tree, None, local, sfile, tid)
                for k, p in local.items():
                    parent.setdefault(k, p)
                    thread_of.setdefault(k, tid)
        stance = _paired(sd / "post_id.txt", sd / "post_label.txt", stance_map, "stance")
        veracity = _paired(sd / "thread_id.txt", sd / "thread_label.txt", rumor_map,
                           "veracity")
        thread_ids = list(dict.fromkeys(threads + list(veracity)))

        pf = pd.DataFrame({
            "post_id": ids, "user_id": None,
            "time": epoch_to_utc(times, pfile, "time", record_name=ids.__getitem__),
            "text": texts,
            "parent_id": [parent.get(i) for i in ids],
            "event_id": [thread_of.get(i) for i in ids],
            "kind": ["original" if thread_of.get(i) == i or (i not in parent and i in
                                                             veracity) else "reply"
                     for i in ids],
            "stance": [stance.get(i) for i in ids],
            "split": sd.name,
        })
        ef = pd.DataFrame({
            "event_id": thread_ids,
            "root_post_id": thread_ids,
            "label": [veracity.get(t) for t in thread_ids],
            "topic": None,
            "split": sd.name,
        })
        post_frames.append(pf)
        event_frames.append(ef)

    posts = pd.concat(post_frames, ignore_index=True)
    events = pd.concat(event_frames, ignore_index=True)
    for df, cols in ((posts, ("stance", "split")), (events, ("split",))):
        for c in cols:
            df[c] = df[c].astype("string")
    return SocialDataset(name="rumoureval2017", source=str(root), posts=posts, events=events)
