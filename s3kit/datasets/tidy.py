"""s3kit's own folder format: the :class:`SocialDataset` frames on disk (``load_tidy``).

Layout (any subset of the five tables; see docs/datasets.md, "Your own data")::

    users.csv | users.parquet       user_id, + any attribute columns (gender, bio, age ...)
    follows.csv | follows.parquet   follower, followee      (the follower sees the followee)
    posts.csv | posts.parquet       post_id, user_id, time, text, parent_id, event_id, kind
    events.csv | events.parquet     event_id, root_post_id, label, topic        (optional)
    labels.csv | labels.parquet     text, label, split, task                    (optional)
    dataset.json                    optional: name, source, timezone, column dtypes, notes

CSV files may be gzip-compressed (``posts.csv.gz``). Columns of the data model missing from a
file are filled with missing values; other columns are kept. Times (``posts.time`` and any
column whose dtype ``dataset.json`` declares ``datetime64[...]``) are ISO-8601 strings or
epoch seconds. The timezone rule: a time with an offset (``+08:00``, ``Z``) means that
instant; a time without one is local time in ``dataset.json``'s ``timezone`` (default UTC);
epoch seconds are UTC. Everything is converted to UTC. Without ``users``, the users are every
id seen in ``follows`` and ``posts``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from ._common import decode_utf8, parse_json, read_bytes
from .base import (
    EVENT_COLUMNS,
    FOLLOW_COLUMNS,
    LABEL_COLUMNS,
    POST_COLUMNS,
    USER_COLUMNS,
    SocialDataset,
)

__all__ = ["TABLES", "META_FILE", "REQUIRED", "is_tidy_folder", "table_files", "read_meta",
           "parse_times", "cast_values", "read_table", "load_tidy", "write_tidy", "write_table",
           "csv_line_numbers", "locate_csv_error", "table_dtypes"]

#: table name -> columns of the data model and their dtypes
TABLES: dict[str, dict[str, str]] = {
    "users": USER_COLUMNS,
    "follows": FOLLOW_COLUMNS,
    "posts": POST_COLUMNS,
    "events": EVENT_COLUMNS,
    "labels": LABEL_COLUMNS,
}
#: columns that must be present and non-empty in every row of a table
REQUIRED: dict[str, tuple[str, ...]] = {
    "users": ("user_id",),
    "follows": ("follower", "followee"),
    "posts": ("post_id",),
    "events": ("event_id",),
    "labels": ("text",),
}
#: optional metadata file of a tidy folder
META_FILE = "dataset.json"
SUFFIXES = (".parquet", ".csv", ".csv.gz")
_OFFSET = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
_DTYPE = re.compile(r"string|str|object|bool|boolean|U?[Ii]nt(8|16|32|64)|float(16|32|64)|"
                    r"datetime64\[(s|ms|us|ns)(, ?UTC)?\]", re.IGNORECASE)
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def table_files(folder: str | os.PathLike) -> dict[str, Path]:
    """The table files of a tidy folder, ``{"posts": Path(".../posts.csv"), ...}``.

    Raises:
        DataFormatError: one table is present in two formats (``posts.csv`` and
            ``posts.parquet``): which one is meant is ambiguous.
    """
    folder = Path(folder)
    out: dict[str, Path] = {}
    for table in TABLES:
        found = [folder / f"{table}{s}" for s in SUFFIXES if (folder / f"{table}{s}").is_file()]
        if len(found) > 1:
            raise DataFormatError(folder, field=table,
                                  reason=f"table in two files ({', '.join(p.name for p in found)})"
                                  "; keep one")
        if found:
            out[table] = found[0]
    return out


def is_tidy_folder(path: str | os.PathLike) -> bool:
    r"""Whether ``path`` is a folder in the tidy format (a table file or ``dataset.json``).

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> is_tidy_folder(d)
        False
        >>> _ = (d / "follows.csv").write_text("follower,followee\na,b\n")
        >>> is_tidy_folder(d)
        True
    """
    p = Path(path)
    if not p.is_dir():
        return False
    if (p / META_FILE).is_file():
        return True
    return any((p / f"{t}{s}").is_file() for t in TABLES for s in SUFFIXES)


def read_meta(folder: str | os.PathLike) -> dict[str, Any]:
    """``dataset.json`` of a tidy folder as a dict (``{}`` when absent).

    Raises:
        DataFormatError: the file is not a JSON object, or ``timezone`` is unknown.
    """
    path = Path(folder) / META_FILE
    if not path.is_file():
        return {}
    meta = parse_json(decode_utf8(read_bytes(path), path), path)
    if not isinstance(meta, dict):
        raise DataFormatError(path, record="top-level value", reason="expected a JSON object")
    tz = meta.get("timezone", "UTC")
    try:
        pd.Timestamp("2020-01-01").tz_localize(tz)
    except Exception:  # noqa: BLE001 - any failure means an unusable zone name
        raise DataFormatError(path, field="timezone",
                              reason=f"unknown timezone {tz!r} (expected an IANA name such "
                              "as 'UTC' or 'Asia/Shanghai')") from None
    tables = meta.get("tables", {})
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise DataFormatError(path, field="tables",
                              reason="expected {table: {dtypes: {column: dtype}}}")
    for table, spec in tables.items():
        dtypes = spec.get("dtypes", {})
        if not isinstance(dtypes, dict):
            raise DataFormatError(path, field=f"tables.{table}.dtypes",
                                  reason="expected {column: dtype}")
        for col, dtype in dtypes.items():
            if not (isinstance(dtype, str) and _DTYPE.fullmatch(dtype.strip())):
                raise DataFormatError(path, field=f"tables.{table}.dtypes.{col}",
                                      reason=f"unsupported dtype {dtype!r} (expected string, "
                                      "Int64, float64, boolean or datetime64[ns, UTC])")
    return meta


def table_dtypes(meta: dict, table: str) -> dict[str, str]:
    """Column dtypes of ``table``: the tidy format's, plus those ``meta`` (meta.json) declares."""
    declared = meta.get("tables", {}).get(table, {}).get("dtypes", {})
    return {**declared, **TABLES[table]} if isinstance(declared, dict) else dict(TABLES[table])


