r"""TweetEval (Barbieri et al. 2020): :func:`load_tweeteval`.

Layout (``shared/data/tweeteval``)::

    <task>/<split>_text.txt     one tweet per line
    <task>/<split>_labels.txt   one integer label per line (may be absent, e.g. unlabelled test)
    <task>/mapping.txt          optional: "<code>\t<name>" per line

Tasks here: ``emotion``, ``stance_feminist``, ``stance_climate``; any folder holding
``*_text.txt`` files is a task, any ``<split>`` prefix a split.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DataFormatError
from ._common import as_path, guard, read_text, split_lines
from .base import SocialDataset

__all__ = ["load_tweeteval", "TWEETEVAL_MAPPINGS"]

_STANCE = {"0": "none", "1": "against", "2": "favor"}
#: Label names used when a task folder has no ``mapping.txt`` (from the TweetEval repository).
TWEETEVAL_MAPPINGS: dict[str, dict[str, str]] = {
    "emotion": {"0": "anger", "1": "joy", "2": "optimism", "3": "sadness"},
    "sentiment": {"0": "negative", "1": "neutral", "2": "positive"},
    "hate": {"0": "not-hate", "1": "hate"},
    "offensive": {"0": "not-offensive", "1": "offensive"},
    "irony": {"0": "non_irony", "1": "irony"},
    "stance": _STANCE,
}


def _mapping(task_dir: Path) -> dict[str, str] | None:
    f = task_dir / "mapping.txt"
    if f.is_file():
        out = {}
        for lineno, line in enumerate(split_lines(read_text(f)), start=1):
            if not line.strip():
                continue
            parts = line.split("\t") if "\t" in line else line.split(None, 1)
            if len(parts) < 2 or not parts[0].strip():
                raise DataFormatError(f, record=lineno, field="mapping",
                                      reason="expected '<code>\\t<name>'")
            out[parts[0].strip()] = parts[1].strip()
        return out
    name = task_dir.name
    if name.startswith("stance"):
        return _STANCE
    return TWEETEVAL_MAPPINGS.get(name)


def _task_dirs(root: Path) -> list[Path]:
    if any(root.glob("*_text.txt")):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*_text.txt")))


def _load_task(task_dir: Path) -> pd.DataFrame:
    mapping = _mapping(task_dir)
    frames = []
    for tf in sorted(task_dir.glob("*_text.txt")):
        split = tf.name[: -len("_text.txt")]
        texts = split_lines(read_text(tf))
        lf = task_dir / f"{split}_labels.txt"
        if lf.is_file():
            labs = [s.strip() for s in split_lines(read_text(lf))]
            while labs and not labs[-1]:
                labs.pop()
            if len(labs) != len(texts):
                raise DataFormatError(lf, record=min(len(labs), len(texts)) + 1, field="label",
                                      reason=f"{len(labs)} labels for {len(texts)} lines of "
                                      f"{tf.name}")
            names = []
            for lineno, lab in enumerate(labs, start=1):
                if mapping is None:
                    names.append(lab or None)
                elif lab in mapping:
                    names.append(mapping[lab])
                else:
                    raise DataFormatError(lf, record=lineno, field="label",
                                          reason=f"unknown label {lab!r} (known: "
                                          f"{sorted(mapping)})")
        else:
            names = [None] * len(texts)
        frames.append(pd.DataFrame({"text": texts, "label": names, "split": split,
                                    "task": task_dir.name}))
    return pd.concat(frames, ignore_index=True)


@guard
def load_tweeteval(path: str | os.PathLike, task: str | list[str] | None = None
                   ) -> SocialDataset:
    """Load TweetEval tasks into ``labels`` with label names.

    Args:
        path: the ``tweeteval`` folder (one sub-folder per task) or one task folder.
        task: a task name (``"emotion"``, ``"stance_feminist"``, ``"stance_climate"``) or a
            list of them; ``None`` loads every task present.

    Returns:
        SocialDataset whose ``labels`` has ``text``, ``label`` (name via ``mapping.txt`` or the
        TweetEval defaults: stance 0 none / 1 against / 2 favor), ``split`` (the file prefix:
        ``train``, ``val``, ``test``...) and ``task`` (the folder name).

    Raises:
        DataFormatError: text and label files of different lengths, an unknown label code...
        ValueError: ``task`` names a task that is not in the folder.

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_tweeteval(f"{root}/tweeteval", task="emotion") if root else None
        >>> ds is None or set(ds.labels["label"]) <= {"anger", "joy", "optimism", "sadness"}
        True
    """
    root = as_path(path)
    dirs = _task_dirs(root)
    if not dirs:
        raise DataFormatError(root, field="<split>_text.txt",
                              reason="no TweetEval task folder (<split>_text.txt files)")
    if task is not None:
        wanted = [task] if isinstance(task, str) else list(task)
        by_name = {d.name: d for d in dirs}
        missing = [t for t in wanted if t not in by_name]
        if missing:
            raise ValueError(f"task(s) {missing} not in {root} (present: {sorted(by_name)})")
        dirs = [by_name[t] for t in wanted]
    labels = pd.concat([_load_task(d) for d in dirs], ignore_index=True)
    name = "tweeteval" if task is None or not isinstance(task, str) else f"tweeteval/{task}"
    return SocialDataset(name=name, source=str(root), labels=labels)
