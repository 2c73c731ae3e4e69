"""Benchmark task builders: turn ``SocialDataset``s into evaluation items (docs/evaluation.md).

Every builder takes a *train* and an *eval* :class:`~s3kit.datasets.base.SocialDataset` of the
same dataset and returns a :class:`Task` (or ``None`` with a reason when the data does not
hold what the task needs). Items are plain pandas frames, so the same task feeds the LLM
agents, the classical baseline and the notebooks. The exact definitions are in
``docs/benchmark.md``; the short version:

* ``emotion``: labelled posts mapped to S3's three intensity levels (:data:`EMOTION_LEVELS`).
* ``attitude``: stance-labelled posts, favour/support = ``positive``, against/deny =
  ``negative`` (neutral, query and comment rows are dropped: S3's attitude is binary).
* ``attitude_change``: RumourEval replies: the reply's stance given the message replied to,
  that message's stance and the reply.
* ``gender``: users with a known male/female gender (bio + a post).
* ``repost``: users exposed to a cascade through the follow graph (followers of adopters)
  who adopt within the horizon (positives) or not (negatives).
* ``content``: replies/reposts with their parent post (generate one, score the real one).
* ``spread``, ``emotion_trend``, ``attitude_trend``: whole events (cascades/threads).

The deterministic validation split (:func:`split_dataset`) keeps whole events, threads,
cascades and users together and depends only on their ids, never on row order.

Examples:
    >>> is_validation(["a", "b", "c", "d", "e", "f", "g", "h"]).tolist()
    [True, False, True, False, False, False, False, False]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..datasets import available_datasets, dataset_format, load_dataset
from ..datasets.base import SocialDataset
from ..text import detect_language
from ..vocabulary import ATTITUDES, EMOTIONS, GENDERS, REPOST_LABELS

__all__ = [
    "Task",
    "DatasetPairs",
    "TASKS",
    "LABEL_TASKS",
    "REPLAY_TASKS",
    "TASK_DATASETS",
    "T_KNOWN",
    "EMOTION_LEVELS",
    "STANCE_ATTITUDE",
    "STANCE_TOPICS",
    "is_validation",
    "split_dataset",
    "emotion_task",
    "attitude_task",
    "attitude_change_task",
    "gender_task",
    "repost_task",
    "content_task",
    "event_task",
    "balanced_sample",
    "repost_comment",
]

#: Discrete emotion categories -> S3's intensity levels, by arousal (circumplex model of
#: affect; low-arousal feelings calm, high-arousal ones intense). CLUE Emotion2020 (Weibo)
#: and TweetEval emotion labels; anything else is dropped and counted.
EMOTION_LEVELS = {
    # CLUE Emotion2020
    "like": "calm", "sadness": "calm",
    "happiness": "moderate", "disgust": "moderate",
    "anger": "intense", "fear": "intense", "surprise": "intense",
    # TweetEval emotion
    "optimism": "calm", "joy": "moderate",
    # own data (tidy labels with task "emotion") may use the levels themselves
    "calm": "calm", "moderate": "moderate", "intense": "intense",
}

#: Stance label -> S3 attitude (binary); labels not listed (none, query, comment) are dropped.
STANCE_ATTITUDE = {
    "favor": "positive", "support": "positive",
    "against": "negative", "deny": "negative",
    # own data (tidy labels with task "attitude") may use the attitudes themselves
    "positive": "positive", "negative": "negative",
}

#: What a TweetEval stance task is about (the attitude prompt's topic).
STANCE_TOPICS = {
    "stance_feminist": "feminism",
    "stance_climate": "climate change being a real concern",
    "stance_abortion": "legal abortion",
    "stance_atheism": "atheism",
    "stance_hillary": "Hillary Clinton",
}

#: Gender spellings in the data -> the vocabulary's ``GENDERS``.
_GENDERS = {"male": "male", "female": "female", "m": "male", "f": "female"}


@dataclass
class Task:
    """One benchmark task on one dataset: train items, eval items, label set and notes.

    Attributes:
        name: task name (``"emotion"``, ``"repost"`` ...).
        dataset: where the items come from (``"clue_emotion2020"``, ``"tweeteval/emotion"``).
        train: training items (for the baseline and for tuning).
        eval: evaluation items.
        labels: label set in a fixed order (empty for generation/spread tasks).
        notes: how the items were made (mappings, drops, horizons), copied into the JSON.
    """

    name: str
    dataset: str
    train: pd.DataFrame
    eval: pd.DataFrame
    labels: tuple = ()
    notes: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Task({self.name!r} on {self.dataset!r}: {len(self.train)} train, "
                f"{len(self.eval)} eval, labels={list(self.labels)})")


#: The benchmark's tasks (the JSON contract of docs/benchmark.md), in report order.
TASKS = ("repost", "emotion", "attitude", "attitude_change", "gender", "content", "spread",
         "emotion_trend", "attitude_trend")
#: Tasks whose items are labelled (classification), in report order.
LABEL_TASKS = ("repost", "emotion", "attitude", "attitude_change", "gender")
#: Tasks that replay populations of agents through the simulation (whole events).
REPLAY_TASKS = ("spread", "emotion_trend", "attitude_trend")

#: Which datasets feed which task, in preference order (tree folders such as twitter16 are
#: added to ``spread`` automatically).
TASK_DATASETS: dict[str, tuple[str, ...]] = {
    "repost": ("mcid_twitter", "ced", "twitter15"),
    "emotion": ("clue_emotion2020", "tweeteval"),
    "attitude": ("nlpcc2016_stance", "tweeteval", "rumoureval2017"),
    "attitude_change": ("rumoureval2017",),
    "gender": ("twitter_gender", "ced"),
    "content": ("rumoureval2017", "ced"),
    "spread": ("mcid_twitter", "ced", "twitter15"),
    "emotion_trend": ("ced", "rumoureval2017"),
    "attitude_trend": ("rumoureval2017", "ced"),
}


class DatasetPairs:
    """Loads each dataset once and pairs its train and eval sides.

    Without ``eval_dir`` the eval side is the deterministic validation split of
    ``train_dir`` (:func:`split_dataset`); with it, the whole of each folder.
    """

    def __init__(self, train_dir, eval_dir, progress: bool, fraction: float = 0.2):
        self.train_dir = Path(train_dir)
        self.eval_dir = Path(eval_dir) if eval_dir is not None else None
        self.progress = progress
        self.fraction = fraction
        self.train_names = available_datasets(self.train_dir)
        self.eval_names = (available_datasets(self.eval_dir) if self.eval_dir is not None
                           else self.train_names)
        self._cache: dict[str, tuple] = {}

    def tree_datasets(self) -> list[str]:
        """Eval-side folders of unknown name (Twitter15-style trees such as twitter16)."""
        return [n for n in self.eval_names if n not in T_KNOWN and n not in self.own_datasets()]

    def own_datasets(self) -> list[str]:
        """Eval-side folders in the tidy format (a user's own data): they feed every task."""
        root = self.eval_dir or self.train_dir
        return [n for n in self.eval_names if dataset_format(n, root) == "tidy"]

    def pair(self, name: str):
        """``(train, eval)`` SocialDatasets, or a string saying why not."""
        if name in self._cache:
            return self._cache[name]
        if name not in self.eval_names:
            where = self.eval_dir or self.train_dir
            out = f"{name} not found in {where}"
        elif self.eval_dir is None:
            ds = load_dataset(name, self.train_dir, progress=False)
            out = split_dataset(ds, self.fraction)
        else:
            ev = load_dataset(name, self.eval_dir, progress=False)
            tr = (load_dataset(name, self.train_dir, progress=False)
                  if name in self.train_names else SocialDataset(name=name, follows=ev.follows))
            out = (tr, ev)
        self._cache[name] = out
        return out

    def keep(self, names) -> None:
        """Forget the loaded datasets not in ``names`` (they are read again if asked for)."""
        names = set(names)
        for name in [n for n in self._cache if n not in names]:
            del self._cache[name]


T_KNOWN = {"ced", "twitter15", "twitter16", "mcid_twitter", "rumoureval2017",
           "nlpcc2016_stance", "clue_emotion2020", "tweeteval", "twitter_gender"}


# ----------------------------------------------------------------------------- splits


def is_validation(keys, fraction: float = 0.2, salt: str = "s3kit-bench") -> np.ndarray:
    """Deterministic membership of the validation split, from a hash of each key.

    ``md5(salt + key)`` read as a number in ``[0, 1)`` is below ``fraction``: the same key is
    always on the same side, whatever the row order or the other keys.

    Args:
        keys: group ids (event, thread, cascade, user, or the text of a labelled row).
        fraction: share of keys sent to validation.
        salt: changes the split.

    Returns:
        Boolean array, ``True`` for validation.
    """
    out = np.empty(len(keys), dtype=bool)
    for i, k in enumerate(keys):
        h = hashlib.md5(f"{salt}:{k}".encode()).digest()
        out[i] = int.from_bytes(h[:8], "little") / 2**64 < fraction
    return out


def _group_of_posts(posts: pd.DataFrame) -> pd.Series:
    ev = posts["event_id"].astype("string")
    return ev.fillna(posts["post_id"].astype("string"))


def split_dataset(ds: SocialDataset, fraction: float = 0.2, salt: str = "s3kit-bench"
                  ) -> tuple[SocialDataset, SocialDataset]:
    """Split a dataset into (train, validation), keeping groups together.

    Posts go by ``event_id`` (a whole cascade or thread on one side; posts without an event by
    their own id), events by ``event_id``, users by ``user_id`` (so a user's posts and
    demographics stay with the user for user-level datasets without events), labelled rows by
    their text. The follow graph is kept whole on both sides (it is the environment, not a
    label).

    Args:
        ds: the dataset.
        fraction: share sent to validation.
        salt: hash salt.

    Returns:
        ``(train, validation)`` datasets named like ``ds``.

    Examples:
        >>> import pandas as pd
        >>> texts = [f"t{i}" for i in range(1000)]
        >>> ds = SocialDataset("toy", labels=pd.DataFrame({"text": texts, "label": "x"}))
        >>> tr, va = split_dataset(ds)
        >>> len(tr.labels) + len(va.labels), len(va.labels)
        (1000, 193)
    """
    posts = ds.posts
    if len(ds.events) or posts["event_id"].notna().any():
        pval = is_validation(_group_of_posts(posts).tolist(), fraction, salt)
        uval = None
    else:
        pval = is_validation(posts["user_id"].astype("string").fillna("").tolist(), fraction,
                             salt)
        uval = is_validation(ds.users["user_id"].astype("string").fillna("").tolist(),
                             fraction, salt)
    eval_ev = is_validation(ds.events["event_id"].astype("string").fillna("").tolist(),
                            fraction, salt)
    lval = is_validation(ds.labels["text"].astype("string").fillna("").tolist(), fraction, salt)

    def part(val: bool) -> SocialDataset:
        users = ds.users if uval is None else ds.users[uval == val]
        return SocialDataset(name=ds.name, source=ds.source, users=users, follows=ds.follows,
                             posts=posts[pval == val], events=ds.events[eval_ev == val],
                             labels=ds.labels[lval == val])

    return part(False), part(True)


def balanced_sample(df: pd.DataFrame, n: int | None, label: str = "label", seed: int = 0
                    ) -> pd.DataFrame:
    """Up to ``n`` rows with the classes as equal as the data allows (deterministic).

    Each class gets ``n // k`` rows (fewer if it has fewer; the remainder is filled from the
    larger classes). ``n=None`` keeps everything.

    Examples:
        >>> df = pd.DataFrame({"label": ["a"] * 10 + ["b"] * 3})
        >>> balanced_sample(df, 6)["label"].value_counts().to_dict()
        {'a': 3, 'b': 3}
    """
    if n is None or len(df) <= n:
        return df.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    groups = {k: g.index.to_numpy() for k, g in df.groupby(label, sort=True)}
    for k in groups:
        groups[k] = rng.permutation(groups[k])
    k = len(groups)
    take = {c: min(len(ix), n // k) for c, ix in groups.items()}
    left = n - sum(take.values())
    for c in sorted(groups, key=lambda c: -len(groups[c])):
        extra = min(left, len(groups[c]) - take[c])
        take[c] += extra
        left -= extra
    idx = np.concatenate([groups[c][:take[c]] for c in groups])
    return df.loc[np.sort(idx)].reset_index(drop=True)


def _sample(df: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    if n is None or len(df) <= n:
        return df.reset_index(drop=True)
    return df.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


# ----------------------------------------------------------------------------- label tasks


def _tag_language(ev: pd.DataFrame, tr: pd.DataFrame, texts) -> str:
    """Language of ``texts`` (from the eval items), written to ``ev`` and a non-empty ``tr``."""
    lang = detect_language(texts)
    ev["language"] = lang
    if not tr.empty:
        tr["language"] = lang
    return lang


def emotion_task(train: SocialDataset, eval: SocialDataset, dataset: str | None = None,  # noqa: A002
                 n_eval: int | None = None, n_train: int | None = None, seed: int = 0
                 ) -> Task | None:
    """Emotion intensity items from a labelled corpus (``labels`` rows with task ``emotion``).

    Labels are mapped to ``calm / moderate / intense`` by :data:`EMOTION_LEVELS`; unmapped
    labels are dropped and counted in ``notes["dropped"]``. Eval items are balanced over the
    three levels (:func:`balanced_sample`).

    Returns:
        The task, or ``None`` when the eval side has no emotion labels.
    """
    def items(ds: SocialDataset) -> tuple[pd.DataFrame, int]:
        lab = ds.labels[ds.labels["task"].astype("string").str.startswith("emotion").fillna(
            False)]
        level = lab["label"].astype("string").str.lower().map(EMOTION_LEVELS)
        out = pd.DataFrame({"text": lab["text"].astype(str).to_numpy(),
                            "label": level.to_numpy(),
                            "source_label": lab["label"].astype(str).to_numpy()})
        dropped = int(out["label"].isna().sum())
        return out.dropna(subset=["label"]).reset_index(drop=True), dropped

    ev, dropped = items(eval)
    if ev.empty:
        return None
    tr, dropped_tr = items(train)
    lang = detect_language(ev["text"])
    ev["language"] = tr["language"] = lang
    return Task("emotion", dataset or eval.name, _sample(tr, n_train, seed),
                balanced_sample(ev, n_eval, seed=seed), EMOTIONS,
                {"mapping": {k: v for k, v in EMOTION_LEVELS.items()
                             if k in set(ev["source_label"]) | set(tr["source_label"])},
                 "dropped": dropped + dropped_tr, "language": lang})


def attitude_task(train: SocialDataset, eval: SocialDataset, dataset: str | None = None,  # noqa: A002
                  n_eval: int | None = None, n_train: int | None = None, seed: int = 0
                  ) -> Task | None:
    """Binary attitude items from stance labels (corpus rows, or RumourEval posts).

    ``favor``/``support`` -> ``positive``, ``against``/``deny`` -> ``negative``; other stances
    are dropped. The topic is the NLPCC target, the TweetEval task's subject
    (:data:`STANCE_TOPICS`) or, for RumourEval, the thread's source tweet (the claim).
    """
    def items(ds: SocialDataset) -> pd.DataFrame:
        if len(ds.labels):
            lab = ds.labels[ds.labels["task"].astype("string").str.startswith(
                ("stance", "attitude")).fillna(False)]
            topic = (lab["target"].astype("string") if "target" in lab.columns
                     else lab["task"].astype("string").map(STANCE_TOPICS))
            topic = topic.fillna(lab["task"].astype("string"))
            return pd.DataFrame({
                "text": lab["text"].astype(str).to_numpy(),
                "label": lab["label"].astype("string").str.lower().map(STANCE_ATTITUDE)
                .to_numpy(),
                "topic": topic.to_numpy(), "context": None,
                "group": lab["task"].astype(str).to_numpy()}).dropna(subset=["label"])
        posts = ds.posts
        if "stance" not in posts.columns:
            return pd.DataFrame(columns=["text", "label", "topic", "context", "group"])
        src = posts.set_index("post_id")["text"]
        root = posts["event_id"].map(src)
        return pd.DataFrame({
            "text": posts["text"].astype(str).to_numpy(),
            "label": posts["stance"].astype("string").str.lower().map(STANCE_ATTITUDE)
            .to_numpy(),
            "topic": root.astype("string").to_numpy(), "context": None,
            "group": posts["event_id"].astype(str).to_numpy()}).dropna(subset=["label"])

    ev = items(eval)
    if ev.empty:
        return None
    tr = items(train)
    lang = detect_language(ev["text"])
    ev["language"] = tr["language"] = lang
    return Task("attitude", dataset or eval.name, _sample(tr.reset_index(drop=True), n_train,
                                                          seed),
                balanced_sample(ev.reset_index(drop=True), n_eval, seed=seed), ATTITUDES,
                {"mapping": STANCE_ATTITUDE, "language": lang,
                 "topic": "NLPCC target / TweetEval subject / RumourEval source claim"})


def attitude_change_task(train: SocialDataset, eval: SocialDataset,  # noqa: A002
                         dataset: str | None = None, n_eval: int | None = None,
                         n_train: int | None = None, seed: int = 0) -> Task | None:
    """RumourEval replies: the reply's attitude given the message replied to and its stance.

    Items are replies whose stance is support/deny (-> positive/negative) and whose parent
    post is in the data with a known stance. Columns: ``context`` (parent text),
    ``parent_stance`` (support/deny/query/comment), ``parent_attitude`` (positive/negative or
    missing), ``text`` (the reply), ``topic`` (the source claim), ``label``, and ``changed``
    (the reply's attitude differs from the parent's; missing when the parent is neutral).
    """
    def items(ds: SocialDataset) -> pd.DataFrame:
        posts = ds.posts
        if "stance" not in posts.columns or posts["parent_id"].isna().all():
            return pd.DataFrame()
        by_id = posts.set_index("post_id")
        rep = posts[posts["parent_id"].notna()]
        rep = rep[rep["parent_id"].isin(by_id.index)]
        pst = rep["parent_id"].map(by_id["stance"]).astype("string")
        label = rep["stance"].astype("string").str.lower().map(STANCE_ATTITUDE)
        out = pd.DataFrame({
            "text": rep["text"].astype(str).to_numpy(),
            "context": rep["parent_id"].map(by_id["text"]).astype(str).to_numpy(),
            "parent_stance": pst.to_numpy(),
            "parent_attitude": pst.str.lower().map(STANCE_ATTITUDE).to_numpy(),
            "topic": rep["event_id"].map(by_id["text"]).astype("string").to_numpy(),
            "label": label.to_numpy(),
            "group": rep["event_id"].astype(str).to_numpy(),
        })
        out = out.dropna(subset=["label", "parent_stance"]).reset_index(drop=True)
        out["changed"] = np.where(out["parent_attitude"].isna(), None,
                                  out["parent_attitude"] != out["label"])
        return out

    ev = items(eval)
    if ev.empty:
        return None
    tr = items(train)
    lang = _tag_language(ev, tr, ev["text"])
    return Task("attitude_change", dataset or eval.name, _sample(tr, n_train, seed),
                balanced_sample(ev, n_eval, seed=seed), ATTITUDES,
                {"mapping": STANCE_ATTITUDE, "language": lang,
                 "input": "message replied to + its stance + the reply"})


def gender_task(train: SocialDataset, eval: SocialDataset, dataset: str | None = None,  # noqa: A002
                n_eval: int | None = None, n_train: int | None = None, seed: int = 0,
                min_confidence: float = 0.6) -> Task | None:
    """Users with a known gender: bio (if any) + one post -> ``male`` / ``female``.

    Twitter gender: ``gender`` male/female (brand/unknown dropped) with
    ``gender_confidence >= min_confidence``; the bio and the user's tweet. CED: source authors'
    ``m``/``f`` gender; their source post (Weibo has no bio in CED). Own data may also give
    ``labels`` rows with task ``gender`` (a text by a male/female author, no bio).
    """
    def items(ds: SocialDataset) -> pd.DataFrame:
        users = ds.users
        lab = ds.labels[ds.labels["task"].astype("string").str.lower().eq("gender").fillna(
            False)]
        labelled = pd.DataFrame({  # own data: labelled text (task "gender"), no user
            "user_id": pd.NA, "bio": pd.NA, "text": lab["text"].astype("string").to_numpy(),
            "label": lab["label"].astype("string").str.lower().map(_GENDERS).to_numpy(),
        }).dropna(subset=["label"])
        if "gender" not in users.columns:
            return labelled.reset_index(drop=True)
        g = users["gender"].astype("string").str.lower().map(_GENDERS)
        keep = g.notna()
        if "gender_confidence" in users.columns:
            conf = pd.to_numeric(users["gender_confidence"], errors="coerce")
            keep &= conf.fillna(1.0) >= min_confidence
        u = users[keep].assign(label=g[keep])
        first_post = (ds.posts.dropna(subset=["text"]).drop_duplicates("user_id")
                      .set_index("user_id")["text"])
        bio = u["bio"].astype("string") if "bio" in u.columns else pd.Series(pd.NA,
                                                                            index=u.index)
        out = pd.DataFrame({
            "user_id": u["user_id"].astype(str).to_numpy(),
            "bio": bio.to_numpy(),
            "text": u["user_id"].map(first_post).astype("string").to_numpy(),
            "label": u["label"].to_numpy(),
        })
        return (pd.concat([out, labelled], ignore_index=True) if len(labelled)
                else out.reset_index(drop=True))

    ev = items(eval)
    if ev.empty:
        return None
    tr = items(train)
    lang = _tag_language(ev, tr, ev["text"].fillna("").tolist() + ev["bio"].fillna("").tolist())
    return Task("gender", dataset or eval.name, _sample(tr, n_train, seed),
                balanced_sample(ev, n_eval, seed=seed), GENDERS,
                {"language": lang, "min_confidence": min_confidence,
                 "input": "bio + one post by the user"})


# ----------------------------------------------------------------------------- repost


def _adoptions(ds: SocialDataset) -> pd.DataFrame:
    """First adoption time (seconds, float) of each user in each cascade."""
    p = ds.posts.dropna(subset=["user_id", "event_id", "time"])
    t = (p["timestamp"].astype(float) if "timestamp" in p.columns
         else p["time"].astype("int64") / 1e9)
    df = pd.DataFrame({"event_id": p["event_id"].astype(str).to_numpy(),
                       "user_id": p["user_id"].astype(str).to_numpy(), "t": t.to_numpy()})
    return df.sort_values("t", kind="stable").drop_duplicates(["event_id", "user_id"])


def _exposures(adopt: pd.DataFrame, followers: dict[str, list[str]], horizon_s: float
               ) -> pd.DataFrame:
    """One row per (cascade, exposed user): first exposure time, adoption time, horizon end."""
    rows = []
    for ev, grp in adopt.groupby("event_id", sort=False):
        t_of = dict(zip(grp["user_id"], grp["t"], strict=True))
        first: dict[str, float] = {}
        for u, tu in zip(grp["user_id"], grp["t"], strict=True):
            for v in followers.get(u, ()):
                tv = t_of.get(v)
                if v == u or (tv is not None and tv <= tu):
                    continue  # v adopted before (or with) u: not exposed by u
                first[v] = min(first.get(v, tu), tu)
        for v, tf in first.items():
            tv = t_of.get(v)
            rows.append((ev, v, tf, tv, tf + horizon_s if tv is None else
                         min(tv, tf + horizon_s)))
    return pd.DataFrame(rows, columns=["event_id", "user_id", "exposed_t", "adopt_t",
                                       "limit_t"])


def repost_task(train: SocialDataset, eval: SocialDataset, dataset: str | None = None,  # noqa: A002
                n_eval: int | None = None, n_train: int | None = None, seed: int = 0,
                horizon_hours: float = 24.0) -> Task | None:
    """Exposed users of cascades on the follow graph, and whether they repost.

    Exposure: with ``follows`` read as ``follower -> followee`` (the follower sees the
    followee's posts), user ``v`` is exposed to cascade ``c`` at the first time ``t_e`` one of
    its followees adopts ``c`` while ``v`` has not adopted yet. Positive: ``v`` adopts ``c``
    within ``horizon_hours`` after ``t_e``. Negative: ``v`` does not adopt within the horizon
    (it never adopts, or later). Users who adopt before any exposure are not items (the graph
    cannot explain them). Features of each item (what the agent and the baseline see):
    ``n_exposures`` (followees that adopted before ``v``'s decision point: its adoption or the
    horizon's end), ``mutual_exposures`` (those that also follow ``v``), ``history`` (other
    *train* cascades ``v`` adopted), ``n_followees``, ``n_followers``. Eval items are balanced
    (half positive).

    Returns:
        The task (labels ``("nothing", "repost")``), or ``None`` when there is no follow graph
        (CED and Twitter15/16 have none: exposure is not derivable).
    """
    if eval.follows.empty or eval.posts.empty:
        return None
    follows = eval.follows.astype(str)
    followers: dict[str, list[str]] = {}
    followees: dict[str, set[str]] = {}
    for a, b in zip(follows["follower"], follows["followee"], strict=True):
        followers.setdefault(b, []).append(a)
        followees.setdefault(a, set()).add(b)
    horizon = horizon_hours * 3600.0
    train_adopt = _adoptions(train) if not train.posts.empty else pd.DataFrame(
        columns=["event_id", "user_id", "t"])
    history = train_adopt.groupby("user_id").size()

    def items(adopt: pd.DataFrame, own: bool) -> pd.DataFrame:
        exp = _exposures(adopt, followers, horizon)
        if exp.empty:
            return exp
        exp["label"] = np.where(exp["adopt_t"].notna() & (exp["adopt_t"] <= exp["limit_t"]),
                                "repost", "nothing")
        t_of = {(e, u): t for e, u, t in adopt[["event_id", "user_id", "t"]].itertuples(
            index=False)}
        n_exp, n_mut = [], []
        for ev, v, lim in exp[["event_id", "user_id", "limit_t"]].itertuples(index=False):
            fe = followees.get(v, set())
            c = [u for u in fe if (ev, u) in t_of and t_of[(ev, u)] <= lim and u != v]
            n_exp.append(len(c))
            n_mut.append(sum(1 for u in c if v in followees.get(u, set())))
        exp["n_exposures"] = n_exp
        exp["mutual_exposures"] = n_mut
        hist = exp["user_id"].map(history).fillna(0).astype(int)
        if own:  # do not count the item's own cascade in its history
            hist = hist - (exp["adopt_t"].notna()).astype(int)
        exp["history"] = hist.clip(lower=0)
        exp["n_followees"] = exp["user_id"].map(lambda u: len(followees.get(u, ()))).astype(int)
        exp["n_followers"] = exp["user_id"].map(lambda u: len(followers.get(u, ()))).astype(int)
        return exp.drop(columns=["limit_t"]).reset_index(drop=True)

    ev = items(_adoptions(eval), own=False)
    if ev.empty or ev["label"].nunique() < 2:
        return None
    tr = items(train_adopt, own=True) if len(train_adopt) else ev.iloc[:0]
    names = {}
    if "screen_name" in eval.users.columns:
        names = dict(zip(eval.users["user_id"].astype(str),
                         eval.users["screen_name"].astype("string"), strict=True))
    for df in (ev, tr):
        df["name"] = df["user_id"].map(names) if names else None
        df["language"] = "en"
    return Task("repost", dataset or eval.name, balanced_sample(tr, n_train, seed=seed),
                balanced_sample(ev, n_eval, seed=seed), REPOST_LABELS,
                {"horizon_hours": horizon_hours, "exposure": "followers of adopters "
                 "(follows read follower -> followee)", "positives_eval":
                 int((ev["label"] == "repost").sum()), "negatives_eval":
                 int((ev["label"] == "nothing").sum())})


# ----------------------------------------------------------------------------- content


def repost_comment(texts) -> pd.Series:
    """The reposter's own words: ``//@user:`` chains and Weibo's default text removed.

    Examples:
        >>> repost_comment(["真的吗？//@小明: 转发", "转发微博", "Repost"]).tolist()
        ['真的吗？', '', '']
    """
    text = pd.Series(texts, dtype="string").fillna("").astype(str)
    text = text.str.replace(r"//@[^:：]*[:：].*$", "", regex=True)
    return text.str.replace(r"^(转发微博|Repost|轉發微博)\s*", "", regex=True).str.strip()


def content_task(train: SocialDataset, eval: SocialDataset, dataset: str | None = None,  # noqa: A002
                 n_eval: int | None = None, n_train: int | None = None, seed: int = 0,
                 min_chars: int = 8) -> Task | None:
    """Replies / reposts with text and their parent post (reply generation and perplexity).

    Items are posts with a ``parent_id`` found in the data, both with text. Trivial reposts
    (Weibo's default ``转发微博`` / ``Repost``, shorter than ``min_chars`` after removing
    ``//@user:`` chains) are dropped. Columns: ``context`` (parent text), ``topic`` (the
    event's source post), ``text`` (the real reply).
    """
    def items(ds: SocialDataset, n: int | None) -> pd.DataFrame:
        p = ds.posts
        if p.empty or p["parent_id"].isna().all():
            return pd.DataFrame()
        # the columns it reads; short reposts dropped (their words found slice by slice) and
        # the sample drawn before any text is copied: CED has a million reposts, and
        # whole-table copies took the full bench's content phase up by ~0.8 GB
        p = p.loc[p["text"].notna(), ["post_id", "parent_id", "event_id", "text"]]
        by_id = p.drop_duplicates("post_id").set_index("post_id")["text"]
        rep = p[p["parent_id"].notna() & p["parent_id"].isin(by_id.index)]
        long_enough = np.zeros(len(rep), dtype=bool)
        for i in range(0, len(rep), 50_000):
            words = repost_comment(rep["text"].iloc[i:i + 50_000])
            long_enough[i:i + len(words)] = (words.str.len() >= min_chars).to_numpy()
        rep = _sample(rep[long_enough].reset_index(drop=True), n, seed)
        return pd.DataFrame({
            "text": repost_comment(rep["text"]).to_numpy(),
            "context": rep["parent_id"].map(by_id).astype(str).to_numpy(),
            "topic": rep["event_id"].map(by_id).astype("string").to_numpy(),
            "event_id": rep["event_id"].astype(str).to_numpy(),
        })

    ev = items(eval, n_eval)
    if ev.empty:
        return None
    tr = items(train, n_train)
    lang = _tag_language(ev, tr, ev["text"])
    return Task("content", dataset or eval.name, tr, ev, (),
                {"language": lang, "min_chars": min_chars})


# ----------------------------------------------------------------------------- events


def event_task(name: str, train: SocialDataset, eval: SocialDataset,  # noqa: A002
               dataset: str | None = None, n_eval: int | None = 5, min_size: int = 10,
               max_size: int | None = None, seed: int = 0) -> Task | None:
    """Events (cascades, threads) for ``spread`` / ``emotion_trend`` / ``attitude_trend``.

    Eval items: one row per event with at least ``min_size`` distinct adopters (and at most
    ``max_size`` when given), largest first, the first ``n_eval`` of them. Columns
    ``event_id, n_adopters, n_posts, start`` (first post time). ``train`` items are every
    training event the same way (the baselines are fitted on them).
    """
    def items(ds: SocialDataset) -> pd.DataFrame:
        p = ds.posts.dropna(subset=["event_id", "time"])
        if p.empty:
            return pd.DataFrame(columns=["event_id", "n_adopters", "n_posts", "start"])
        g = p.groupby(p["event_id"].astype(str))
        out = pd.DataFrame({"n_adopters": g["user_id"].nunique(dropna=True),
                            "n_posts": g.size(), "start": g["time"].min()})
        if ds.posts["user_id"].isna().all():  # threads without users: one adopter per post
            out["n_adopters"] = out["n_posts"]
        out = out.reset_index().rename(columns={"index": "event_id"})
        out = out[out["n_adopters"] >= min_size]
        if max_size is not None:
            out = out[out["n_adopters"] <= max_size]
        return out.sort_values(["n_adopters", "event_id"], ascending=[False, True]).reset_index(
            drop=True)

    ev = items(eval)
    if ev.empty:
        return None
    tr = items(train)
    return Task(name, dataset or eval.name, tr, ev if n_eval is None else ev.head(n_eval), (),
                {"min_size": min_size, "max_size": max_size})