def parse_times(values: pd.Series, timezone: str = "UTC") -> tuple[pd.Series, np.ndarray]:
    """Parse ISO-8601 strings or epoch seconds to UTC, by the folder's timezone rule.

    Args:
        values: strings (or numbers); missing/empty values stay missing.
        timezone: zone of times written without an offset.

    Returns:
        ``(times, bad)``: ``datetime64[ns, UTC]`` values and a boolean array marking the
        non-empty values that are not a time.

    Examples:
        >>> t, bad = parse_times(pd.Series(["2024-05-01T08:00:00+08:00", "1714521600",
        ...                                 "2024-05-01 00:00", "", "soon"]))
        >>> t.dt.strftime("%Y-%m-%d %H:%M").tolist()[:3]
        ['2024-05-01 00:00', '2024-05-01 00:00', '2024-05-01 00:00']
        >>> bad.tolist()
        [False, False, False, False, True]
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        t = pd.Series(pd.DatetimeIndex(values))
        if t.dt.tz is None:
            t = t.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
        return t.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"), np.zeros(len(t), bool)
    text = pd.Series(values, dtype="object").reset_index(drop=True).map(
        lambda v: v.strip() if isinstance(v, str) else v)
    present = (text.notna() & (text != "")).to_numpy(bool)
    ns = np.full(len(text), np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    num = pd.to_numeric(text.where(pd.Series(present)), errors="coerce").to_numpy(
        float, na_value=np.nan)
    is_num = np.isfinite(num)
    ok = is_num & (np.abs(np.where(is_num, num, 0.0)) <= 1e11)
    ns[ok] = np.round(num[ok] * 1e9).astype(np.int64)
    rest = present & ~is_num
    if rest.any():
        strs = text[rest].astype(str)
        pos = np.flatnonzero(rest)
        aware = strs.str.contains(_OFFSET).to_numpy(bool)
        if aware.any():
            t = pd.to_datetime(strs[aware], utc=True, format="ISO8601", errors="coerce")
            ns[pos[aware]] = _as_ns(t)
        if (~aware).any():
            t = pd.to_datetime(strs[~aware], format="ISO8601", errors="coerce")
            if t.dt.tz is None:
                t = t.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            ns[pos[~aware]] = _as_ns(t)
    out = pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")
    bad = present & out.isna().to_numpy(bool)
    return out, bad


def _as_ns(t: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a datetime Series; NaT and overflow -> int64 min."""
    if t.dt.tz is None:
        t = t.dt.tz_localize("UTC")
    t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    unit = np.datetime_data(t.dtype)[0]
    vals = t.to_numpy().view(np.int64)
    scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    fits = t.notna().to_numpy(bool) & (np.abs(vals) < np.iinfo(np.int64).max // scale)
    out = np.full(len(vals), np.iinfo(np.int64).min, dtype=np.int64)
    out[fits] = vals[fits] * scale
    return out


def cast_values(values: pd.Series, dtype: str, timezone: str = "UTC"
                ) -> tuple[pd.Series, np.ndarray]:
    """Cast one column read as text to ``dtype``; returns ``(column, bad)``.

    ``bad`` marks non-empty values that do not fit (``"abc"`` for ``Int64``). Supported:
    ``string``/``str``/``object`` (kept as text), ``Int64``/``int64``..., ``float64``,
    ``boolean``/``bool`` (true/false/1/0/yes/no), ``datetime64[..., UTC]``.
    """
    values = pd.Series(values).reset_index(drop=True)
    if dtype.startswith("datetime64"):
        t, bad = parse_times(values, timezone)
        m = re.match(r"datetime64\[(\w+)", dtype)
        unit = m.group(1) if m and m.group(1) in ("s", "ms", "us", "ns") else "ns"
        if "utc" not in dtype.lower():  # a zone-less column: wall time in the folder's zone
            return t.dt.tz_convert(timezone).dt.tz_localize(None).astype(
                f"datetime64[{unit}]"), bad
        return t.astype(f"datetime64[{unit}, UTC]"), bad
    if values.dtype.kind in "biufM" or isinstance(values.dtype, pd.BooleanDtype):
        try:  # already typed (parquet): a plain cast
            return values.astype(dtype), np.zeros(len(values), bool)
        except (TypeError, ValueError):
            values = values.astype("string")
    text = values.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy(bool)
    kind = dtype.lower()
    if kind in ("string", "str", "object"):
        return values.astype("string"), np.zeros(len(values), bool)
    if kind in ("bool", "boolean"):
        low = text.str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[low.isin(_TRUE).fillna(False).to_numpy(bool)] = True
        out[low.isin(_FALSE).fillna(False).to_numpy(bool)] = False
        bad = present & out.isna().to_numpy(bool)
        if kind == "bool" and not bad.any() and out.notna().all():
            return out.astype(bool), bad
        return out, bad
    num = pd.to_numeric(text.where(pd.Series(present)), errors="coerce")
    bad = present & num.isna().to_numpy(bool)
    if kind.startswith(("int", "uint")):
        frac = num.notna().to_numpy(bool) & (num.fillna(0).to_numpy(float) % 1 != 0)
        bad |= frac
        num = num.where(~pd.Series(frac))
        nullable = "Int64" if kind.startswith("int") else "UInt64"
        target = dtype if (dtype[0].isupper() or not (~present).any()) else nullable
        try:
            return num.astype(target), bad
        except (TypeError, ValueError, OverflowError):
            return num.astype("float64"), bad | present
    if kind.startswith("float"):
        return num.astype(dtype), bad
    raise ValueError(f"unsupported dtype {dtype!r}")


def _open_text(path: Path):
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def csv_line_numbers(path: str | os.PathLike, rows: list[int]) -> dict[int, int]:
    """Physical line numbers (1-based) of data rows (0-based, header excluded) of a CSV.

    Streams the file once with :mod:`csv` (a quoted field may span lines, so the row index
    alone does not give the line).
    """
    want = set(rows)
    out: dict[int, int] = {}
    if not want:
        return out
    last = max(want)
    with _open_text(Path(path)) as fh:
        reader = csv.reader(fh)
        start = 1
        for i, _ in enumerate(reader, start=-1):  # -1 is the header
            if i in want:
                out[i] = start
            start = reader.line_num + 1
            if i >= last:
                break
    return out


def read_table(path: str | os.PathLike, table: str, meta: dict | None = None,
               columns: list[str] | None = None) -> pd.DataFrame:
    """Read one table file of a tidy folder with the data model's dtypes.

    Args:
        path: ``<table>.csv``, ``<table>.csv.gz`` or ``<table>.parquet``.
        table: ``users``, ``follows``, ``posts``, ``events`` or ``labels``.
        meta: the folder's ``dataset.json`` (:func:`read_meta`), for dtypes and timezone.
        columns: read only these columns (``None``: all).

    Returns:
        The frame; known columns cast to the data model's dtypes, other columns to the dtype
        ``dataset.json`` declares, else numbers when every value is a number, else text.

    Raises:
        DataFormatError: unreadable file, missing required column, empty required value, a
            value that does not fit its dtype (naming the line for CSV, the row for parquet).
    """
    path = Path(path)
    meta = meta or {}
    tz = meta.get("timezone", "UTC")
    dtypes = table_dtypes(meta, table)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            df = pq.read_table(path, columns=columns).to_pandas()
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise DataFormatError(path, field=table,
                                  reason=f"cannot read parquet file: {err}") from None
        row_name = _parquet_row
    else:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                             usecols=columns, encoding="utf-8-sig")
        except pd.errors.EmptyDataError:
            df = pd.DataFrame(columns=list(TABLES[table]))
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError) as err:
            line, field = locate_csv_error(path, err)
            raise DataFormatError(path, record=line, field=field,
                                  reason=f"not a readable CSV file ({_short(err)})") from None
        row_name = None
    df.columns = [str(c) for c in df.columns]
    problems = check_frame(df, table, dtypes, tz)
    if problems:
        row, field, reason = problems[0]
        record = (row_name(row) if row_name else csv_line_numbers(path, [row]).get(row)
                  ) if row is not None else None
        raise DataFormatError(path, record=record, field=field, reason=reason)
    return _typed(df, dtypes, tz)


