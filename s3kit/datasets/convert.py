"""Converters from common exports to the tidy folder format (``s3kit data convert``).

Each converter writes a folder that :func:`s3kit.datasets.load_dataset` reads and records in
its ``dataset.json`` ``notes`` what the source cannot say. What maps to what:

=================  ==========================================================================
``edgelist``       ``a b`` / ``a,b`` / ``a<TAB>b`` per line (SNAP style; ``#`` or ``%``
                   comment lines, blank lines skipped, extra columns such as a weight ignored,
                   ``.gz`` read directly) -> ``follows`` (``follower=a, followee=b``, i.e. "a
                   follows b"; ``reverse=True`` for "b follows a"; ``undirected=True`` writes
                   both directions). Streamed: memory does not grow with the file. No users
                   table (the users are the ids of the edges, without attributes), no posts.
``interactions``   SNAP Twitter activity, ``userA userB timestamp interaction`` with
                   interaction ``RT``/``MT``/``RE`` (retweet/mention/reply; epoch seconds,
                   UTC) -> ``posts``: each line is a post by ``userA`` at ``timestamp``
                   (``kind`` repost / original / reply, ``interaction`` and ``target_user``
                   columns). A retweet or reply has ``parent_id`` = the latest post of
                   ``userB`` in the same event at or before that time; when ``userB`` has
                   none, an implicit post of ``userB`` (``kind="original"``, ``implicit``
                   true) is added at that time, since the original tweet is not in the file.
                   Events: one per file, or one per ``window_hours`` window of time. No text
                   (empty), no follow graph unless ``follows=`` names an edge list (then the
                   repost task can use exposure; without it, replays use the reply/repost
                   proxy graph and the repost task is skipped).
``graph``          a networkx-readable file (GraphML, GEXF, edge list) -> ``follows`` (edge
                   ``u -> v`` = "u follows v"; undirected graphs give both directions) and
                   ``users`` with the node attributes as columns. No posts.
``table``          a pandas DataFrame or a CSV whose columns are named by the caller
                   (``user_col``, ``time_col``, ``text_col``, ...) -> ``posts`` (+ ``users``),
                   ``users`` or ``follows``; other columns are kept.
=================  ==========================================================================

Tasks need: emotion/attitude -> a ``labels`` table (task ``emotion`` / ``attitude`` or
``stance...``) or labelled text; gender -> ``users.gender``; content and the emotion/attitude
trends -> post text; repost -> posts with ``event_id`` + ``follows``; spread -> events with
>= 10 distinct users. The benchmark lists every task it skips with the reason.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataFormatError
from .base import SocialDataset
from .tidy import META_FILE, SUFFIXES, parse_times, read_table, table_files, write_table

__all__ = ["CONVERTERS", "iter_edge_lines", "iter_interaction_lines", "convert_edgelist",
           "read_interactions", "convert_interactions", "read_graph", "convert_graph",
           "dataset_from_frame", "convert_table"]

#: interaction code -> (post kind, whether it answers a post of userB)
INTERACTIONS = {"RT": ("repost", True), "RE": ("reply", True), "MT": ("original", False)}
_ALIASES = {"RETWEET": "RT", "REPLY": "RE", "MENTION": "MT"}


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _lines(path: Path, comment: str) -> Iterator[tuple[int, str | None, str | None]]:
    """``(lineno, text, decode_error)`` of the data lines (comments and blanks skipped)."""
    gz = _is_gzip(path)
    lineno = 0
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):  # noqa: B007 - used in the except
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
                except UnicodeDecodeError as err:
                    yield lineno, None, f"not valid UTF-8 ({err.reason} at byte {err.start})"
                    continue
                if not line or (comment and line[0] in comment):
                    continue
                yield lineno, line, None
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataFormatError(path, record=lineno + 1, field="gzip" if gz else "file",
                              reason=f"cannot read {'gzip ' if gz else ''}file: {err}") from None


def _splitter(line: str, delimiter: str | None):
    if delimiter is not None:
        return lambda s: [t.strip() for t in s.split(delimiter)]
    if "," in line:
        return lambda s: [t.strip() for t in s.split(",")]
    return str.split  # runs of spaces/tabs


def _fields(path: str | os.PathLike, delimiter: str | None, comment: str):
    """``(lineno, line, fields, None)`` per data line, or ``(lineno, line, None, error)``.

    The delimiter is guessed from the first data line unless given.
    """
    split = None
    for lineno, line, bad in _lines(Path(path), comment):
        if bad is not None:
            yield lineno, line, None, ("line", bad)
            continue
        if split is None:
            split = _splitter(line, delimiter)
        yield lineno, line, split(line), None


def iter_edge_lines(path: str | os.PathLike, delimiter: str | None = None,
                    comment: str = "#%") -> Iterator[tuple[int, tuple[str, str] | None,
                                                           tuple[str, str] | None]]:
    r"""Stream an edge list: ``(lineno, (a, b), None)`` or ``(lineno, None, (field, why))``.

    The delimiter (``None``: a comma if the first data line has one, else whitespace) is
    fixed by the first data line. Extra columns are ignored.

    Examples:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "g.txt"
        >>> _ = f.write_text("# a comment\n1 2\n2\t3 0.5\n4\n")
        >>> for row in iter_edge_lines(f):
        ...     print(row)
        (2, ('1', '2'), None)
        (3, ('2', '3'), None)
        (4, None, ('edge', "expected two ids 'a b' or 'a,b', got '4'"))
    """
    for lineno, line, parts, bad in _fields(path, delimiter, comment):
        if bad is not None:
            yield lineno, None, bad
            continue
        if len(parts) < 2 or not parts[0] or not parts[1]:
            yield lineno, None, ("edge", f"expected two ids 'a b' or 'a,b', got {line[:60]!r}")
            continue
        yield lineno, (parts[0], parts[1]), None


def iter_interaction_lines(path: str | os.PathLike, delimiter: str | None = None,
                           comment: str = "#%") -> Iterator[tuple[int, tuple | None,
                                                                  tuple[str, str] | None]]:
    """Stream a SNAP interaction file: ``(lineno, (a, b, seconds, code), None)`` or an error.

    ``code`` is ``RT``, ``MT`` or ``RE`` (``retweet``/``mention``/``reply`` also accepted, any
    case); ``seconds`` are epoch seconds (UTC).
    """
    for lineno, _, parts, bad in _fields(path, delimiter, comment):
        if bad is not None:
            yield lineno, None, bad
            continue
        if len(parts) != 4:
            yield lineno, None, ("line", "expected 'userA userB timestamp interaction', got "
                                 f"{len(parts)} fields")
            continue
        a, b, t, code = parts
        if not a or not b:
            yield lineno, None, ("userA" if not a else "userB", "empty user id")
            continue
        try:
            sec = float(t)
        except ValueError:
            sec = float("nan")
        if not np.isfinite(sec) or abs(sec) > 1e11:
            yield lineno, None, ("timestamp", f"{t[:30]!r} is not epoch seconds")
            continue
        code = _ALIASES.get(code.upper(), code.upper())
        if code not in INTERACTIONS:
            yield lineno, None, ("interaction", f"{parts[3][:20]!r} is not RT, MT or RE "
                                 "(retweet, mention, reply)")
            continue
        yield lineno, (a, b, sec, code), None


def _merge_meta(folder: Path, name: str | None, source: str, notes: list[str],
                tables: dict[str, dict]) -> None:
    path = folder / META_FILE
    meta: dict[str, Any] = {}
    if path.is_file():
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            meta = {}
    meta.update({"format": "s3kit-tidy", "version": 1})
    meta.setdefault("name", name or folder.name)
    if name:
        meta["name"] = name
    meta.setdefault("timezone", "UTC")
    meta["source"] = "; ".join(s for s in (meta.get("source"), source) if s)
    meta["notes"] = list(dict.fromkeys(list(meta.get("notes", [])) + notes))
    meta.setdefault("tables", {}).update(tables)
    tmp = folder / f".{META_FILE}.tmp"
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _replace_table(folder: Path, table: str, fmt: str) -> tuple[Path, Path]:
    """(temporary path, final path) of a table about to be written; other formats removed."""
    for s in SUFFIXES:
        if s != f".{fmt}":
            (folder / f"{table}{s}").unlink(missing_ok=True)
    final = folder / f"{table}.{fmt}"
    return folder / f".{table}.{fmt}.tmp", final


def convert_edgelist(src: str | os.PathLike, out: str | os.PathLike, *,
                     format: str = "parquet", reverse: bool = False,  # noqa: A002
                     undirected: bool = False, delimiter: str | None = None,
                     comment: str = "#%", chunk_rows: int = 500_000,
                     name: str | None = None) -> Path:
    """Convert an edge list to a tidy folder's ``follows`` table, streaming.

    Args:
        src: the edge list (``.gz`` accepted).
        out: the folder (created; other tables in it are kept, so an interaction file and
            its follower graph can be converted into one folder).
        format: ``"parquet"`` or ``"csv"``.
        reverse: a line ``a b`` means "b follows a" (default: "a follows b").
        undirected: write both directions of every line.
        delimiter: ``None`` (auto: comma, else whitespace) or a string.
        comment: characters that start a comment line.
        chunk_rows: edges held in memory before a block is written.
        name: dataset name for ``dataset.json`` (default: the folder name).

    Returns:
        The folder.

    Raises:
        DataFormatError: the first malformed line (file, line, field); nothing is left
            behind in ``out`` but the partial temporary file's removal.
    """
    if format not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', got {format!r}")
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"{src} is not a file")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    tmp, final = _replace_table(folder, "follows", format)
    schema = pa.schema([("follower", pa.string()), ("followee", pa.string())])
    a_col: list[str] = []
    b_col: list[str] = []
    n = 0
    writer = pq.ParquetWriter(tmp, schema) if format == "parquet" else None
    fh = open(tmp, "w", encoding="utf-8", newline="") if format == "csv" else None  # noqa: SIM115

    def flush():
        nonlocal a_col, b_col
        if not a_col:
            return
        src_, dst = (b_col, a_col) if reverse else (a_col, b_col)
        if undirected:
            src_, dst = src_ + dst, dst + src_
        if writer is not None:
            writer.write_table(pa.table({"follower": src_, "followee": dst}, schema=schema))
        else:
            pd.DataFrame({"follower": src_, "followee": dst}).to_csv(
                fh, index=False, header=False, quoting=1)
        a_col, b_col = [], []

    try:
        if fh is not None:
            fh.write('"follower","followee"\n')
        for lineno, edge, error in iter_edge_lines(src, delimiter, comment):
            if error is not None:
                raise DataFormatError(src, record=lineno, field=error[0], reason=error[1])
            a_col.append(edge[0])
            b_col.append(edge[1])
            n += 1
            if len(a_col) >= chunk_rows:
                flush()
        flush()
    except BaseException:
        if writer is not None:
            writer.close()
        if fh is not None:
            fh.close()
        tmp.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    if fh is not None:
        fh.close()
    tmp.replace(final)
    rows = n * (2 if undirected else 1)
    notes = ["follows from an edge list: users are the ids of the edges (no attributes); "
             "no posts, so no text, emotion, attitude, repost or spread items from this file"]
    _merge_meta(folder, name, str(src), notes,
                {"follows": {"file": final.name, "rows": rows,
                             "dtypes": {"follower": "string", "followee": "string"}}})
    return folder


def read_interactions(srcs: str | os.PathLike | Sequence[str | os.PathLike],
                      window_hours: float | None = None, name: str = "interactions",
                      delimiter: str | None = None) -> SocialDataset:
    """Read SNAP interaction files (``userA userB timestamp RT|MT|RE``) as a dataset.

    Args:
        srcs: one file or several (one event per file).
        window_hours: split each file's lines into events of this many hours (from the
            file's first time); ``None``: one event per file.
        name: dataset name.
        delimiter: ``None`` (auto) or a string.

    Returns:
        A :class:`SocialDataset` with users, posts and events (see the module docstring for
        the mapping); ``follows`` is empty.

    Raises:
        DataFormatError: the first malformed line (file, line, field).
    """
    paths = [Path(srcs)] if isinstance(srcs, str | os.PathLike) else [Path(s) for s in srcs]
    if not paths:
        raise ValueError("no interaction file given")
    if window_hours is not None and not window_hours > 0:
        raise ValueError(f"window_hours must be > 0, got {window_hours!r}")
    rows: list[tuple] = []
    stems = [p.stem.split(".")[0] for p in paths]
    if len(set(stems)) < len(stems):
        stems = [f"{s}{i}" for i, s in enumerate(stems)]
    for path, stem in zip(paths, stems, strict=True):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file")
        recs = []
        for lineno, rec, error in iter_interaction_lines(path, delimiter):
            if error is not None:
                raise DataFormatError(path, record=lineno, field=error[0], reason=error[1])
            recs.append(rec)
        if not recs:
            continue
        t_min = min(r[2] for r in recs)
        for a, b, sec, code in recs:
            ev = (stem if window_hours is None
                  else f"{stem}:w{int((sec - t_min) // (window_hours * 3600.0))}")
            rows.append((ev, a, b, sec, code))
    df = pd.DataFrame(rows, columns=["event_id", "a", "b", "t", "code"])
    df = df.sort_values(["event_id", "t"], kind="stable").reset_index(drop=True)
    out: list[tuple] = []  # post_id, user_id, seconds, parent_id, event_id, kind,
    ev_ids, ev_root = [], []  # interaction, target_user, implicit
    for ev, grp in df.groupby("event_id", sort=False):
        latest: dict[str, str] = {}
        first = None
        start = len(out)  # post ids count from 0 in each event
        for a, b, t, code in grp[["a", "b", "t", "code"]].itertuples(index=False):
            kind_a, answers = INTERACTIONS[code]
            par = None
            if answers:
                par = latest.get(b)
                if par is None:  # the post answered is not in the file: add it
                    par = f"{ev}:{len(out) - start}"
                    out.append((par, b, t, None, ev, "original", None, None, True))
                    latest[b] = par
                    first = first or par
            pid = f"{ev}:{len(out) - start}"
            out.append((pid, a, t, par, ev, kind_a, code, b, False))
            latest[a] = pid
            first = first or pid
        ev_ids.append(ev)
        ev_root.append(first)
    post_id, user, tsec, parent, event, kind, inter, target, implicit = (
        [r[k] for r in out] for k in range(9))
    posts = pd.DataFrame({
        "post_id": post_id, "user_id": user,
        "time": pd.to_datetime(np.asarray(tsec, dtype=float), unit="s", utc=True),
        "text": None, "parent_id": parent, "event_id": event, "kind": kind,
        "interaction": pd.array(inter, dtype="string"),
        "target_user": pd.array(target, dtype="string"),
        "implicit": pd.array(implicit, dtype="boolean"),
    })
    users = pd.DataFrame({"user_id": list(dict.fromkeys(user + [t for t in target if t]))})
    events = pd.DataFrame({"event_id": ev_ids, "root_post_id": ev_root})
    return SocialDataset(name=name, source="; ".join(str(p) for p in paths), users=users,
                         posts=posts, events=events)


def convert_interactions(srcs: str | os.PathLike | Sequence[str | os.PathLike],
                         out: str | os.PathLike, *, window_hours: float | None = None,
                         follows: str | os.PathLike | None = None,
                         format: str = "parquet", name: str | None = None,  # noqa: A002
                         delimiter: str | None = None) -> Path:
    """Convert SNAP interaction files (and optionally a follower edge list) to a tidy folder.

    Args:
        srcs: one or more ``userA userB timestamp RT|MT|RE`` files.
        out: the folder.
        window_hours: events per time window instead of per file.
        follows: an edge list of the follower graph (``a b`` = "a follows b"), converted
            with :func:`convert_edgelist` into the same folder.
        format: ``"parquet"`` or ``"csv"``.
        name: dataset name (default: the folder name).
        delimiter: ``None`` (auto) or a string.

    Returns:
        The folder.
    """
    folder = Path(out)
    ds = read_interactions(srcs, window_hours, name or folder.name, delimiter)
    notes = ["no post text in interaction files: text is empty (content, emotion_trend and "
             "attitude_trend have nothing to score)",
             "retweets/replies whose original is not in the file answer an implicit post of "
             "userB at the time of the first answer (implicit=true)",
             f"events: {'one per file' if window_hours is None else f'{window_hours} h windows'}"]
    if follows is None:
        notes.append("no follow graph: the repost task (exposure) is skipped; replays use the "
                     "reply/repost proxy graph")
    if follows is not None:  # users = everyone of the posts and of the graph
        convert_edgelist(follows, folder, format=format, name=name or folder.name)
        edges = read_table(table_files(folder)["follows"], "follows")
        ds.follows = edges
        ds.users = pd.DataFrame({"user_id": pd.array(list(dict.fromkeys(
            ds.users["user_id"].tolist() + edges["follower"].tolist()
            + edges["followee"].tolist())), dtype="string")})
        notes.append(f"follows from the edge list {follows} ('a b' = a follows b)")
    ds.to_dir(folder, format=format, notes=notes)
    return folder


def read_graph(src: str | os.PathLike, fmt: str | None = None, reverse: bool = False
               ) -> SocialDataset:
    """Read a networkx-readable graph file as ``users`` + ``follows``.

    Args:
        src: the file.
        fmt: ``"graphml"``, ``"gexf"`` or ``"edgelist"`` (default: from the suffix).
        reverse: an edge ``u -> v`` means "v follows u".

    Returns:
        The dataset (node attributes become ``users`` columns; undirected graphs give both
        directions; a node's id is its string form).

    Raises:
        DataFormatError: the file cannot be parsed (XML errors name the line).
    """
    import xml.etree.ElementTree as ET

    import networkx as nx

    path = Path(src)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file")
    fmt = fmt or {".graphml": "graphml", ".gexf": "gexf", ".xml": "graphml"}.get(
        "".join(path.suffixes[-1:]).lower(), "edgelist")
    readers = {"graphml": nx.read_graphml, "gexf": nx.read_gexf,
               "edgelist": lambda p: nx.read_edgelist(p, create_using=nx.DiGraph, data=False,
                                                      comments="#")}
    if fmt not in readers:
        raise ValueError(f"graph format must be one of {sorted(readers)}, got {fmt!r}")
    try:
        graph = readers[fmt](path)
    except ET.ParseError as err:
        line = err.position[0] if getattr(err, "position", None) else None
        raise DataFormatError(path, record=line, field="xml",
                              reason=f"not valid {fmt.upper()} XML ({err})") from None
    except (nx.NetworkXError, KeyError, ValueError, TypeError, IndexError, AttributeError,
            UnicodeDecodeError, OverflowError) as err:
        raise DataFormatError(path, field=fmt, reason=f"networkx cannot read this {fmt} "
                              f"file ({type(err).__name__}: {str(err)[:150]})") from None
    nodes = list(graph.nodes(data=True))
    attrs = sorted({k for _, d in nodes for k in d} - {"user_id"})
    users = pd.DataFrame({"user_id": [str(n) for n, _ in nodes],
                          **{k: [d.get(k) for _, d in nodes] for k in attrs}})
    for k in attrs:
        col = users[k]
        num = pd.to_numeric(col, errors="coerce")
        if col.notna().any() and num[col.notna()].notna().all() and not col.map(
                lambda v: isinstance(v, bool)).any():
            users[k] = num
        else:
            users[k] = col.map(lambda v: None if v is None else str(v)).astype("string")
    edges = [(str(u), str(v)) for u, v in graph.edges()]
    if not graph.is_directed():
        edges += [(v, u) for u, v in edges if u != v]
    if reverse:
        edges = [(v, u) for u, v in edges]
    follows = pd.DataFrame(edges, columns=["follower", "followee"])
    return SocialDataset(name=path.stem, source=str(path), users=users, follows=follows)


def convert_graph(src: str | os.PathLike, out: str | os.PathLike, *, fmt: str | None = None,
                  reverse: bool = False, format: str = "parquet",  # noqa: A002
                  name: str | None = None) -> Path:
    """Convert a GraphML / GEXF / networkx edge-list file to a tidy folder (users + follows).

    Returns:
        The folder.
    """
    ds = read_graph(src, fmt, reverse)
    ds.name = name or Path(out).name
    return ds.to_dir(out, format=format, notes=[
        "graph file: users (node attributes) and follows only; no posts, so no text, "
        "emotion, attitude, repost or spread items"])


def dataset_from_frame(df: pd.DataFrame, *, table: str = "posts", user_col: str | None = None,
                       time_col: str | None = None, text_col: str | None = None,
                       post_col: str | None = None, parent_col: str | None = None,
                       event_col: str | None = None, kind_col: str | None = None,
                       follower_col: str | None = None, followee_col: str | None = None,
                       timezone: str = "UTC", name: str = "table", source: str = "",
                       record_offset: int = 0) -> SocialDataset:
    """Build a dataset from a frame whose columns are named by the caller.

    Args:
        df: the frame (values may be text; times are ISO-8601 or epoch seconds).
        table: what the rows are: ``"posts"`` (one post per row; ``users`` are their
            authors), ``"users"`` (one user per row, other columns = attributes) or
            ``"follows"`` (one edge per row).
        user_col: the column of ``user_id`` (posts' author, or the user of a users row).
        time_col: the column of ``time`` (posts).
        text_col: the column of ``text`` (posts).
        post_col: the column of ``post_id`` (default: the row number; ids must be unique).
        parent_col: the column of ``parent_id`` (the post replied to / reposted); an id that
            is not a post of the table moves to ``parent_ref`` (``parent_id`` left empty).
        event_col: the column of ``event_id`` (cascade, thread).
        kind_col: the column of ``kind`` (original / repost / reply).
        follower_col: the follower column of ``table="follows"``.
        followee_col: the followee column of ``table="follows"``.
        timezone: zone of times written without an offset.
        name: dataset name.
        source: provenance (also the ``path`` of errors).
        record_offset: added to 0-based row numbers in errors (2 for a CSV with a header:
            the line number).

    Returns:
        The dataset; columns not named are kept as extra columns of the table.

    Raises:
        DataFormatError: a named column is missing, an id is empty, a time does not parse
            (``path`` is ``source``; ``record`` the row/line).

    Examples:
        >>> df = pd.DataFrame({"who": ["ann", "bob"], "when": ["2024-05-01 08:00", "0"],
        ...                    "msg": ["hi", "yo"]})
        >>> ds = dataset_from_frame(df, user_col="who", time_col="when", text_col="msg")
        >>> ds.posts[["post_id", "user_id", "text"]].values.tolist(), len(ds.users)
        ([['0', 'ann', 'hi'], ['1', 'bob', 'yo']], 2)
    """
    where = source or "<DataFrame>"
    if table not in ("posts", "users", "follows"):
        raise ValueError(f"table must be 'posts', 'users' or 'follows', got {table!r}")
    named = {"user_id": user_col, "time": time_col, "text": text_col, "post_id": post_col,
             "parent_id": parent_col, "event_id": event_col, "kind": kind_col,
             "follower": follower_col, "followee": followee_col}
    need = {"posts": ("user_id",), "users": ("user_id",),
            "follows": ("follower", "followee")}[table]
    for key in need:
        if not named[key]:
            raise ValueError(f"table={table!r} needs the {key} column "
                             f"(--{key.replace('_id', '').replace('_', '-')}-col)")
    for key, col in named.items():
        if col is not None and col not in df.columns:
            raise DataFormatError(where, field=col, reason=f"no column {col!r} (the {key} "
                                  f"column; columns: {', '.join(map(str, df.columns))})")
    rename = {col: key for key, col in named.items() if col is not None}
    out = df.rename(columns={c: f"{c}_orig" for c in df.columns
                             if c in named and c not in rename}).rename(columns=rename)
    out = out.reset_index(drop=True)
    for key in need:
        vals = out[key].astype("string").str.strip()
        empty = np.flatnonzero((vals.isna() | (vals == "")).to_numpy(bool))
        if len(empty):
            raise DataFormatError(where, record=int(empty[0]) + record_offset,
                                  field=named[key], reason="empty id")
        out[key] = vals
    if "time" in out.columns:
        times, bad = parse_times(out["time"], timezone)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataFormatError(where, record=i + record_offset, field=time_col,
                                  reason=f"{str(out['time'].iloc[i])[:40]!r} is not an "
                                  "ISO-8601 time or epoch seconds")
        out["time"] = times.to_numpy()
    if table == "follows":
        users = pd.DataFrame({"user_id": list(dict.fromkeys(
            out["follower"].tolist() + out["followee"].tolist()))})
        return SocialDataset(name=name, source=source, users=users, follows=out)
    if table == "users":
        return SocialDataset(name=name, source=source, users=out)
    if "post_id" not in out.columns:
        out.insert(0, "post_id", [str(i) for i in range(len(out))])
    else:
        ids = out["post_id"].astype("string").str.strip()
        bad = np.flatnonzero((ids.isna() | (ids == "") | ids.duplicated()).to_numpy(bool))
        if len(bad):
            i = int(bad[0])
            what = "empty id" if pd.isna(ids.iloc[i]) or ids.iloc[i] == "" else (
                f"duplicate post id {ids.iloc[i]!r}")
            raise DataFormatError(where, record=i + record_offset, field=post_col, reason=what)
        out["post_id"] = ids
    if "parent_id" in out.columns:  # a parent outside the table: keep it aside, not dangling
        par = out["parent_id"].astype("string").str.strip().replace("", pd.NA)
        dangling = par.notna() & ~par.isin(out["post_id"].astype("string"))
        out["parent_id"] = par.where(~dangling)
        if dangling.any():
            out["parent_ref"] = par.where(dangling)
    users = pd.DataFrame({"user_id": list(dict.fromkeys(out["user_id"].tolist()))})
    return SocialDataset(name=name, source=source, users=users, posts=out)


def convert_table(src: str | os.PathLike | pd.DataFrame, out: str | os.PathLike, *,
                  format: str = "parquet", name: str | None = None,  # noqa: A002
                  **columns: Any) -> Path:
    """Convert a CSV file (or a DataFrame) with named columns to a tidy folder.

    Args:
        src: a CSV path (UTF-8, header row) or a DataFrame.
        out: the folder (the table written replaces that table only; others are kept).
        format: ``"parquet"`` or ``"csv"``.
        name: dataset name (default: the folder name).
        **columns: :func:`dataset_from_frame`'s keywords (``table``, ``user_col`` ...).

    Returns:
        The folder.
    """
    folder = Path(out)
    if isinstance(src, pd.DataFrame):
        df, source, offset = src, "<DataFrame>", 0
    else:
        source, offset = str(src), 2
        try:
            df = pd.read_csv(src, dtype=str, keep_default_na=False, na_values=[""],
                             encoding="utf-8-sig")
        except pd.errors.EmptyDataError:
            raise DataFormatError(src, record=1, field="header",
                                  reason="empty file (expected a header row)") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
            raise DataFormatError(src, record=None, field="csv",
                                  reason=f"not a readable CSV file ({err})") from None
    table = columns.get("table", "posts")
    ds = dataset_from_frame(df, name=name or folder.name, source=source,
                            record_offset=offset, **columns)
    notes = {"posts": "posts from a table: no follow graph unless follows are added "
             "(the repost task is skipped without one)" + ("" if columns.get("text_col")
                                                          else "; no text column: text is "
                                                          "empty"),
             "users": "users from a table", "follows": "follows from a table"}[table]
    folder.mkdir(parents=True, exist_ok=True)
    keep = [table] + (["users"] if table in ("posts", "follows") else [])
    tables = {}
    for t in keep:
        frame = getattr(ds, t)
        if t == "users" and t != table and any(
                (folder / f"users{s}").is_file() for s in SUFFIXES):
            continue  # a users table already there (with attributes) wins
        tmp, final = _replace_table(folder, t, format)
        write_table(frame, tmp)
        tmp.replace(final)
        tables[t] = {"file": final.name, "rows": int(len(frame)),
                     "dtypes": {c: str(d) for c, d in frame.dtypes.items()}}
    _merge_meta(folder, name, source, [notes], tables)
    return folder


#: converter name (``s3kit data convert --from``) -> function
CONVERTERS = {"edgelist": convert_edgelist, "interactions": convert_interactions,
              "graph": convert_graph, "table": convert_table}
