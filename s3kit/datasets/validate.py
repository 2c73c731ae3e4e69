"""Check a data folder without loading it whole: :func:`validate_folder` (``s3kit data validate``).

A tidy folder (:mod:`s3kit.datasets.tidy`) is read in blocks of ``chunk_rows`` rows (CSV through
pandas' chunked reader, parquet by record batches), so memory does not grow with the length of
a file: what is kept across blocks is the set of ``users.user_id`` (when there is a users
table, to check that follows and posts name known users) and the set of ``posts.post_id``
(duplicates, ``parent_id`` / ``root_post_id`` references). A follows-only folder (a converted
edge list) therefore validates in constant memory. Folders of the public formats (CED,
Twitter15/16, MCID, ...) are checked by their loader, which stops at the first problem; raw
converter inputs (an edge list, a SNAP interaction file) are streamed line by line by
:func:`validate_file`.

Nothing is ever written to the folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from .convert import iter_edge_lines, iter_interaction_lines
from .registry import LOADERS, available_datasets, is_trees_folder
from .tidy import (
    TABLES,
    check_frame,
    csv_line_numbers,
    is_tidy_folder,
    locate_csv_error,
    read_meta,
    table_dtypes,
    table_files,
)

__all__ = ["Problem", "validate_folder", "validate_file"]

#: table order of the checks: users first (references), posts before events (root posts)
_ORDER = ("users", "posts", "follows", "events", "labels")


@dataclass(frozen=True)
class Problem:
    """One problem found by the validator.

    Attributes:
        file: the file (or folder) concerned.
        record: where in it: a 1-based line number (CSV, text), ``"row N"`` (parquet, 1-based),
            or ``None`` for the whole file.
        field: the column / field concerned, if any.
        reason: what is wrong and what is expected.

    Examples:
        >>> str(Problem("posts.csv", 4, "time", "'soon' is not a time"))
        "posts.csv:4: field 'time': 'soon' is not a time"
    """

    file: str
    record: int | str | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file + (f":{self.record}" if self.record is not None else "")
        what = f" field {self.field!r}:" if self.field else ""
        return f"{where}:{what} {self.reason}"

    @classmethod
    def from_error(cls, err: DataFormatError) -> Problem:
        """The problem a loader's :class:`~s3kit.errors.DataFormatError` describes."""
        return cls(err.path, err.record, err.field, err.reason)


class _Collector:
    """Problems of one file, at most ``cap`` per (field, kind); rows resolved to lines later."""

    def __init__(self, path: Path, cap: int):
        self.path = path
        self.cap = cap
        self.items: list[tuple[int | None, str | None, str]] = []
        self.counts: dict[tuple, int] = {}

    def add(self, row: int | None, field: str | None, reason: str, kind: str | None = None
            ) -> None:
        key = (field, kind or reason.split(" (")[0][:40])
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        if n < self.cap:
            self.items.append((row, field, reason))

    def problems(self) -> list[Problem]:
        rows = [r for r, _, _ in self.items if r is not None]
        if self.path.suffix == ".parquet":
            where = {r: f"row {r + 1}" for r in rows}
        else:
            where = csv_line_numbers(self.path, rows)
        out = [Problem(str(self.path), where.get(r) if r is not None else None, f, why)
               for r, f, why in self.items]
        for (field, kind), n in self.counts.items():
            if n > self.cap:
                out.append(Problem(str(self.path), None, field,
                                   f"{n - self.cap} more rows with this problem ({kind})"))
        return out


def _blocks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows, ``chunk_rows`` at a time (as text for CSV, typed for parquet)."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:  # no pre-buffering or threads, pool memory handed back: RSS stays flat
            pf = pq.ParquetFile(path, pre_buffer=False)
            for batch in pf.iter_batches(batch_size=chunk_rows, use_threads=False):
                frame = batch.to_pandas()
                del batch
                pa.default_memory_pool().release_unused()
                yield frame
        except (OSError, ValueError, TypeError, KeyError) as err:
            raise DataFormatError(path, field=path.name.split(".")[0],
                                  reason=f"cannot read parquet file: {err}") from None
        return
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                             chunksize=chunk_rows, encoding="utf-8-sig")
        for chunk in reader:
            chunk.columns = [str(c) for c in chunk.columns]
            yield chunk
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError) as err:
        msg = str(err).strip().splitlines()[-1][:200] if str(err).strip() else type(err).__name__
        line, field = locate_csv_error(path, err)
        raise DataFormatError(path, record=line, field=field,
                              reason=f"not a readable CSV file ({msg})") from None


