"""Cascade dynamics from a posts frame: spread curves and label-share trends.

Both functions take a tidy posts frame (``SocialDataset.posts`` layout, or
``SocialNetwork.posts_frame()`` of a simulation) and return a tidy frame, so real and simulated
runs are compared with the same code (evaluation) and drawn with the same plots
(:mod:`s3kit.plotting`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["spread_curve", "trend_shares"]


def _one_curve(posts: pd.DataFrame, freq: pd.Timedelta, origin: Any,
               periods: int | None) -> pd.DataFrame:
    first = posts.groupby("user_id", sort=False)["time"].min().sort_values()
    t0 = first.iloc[0] if origin is None else pd.Timestamp(origin)
    if t0.tzinfo is None:
        t0 = t0.tz_localize("UTC")
    if periods is None:
        periods = int(np.ceil((first.iloc[-1] - t0) / freq)) if first.iloc[-1] > t0 else 0
    grid = t0 + freq * np.arange(periods + 1)
    times = first.to_numpy(dtype="datetime64[ns]")
    grid_np = pd.DatetimeIndex(grid).tz_convert("UTC").tz_localize(None).to_numpy(
        dtype="datetime64[ns]")
    adopters = np.searchsorted(np.sort(times), grid_np, side="right")
    return pd.DataFrame({
        "step": np.arange(periods + 1, dtype=np.int64),
        "time": pd.DatetimeIndex(grid),
        "hours": (np.arange(periods + 1) * freq / pd.Timedelta(hours=1)).astype(float),
        "adopters": adopters.astype(np.int64),
        "new_adopters": np.diff(adopters, prepend=0).astype(np.int64),
    })


def spread_curve(posts: pd.DataFrame, event_id: str | None = None, freq: str = "1h",
                 origin: Any = None, periods: int | None = None) -> pd.DataFrame:
    """Cumulative number of distinct adopters of a cascade over time.

    A user adopts at the time of their first post in the event (the source author at the
    source post). The curve is sampled every ``freq`` from ``origin``: point ``i`` counts the
    users whose first post is at or before ``origin + i * freq``.

    Args:
        posts: frame with ``user_id``, ``time`` (tz-aware) and, optionally, ``event_id``.
        event_id: keep only this event. ``None``: one curve per event present (posts without
            an event form one group).
        freq: sampling interval (pandas offset string, e.g. ``"1h"``, ``"30min"``).
        origin: time of step 0. ``None``: the event's first post. Pass the same origin to
            compare a simulated run with the real cascade.
        periods: number of intervals after the origin. ``None``: until the last adopter
            (per event), so the last point is the final cascade size.

    Returns:
        Tidy frame, one row per event and step: ``event_id, step, time, hours, adopters,
        new_adopters``.

    Raises:
        KeyError: a required column is missing.

    Examples:
        >>> posts = pd.DataFrame({
        ...     "user_id": ["a", "b", "c", "b"],
        ...     "time": pd.to_datetime(["2023-01-01 00:00", "2023-01-01 00:30",
        ...                             "2023-01-01 02:10", "2023-01-01 03:00"], utc=True),
        ...     "event_id": "e1"})
        >>> curve = spread_curve(posts)
        >>> curve["hours"].tolist(), curve["adopters"].tolist()
        ([0.0, 1.0, 2.0, 3.0], [1, 2, 2, 3])
    """
    for col in ("user_id", "time"):
        if col not in posts.columns:
            raise KeyError(f"posts frame needs a {col!r} column")
    df = posts[posts["time"].notna()]
    if not isinstance(df["time"].dtype, pd.DatetimeTZDtype):
        df = df.assign(time=pd.to_datetime(df["time"], utc=True))
    has_event = "event_id" in df.columns
    if event_id is not None:
        if not has_event:
            raise KeyError("posts frame has no 'event_id' column to select from")
        df = df[df["event_id"] == event_id]
    step = pd.Timedelta(freq)
    if step <= pd.Timedelta(0):
        raise ValueError(f"freq must be positive, got {freq!r}")
    columns = ["event_id", "step", "time", "hours", "adopters", "new_adopters"]
    if df.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float") for c in columns})
        return out.astype({"event_id": "string", "step": "int64", "adopters": "int64",
                           "new_adopters": "int64", "time": "datetime64[ns, UTC]"})
    groups = (df.groupby(df["event_id"].astype("string").fillna("<none>"), sort=True)
              if has_event else [("<none>", df)])
    parts = []
    for eid, group in groups:
        curve = _one_curve(group, step, origin, periods)
        curve.insert(0, "event_id", None if eid == "<none>" else eid)
        parts.append(curve)
    out = pd.concat(parts, ignore_index=True)
    out["event_id"] = out["event_id"].astype("string")
    return out


def trend_shares(posts: pd.DataFrame, column: str, x: str = "step", freq: str | None = None,
                 origin: Any = None, by: str | list[str] | None = None) -> pd.DataFrame:
    """Share of each value of ``column`` (e.g. emotion, stance) per step or time bin.

    Args:
        posts: frame holding ``column`` and ``x`` (rows with a missing label are dropped).
        column: the label column.
        x: the grouping column: a step number, or ``"time"`` together with ``freq``.
        freq: when given, ``x`` is a time column binned every ``freq`` from ``origin``; the
            output then has ``step`` (bin number), ``time`` (bin start) and ``hours``.
        origin: start of the first bin (``None``: the first post).
        by: extra grouping column(s), e.g. ``"source"`` (real / simulated): shares are
            computed within each group and step.

    Returns:
        Tidy frame: ``[by...], <x or step/time/hours>, <column>, count, share`` with shares
        summing to 1 within each group and step. Values absent in a step get a row with count 0.

    Examples:
        >>> df = pd.DataFrame({"step": [0, 0, 1, 1, 1],
        ...                    "emotion": ["calm", "intense", "calm", "calm", "calm"]})
        >>> trend_shares(df, "emotion")["share"].tolist()
        [0.5, 0.5, 1.0, 0.0]
    """
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    for col in (column, x, *keys):
        if col not in posts.columns:
            raise KeyError(f"posts frame needs a {col!r} column")
    df = posts[posts[column].notna()]
    if freq is not None:
        t = pd.to_datetime(df[x], utc=True)
        t0 = t.min() if origin is None else pd.Timestamp(origin)
        if t0.tzinfo is None:
            t0 = t0.tz_localize("UTC")
        step = pd.Timedelta(freq)
        df = df.assign(step=((t - t0) // step).astype("int64").to_numpy())
        x_out = "step"
    else:
        x_out = x
    counts = df.groupby([*keys, x_out, column], observed=True).size().unstack(fill_value=0)
    counts = counts.reindex(columns=sorted(counts.columns, key=str))
    shares = counts.div(counts.sum(axis=1), axis=0)
    out = (counts.stack().rename("count").to_frame()
           .join(shares.stack().rename("share")).reset_index())
    out["count"] = out["count"].astype("int64")
    out["share"] = out["share"].astype(float)
    if freq is not None:
        pos = len(keys) + 1
        out.insert(pos, "time", t0 + out["step"] * step)
        out.insert(pos + 1, "hours", out["step"] * (step / pd.Timedelta(hours=1)))
    return out
