"""CLUE Emotion2020 (Weibo, Li et al. 2016): :func:`load_clue_emotion`.

JSON-lines files ``<split>.txt`` (or ``.json``/``.jsonl``), one ``{"id", "content", "label"}``
object per line; labels like, happiness, sadness, anger, disgust, fear, surprise.
"""

from __future__ import annotations

import os

import pandas as pd

from ..errors import DataFormatError
from ._common import as_path, guard, parse_json, read_text, split_lines
from .base import SocialDataset

__all__ = ["load_clue_emotion"]


@guard
def load_clue_emotion(path: str | os.PathLike) -> SocialDataset:
    """Load CLUE Emotion2020 JSON lines into ``labels``.

    Args:
        path: the ``clue_emotion2020`` folder (every ``*.txt``/``*.json``/``*.jsonl`` file is a
            split named by its stem, e.g. ``valid``) or one file.

    Returns:
        SocialDataset whose ``labels`` has ``text`` (``content``), ``label`` (missing when a
        line has none, as in unlabelled test files), ``split``, ``task="emotion"`` and ``id``.

    Raises:
        DataFormatError: a line that is not JSON (e.g. truncated), no ``content`` field...

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_clue_emotion(f"{root}/clue_emotion2020") if root else None
        >>> ds is None or "sadness" in set(ds.labels["label"])
        True
    """
    root = as_path(path)
    files = [root] if root.is_file() else sorted(
        p for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in (".txt", ".json", ".jsonl")
        and not p.name.lower().startswith("readme"))
    if not files:
        raise DataFormatError(root, field="content", reason="no JSON-lines file")
    text, label, split, ids = [], [], [], []
    for f in files:
        for lineno, line in enumerate(split_lines(read_text(f)), start=1):
            if not line.strip():
                continue
            try:
                rec = parse_json(line, f)
            except DataFormatError as err:
                raise DataFormatError(f, record=lineno, reason=err.reason) from None
            if not isinstance(rec, dict):
                raise DataFormatError(f, record=lineno, field="content",
                                      reason=f"expected a JSON object, got {type(rec).__name__}")
            if "content" not in rec:
                raise DataFormatError(f, record=lineno, field="content", reason="missing field")
            c, lab = rec["content"], rec.get("label")
            text.append(c if c is None or isinstance(c, str) else str(c))
            label.append(lab if lab is None or isinstance(lab, str) else str(lab))
            split.append(f.stem)
            i = rec.get("id")
            ids.append(None if i is None else str(i))
    labels = pd.DataFrame({"text": text, "label": label, "split": split, "task": "emotion",
                           "id": pd.array(ids, dtype="string")})
    return SocialDataset(name="clue_emotion2020", source=str(root), labels=labels)