def _ids(values: pd.Series) -> np.ndarray:
    return values.astype("string").str.strip().to_numpy(dtype=object, na_value=None)


def _check_unique(col, chunk, offset: int, field: str, seen: set, what: str) -> None:
    """Report each id of ``chunk[field]`` already in ``seen``; add the new ones to it."""
    for i, v in enumerate(_ids(chunk[field])):
        if v in seen:
            col.add(offset + i, field, f"duplicate {what} {v!r}", kind="duplicate")
        elif v:
            seen.add(v)


def _check_refs(col: _Collector, chunk: pd.DataFrame, offset: int, field: str, known: set,
                what: str) -> None:
    if field not in chunk.columns:
        return
    vals = _ids(chunk[field])
    for i, v in enumerate(vals):
        if v is not None and v != "" and v not in known:
            col.add(offset + i, field, f"{v!r} is not a {what}", kind="unknown reference")


def _validate_tidy(folder: Path, chunk_rows: int, cap: int) -> list[Problem]:
    problems: list[Problem] = []
    try:
        meta = read_meta(folder)
        files = table_files(folder)
    except DataFormatError as err:
        return [Problem.from_error(err)]
    tz = meta.get("timezone", "UTC")
    users: set | None = set() if "users" in files else None
    post_ids: set = set()
    parents: list[tuple[int, str]] = []
    for table in _ORDER:
        path = files.get(table)
        if path is None:
            continue
        dtypes = table_dtypes(meta, table)
        col = _Collector(path, cap)
        offset = 0
        missing: set[str] = set()
        seen_events: set = set()
        try:
            for chunk in _blocks(path, chunk_rows):
                for row, field, why in check_frame(chunk, table, dtypes, tz, offset):
                    if row is None:
                        if field not in missing:
                            missing.add(field)
                            col.add(None, field, why)
                    else:
                        col.add(row, field, why)
                if table == "users" and "user_id" in chunk.columns:
                    _check_unique(col, chunk, offset, "user_id", users, "user id")
                elif table == "posts":
                    if "post_id" in chunk.columns:
                        _check_unique(col, chunk, offset, "post_id", post_ids, "post id")
                    else:
                        post_ids.update(str(offset + i) for i in range(len(chunk)))
                    if "parent_id" in chunk.columns:
                        pv = _ids(chunk["parent_id"])
                        parents += [(offset + i, v) for i, v in enumerate(pv) if v]
                    if users is not None:
                        _check_refs(col, chunk, offset, "user_id", users,
                                    "user of users (expected a user_id of the users table)")
                elif table == "follows" and users is not None:
                    for field in ("follower", "followee"):
                        _check_refs(col, chunk, offset, field, users,
                                    "user of users (expected a user_id of the users table)")
                elif table == "events":
                    if "event_id" in chunk.columns:
                        _check_unique(col, chunk, offset, "event_id", seen_events, "event id")
                    if "posts" in files:
                        _check_refs(col, chunk, offset, "root_post_id", post_ids,
                                    "post of posts (expected a post_id of the posts table)")
                offset += len(chunk)
        except DataFormatError as err:  # unreadable from here on: report and go on
            problems.append(Problem.from_error(err))
        if table == "posts":
            for row, v in parents:
                if v not in post_ids:
                    col.add(row, "parent_id",
                            f"{v!r} is not a post of posts (expected a post_id or empty)",
                            kind="unknown reference")
            parents = []
        problems += col.problems()
    if not files:
        problems.append(Problem(str(folder), None, None,
                                "no table file (expected users/follows/posts/events/labels "
                                ".csv, .csv.gz or .parquet)"))
    return problems


def _validate_known(folder: Path) -> list[Problem] | None:
    """Check a folder of a public format with its loader; ``None`` if no format matches."""
    for name, (loader, ok) in LOADERS.items():
        if ((folder.name == name and ok(folder))
                or (name == "twitter15" and is_trees_folder(folder))):
            try:
                kwargs = {"progress": False} if name in ("ced", "twitter15", "mcid_twitter"
                                                         ) else {}
                loader(folder, **kwargs)
            except DataFormatError as err:
                return [Problem.from_error(err)]
            return []
    return None


