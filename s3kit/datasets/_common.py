"""Helpers shared by the loaders: reading files, typed errors, split discovery, id times.

Private module. Everything here raises :class:`~s3kit.errors.DataFormatError` (naming the file,
line/record and field) instead of a bare ``KeyError``/``UnicodeError``/``json`` error.
"""

from __future__ import annotations

import codecs
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ..errors import DataFormatError

try:  # orjson is ~3x faster on CED's ~2.7k list files; the stdlib is the fallback.
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

F = TypeVar("F", bound=Callable[..., Any])

#: Twitter "snowflake" epoch: ``(id >> 22) + TWITTER_EPOCH_MS`` is the tweet's time in ms.
TWITTER_EPOCH_MS = 1288834974657
#: Smallest snowflake id (2010-11-04); older tweet ids carry no timestamp.
FIRST_SNOWFLAKE_ID = 1 << 32


def as_path(path: str | os.PathLike) -> Path:
    """Return ``path`` as a :class:`Path`, raising ``FileNotFoundError`` if it does not exist."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    return p


def read_bytes(path: Path) -> bytes:
    """Read a whole file (``OSError`` other than a missing file becomes DataFormatError)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DataFormatError(path, reason=f"cannot read file: {err}") from err


def decode_utf8(raw: bytes, path: Path) -> str:
    """Decode UTF-8 (a leading BOM is dropped); bad bytes raise DataFormatError with the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataFormatError(path, record=line, field=None,
                              reason=f"not valid UTF-8 ({err.reason} at byte {err.start})"
                              ) from None


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as cp1252 (else latin-1)."""
    out = []
    for b in err.object[err.start:err.end]:
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(bytes([b]).decode("latin-1"))
    return "".join(out), err.end


codecs.register_error("s3kit-cp1252", _cp1252_fallback)


def decode_lenient(raw: bytes) -> str:
    r"""Decode UTF-8, reading any byte that is not valid UTF-8 as cp1252 (else latin-1).

    Never fails; used for scraped CSVs that mix encodings on one line (twitter_gender).

    Examples:
        >>> decode_lenient("caf\u00e9 ".encode() + b"\x93ok\x94")
        'café “ok”'
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="s3kit-cp1252")


def read_text(path: Path) -> str:
    """Read a UTF-8 text file (BOM allowed)."""
    return decode_utf8(read_bytes(path), path)


def split_lines(text: str) -> list[str]:
    r"""Split on ``\n`` only (tweets may hold U+2028 etc., which ``str.splitlines`` splits on).

    A trailing ``\r`` is removed from every line and a final empty line is dropped.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def parse_json(raw: bytes | str, path: Path) -> Any:
    """Parse one JSON document; malformed or truncated JSON names the line and column."""
    try:
        if _orjson is not None:
            return _orjson.loads(raw)
        return json.loads(raw)
    except json.JSONDecodeError as err:  # orjson.JSONDecodeError subclasses it
        line = getattr(err, "lineno", None)
        col = getattr(err, "colno", None)
        reason = f"invalid JSON ({err.msg if hasattr(err, 'msg') else err}"
        reason += f", column {col})" if col else ")"
        raise DataFormatError(path, record=f"line {line}" if line else None,
                              reason=reason) from None
    except (UnicodeDecodeError, ValueError) as err:
        raise DataFormatError(path, reason=f"invalid JSON ({err})") from None


def load_json(path: Path) -> Any:
    """Read and parse a JSON file."""
    raw = read_bytes(path)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return parse_json(raw, path)


def expect_type(value: Any, types: type | tuple[type, ...], path: Path, record=None,
                field: str | None = None, what: str | None = None) -> Any:
    """Return ``value`` if it is an instance of ``types``, else raise DataFormatError."""
    if not isinstance(value, types):
        names = (types.__name__ if isinstance(types, type)
                 else " or ".join(t.__name__ for t in types))
        if record is None and field is None:  # the whole document has the wrong type
            record = "top-level value"
        raise DataFormatError(path, record=record, field=field,
                              reason=f"expected {what or names}, got {type(value).__name__}")
    return value


def require_field(obj: Any, key: str, path: Path, record=None) -> Any:
    """``obj[key]`` for a JSON object, raising DataFormatError if ``obj`` or ``key`` is missing."""
    if not isinstance(obj, dict):
        raise DataFormatError(path, record=record, field=key,
                              reason=f"expected a JSON object, got {type(obj).__name__}")
    try:
        return obj[key]
    except KeyError:
        raise DataFormatError(path, record=record, field=key, reason="missing field") from None


