"""CED, the Chinese Weibo rumour dataset (Song et al. 2018): :func:`load_ced`.

Layout (``shared/data/ced``)::

    original-microblog/<idx>_<mid>_<uid>.json   source post {text, time (UTC epoch s), user, ...}
    rumor-repost/<same name>.json               list of reposts/comments of a rumour
    non-rumor-repost/<same name>.json           ... of a non-rumour

Any ``*repost*`` folder is read; its name minus ``-repost`` is the event label.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import DataFormatError
from ._common import (
    as_path,
    as_str_or_na,
    column,
    epoch_to_utc,
    expect_type,
    guard,
    load_json,
    require_field,
)
from .base import SocialDataset

__all__ = ["load_ced", "weibo_mid_to_id", "weibo_mid_time"]

_NAME = re.compile(r"^([^_]+)_([^_]+)_(.+)\.json$")
_CJK_DATE = re.compile(r"^\s*(\d{1,2})月(\d{1,2})日\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_B62_INDEX = {c: i for i, c in enumerate(_B62)}
#: Weibo status ids carry their creation time: ``(id >> 22) + WEIBO_EPOCH_S`` (UTC seconds).
WEIBO_EPOCH_S = 515483463
BEIJING = dt.timezone(dt.timedelta(hours=8))


def weibo_mid_to_id(mid: str) -> int | None:
    """Decode a base-62 Weibo ``mid`` (as in URLs) to the numeric status id.

    The mid is read in 4-character groups from the right; each group is a base-62 number
    written as 7 decimal digits (the leftmost group unpadded).

    Examples:
        >>> weibo_mid_to_id("E09AAopWo")
        4000368645819592
        >>> weibo_mid_to_id("not a mid!") is None
        True
    """
    if not isinstance(mid, str) or not mid or any(c not in _B62_INDEX for c in mid):
        return None
    groups = []
    end = len(mid)
    while end > 0:
        groups.append(mid[max(0, end - 4):end])
        end -= 4
    digits = ""
    for k, g in enumerate(reversed(groups)):
        n = 0
        for c in g:
            n = n * 62 + _B62_INDEX[c]
        digits += str(n) if k == 0 else str(n).zfill(7)
    return int(digits)


def weibo_mid_time(mid: str) -> float | None:
    """UTC epoch seconds encoded in a Weibo ``mid`` (ids from about 2012 on), else ``None``.

    Examples:
        >>> import datetime as dt
        >>> t = weibo_mid_time("E09AAopWo")
        >>> dt.datetime.fromtimestamp(t, dt.timezone(dt.timedelta(hours=8))).isoformat()
        '2016-07-23T11:47:51+08:00'
    """
    num = weibo_mid_to_id(mid)
    if num is None:
        return None
    t = (num >> 22) + WEIBO_EPOCH_S
    # 2009-08-01 (Weibo's launch) .. 2040: anything else is not a time-carrying id.
    return float(t) if 1249084800 <= t <= 2208988800 else None


def _infer_year(month: int, day: int, hour: int, minute: int, second: int,
                source_epoch: float | None, mid: str) -> float | None:
    """UTC epoch seconds for a year-less Beijing date, or ``None`` if none fits.

    Candidate years run from the source post's year (Beijing time) for ten years. When the
    repost's ``mid`` encodes a time within two days of a candidate, the closest candidate wins
    (Weibo printed "MM月DD日" for posts of the crawl year, often years after the source);
    otherwise the first candidate not earlier than the source post.
    """
    if source_epoch is not None and np.isfinite(source_epoch):
        start = dt.datetime.fromtimestamp(source_epoch, BEIJING).year
    else:
        mt = weibo_mid_time(mid)
        if mt is None:
            return None
        start = dt.datetime.fromtimestamp(mt, BEIJING).year - 1
    cands = []
    for year in range(start, start + 11):
        try:
            cands.append(dt.datetime(year, month, day, hour, minute, second,
                                     tzinfo=BEIJING).timestamp())
        except ValueError:  # 29 Feb in a non-leap year, or an impossible date
            continue
    if not cands:
        return None
    mid_t = weibo_mid_time(mid)
    if mid_t is not None:
        best = min(cands, key=lambda c: abs(c - mid_t))
        if abs(best - mid_t) <= 2 * 86400:
            return best
    if source_epoch is not None and np.isfinite(source_epoch):
        later = [c for c in cands if c >= source_epoch - 60]
        return later[0] if later else None
    return None


def _source_time(value, path: Path) -> float:
    """Source ``time``: a UTC epoch, or (69 files) a string ``Wed Aug 08 13:25:02 +0800 2012``."""
    t = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        t = float(value)
    elif isinstance(value, str):
        try:
            t = float(value)
        except ValueError:
            try:
                t = dt.datetime.strptime(value.strip(), "%a %b %d %H:%M:%S %z %Y").timestamp()
            except ValueError:
                t = None
    if t is None or not np.isfinite(t) or abs(t) > 1e11:
        raise DataFormatError(path, field="time",
                              reason=f"not an epoch time or 'Wed Aug 08 13:25:02 +0800 2012' "
                              f"date: {value!r}")
    return t


def _user_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for col in ("followers", "friends", "messages", "verified_type"):
        if col in df:
            num = pd.to_numeric(df[col], errors="coerce").astype("float64")
            # counts that are not whole numbers or exceed 2**53 are unusable: missing
            num = num.where(np.isfinite(num) & (num == np.floor(num)) & (num.abs() < 2.0**53))
            df[col] = pd.array(num).astype("Int64")
    for col in ("verified", "has_description"):
        if col in df:
            df[col] = df[col].astype("boolean")
    for col in ("gender", "location"):
        if col in df:
            df[col] = df[col].astype("string")
    return df


def _bool_or_na(v):
    return v if isinstance(v, bool) else pd.NA


@guard
def load_ced(path: str | os.PathLike, progress: bool = True) -> SocialDataset:
    """Load the CED Weibo rumour dataset (source posts, reposts, authors, rumour labels).

    Times are UTC: the source ``time`` is a UTC epoch; repost ``date`` strings are Beijing time
    (UTC+8) and are converted. A few dates are ``"MM月DD日 HH:MM"`` without a year: the year is
    inferred from the repost's ``mid`` (Weibo ids encode their creation time) and the source
    post (see docs/datasets.md). Duplicate reposts (same ``mid`` twice in one list, differing at
    most in ``kids``) are kept once. ``parent`` empty means the repost reacts to the source.

    Args:
        path: the ``ced`` folder (holding ``original-microblog/`` and ``*repost*/`` folders).
        progress: show a progress bar over files.

    Returns:
        SocialDataset with ``posts`` (sources ``kind="original"``, reposts ``kind="repost"``),
        ``users`` (source authors with gender/followers/friends/verified/location/created_at,
        plus every reposting uid), ``events`` (one per source post, ``label`` rumor/non-rumor);
        ``follows`` is empty (CED has no follow graph).

    Raises:
        DataFormatError: a file is not valid JSON, a field is missing, a date does not parse...
        FileNotFoundError: ``path`` does not exist.

    Examples:
        >>> import os, pytest
        >>> root = os.environ.get("S3KIT_DATA_DIR")
        >>> ds = load_ced(f"{root}/ced", progress=False) if root else None
        >>> ds is None or set(ds.events["label"].dropna()) <= {"rumor", "non-rumor"}
        True
    """
    root = as_path(path)
    orig_dir = root / "original-microblog"
    if not orig_dir.is_dir():
        raise DataFormatError(root, field="original-microblog",
                              reason="no original-microblog/ folder with source posts")
    repost_dirs = sorted(p for p in root.iterdir() if p.is_dir() and "repost" in p.name)
    src_files = sorted(orig_dir.glob("*.json"))

    # ---- source posts -------------------------------------------------------------------
    ev_ids, src_uid, src_text, src_time, counts, user_rows, stems = [], [], [], [], [], [], []
    bar = tqdm(total=len(src_files) + sum(1 for d in repost_dirs for _ in d.glob("*.json")),
               desc="ced", disable=not progress, unit="file")
    for f in src_files:
        m = _NAME.match(f.name)
        if not m:
            raise DataFormatError(f, field="file name",
                                  reason="expected <idx>_<mid>_<uid>.json")
        _, mid, uid = m.groups()
        d = load_json(f)
        expect_type(d, dict, f, what="a JSON object")
        t = _source_time(require_field(d, "time", f), f)
        text = d.get("text")
        ev_ids.append(mid)
        stems.append(f.name)
        src_uid.append(uid)
        src_text.append(text if isinstance(text, str) or text is None else str(text))
        src_time.append(t)
        counts.append([d.get(k) for k in ("reposts", "comments", "likes")])
        user = d.get("user")
        if isinstance(user, dict):
            created = user.get("time")
            user_rows.append({
                "user_id": uid,
                "gender": user.get("gender") if isinstance(user.get("gender"), str) else None,
                "followers": user.get("followers"),
                "friends": user.get("friends"),
                "messages": user.get("messages"),
                "verified": _bool_or_na(user.get("verified")),
                "verified_type": user.get("verified_type"),
                "location": user.get("location") if isinstance(user.get("location"), str)
                else None,
                "has_description": _bool_or_na(user.get("description")),
                "created_at": float(created) if isinstance(created, int | float)
                and not isinstance(created, bool) and abs(created) < 1e11 else np.nan,
                "_t": t,
            })
        else:
            user_rows.append({"user_id": uid, "_t": t})
        bar.update()
    src_epoch = dict(zip(stems, src_time, strict=True))
    src_mid = dict(zip(stems, ev_ids, strict=True))

    counts_arr = np.array(
        [[c if isinstance(c, int | float) and not isinstance(c, bool) else np.nan for c in row]
         for row in counts], dtype=float).reshape(-1, 3)
    sources = pd.DataFrame({
        "post_id": ev_ids, "user_id": src_uid,
        "time": epoch_to_utc(src_time, orig_dir, "time"),
        "text": src_text, "parent_id": pd.NA, "event_id": ev_ids, "kind": "original",
    })
    for j, name in enumerate(("n_reposts", "n_comments", "n_likes")):
        sources[name] = pd.array(counts_arr[:, j]).astype("Int64") if len(sources) else \
            pd.array([], dtype="Int64")

    # ---- reposts ------------------------------------------------------------------------
    labels: dict[str, str] = {}
    cols: dict[str, list] = {"post_id": [], "user_id": [], "parent_id": [], "text": [],
                             "date": [], "event_id": []}
    where_file: list[Path] = []
    file_idx: list[np.ndarray] = []
    rec_idx: list[np.ndarray] = []
    for rdir in repost_dirs:
        label = rdir.name.replace("-repost", "").replace("_repost", "")
        for f in sorted(rdir.glob("*.json")):
            data = load_json(f)
            expect_type(data, list, f, what="a JSON list of reposts")
            m = _NAME.match(f.name)
            event = src_mid.get(f.name) or (m.group(2) if m else f.stem)
            labels[event] = label
            mids = column(data, "mid", f)
            if not set(map(type, mids)) <= {str}:
                for i, x in enumerate(mids):
                    if not isinstance(x, str | int) or isinstance(x, bool) or x == "":
                        raise DataFormatError(f, record=i, field="mid",
                                              reason=f"not a post id: {x!r}")
                mids = [str(x) for x in mids]
            first: dict[str, int] = {}
            for i, x in enumerate(mids):
                first.setdefault(x, i)
            keep = list(first.values())
            dedup = len(keep) != len(mids)
            if dedup:
                data = [data[i] for i in keep]
                mids = [mids[i] for i in keep]
            uids = column(data, "uid", f, record_name=lambda i, k=keep: k[i])
            parents = column(data, "parent", f, optional=True)
            texts = column(data, "text", f, optional=True)
            dates = column(data, "date", f, record_name=lambda i, k=keep: k[i])
            cols["post_id"].extend(mids)
            cols["user_id"].extend(uids)
            cols["parent_id"].extend([p if p else event for p in parents])
            cols["text"].extend(texts)
            cols["date"].extend(dates)
            cols["event_id"].extend([event] * len(mids))
            file_idx.append(np.full(len(mids), len(where_file), dtype=np.int32))
            rec_idx.append(np.asarray(keep, dtype=np.int64))
            where_file.append(f)
            bar.update()
    bar.close()
    n = len(cols["post_id"])
    fidx = np.concatenate(file_idx) if file_idx else np.zeros(0, np.int32)
    ridx = np.concatenate(rec_idx) if rec_idx else np.zeros(0, np.int64)

    dates = cols.pop("date")
    str_dates = dates if set(map(type, dates)) <= {str} else [
        d if type(d) is str else None for d in dates]
    parsed = pd.to_datetime(pd.Series(str_dates, dtype="object"), format="%Y-%m-%d %H:%M:%S",
                            errors="coerce")
    epoch = (parsed.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9).astype(float)
    epoch[parsed.isna().to_numpy()] = np.nan
    epoch -= 8 * 3600  # Beijing wall clock -> UTC
    bad = np.flatnonzero(np.isnan(epoch))
    year_inferred = np.zeros(n, dtype=bool)
    for i in bad:
        f = where_file[fidx[i]]
        m = _CJK_DATE.match(str_dates[i]) if str_dates[i] is not None else None
        t = None
        if m:
            mo, da, hh, mi, ss = (int(g) if g else 0 for g in m.groups())
            t = _infer_year(mo, da, hh, mi, ss, src_epoch.get(f.name), cols["post_id"][i])
        if t is None:
            raise DataFormatError(f, record=int(ridx[i]), field="date",
                                  reason=f"unparseable date {dates[i]!r} (expected "
                                  "'YYYY-MM-DD HH:MM:SS' or 'MM月DD日 HH:MM', Beijing time)")
        epoch[i] = t
        year_inferred[i] = True

    reposts = pd.DataFrame({
        "post_id": cols["post_id"],
        "user_id": (reposts_uids := _strings(cols["user_id"])),
        "time": pd.to_datetime(epoch, unit="s", utc=True),
        "text": _strings(cols["text"]),
        "parent_id": _strings(cols["parent_id"]),
        "event_id": cols["event_id"],
        "kind": "repost",
    })
    reposts["date_year_inferred"] = year_inferred
    sources["date_year_inferred"] = False
    posts = pd.concat([sources, reposts], ignore_index=True)

    # ---- users and events ---------------------------------------------------------------
    users = _user_frame(user_rows)
    if not users.empty:
        # one row per author; the latest source post carries the newest profile
        users = users.sort_values("_t", kind="stable").drop(columns="_t")
        users = users.drop_duplicates("user_id", keep="last")
        if "created_at" in users:  # absent when every source author is "empty"
            users["created_at"] = epoch_to_utc(users["created_at"].to_numpy(float), orig_dir,
                                               "user.time")
    known = set(users["user_id"]) if not users.empty else set()
    extra = [u for u in dict.fromkeys(reposts_uids) if u is not None and u not in known]
    users = pd.concat([users, pd.DataFrame({"user_id": extra})], ignore_index=True)

    all_events = list(dict.fromkeys(ev_ids + list(labels)))
    root_known = set(ev_ids)
    events = pd.DataFrame({
        "event_id": all_events,
        "root_post_id": [e if e in root_known else None for e in all_events],
        "label": [labels.get(e) for e in all_events],
        "topic": None,
    })
    return SocialDataset(name="ced", source=str(root), users=users, posts=posts,
                         events=events)


def _strings(values: list) -> list:
    """Keep strings as they are; convert the rare non-string JSON value (fast path first)."""
    if set(map(type, values)) <= {str, type(None)}:
        return values
    return as_str_or_na(values)
