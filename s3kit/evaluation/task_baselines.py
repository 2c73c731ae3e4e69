"""The classical baseline of each benchmark task, fitted on the task's train side only.

* label tasks: TF-IDF + logistic regression on the items' texts (:func:`label_baseline`;
  exposure features + logistic regression for ``repost``) and, for ``repost``, an independent
  cascade fitted on the training cascades (:func:`repost_cascade_baseline`);
* ``content``: copy the parent post, or retrieve the reply of the most similar training parent
  (:func:`content_baselines`);
* ``spread``: Hawkes process, logistic growth and persistence fitted on a replay's seed window,
  independent cascade / linear threshold fitted on the training cascades
  (:func:`fit_graph_models`, :func:`spread_baseline_curves`);
* trends: the project's own text classifier labels unlabelled posts
  (:func:`trend_classifier`).

Examples:
    >>> import pandas as pd
    >>> from s3kit.evaluation.tasks import Task
    >>> items = pd.DataFrame({"text": ["good", "bad"] * 4, "label": ["pos", "neg"] * 4})
    >>> entry, probs = label_baseline(Task("emotion", "toy", items, items, ("neg", "pos")))
    >>> entry["tfidf_logreg"]["acc"], probs.shape
    (1.0, (8, 2))
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from ..baselines import (
    HawkesProcess,
    IndependentCascade,
    LinearThreshold,
    LogisticGrowth,
    TextBaseline,
    cascade_steps,
)
from ..datasets import SocialDataset
from .metrics import embedding_cosine, task_metrics
from .replays import EventReplay
from .sizes import BenchSizes
from .tasks import DatasetPairs, Task, attitude_task, emotion_task

__all__ = ["label_baseline", "repost_cascade_baseline", "content_baselines", "fit_graph_models",
           "spread_baseline_curves", "trend_classifier", "baseline_text"]

#: Exposure features of the ``repost`` baseline (log1p-scaled).
REPOST_FEATURES = ["n_exposures", "mutual_exposures", "history", "n_followees", "n_followers"]


def _str_or_empty(x) -> str:
    return "" if x is None or x is pd.NA or (isinstance(x, float) and x != x) else str(x)


def baseline_text(task: str, items: pd.DataFrame) -> list[str]:
    """What the TF-IDF baseline reads of each item (the same fields the agents' prompt shows).

    Examples:
        >>> baseline_text("attitude", pd.DataFrame({"topic": ["parks"], "text": ["yes!"]}))
        ['parks || yes!']
    """
    if task == "attitude_change":
        return [f"PARENT_{p} {c} REPLY {t}" for p, c, t in
                zip(items["parent_stance"], items["context"], items["text"], strict=True)]
    if task == "attitude":
        return [f"{_str_or_empty(tp)} || {t}" for tp, t in zip(items["topic"], items["text"],
                                                               strict=True)]
    if task == "gender":
        return [f"{_str_or_empty(b)} || {_str_or_empty(t)}"
                for b, t in zip(items["bio"], items["text"], strict=True)]
    return [str(t) for t in items["text"]]


def label_baseline(task: Task) -> tuple[dict, np.ndarray | None]:
    """TF-IDF + logistic regression (or features + LR for repost) on the task's train items.

    Returns:
        ``(baselines, probs)``: the JSON entry ``{name: metrics}`` (or ``{"note": why}``) and
        the eval items' probabilities (``None`` when no baseline could be fitted).
    """
    labels = list(task.labels)
    tr, ev = task.train, task.eval
    if tr.empty or tr["label"].nunique() < 2:
        return {"note": "no labelled training items on the train side"}, None
    if task.name == "repost":
        from sklearn.linear_model import LogisticRegression

        cols = list(REPOST_FEATURES)
        lr = LogisticRegression(max_iter=1000, class_weight="balanced")
        lr.fit(np.log1p(tr[cols].to_numpy(float)), (tr["label"] == "repost").astype(int))
        p = lr.predict_proba(np.log1p(ev[cols].to_numpy(float)))[:, 1]
        probs = np.column_stack([1 - p, p])
        out = {"logistic_features": {**task_metrics(ev["label"], probs, labels),
                                     "features": cols}}
        return out, probs
    tb = TextBaseline(class_weight="balanced", seed=0).fit(baseline_text(task.name, tr),
                                                           tr["label"].tolist())
    raw = tb.predict_proba(baseline_text(task.name, ev))
    probs = np.zeros((len(ev), len(labels)))
    for j, c in enumerate(tb.classes_):
        if c in labels:
            probs[:, labels.index(c)] = raw[:, j]
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
    return {"tfidf_logreg": {**task_metrics(ev["label"], probs, labels),
                             "analyzer": tb.analyzer_}}, probs


def _training_graph(train: SocialDataset) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_edges_from(zip(train.follows["follower"].astype(str),
                         train.follows["followee"].astype(str), strict=True))
    return g


def _training_cascades(train: SocialDataset, freq: str) -> pd.DataFrame:
    p = train.posts.dropna(subset=["event_id", "user_id"])
    return cascade_steps(pd.DataFrame({"cascade_id": p["event_id"].astype(str),
                                       "user_id": p["user_id"].astype(str),
                                       "time": p["time"]}), freq)


def repost_cascade_baseline(task: Task, train: SocialDataset) -> dict:
    """Fitted independent cascade: P(repost) = 1 - (1 - p)^exposures, p from train cascades."""
    ic = IndependentCascade(timing="order", seed=0).fit(_training_graph(train),
                                                        _training_cascades(train, "1h"))
    k = task.eval["n_exposures"].to_numpy(float)
    prob = 1 - (1 - ic.p_) ** k
    probs = np.column_stack([1 - prob, prob])
    metrics = task_metrics(task.eval["label"], probs, list(task.labels))
    # IC probabilities are tiny: accuracy/F1 at argmax are degenerate; AUC is the fair figure
    return {**metrics, "p": float(ic.p_), "note": "acc/f1 at P>0.5; ranking by exposures (AUC)"}


def content_baselines(task: Task, embedder, real: np.ndarray) -> dict:
    """Cosine to the real replies of copying the parent, and of TF-IDF retrieval (train side).

    Args:
        task: the ``content`` task.
        embedder: the embedder the agents' posts are compared with.
        real: embeddings of the real replies (rows of ``task.eval``).
    """
    ev = task.eval
    lang = str(ev["language"].iloc[0])
    out: dict = {"copy_parent": {"cosine": float(np.nanmean(embedding_cosine(
        embedder.embed([str(c) for c in ev["context"]]), real)))}}
    if len(task.train):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.neighbors import NearestNeighbors

        analyzer = "char_wb" if lang == "zh" else "word"
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2) if lang == "en" else (1, 3),
                              sublinear_tf=True)
        xt = vec.fit_transform([str(c) for c in task.train["context"]])
        nn = NearestNeighbors(n_neighbors=1, metric="cosine").fit(xt)
        _, idx = nn.kneighbors(vec.transform([str(c) for c in ev["context"]]))
        picked = [str(task.train["text"].iloc[i]) for i in idx[:, 0]]
        out["retrieval_tfidf"] = {"cosine": float(np.nanmean(embedding_cosine(
            embedder.embed(picked), real)))}
    return out


def fit_graph_models(train: SocialDataset, sizes: BenchSizes, seed: int) -> dict:
    """IC and LT fitted on the training cascades of a dataset with a follow graph."""
    g = _training_graph(train)
    casc = _training_cascades(train, f"{sizes.step_hours}h")
    return {"independent_cascade": IndependentCascade(seed=seed).fit(g, casc),
            "linear_threshold": LinearThreshold(seed=seed).fit(g, casc)}


def spread_baseline_curves(replay: EventReplay, graph_models: dict | None, seed: int
                           ) -> dict[str, np.ndarray]:
    """Baseline curves on the replay's grid: IC/LT (graph datasets), Hawkes, logistic growth.

    Every model sees only the replay's seed window (its first ``early_steps`` steps).
    A fit that fails is recorded as ``"<model>_error": message`` instead of a curve.
    """
    out: dict[str, np.ndarray] = {}
    posts, t0, early = replay.posts, replay.t0, replay.early_steps
    n_total = len(replay.real) - 1
    hours = ((posts.groupby("user_id")["time"].min() - t0) / pd.Timedelta(hours=1)).to_numpy()
    sh = replay.step_hours
    cap = float(replay.population)
    grid_h = np.arange(n_total + 1) * sh
    cut = early * sh
    early_t = np.sort(hours[hours <= cut])
    if len(early_t) >= 3:
        try:
            hk = HawkesProcess().fit(early_t, t_max=cut)
            out["hawkes"] = np.minimum(np.maximum.accumulate(hk.predict(grid_h)), cap)
        except Exception as exc:  # noqa: BLE001 - a failed fit is recorded, not fatal
            out["hawkes_error"] = str(exc)  # type: ignore[assignment]
        try:
            lg = LogisticGrowth().fit(early_t)
            out["logistic"] = np.minimum(np.maximum(lg.predict(grid_h), replay.real[0]), cap)
        except Exception as exc:  # noqa: BLE001
            out["logistic_error"] = str(exc)  # type: ignore[assignment]
    out["persistence"] = np.concatenate([replay.real[: early + 1],
                                         np.repeat(replay.real[early], n_total - early)])
    if graph_models:
        seeds = {u: int((t - t0) // pd.Timedelta(hours=sh)) for u, t in
                 posts.groupby("user_id")["time"].min().items()
                 if t <= replay.until}
        for name, model in graph_models.items():
            curve = model.simulate(seeds, n_total, n_replicates=50, seed=seed)
            out[name] = np.minimum(curve["cumulative"].to_numpy(float), cap)
    return out


def trend_classifier(data: DatasetPairs, task: str) -> dict | None:
    """The project's own classifier for unlabelled trend posts (TF-IDF + LR on train labels).

    Returns:
        ``{language: {"model": TextBaseline, "source": description}}``, or ``None`` when no
        labelled dataset is present.
    """
    out = {}
    if task == "emotion_trend":
        names = ("clue_emotion2020", "tweeteval")
    else:
        names = ("nlpcc2016_stance", "tweeteval")
    for name in names:
        pair = data.pair(name)
        if isinstance(pair, str):
            continue
        tr = pair[0]
        build = emotion_task if task == "emotion_trend" else attitude_task
        t = build(tr, tr, name)
        if t is None or t.eval["label"].nunique() < 2:
            continue
        out[t.notes.get("language", "en")] = {
            "model": TextBaseline(class_weight="balanced").fit(t.eval["text"].tolist(),
                                                               t.eval["label"].tolist()),
            "source": f"s3kit TextBaseline (TF-IDF + LR) trained on {name} train labels"}
    return out or None
