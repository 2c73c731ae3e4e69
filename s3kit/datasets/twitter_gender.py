"""Twitter User Gender Classification (CrowdFlower / Kaggle): :func:`load_twitter_gender`.

One CSV (``gender-classifier-DFE-791531.csv``) with one row per user: ``_unit_id``,
``gender`` (male/female/brand/unknown), ``gender:confidence``, ``description`` (bio), ``text``
(one tweet), ``name``, ``created``, ``tweet_created`` ... The public copy mixes encodings
(UTF-8 lines, cp1252/latin-1 lines, mojibake) and ends with empty rows.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from ._common import as_path, decode_lenient, guard, read_bytes
from .base import SocialDataset

__all__ = ["load_twitter_gender"]

_REQUIRED = ("_unit_id", "gender", "description", "text")
_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%y %H:%M", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S")


def _read_csv(path: Path) -> tuple[pd.DataFrame, list[int]]:
    text = decode_lenient(read_bytes(path)).replace("\x00", "")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise DataFormatError(path, record=1, reason=f"bad CSV header: {err}") from None
    if not header:
        raise DataFormatError(path, record=1, field="_unit_id", reason="empty file (no header)")
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for col in header:
        if col in seen:
            raise DataFormatError(path, record=1, field=col,
                                  reason="duplicate column name in the header")
        seen.add(col)
    for col in _REQUIRED:
        if col not in header:
            raise DataFormatError(path, record=1, field=col,
                                  reason=f"missing column (header has {len(header)} columns)")
    width = len(header)
    rows, lines = [], []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise DataFormatError(path, record=start, reason=f"bad CSV row: {err}") from None
        if not row or all(not c.strip() for c in row):
            continue  # the trailing empty rows of the truncated copy
        if len(row) < width:
            row = row + [""] * (width - len(row))
        rows.append(row[:width])
        lines.append(start)
    return pd.DataFrame(rows, columns=header), lines


def _dates(values: pd.Series, path: Path, lines: list[int], field: str) -> pd.Series:
    s = values.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    todo = s != ""
    for fmt in _DATE_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce", utc=True)
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok]
        todo &= ~out.notna()
    if todo.any():
        i = int(np.flatnonzero(todo.to_numpy())[0])
        raise DataFormatError(path, record=lines[i], field=field,
                              reason=f"unparseable date {s.iloc[i]!r} (expected "
                              "'MM/DD/YYYY HH:MM')")
    return out


@guard
def load_twitter_gender(path: str | os.PathLike) -> SocialDataset:
    """Load the Twitter gender CSV: users with gender and bio, their tweet as a post.

    Bytes that are not UTF-8 are decoded per line as cp1252 (else latin-1), so a garbled line
    never stops the load. Rows without ``_unit_id`` (the empty tail) are skipped. Dates have no
    time zone in the file and are read as UTC.

    Args:
        path: the ``twitter_gender`` folder (its ``*.csv`` files) or the CSV file.

    Returns:
        SocialDataset: ``users`` (``user_id`` = ``_unit_id``, ``name``, ``gender``,
        ``gender_confidence``, ``bio`` = ``description``, ``created_at``, other columns kept as
        text) and ``posts`` (``text``, ``time`` = ``tweet_created``, ``kind="original"``).

    Raises:
        DataFormatError: a missing column (e.g. ``gender``), an unparseable date...

    Examples:
        >>> import os
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_twitter_gender(f"{root}/twitter_gender") if root else None
        >>> ds is None or {"male", "female"} <= set(ds.users["gender"].dropna())
        True
    """
    root = as_path(path)
    files = [root] if root.is_file() else sorted(root.glob("*.csv"))
    if not files:
        raise DataFormatError(root, field="_unit_id", reason="no .csv file")
    users_f, posts_f = [], []
    for f in files:
        df, lines = _read_csv(f)
        keep = (df["_unit_id"].str.strip() != "").to_numpy()
        df = df[keep].reset_index(drop=True)
        lines = [ln for ln, k in zip(lines, keep, strict=True) if k]
        df = df.replace("", None)
        conf = pd.to_numeric(df.get("gender:confidence"), errors="coerce") \
            if "gender:confidence" in df else np.nan
        users = pd.DataFrame({
            "user_id": df["_unit_id"].str.strip(),
            "name": df.get("name"),
            "gender": df["gender"].str.strip().str.lower(),
            "gender_confidence": conf,
            "bio": df["description"],
            "created_at": _dates(df["created"], f, lines, "created") if "created" in df
            else pd.NaT,
        })
        used = {"_unit_id", "name", "gender", "gender:confidence", "description", "created",
                "text", "tweet_created", "tweet_id"}
        for col in df.columns:
            if col not in used:
                users[col] = df[col]
        posts = pd.DataFrame({
            "post_id": df["_unit_id"].str.strip(),
            "user_id": df["_unit_id"].str.strip(),
            "time": _dates(df["tweet_created"], f, lines, "tweet_created")
            if "tweet_created" in df else pd.NaT,
            "text": df["text"],
            "parent_id": None, "event_id": None, "kind": "original",
            "tweet_id": df.get("tweet_id"),
        })
        users_f.append(users)
        posts_f.append(posts)
    users = pd.concat(users_f, ignore_index=True).drop_duplicates("user_id")
    posts = pd.concat(posts_f, ignore_index=True).drop_duplicates("post_id")
    for c in users.columns:
        if c not in ("user_id", "gender_confidence", "created_at"):
            users[c] = users[c].astype("string")
    posts["tweet_id"] = posts["tweet_id"].astype("string")
    return SocialDataset(name="twitter_gender", source=str(root), users=users, posts=posts)
