r"""Twitter15 / Twitter16 propagation trees (Ma et al. 2017): :func:`load_twitter_trees`.

Layout (``shared/data/twitter15``; ``twitter16`` is the same)::

    label.txt            <label>:<source tweet id>   (false / true / unverified / non-rumor)
    tree/<id>.txt        ['uid', 'tweet_id', 'delay_min']->['uid', 'tweet_id', 'delay_min']
    source_tweets.txt    optional: <id>\t<text>
"""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import DataFormatError
from ._common import TWITTER_EPOCH_MS, as_path, guard, read_text, snowflake_ms, split_lines
from .base import SocialDataset

__all__ = ["load_twitter_trees", "tweet_id_time"]

_NODE = r"\[\s*'([^']*)'\s*,\s*'([^']*)'\s*,\s*'([^']*)'\s*\]"
_EDGE = re.compile(rf"^\s*{_NODE}\s*->\s*{_NODE}\s*$")
_DELAY = re.compile(r"^-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$")


def tweet_id_time(tweet_id: str | int) -> pd.Timestamp | None:
    """UTC time encoded in a Twitter "snowflake" id: ``(id >> 22) + 1288834974657`` ms.

    Returns ``None`` for ids older than snowflake (Nov 2010) or that are not integers.

    Examples:
        >>> tweet_id_time("265953285247209472")
        Timestamp('2012-11-06 23:06:19.033000+0000', tz='UTC')
    """
    try:
        v = int(tweet_id)
    except (TypeError, ValueError):
        return None
    if v < (1 << 32):
        return None
    return pd.Timestamp((v >> 22) + TWITTER_EPOCH_MS, unit="ms", tz="UTC")


def _bad_line(path, lineno: int, line: str) -> DataFormatError:
    if "->" not in line:
        field, reason = "edge", "expected ['uid', 'tweet_id', 'delay']->['uid', ...]"
    else:
        parent, child = line.split("->", 1)
        node = re.compile(rf"^\s*{_NODE}\s*$")
        mp, mc = node.match(parent), node.match(child)
        if not mp:
            field, reason = "parent", f"not a ['uid', 'tweet_id', 'delay'] node: {parent[:80]!r}"
        elif not mc:
            field, reason = "child", f"not a ['uid', 'tweet_id', 'delay'] node: {child[:80]!r}"
        else:  # both nodes parse: the delay is the problem
            which = "parent" if not _is_delay(mp.group(3), root_ok=True) else "child"
            val = mp.group(3) if which == "parent" else mc.group(3)
            field, reason = f"{which}.delay", f"not a number of minutes: {val!r}"
    return DataFormatError(path, record=lineno, field=field, reason=reason)


def _is_delay(s: str, root_ok: bool = False) -> bool:
    return bool(_DELAY.match(s)) or (root_ok and s == "ROOT")