def validate_folder(path: str | os.PathLike, chunk_rows: int = 250_000, max_per_field: int = 10
                    ) -> list[Problem]:
    r"""Check a data folder (tidy format or a public format) and list its problems.

    Args:
        path: the folder (or a single tidy table file such as ``posts.csv``); a data folder
            laid out like ``shared/data`` has each of its datasets checked.
        chunk_rows: rows per block when streaming a tidy table.
        max_per_field: problems listed per (file, field, kind); the rest are counted.

    Returns:
        The problems, in file order (empty when the folder is clean). Tidy folders are
        checked in full: required columns and values, every value's dtype (times by the
        folder's timezone rule), duplicate ids, and references (follows/posts -> users when
        there is a users table, ``parent_id`` and ``events.root_post_id`` -> posts).

    Raises:
        FileNotFoundError: ``path`` does not exist.

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "follows.csv").write_text("follower,followee\nann,bob\n,bob\n")
        >>> [str(p).split("/")[-1] for p in validate_folder(d)]
        ["follows.csv:3: field 'follower': empty value (1 rows in this block; expected an id)"]
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    if p.is_file():
        table = p.name.split(".")[0]
        if table in TABLES:
            return _validate_tidy_file(p, table, chunk_rows, max_per_field)
        return [Problem(str(p), None, None, "a single file: pass its format "
                        "(validate_file(path, 'edgelist' | 'interactions')) or its folder")]
    if is_tidy_folder(p):
        return _validate_tidy(p, chunk_rows, max_per_field)
    known = _validate_known(p)
    if known is not None:
        return known
    names = available_datasets(p)  # a data folder laid out like shared/data: each dataset
    if names:
        return [problem for name in names
                for problem in validate_folder(p / name, chunk_rows, max_per_field)]
    return [Problem(str(p), None, None,
                    "not a folder in a supported format (expected the tidy format: "
                    "users/follows/posts/events/labels .csv or .parquet; or a public dataset "
                    f"folder named one of {sorted(LOADERS)}, or label.txt + tree/)")]


def _validate_tidy_file(path: Path, table: str, chunk_rows: int, cap: int) -> list[Problem]:
    col = _Collector(path, cap)
    meta = read_meta(path.parent)
    offset = 0
    try:
        for chunk in _blocks(path, chunk_rows):
            for row, field, why in check_frame(chunk, table, table_dtypes(meta, table),
                                               meta.get("timezone", "UTC"), offset):
                col.add(row, field, why)
            offset += len(chunk)
    except DataFormatError as err:
        return col.problems() + [Problem.from_error(err)]
    return col.problems()


def validate_file(path: str | os.PathLike, fmt: str, max_per_field: int = 10,
                  **options) -> list[Problem]:
    """Stream-check a converter input: an edge list or a SNAP interaction file.

    Args:
        path: the file (``.gz`` accepted).
        fmt: ``"edgelist"`` or ``"interactions"`` (as for ``s3kit data convert --from``).
        max_per_field: problems listed per field and kind; the rest are counted.
        **options: the converter's parsing options (``delimiter``, ``comment``).

    Returns:
        The problems (line numbers are 1-based physical lines); memory stays constant.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{p} is not a file")
    if fmt not in ("edgelist", "interactions"):
        raise ValueError(f"validate_file checks 'edgelist' or 'interactions', got {fmt!r}")
    lines = iter_edge_lines if fmt == "edgelist" else iter_interaction_lines
    col = _Collector(p, max_per_field)
    try:
        for lineno, _, error in lines(p, **options):
            if error is not None:
                field, why = error
                col.add(lineno, field, why)
    except DataFormatError as err:
        return [Problem(str(p), r, f, w) for r, f, w in col.items] + [Problem.from_error(err)]
    out = [Problem(str(p), r, f, w) for r, f, w in col.items]
    for (field, kind), n in col.counts.items():
        if n > col.cap:
            out.append(Problem(str(p), None, field, f"{n - col.cap} more lines with this "
                               f"problem ({kind})"))
    return out