def _parquet_row(i: int) -> str:
    return f"row {i + 1}"


def _short(err: Exception) -> str:
    return str(err).strip().splitlines()[-1][:200] if str(err).strip() else type(err).__name__


def locate_csv_error(path: str | os.PathLike, err: Exception) -> tuple[int | None, str]:
    """``(line, field)`` of the first place pandas could not read in a CSV.

    Scans the file once: the first line that is not UTF-8, or the first record whose field
    count differs from the header's (``field="columns"``), or an unterminated quote
    (``field="quote"``); else the line pandas names, if any.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return lineno, "encoding"
        with _open_text(path) as fh:
            reader = csv.reader(fh, strict=True)
            width = None
            start = 1
            for row in reader:
                if width is None:
                    width = len(row)
                elif row and len(row) > width:
                    return start, "columns"
                start = reader.line_num + 1
    except csv.Error:
        return start, "quote"
    except (OSError, EOFError, UnicodeDecodeError):
        return None, "file"
    m = re.search(r"line (\d+)", str(err))
    return (int(m.group(1)) if m else None), "columns"


def check_frame(df: pd.DataFrame, table: str, dtypes: dict[str, str], timezone: str = "UTC",
                offset: int = 0) -> list[tuple[int | None, str, str]]:
    """Problems of one (chunk of a) table: ``[(row, field, what is wrong + expected)]``.

    ``row`` is 0-based in the table (``offset`` + the chunk's row), ``None`` for a problem of
    the whole file (a missing column). Checks required columns and values and the dtype of
    every column (:func:`cast_values`); cross-table references are not checked here.
    """
    out: list[tuple[int | None, str, str]] = []
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    for col in REQUIRED[table]:
        if col not in df.columns:
            if table == "posts" and col == "post_id":
                continue  # generated from the row number
            out.append((None, col, f"missing column (expected columns "
                        f"{', '.join(TABLES[table])}; extra columns are kept)"))
            continue
        vals = df[col].astype("string").str.strip()
        empty = np.flatnonzero((vals.isna() | (vals == "")).to_numpy(bool))
        if len(empty):
            out.append((offset + int(empty[0]), col,
                        f"empty value ({len(empty)} rows in this block; expected an id)"))
    for col in df.columns:
        dtype = dtypes.get(col)
        if dtype is None or str(df[col].dtype) == dtype:  # typed already (parquet)
            continue
        try:
            _, bad = cast_values(df[col], dtype, timezone)
        except ValueError as err:
            out.append((None, col, str(err)))
            continue
        idx = np.flatnonzero(bad)
        if len(idx):
            v = df[col].iloc[int(idx[0])]
            want = ("an ISO-8601 time (2024-05-01T08:00:00+08:00) or epoch seconds"
                    if dtype.startswith("datetime64") else f"a {dtype} value")
            out.append((offset + int(idx[0]), col, f"{str(v)[:60]!r} is not {want}"))
    return out


def _typed(df: pd.DataFrame, dtypes: dict[str, str], timezone: str) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    for col in df.columns:
        dtype = dtypes.get(col)
        if dtype is not None:
            if str(df[col].dtype) != dtype:
                df[col] = cast_values(df[col], dtype, timezone)[0]
        elif df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            num = pd.to_numeric(df[col], errors="coerce")
            present = df[col].notna()
            if present.any() and num[present].notna().all():
                whole = (num[present] % 1 == 0).all()
                df[col] = num.astype("Int64") if whole else num.astype("float64")
            else:
                df[col] = df[col].astype("string")
    return df


def load_tidy(path: str | os.PathLike, name: str | None = None, progress: bool = False
              ) -> SocialDataset:
    r"""Load a folder in s3kit's tidy format (module docstring, docs/datasets.md).

    Args:
        path: the folder.
        name: dataset name (default: ``dataset.json``'s ``name``, else the folder name).
        progress: unused (the tables are read whole); kept for the loaders' signature.

    Returns:
        The :class:`SocialDataset`; ``users`` is every id of ``follows``/``posts`` when the
        folder has no users table; ``posts.post_id`` is ``"<row>"`` when the column is absent.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        DataFormatError: not a tidy folder, or a file is malformed (file, line/row, field).

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "follows.csv").write_text("follower,followee\nann,bob\nbob,ann\n")
        >>> _ = (d / "posts.csv").write_text("post_id,user_id,time,text\n"
        ...                                  "1,ann,2024-05-01T08:00:00+08:00,hello\n")
        >>> ds = load_tidy(d)
        >>> ds.users["user_id"].tolist(), str(ds.posts["time"][0])
        (['ann', 'bob'], '2024-05-01 00:00:00+00:00')
    """
    folder = Path(path).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"{folder} does not exist")
    if not is_tidy_folder(folder):
        raise DataFormatError(folder, field="users/follows/posts",
                              reason="not a tidy folder: expected users, follows, posts, "
                              "events or labels as .csv/.csv.gz/.parquet")
    meta = read_meta(folder)
    files = table_files(folder)
    frames = {t: read_table(f, t, meta) for t, f in files.items()}
    posts = frames.get("posts")
    if posts is not None and "post_id" not in posts.columns:
        posts.insert(0, "post_id", pd.array([str(i) for i in range(len(posts))],
                                            dtype="string"))
    if "users" not in frames:
        ids = []
        if "follows" in frames:
            ids += frames["follows"]["follower"].tolist() + frames["follows"]["followee"].tolist()
        if posts is not None and "user_id" in posts.columns:
            ids += posts["user_id"].dropna().tolist()
        frames["users"] = pd.DataFrame({"user_id": pd.array(list(dict.fromkeys(ids)),
                                                            dtype="string")})
    ds_name = name or str(meta.get("name") or folder.name)
    return SocialDataset(name=ds_name, source=str(meta.get("source") or folder), **frames)


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write one table as ``.parquet`` or ``.csv`` (by the suffix of ``path``).

    CSV: UTF-8, every text field quoted (a lone carriage return inside a post must not end
    the record), times as ISO-8601 with their UTC offset, missing values empty.
    """
    path = Path(path)
    if path.name.endswith((".parquet", ".parquet.tmp")):
        frame.to_parquet(path, index=False)
        return path
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].map(lambda t: t.isoformat() if pd.notna(t) else None)
    out.to_csv(path, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
    return path


def write_tidy(ds: SocialDataset, path: str | os.PathLike, format: str = "parquet",  # noqa: A002
               notes: list[str] | None = None) -> Path:
    """Write a dataset as a tidy folder (all five tables + ``dataset.json``).

    Args:
        ds: the dataset.
        path: the folder (created; existing table files of the same names are replaced).
        format: ``"parquet"`` (exact dtypes, compact) or ``"csv"`` (UTF-8, times as ISO-8601
            UTC; dtypes recorded in ``dataset.json`` so they load back the same).
        notes: what the data cannot say (written to ``dataset.json``; converters fill it).

    Returns:
        The folder.
    """
    if format not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', got {format!r}")
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"format": "s3kit-tidy", "version": 1, "name": ds.name,
                            "source": ds.source, "timezone": "UTC", "tables": {},
                            "notes": list(notes or [])}
    for table in TABLES:
        df = getattr(ds, table)
        for s in SUFFIXES:
            (folder / f"{table}{s}").unlink(missing_ok=True)
        target = folder / f"{table}.{format}"
        write_table(df, target)
        meta["tables"][table] = {"file": target.name, "rows": int(len(df)),
                                 "dtypes": {c: str(t) for c, t in df.dtypes.items()}}
    tmp = folder / f".{META_FILE}.tmp"
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(folder / META_FILE)
    return folder