@guard
def load_twitter_trees(path: str | os.PathLike, progress: bool = True) -> SocialDataset:
    """Load a Twitter15/16-style folder of propagation trees with rumour labels.

    Every tree node ``(uid, tweet_id, delay)`` becomes one post (duplicate lines are kept once);
    its parent is the node on the left of ``->`` (``ROOT`` or a self-loop marks the source).
    Times: the source tweet's time comes from its id, ``(id >> 22) + 1288834974657`` ms, plus
    ``delay_min`` minutes for every node. Retweets carry the source's tweet id, so ``post_id``
    is ``"<tree id>:<n>"`` (node ``n`` in order of first appearance, the source is ``:0``); the
    raw id is kept in ``tweet_id``. No follow graph is built here (the environment builds the
    documented proxy from ``parent_id``).

    Args:
        path: folder with ``label.txt`` and ``tree/`` (e.g. ``shared/data/twitter15``).
        progress: show a progress bar over tree files.

    Returns:
        SocialDataset with ``posts`` (``tweet_id``, ``delay_min`` extra columns), ``users`` (every
        uid), ``events`` (one per tree or label line: ``label`` false/true/unverified/non-rumor).

    Raises:
        DataFormatError: a label line without ``:``, a tree line that does not parse...

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_twitter_trees(f"{root}/twitter15", progress=False) if root else None
        >>> ds is None or ds.posts["time"].dt.tz is not None
        True
    """
    root = as_path(path)
    name = root.name
    tree_dir = root / "tree"
    label_file = root / "label.txt"
    if not tree_dir.is_dir() and not label_file.is_file():
        raise DataFormatError(root, field="label.txt",
                              reason="expected label.txt and tree/ (Twitter15/16 layout)")

    labels: dict[str, str] = {}
    if label_file.is_file():
        for lineno, line in enumerate(split_lines(read_text(label_file)), start=1):
            if not line.strip():
                continue
            if ":" not in line:
                raise DataFormatError(label_file, record=lineno, field="label",
                                      reason="expected '<label>:<source tweet id>'")
            lab, tid = (s.strip() for s in line.rsplit(":", 1))
            if not lab or not tid:
                raise DataFormatError(label_file, record=lineno,
                                      field="label" if not lab else "tweet_id",
                                      reason="empty value in '<label>:<source tweet id>'")
            labels[tid] = lab

    texts: dict[str, str] = {}
    src_file = root / "source_tweets.txt"
    if src_file.is_file():
        for lineno, line in enumerate(split_lines(read_text(src_file)), start=1):
            if not line.strip():
                continue
            if "\t" not in line:
                raise DataFormatError(src_file, record=lineno, field="text",
                                      reason="expected '<tweet id>\\t<text>'")
            tid, text = line.split("\t", 1)
            texts[tid.strip()] = text

    files = sorted(tree_dir.glob("*.txt")) if tree_dir.is_dir() else []
    post_id, uid, tweet, delay, parent, event, is_src, roots = [], [], [], [], [], [], [], {}
    for f in tqdm(files, desc=name, disable=not progress, unit="tree"):
        tree_id = f.stem
        keys: dict[tuple[str, str, str], int] = {}
        par: list[int | None] = []  # parent index per node (None: source or unknown)
        src: list[bool] = []
        for lineno, line in enumerate(split_lines(read_text(f)), start=1):
            if not line.strip():
                continue
            m = _EDGE.match(line)
            if m is None:
                raise _bad_line(f, lineno, line)
            pu, pt, pd_, cu, ct, cd = m.groups()
            if not _is_delay(cd):
                raise DataFormatError(f, record=lineno, field="child.delay",
                                      reason=f"not a number of minutes: {cd!r}")
            if pu != "ROOT" and not _is_delay(pd_):
                raise DataFormatError(f, record=lineno, field="parent.delay",
                                      reason=f"not a number of minutes: {pd_!r}")
            ckey, pkey = (cu, ct, cd), (pu, pt, pd_)
            is_root = pu == "ROOT" or pkey == ckey
            pidx = None
            if not is_root:
                pidx = keys.get(pkey)
                if pidx is None:  # parent not listed as a child (yet): add it as a node
                    pidx = keys[pkey] = len(par)
                    par.append(None)
                    src.append(False)
            k = keys.get(ckey)
            if k is None:
                k = keys[ckey] = len(par)
                par.append(pidx)
                src.append(is_root)
            elif par[k] is None and not src[k]:
                par[k] = pidx  # first added as someone's parent; now its own parent is known
                src[k] = is_root
            # else: the same node listed again (duplicate line or a second parent): first wins
        if not par:
            continue
        node_keys = list(keys)
        post_id.extend(f"{tree_id}:{i}" for i in range(len(par)))
        uid.extend(k[0] for k in node_keys)
        tweet.extend(k[1] for k in node_keys)
        delay.extend(k[2] for k in node_keys)
        parent.extend(None if p is None else f"{tree_id}:{p}" for p in par)
        event.extend([tree_id] * len(par))
        is_src.extend(src)
        first_src = next((i for i, s in enumerate(src) if s), 0)
        roots[tree_id] = f"{tree_id}:{first_src}"

    delay_min = np.array(delay, dtype=float) if delay else np.zeros(0)  # regex-checked
    ev = pd.Series(event, dtype="object")
    src_ms = snowflake_ms(pd.Series(list(dict.fromkeys(event)), dtype="object"))
    src_ms.index = list(dict.fromkeys(event))
    base_ms = ev.map(src_ms).to_numpy(float) if len(ev) else np.zeros(0)
    time = pd.to_datetime(base_ms + delay_min * 60_000.0, unit="ms", utc=True)
    posts = pd.DataFrame({
        "post_id": post_id, "user_id": uid, "time": time,
        "text": [texts.get(t) if s else None for t, s in zip(tweet, is_src, strict=True)],
        "parent_id": parent, "event_id": event,
        "kind": ["original" if s else "repost" for s in is_src],
        "tweet_id": tweet, "delay_min": delay_min,
    })
    posts["tweet_id"] = posts["tweet_id"].astype("string")

    users = pd.DataFrame({"user_id": list(dict.fromkeys(uid))})
    all_events = list(dict.fromkeys(list(roots) + list(labels)))
    events = pd.DataFrame({
        "event_id": all_events,
        "root_post_id": [roots.get(e) for e in all_events],
        "label": [labels.get(e) for e in all_events],
        "topic": None,
    })
    return SocialDataset(name=name, source=str(root), users=users, posts=posts, events=events)
