"""NLPCC-2016 Chinese Weibo stance detection, task A: :func:`load_nlpcc_stance`.

Tab-separated files with a header ``ID TARGET TEXT STANCE`` (UTF-8, usually with a BOM);
``STANCE`` is FAVOR / AGAINST / NONE, empty for a few unlabelled rows and absent from test
files. Texts may be quoted and span several lines.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd

from ..errors import DataFormatError
from ._common import as_path, guard, read_text, split_name
from .base import SocialDataset

__all__ = ["load_nlpcc_stance"]

_REQUIRED = ("TEXT",)


def _read_tsv(path: Path) -> pd.DataFrame:
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise DataFormatError(path, record=1, reason=f"bad header: {err}") from None
    if header is None:
        raise DataFormatError(path, record=1, field="TEXT", reason="empty file (no header)")
    header = [h.strip().upper() for h in header]
    for col in _REQUIRED:
        if col not in header:
            raise DataFormatError(path, record=1, field=col,
                                  reason=f"missing column (header: {header})")
    width = len(header)
    rows, lines = [], []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise DataFormatError(path, record=start, reason=f"bad TSV row: {err}") from None
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < width:
            if len(row) == width - 1 and header[-1] == "STANCE":
                row = [*row, ""]  # unlabelled row written without the last tab
            else:
                missing = header[len(row)]
                raise DataFormatError(path, record=start, field=missing,
                                      reason=f"expected {width} tab-separated fields, "
                                      f"got {len(row)}")
        rows.append(row[:width])
        lines.append(start)
    df = pd.DataFrame(rows, columns=header)
    df["_line"] = lines
    return df


def _split(stem: str) -> str:
    """``test``/``valid``/``train`` from the file name; NLPCC's own file names mean training."""
    name = split_name(stem)
    return name if name in ("train", "valid", "test") else "train"


@guard
def load_nlpcc_stance(path: str | os.PathLike) -> SocialDataset:
    """Load NLPCC-2016 stance data (task A) into ``labels``.

    Args:
        path: the ``nlpcc2016_stance`` folder (every ``*.txt``/``*.tsv`` file is read) or one
            file.

    Returns:
        SocialDataset whose ``labels`` has ``text``, ``label`` (FAVOR/AGAINST/NONE, missing for
        unlabelled rows), ``split`` (``test``/``valid``/``train`` from the file name, training
        data by default), ``task="stance"`` and the extra columns ``id`` and ``target``.

    Raises:
        DataFormatError: a missing ``TEXT`` column, a row with too few fields, bad UTF-8...

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_nlpcc_stance(f"{root}/nlpcc2016_stance") if root else None
        >>> ds is None or set(ds.labels["label"].dropna()) == {"FAVOR", "AGAINST", "NONE"}
        True
    """
    root = as_path(path)
    files = [root] if root.is_file() else sorted(
        p for p in root.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".tsv")
        and not p.name.lower().startswith("readme"))
    if not files:
        raise DataFormatError(root, field="TEXT", reason="no .txt/.tsv stance file")
    frames = []
    for f in files:
        df = _read_tsv(f)
        stance = df["STANCE"].str.strip().str.upper() if "STANCE" in df else None
        out = pd.DataFrame({
            "text": df["TEXT"],
            "label": stance.where(stance != "", None) if stance is not None else None,
            "split": _split(f.stem),
            "task": "stance",
            "id": df["ID"] if "ID" in df else None,
            "target": df["TARGET"].str.strip() if "TARGET" in df else None,
        })
        frames.append(out)
    labels = pd.concat(frames, ignore_index=True)
    for c in ("id", "target"):
        labels[c] = labels[c].astype("string")
    return SocialDataset(name="nlpcc2016_stance", source=str(root), labels=labels)