def column(records: list, key: str, path: Path, *, optional: bool = False,
           record_name: Callable[[int], Any] = lambda i: i) -> list:
    """Pull ``key`` out of every dict in ``records`` (fast path: one list comprehension).

    On failure the slow path finds the first bad record and raises DataFormatError.
    """
    try:
        if optional:
            return [r.get(key) for r in records]
        return [r[key] for r in records]
    except (KeyError, TypeError, AttributeError):
        for i, r in enumerate(records):
            if not isinstance(r, dict):
                raise DataFormatError(path, record=record_name(i), field=key,
                                      reason=f"expected a JSON object, got {type(r).__name__}"
                                      ) from None
            if not optional and key not in r:
                raise DataFormatError(path, record=record_name(i), field=key,
                                      reason="missing field") from None
        raise  # pragma: no cover - unreachable


def as_str_or_na(values: list) -> list:
    """Map JSON scalars to strings (``None`` stays missing); containers become their JSON text."""
    out = []
    for v in values:
        if v is None or isinstance(v, str):
            out.append(v)
        elif isinstance(v, bool | int | float):
            out.append(str(v))
        else:
            out.append(json.dumps(v, ensure_ascii=False))
    return out


def to_numeric(values: list, path: Path, field: str,
               record_name: Callable[[int], Any] = lambda i: i) -> np.ndarray:
    """Convert JSON numbers (or numeric strings) to float, naming the first bad record."""
    arr = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(float)
    bad = np.flatnonzero(np.isnan(arr))
    for i in bad:
        v = values[i]
        if v is None or (isinstance(v, str) and v.strip().lower() in ("", "nan")):
            continue
        raise DataFormatError(path, record=record_name(int(i)), field=field,
                              reason=f"not a number: {v!r}")
    return arr


def epoch_to_utc(seconds: np.ndarray | list, path: Path, field: str,
                 record_name: Callable[[int], Any] = lambda i: i) -> pd.DatetimeIndex:
    """Epoch seconds to tz-aware UTC; out-of-range values raise DataFormatError."""
    arr = np.asarray(seconds, dtype=float)
    bad = np.flatnonzero(np.isfinite(arr) & (np.abs(arr) > 1e11))
    if len(bad):
        i = int(bad[0])
        raise DataFormatError(path, record=record_name(i), field=field,
                              reason=f"epoch seconds out of range: {arr[i]!r}")
    return pd.to_datetime(arr, unit="s", utc=True)


def snowflake_ms(ids: pd.Series) -> pd.Series:
    """Milliseconds since epoch encoded in Twitter ids (``NA`` for pre-snowflake ids)."""
    num = pd.to_numeric(ids, errors="coerce").astype("float64")
    ints = pd.Series(pd.array(ids.where(num.notna()), dtype="string"))
    out = pd.Series(np.nan, index=ids.index, dtype="float64")
    for i, s in enumerate(ints):
        if s is pd.NA:
            continue
        v = int(s)
        if v >= FIRST_SNOWFLAKE_ID:
            out.iat[i] = float((v >> 22) + TWITTER_EPOCH_MS)
    return out


def split_name(stem: str) -> str:
    """Normalise a file stem to a split name: ``train``/``valid``/``test``, else the stem."""
    s = stem.lower()
    if "test" in s:
        return "test"
    if s in ("val", "valid", "validation", "dev") or "valid" in s or "dev" in s:
        return "valid"
    if "train" in s:
        return "train"
    return stem


def guard(loader: F) -> F:
    """Decorator: a loader never lets a bare KeyError/IndexError/UnicodeError/... escape.

    The loaders check their input explicitly and raise DataFormatError with the exact place;
    this is the safety net for anything those checks miss (it names the path given).
    """

    @functools.wraps(loader)
    def wrapper(path, *args, **kwargs):
        try:
            return loader(path, *args, **kwargs)
        except (DataFormatError, FileNotFoundError, NotADirectoryError):
            raise
        except (KeyError, IndexError, UnicodeError, TypeError, AttributeError, ValueError,
                OverflowError, RecursionError) as err:
            raise DataFormatError(path, reason=f"unexpected {type(err).__name__}: {err}"
                                  ) from err

    return wrapper  # type: ignore[return-value]


def ordered_unique(values) -> list:
    """Unique values in first-seen order."""
    return list(dict.fromkeys(values))
