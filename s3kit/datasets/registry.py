"""Find, load and summarise the datasets in a data folder laid out like ``shared/data``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .base import SocialDataset
from .base import data_dir as _data_dir
from .ced import load_ced
from .clue import load_clue_emotion
from .mcid import load_mcid
from .nlpcc import load_nlpcc_stance
from .rumoureval import load_rumoureval
from .tidy import is_tidy_folder, load_tidy
from .tweeteval import load_tweeteval
from .twitter_gender import load_twitter_gender
from .twitter_trees import load_twitter_trees

__all__ = ["available_datasets", "load_dataset", "summarize_datasets", "dataset_format",
           "is_trees_folder", "LOADERS"]


def _has(folder: Path, *patterns: str) -> bool:
    return folder.is_dir() and any(any(folder.glob(p)) for p in patterns)


def is_trees_folder(folder: Path) -> bool:
    """Whether ``folder`` holds Twitter15/16-style propagation trees (``tree/`` + ``label.txt``)."""
    return (folder / "tree").is_dir() and (folder / "label.txt").is_file()


def _is_rumoureval(folder: Path) -> bool:
    return _has(folder, "posts.json", "*/posts.json")


#: name -> (loader, "is this folder that dataset?"). Tree folders (twitter15, twitter16 or any
#: folder with ``label.txt`` + ``tree/``) are found by layout, whatever their name.
LOADERS: dict[str, tuple[Callable[..., SocialDataset], Callable[[Path], bool]]] = {
    "ced": (load_ced, lambda d: (d / "original-microblog").is_dir()),
    "twitter15": (load_twitter_trees, is_trees_folder),
    "twitter16": (load_twitter_trees, is_trees_folder),
    "mcid_twitter": (load_mcid, lambda d: _has(d, "cascade*.txt", "edges.txt")),
    "rumoureval2017": (load_rumoureval, _is_rumoureval),
    "nlpcc2016_stance": (load_nlpcc_stance, lambda d: _has(d, "*.txt", "*.tsv")),
    "clue_emotion2020": (load_clue_emotion, lambda d: _has(d, "*.txt", "*.json", "*.jsonl")),
    "tweeteval": (load_tweeteval, lambda d: _has(d, "*_text.txt", "*/*_text.txt")),
    "twitter_gender": (load_twitter_gender, lambda d: _has(d, "*.csv")),
}


def available_datasets(data_dir: str | os.PathLike | None = None) -> list[str]:
    r"""Names of the datasets present in a data folder, in a fixed order.

    Args:
        data_dir: the folder (default: ``$S3KIT_DATA_DIR``, else ``../shared/data``).

    Returns:
        Known names whose folder exists with the expected files, then any other folder laid
        out like Twitter15 (``label.txt`` + ``tree/``), e.g. ``twitter16``, or in the tidy
        format (:mod:`s3kit.datasets.tidy`). When ``data_dir`` is itself a tidy folder, its
        own name.

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> (d / "twitter16" / "tree").mkdir(parents=True)
        >>> _ = (d / "twitter16" / "label.txt").write_text("true:1\\n")
        >>> available_datasets(d)
        ['twitter16']
    """
    root = _data_dir(data_dir)
    if is_tidy_folder(root):
        return [root.name]
    names = [n for n, (_, ok) in LOADERS.items() if ok(root / n) or is_tidy_folder(root / n)]
    others = sorted(p.name for p in root.iterdir()
                    if p.is_dir() and p.name not in LOADERS
                    and (is_trees_folder(p) or is_tidy_folder(p)))
    return names + others


def dataset_format(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """Which format a dataset folder is in: ``"tidy"``, ``"trees"`` or a known loader's name.

    Args:
        name: a dataset name (as for :func:`load_dataset`) or the path of a tidy folder.
        data_dir: the data folder.

    Returns:
        ``"tidy"`` for s3kit's own format (found by layout, whatever the folder's name),
        ``"trees"`` for Twitter15-style folders of another name, else ``name``'s base.

    Raises:
        ValueError: unknown dataset.
    """
    folder = _tidy_path(name, data_dir)
    if folder is not None:
        return "tidy"
    root = _data_dir(data_dir)
    base = name.partition("/")[0]
    if base in LOADERS:
        return base
    if is_trees_folder(root / base):
        return "trees"
    raise ValueError(f"unknown dataset {name!r} (present in {root}: {available_datasets(root)})")


def _tidy_path(name: str, data_dir) -> Path | None:
    """The tidy folder ``name`` refers to (a path, the data folder itself, or a subfolder)."""
    direct = Path(name).expanduser()
    if (os.sep in name or name not in LOADERS) and is_tidy_folder(direct) and (
            data_dir is None or direct.is_absolute() or not (Path(data_dir) / name).exists()):
        return direct
    try:
        root = _data_dir(data_dir)
    except FileNotFoundError:
        return None
    if is_tidy_folder(root) and name == root.name:
        return root
    if is_tidy_folder(root / name):
        return root / name
    return None


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, **kwargs
                 ) -> SocialDataset:
    """Load one dataset by name from a data folder.

    Args:
        name: a name from :func:`available_datasets` (``ced``, ``twitter15``, ``twitter16``,
            ``mcid_twitter``, ``rumoureval2017``, ``nlpcc2016_stance``, ``clue_emotion2020``,
            ``tweeteval``, ``twitter_gender``, another Twitter15-style folder, or a folder in
            the tidy format), ``tweeteval/<task>`` for one TweetEval task, or the path of a
            tidy folder (``"path/to/folder"``). Tidy folders are found by layout whatever
            their name (:func:`s3kit.datasets.tidy.load_tidy`).
        data_dir: the folder (default: ``$S3KIT_DATA_DIR``, else ``../shared/data``).
        **kwargs: passed to the loader (e.g. ``progress=False``, ``task=...``).

    Returns:
        The :class:`SocialDataset` (its ``name`` is the folder name for tree datasets).

    Raises:
        ValueError: ``name`` is not a known dataset.
        FileNotFoundError: the dataset's folder is missing.
        DataFormatError: the files are malformed.

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_dataset("tweeteval/emotion", root) if root else None
        >>> ds is None or set(ds.labels["task"]) == {"emotion"}
        True
    """
    tidy = _tidy_path(name, data_dir)
    if tidy is not None:
        return load_tidy(tidy)
    root = _data_dir(data_dir)
    base, _, task = name.partition("/")
    if task:
        if base != "tweeteval":
            raise ValueError(f"only tweeteval has sub-tasks, got {name!r}")
        kwargs.setdefault("task", task)
    folder = root / base
    if base in LOADERS:
        loader = LOADERS[base][0]
    elif is_trees_folder(folder):
        loader = load_twitter_trees
    else:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(LOADERS)} "
                         f"(present in {root}: {available_datasets(root)})")
    if not folder.exists():
        raise FileNotFoundError(f"{folder} not found (present: {available_datasets(root)})")
    progress = kwargs.pop("progress", None)
    if progress is not None and loader not in (load_rumoureval, load_nlpcc_stance,
                                               load_clue_emotion, load_tweeteval,
                                               load_twitter_gender):
        kwargs["progress"] = progress
    return loader(folder, **kwargs)


def summarize_datasets(data_dir: str | os.PathLike | None = None, progress: bool = True
                       ) -> pd.DataFrame:
    """Load every dataset present and tabulate its size and load time.

    Args:
        data_dir: the folder (default: ``$S3KIT_DATA_DIR``, else ``../shared/data``).
        progress: show a progress bar over datasets.

    Returns:
        One row per dataset: ``name, users, posts, edges`` (follow edges), ``events, labels,
        parent_edges`` (posts with a ``parent_id``: reply/repost edges), ``seconds``.

    Examples:
        >>> import tempfile
        >>> summarize_datasets(tempfile.mkdtemp(), progress=False).empty
        True
    """
    root = _data_dir(data_dir)
    rows = []
    names = available_datasets(root)
    for name in tqdm(names, desc="datasets", disable=not progress):
        t0 = time.perf_counter()
        ds = load_dataset(name, root, progress=False)
        seconds = time.perf_counter() - t0
        row = ds.summary()
        row["name"] = name
        row["parent_edges"] = int(ds.posts["parent_id"].notna().sum())
        row["seconds"] = round(seconds, 2)
        rows.append(row)
    cols = ["name", "users", "posts", "edges", "events", "labels", "parent_edges", "seconds"]
    return pd.DataFrame(rows, columns=cols)
