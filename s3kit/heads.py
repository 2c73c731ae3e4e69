"""Calibrated decision heads: small classifiers on what the agents' LLM makes of a context.

The agents' LLM reads a decision context **once** (:class:`s3kit.embeddings.LLMStateEmbedder`,
fused with multilingual e5 for Chinese, :class:`~s3kit.embeddings.FusedEmbedder`); a
:class:`DecisionHead` per decision (emotion, attitude, attitude change, action, gender) maps
that one representation to probabilities. Heads are trained on observed behaviour
(``s3kit tune``, :mod:`s3kit.evaluation.calibrate`) and bundled in a :class:`DecisionModel`
that saves and loads by name with a manifest (model, s3kit version, training-data digest,
validation metrics, the command that made it) and refuses heads made for another
representation or a damaged file.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = np.where(X[:, 0] > 0, "positive", "negative")
    >>> head = DecisionHead("attitude", ["negative", "positive"], seed=0).fit(X, y)
    >>> head.predict_proba(X[:2]).shape, float((head.predict(X) == y).mean()) > 0.9
    ((2, 2), True)
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from ._version import __version__
from .embeddings import BaseEmbedder, E5Embedder, FusedEmbedder, HashingEmbedder, LLMStateEmbedder
from .errors import HeadError
from .llm import load_llm
from .paths import cache_dir
from .vocabulary import ATTITUDES, EMOTIONS, GENDERS, REPOST_LABELS

__all__ = ["DecisionHead", "DecisionModel", "head_text", "heads_path", "embedder_spec",
           "embedder_from_spec", "resolve_decisions", "PERCEIVED", "HIDDEN_STATE_BACKENDS",
           "HEAD_CLASSES", "PARENT_STANCES"]

#: Label order of each head.
HEAD_CLASSES = {
    "emotion": EMOTIONS,
    "attitude": ATTITUDES,
    "attitude_change": ATTITUDES,
    "action": REPOST_LABELS,
    "gender": GENDERS,
}

#: What an agent perceives about an exposure besides the texts (the action head's features):
#: followees that shared the event, those of them that follow back, the agent's earlier
#: adoptions, its followees and followers (log1p-scaled).
PERCEIVED = ("n_exposures", "mutual_exposures", "history", "n_followees", "n_followers")

#: Stance of the message replied to (RumourEval's categories), one-hot in attitude_change.
PARENT_STANCES = ("support", "deny", "query", "comment")

#: Backends that give the hidden states the calibrated heads read.
HIDDEN_STATE_BACKENDS = ("embedded", "server")

#: Packaged heads (trained on ../shared/data, see their manifest).
_PACKAGED = Path(__file__).parent / "heads_data"


def _s(x) -> str:
    return "" if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else str(x)


def head_text(task: str, items: pd.DataFrame) -> list[str]:
    r"""The text a head reads for each item of a labelled task (no question text).

    ``attitude``: the topic, then the post; ``attitude_change``: the message replied to, then
    the reply; ``gender``: the bio, then a post; otherwise the post.

    Examples:
        >>> items = pd.DataFrame({"topic": ["cats"], "text": ["love them"]})
        >>> print(head_text("attitude", items)[0])
        cats
        love them
    """
    lead = {"attitude": "topic", "attitude_change": "context", "gender": "bio"}.get(task)
    texts = items["text"].tolist()
    return _join(items[lead].tolist(), texts) if lead else [_s(t) for t in texts]


class DecisionHead:
    """Logistic regression on standardised features, regularisation chosen by 3-fold CV.

    Follows scikit-learn's contract: ``__init__`` stores parameters; ``fit`` learns
    ``classes_``, ``mean_``, ``scale_``, ``coef_``, ``intercept_`` and returns self.

    Args:
        task: the decision it makes (``"emotion"``, ``"attitude"``, ``"action"`` ...).
        classes: label order of ``predict_proba``'s columns.
        Cs: inverse regularisation strengths tried.
        balanced: weight classes equally while fitting (``False`` keeps the observed base
            rate, which a simulation needs for its rates to be right).
        seed: seed of the CV folds.
    """

    def __init__(self, task: str, classes: Sequence[str], *,
                 Cs: Sequence[float] = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
                 balanced: bool = True,
                 seed: int | None = 0):
        self.task = task
        self.classes = tuple(classes)
        self.Cs = tuple(Cs)
        self.balanced = balanced
        self.seed = seed

    def fit(self, X, y) -> DecisionHead:
        """Fit on ``(n, d)`` features and ``n`` labels (each one of ``classes``)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray([str(v) for v in y])
        unknown = sorted(set(y) - set(self.classes))
        if unknown:
            raise ValueError(f"labels {unknown} are not among the head's classes "
                             f"{list(self.classes)}")
        present = [c for c in self.classes if c in set(y)]
        if len(present) < 2:
            raise ValueError(f"a {self.task} head needs at least two classes in y, got "
                             f"{present}")
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        Z = (X - self.mean_) / self.scale_
        folds = min(3, int(pd.Series(y).value_counts().min()))
        cv = StratifiedKFold(max(folds, 2), shuffle=True, random_state=self.seed)

        def make(c):
            return LogisticRegression(C=c, class_weight="balanced" if self.balanced else None,
                                      max_iter=2000)

        scores = [cross_val_score(make(c), Z, y, cv=cv, scoring="neg_log_loss").mean()
                  if len(self.Cs) > 1 else 0.0 for c in self.Cs]
        self.C_ = float(self.Cs[int(np.argmax(scores))])
        lr = make(self.C_).fit(Z, y)
        coef = np.zeros((len(self.classes), X.shape[1]))
        icpt = np.full(len(self.classes), -30.0)  # classes absent from y: never predicted
        cls = list(lr.classes_)
        if len(cls) == 2:
            rows = {cls[0]: (-lr.coef_[0] / 2, -lr.intercept_[0] / 2),
                    cls[1]: (lr.coef_[0] / 2, lr.intercept_[0] / 2)}
        else:
            rows = {c: (lr.coef_[i], lr.intercept_[i]) for i, c in enumerate(cls)}
        for j, c in enumerate(self.classes):
            if c in rows:
                coef[j], icpt[j] = rows[c]
        self.classes_ = np.array(self.classes)
        self.coef_, self.intercept_ = coef, icpt
        self.n_features_in_ = X.shape[1]
        self.fitted_rate_ = float(np.mean(y == self.classes[-1]))
        self.prior_shift_ = 0.0
        return self

    def set_base_rate(self, rate: float, fitted_rate: float | None = None) -> DecisionHead:
        """Move a binary head fitted at one positive rate to the real one (prior shift).

        A head fitted on a sample enriched in positives (``fitted_rate``) over-predicts them;
        adding ``logit(rate) - logit(fitted_rate)`` to the positive logit restores the
        observed base rate (Bayes' rule, the likelihood ratio unchanged).
        """
        if len(self.classes) != 2:
            raise ValueError("set_base_rate applies to binary heads")

        def logit(p):
            p = min(max(float(p), 1e-6), 1 - 1e-6)
            return np.log(p / (1 - p))

        if fitted_rate is None:
            fitted_rate = self.fitted_rate_
        self.fitted_rate_ = float(fitted_rate)
        self.prior_shift_ = float(logit(rate) - logit(fitted_rate))
        self.base_rate_ = float(rate)
        return self

    def with_base_rate(self, rate: float) -> DecisionHead:
        """A copy of this binary head moved to another positive rate (this one unchanged)."""
        return copy.copy(self).set_base_rate(rate)

    def decision_function(self, X, observed_rate: bool = True) -> np.ndarray:
        """Per-class logits ``(n, k)`` (``observed_rate``: with the base-rate shift, if any)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"the {self.task} head expects {self.n_features_in_} features, "
                             f"got shape {X.shape}")
        z = ((X - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_
        shift = getattr(self, "prior_shift_", 0.0)
        if observed_rate and shift:
            z[:, 1] += shift
        return z

    def predict_proba(self, X, observed_rate: bool = True) -> np.ndarray:
        """Class probabilities ``(n, k)`` in the order of ``classes``.

        Args:
            X: features.
            observed_rate: apply the base-rate shift of :meth:`set_base_rate` (what a
                simulation needs); ``False`` gives the probabilities at the rate the head was
                fitted on (what a balanced benchmark compares).
        """
        z = self.decision_function(X, observed_rate)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __repr__(self) -> str:
        fitted = f", C={self.C_:g}, d={self.n_features_in_}" if hasattr(self, "C_") else ""
        return f"DecisionHead({self.task!r}, classes={list(self.classes)}{fitted})"


# ----------------------------------------------------------------------------- representation


def embedder_spec(embedder: BaseEmbedder) -> dict:
    """A JSON description of an embedder, enough to rebuild it (:func:`embedder_from_spec`).

    Examples:
        >>> embedder_spec(HashingEmbedder(dim=16))
        {'kind': 'hashing', 'dim': 16}
    """
    if isinstance(embedder, FusedEmbedder):
        return {"kind": "fused", "weights": embedder.weights,
                "parts": [embedder_spec(p) for p in embedder.parts]}
    if isinstance(embedder, LLMStateEmbedder):
        return {"kind": "llm", "model": embedder.llm.model,
                "adapter": getattr(embedder.llm, "adapter", None),
                "layers": list(embedder.layer_indices), "max_tokens": embedder.max_tokens,
                "dim": embedder.dim}
    if isinstance(embedder, E5Embedder):
        return {"kind": "e5", "name": embedder.name, "dim": embedder.dim}
    if isinstance(embedder, HashingEmbedder):
        return {"kind": "hashing", "dim": embedder.dim}
    raise HeadError(f"cannot describe embedder {embedder!r} in a head manifest")


def embedder_from_spec(spec: dict, llm=None, cache: str | os.PathLike | None = None
                       ) -> BaseEmbedder:
    """Rebuild the embedder a head was trained on, on top of ``llm`` where it reads the LLM.

    Raises:
        HeadError: ``llm`` is not the model (or adapter) the heads were trained for.
    """
    kind = spec.get("kind")
    if kind == "fused":
        return FusedEmbedder([embedder_from_spec(p, llm, cache) for p in spec["parts"]],
                             spec.get("weights"))
    if kind == "hashing":
        return HashingEmbedder(dim=int(spec["dim"]))
    if kind == "e5":
        remote = getattr(llm, "e5_embedder", None)  # the model server's e5 (s3kit serve)
        return remote(cache) if callable(remote) else E5Embedder(cache_dir=cache)
    if kind == "llm":
        if llm is None:
            llm = load_llm("embedded", spec["model"], adapter=spec.get("adapter"))
        got = (getattr(llm, "backend", "?"), getattr(llm, "model", None),
               getattr(llm, "adapter", None))
        if (got[0] not in HIDDEN_STATE_BACKENDS or got[1] != spec["model"]
                or got[2] != spec.get("adapter")):
            raise HeadError(
                f"these heads read the hidden states of {spec['model']!r}"
                f"{' + adapter ' + repr(spec['adapter']) if spec.get('adapter') else ''}; "
                f"the backend is {got[0]} {got[1]!r}"
                f"{' + adapter ' + repr(got[2]) if got[2] else ''}. Fit heads for it with "
                f"`s3kit tune --train-dir DIR --out NAME`, or use decisions: zero_shot")
        return LLMStateEmbedder(llm, layers=spec["layers"], max_tokens=spec["max_tokens"],
                                cache_dir=cache)
    raise HeadError(f"unknown representation kind {kind!r} in a head manifest")


def resolve_decisions(decisions: str, llm) -> str:
    """``"calibrated"`` or ``"zero_shot"``: what ``decisions: auto`` means for ``llm``.

    Calibrated on the backends with hidden states, which the shipped heads read: the embedded
    model and the shared model server (``s3kit serve``); zero-shot on the others (a plain
    OpenAI-compatible server gives no hidden states, the fake backend has none).

    Examples:
        >>> from s3kit.llm import FakeLLM
        >>> resolve_decisions("auto", FakeLLM()), resolve_decisions("calibrated", FakeLLM())
        ('zero_shot', 'calibrated')
    """
    if decisions == "auto":
        return ("calibrated" if getattr(llm, "backend", None) in HIDDEN_STATE_BACKENDS
                else "zero_shot")
    if decisions not in ("calibrated", "zero_shot"):
        raise ValueError(f"decisions must be auto, calibrated or zero_shot, got {decisions!r}")
    return decisions


def heads_path(name: str | os.PathLike) -> Path:
    """Folder of the heads called ``name``: a folder path, the user's, or the packaged one.

    User heads live under ``<s3kit cache>/heads/<name>`` (``s3kit tune --out NAME``) and take
    precedence over the packaged heads of the same name.
    """
    path = Path(name).expanduser()
    if (path / "manifest.json").exists():
        return path
    user = cache_dir() / "heads" / str(name)
    if (user / "manifest.json").exists():
        return user
    packaged = _PACKAGED / str(name)
    if (packaged / "manifest.json").exists():
        return packaged
    raise HeadError(f"no decision heads named {str(name)!r} (looked in {path}, {user} and "
                    f"{packaged}); fit them with `s3kit tune --train-dir DIR --out {name}`")


def _pooled(embedder: BaseEmbedder, texts, progress: bool = False) -> np.ndarray:
    """One unit-norm vector per row: a string, or the mean of a list of strings' vectors."""
    groups = [list(t) if isinstance(t, list | tuple | np.ndarray) else [t] for t in texts]
    flat = [_s(t) for g in groups for t in g]
    # each distinct text once: in a replay step thousands of agents read the same few posts
    index: dict[str, int] = {}
    rows = [index.setdefault(t, len(index)) for t in flat]
    vecs = (embedder.embed(list(index), progress=progress)[rows] if flat
            else np.zeros((0, embedder.dim), np.float32))
    out = np.zeros((len(groups), embedder.dim), dtype=np.float32)
    at = 0
    for i, g in enumerate(groups):
        if g:
            out[i] = vecs[at:at + len(g)].mean(axis=0)
            at += len(g)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def _join(a, b) -> list:
    r"""Per row: ``a + "\n" + b`` where ``b`` may be a list (joined with each of its items)."""
    out = []
    for x, y in zip(a, b, strict=True):
        if isinstance(y, list | tuple | np.ndarray):
            out.append([f"{_s(x)}\n{_s(t)}".strip() for t in y])
        else:
            out.append(f"{_s(x)}\n{_s(y)}".strip())
    return out


# ----------------------------------------------------------------------------- the model


class DecisionModel:
    """Every decision of an agent from one representation of what it reads.

    The representation of a text comes from one forward pass of ``embedder`` (cached by
    content: a post that reaches a hundred feeds is read once); an agent that reads several
    posts is represented by the mean of their vectors. Heads:

    ============== ================================================== ======================
    head           features                                           trained on
    ============== ================================================== ======================
    emotion        the post(s) read                                   labelled posts
    attitude       topic + the post(s) read                           stance-labelled posts
    attitude_change message replied to, the reply, its stance (1-hot)  RumourEval replies
    action         the agent's profile text + :data:`PERCEIVED`        MCID exposures
    gender         bio + a post                                       labelled users
    ============== ================================================== ======================

    Args:
        embedder: the representation (an :class:`~s3kit.embeddings.BaseEmbedder`).
        heads: fitted :class:`DecisionHead` per name (add more with :meth:`fit_head`).
        info: extra facts saved in the manifest (e.g. ``comment_share``).

    Examples:
        >>> import numpy as np, pandas as pd
        >>> model = DecisionModel(HashingEmbedder(dim=32))
        >>> items = pd.DataFrame({"text": ["so angry!!", "calm day"] * 20,
        ...                       "label": ["intense", "calm"] * 20})
        >>> _ = model.fit_head("emotion", items)
        >>> model.heads["emotion"].predict(model.features("emotion", items.head(2))).tolist()
        ['intense', 'calm']
    """

    def __init__(self, embedder: BaseEmbedder, heads: dict | None = None, info: dict | None = None):
        self.embedder = embedder
        self.heads = dict(heads or {})
        self.info = dict(info or {})

    # -- features ----------------------------------------------------------------------------
    def features(self, name: str, items: pd.DataFrame, progress: bool = False) -> np.ndarray:
        """The ``(n, d)`` features of head ``name`` for an items frame.

        Columns used: ``text`` (a string or a list of strings per row), ``topic``,
        ``context`` and ``parent_stance`` (attitude_change), ``bio`` (gender), ``profile`` and
        :data:`PERCEIVED` (action). ``progress``: a bar over the texts encoded.
        """
        n = len(items)

        def col(c):
            return items[c].tolist() if c in items.columns else [None] * n

        def pooled(texts):
            return _pooled(self.embedder, texts, progress)

        if name == "emotion":
            return pooled(col("text"))
        if name == "attitude":
            return pooled(_join(col("topic"), col("text")))
        if name == "gender":
            return pooled(_join(col("bio"), col("text")))
        if name == "attitude_change":
            st = pd.Series(col("parent_stance"), dtype="string").str.lower()
            onehot = np.column_stack([(st == s).fillna(False).to_numpy(float)
                                      for s in PARENT_STANCES])
            return np.hstack([pooled(col("context")), pooled(col("text")), onehot])
        if name == "action_profile":
            return pooled(col("profile"))
        if name == "action":
            num = np.column_stack([pd.to_numeric(pd.Series(col(c)), errors="coerce")
                                   .fillna(0).clip(lower=0).to_numpy(float) for c in PERCEIVED])
            if "action_profile" not in self.heads:
                raise HeadError("the action head needs its action_profile head (fit_head)")
            sub = self.heads["action_profile"].decision_function(
                self.features("action_profile", items, progress))
            return np.hstack([np.log1p(num), (sub[:, 1] - sub[:, 0])[:, None]])
        raise HeadError(f"unknown head {name!r} (one of {sorted(HEAD_CLASSES)})")

    # -- fitting and predicting ----------------------------------------------------------------
    def fit_head(self, name: str, items: pd.DataFrame, *, balanced: bool = True,
                 seed: int | None = 0, progress: bool = False) -> DecisionHead:
        """Fit (or refit) head ``name`` on a labelled items frame (``label`` column).

        The ``action`` head is stacked: an ``action_profile`` head reads the LLM's
        representation of the profile, and its out-of-fold logit joins the perceived
        context (:data:`PERCEIVED`) as one feature, so the LLM's evidence gets exactly the
        weight it earns next to the exposure counts.
        """
        y = items["label"].astype(str).tolist()
        if name == "action":
            X = self._stacked_action(items, y, seed, progress)
        else:
            X = self.features(name, items, progress)
        head = DecisionHead(name, HEAD_CLASSES[name], balanced=balanced, seed=seed)
        head.fit(X, y)
        head.n_train_ = int(len(items))
        self.heads[name] = head
        return head

    def _stacked_action(self, items: pd.DataFrame, y: list[str], seed,
                        progress: bool = False) -> np.ndarray:
        from sklearn.model_selection import StratifiedKFold

        classes = HEAD_CLASSES["action"]
        P = self.features("action_profile", items, progress)
        oof = np.zeros(len(items))
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        ya = np.asarray(y)
        for tr, te in folds.split(P, ya):
            sub = DecisionHead("action_profile", classes, seed=seed).fit(P[tr], ya[tr])
            z = sub.decision_function(P[te])
            oof[te] = z[:, 1] - z[:, 0]
        self.heads["action_profile"] = DecisionHead("action_profile", classes,
                                                    seed=seed).fit(P, ya)
        X = self.features("action", items)
        X[:, -1] = oof  # the training rows see out-of-fold profile evidence
        return X

    def predict_proba(self, name: str, items: pd.DataFrame, observed_rate: bool = True
                      ) -> np.ndarray:
        """Probabilities ``(n, k)`` of head ``name`` (columns in :data:`HEAD_CLASSES` order).

        ``observed_rate=False`` drops the action head's base-rate shift (balanced benchmarks).
        """
        if name not in self.heads:
            raise HeadError(f"these decision heads have no {name!r} head (they have "
                            f"{sorted(self.heads)})")
        if len(items) == 0:
            return np.zeros((0, len(HEAD_CLASSES[name])))
        return self.heads[name].predict_proba(self.features(name, items), observed_rate)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, name: str | os.PathLike, *, metrics: dict | None = None,
             data_digest: str | None = None, command: str | None = None) -> Path:
        """Write ``heads.npz`` + ``manifest.json`` to a folder (a path, or the user's ``name``).

        Returns:
            The folder.
        """
        path = Path(name).expanduser()
        if not (path.is_absolute() or os.sep in str(name) or str(name).startswith(".")):
            path = cache_dir() / "heads" / str(name)
        path.mkdir(parents=True, exist_ok=True)
        arrays, heads = {}, {}
        for h, head in self.heads.items():
            for attr in ("mean_", "scale_", "coef_", "intercept_"):
                arrays[f"{h}.{attr}"] = np.asarray(getattr(head, attr), dtype=np.float32)
            heads[h] = {"classes": list(head.classes), "C": head.C_,
                        "balanced": head.balanced, "n_features": head.n_features_in_,
                        "n_train": getattr(head, "n_train_", None),
                        "prior_shift": getattr(head, "prior_shift_", 0.0),
                        "fitted_rate": getattr(head, "fitted_rate_", None),
                        "base_rate": getattr(head, "base_rate_", None)}
        np.savez_compressed(path / "heads.npz", **arrays)
        digest = hashlib.sha256((path / "heads.npz").read_bytes()).hexdigest()
        manifest = {"format": 1, "s3kit_version": __version__,
                    "representation": embedder_spec(self.embedder),
                    "heads": heads, "heads_sha256": digest, "training_data": data_digest,
                    "validation": metrics or {}, "command": command, **self.info}
        (path / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float),
                                            encoding="utf-8")
        return path

    @classmethod
    def load(cls, name: str | os.PathLike = "default", llm=None,
             cache: str | os.PathLike | None = None) -> DecisionModel:
        """Load heads by name or folder, on top of ``llm`` (refused if trained for another).

        Args:
            name: a folder, or a name (user heads first, then packaged ones).
            llm: the backend whose representation the heads read (``None``: load it).
            cache: on-disk representation cache folder (``None``: memory only).

        Raises:
            HeadError: missing, damaged or made for another model.
        """
        path = heads_path(name)
        try:
            manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
            blob = (path / "heads.npz").read_bytes()
        except (OSError, ValueError) as exc:
            raise HeadError(f"{path}: cannot read the decision heads: {exc}") from exc
        if hashlib.sha256(blob).hexdigest() != manifest.get("heads_sha256"):
            raise HeadError(f"{path / 'heads.npz'}: damaged (its digest differs from the "
                            f"manifest's); re-fit with `s3kit tune`")
        embedder = embedder_from_spec(manifest["representation"], llm, cache)
        heads = {}
        with np.load(io.BytesIO(blob)) as data:
            for h, meta in manifest["heads"].items():
                head = DecisionHead(h, meta["classes"], balanced=meta["balanced"])
                head.mean_, head.scale_, head.coef_, head.intercept_ = (
                    data[f"{h}.{a}"].astype(np.float64)
                    for a in ("mean_", "scale_", "coef_", "intercept_"))
                head.classes_ = np.array(meta["classes"])
                head.C_, head.n_features_in_ = meta["C"], int(meta["n_features"])
                head.n_train_ = meta.get("n_train")
                head.prior_shift_ = float(meta.get("prior_shift") or 0.0)
                head.fitted_rate_ = meta.get("fitted_rate")
                if meta.get("base_rate") is not None:
                    head.base_rate_ = float(meta["base_rate"])
                heads[h] = head
        skip = {"format", "s3kit_version", "representation", "heads", "heads_sha256"}
        model = cls(embedder, heads, {k: v for k, v in manifest.items() if k not in skip})
        model.manifest_ = manifest
        model.path_ = path
        return model

    def with_action_rate(self, rate: float, items: pd.DataFrame | None = None
                         ) -> DecisionModel:
        """A copy whose action head reposts at ``rate`` on average (same ranking of agents).

        The shipped action head carries the repost rate of the exposures it was trained on;
        a replay of one event moves it to the rate observed in that event's first hours
        (``repost_rate: observed`` in the config). With ``items`` (the agents exposed now),
        the shift is solved so that *their* mean repost probability is ``rate`` (bisection
        on the logit offset); without, the training population's base rate moves to it.

        Examples:
            >>> import pandas as pd
            >>> model = DecisionModel(HashingEmbedder(dim=8))
            >>> items = pd.DataFrame({"profile": ["a", "b"] * 20, "n_exposures": [1, 5] * 20,
            ...                       "label": ["nothing", "repost"] * 20})
            >>> _ = model.fit_head("action", items, balanced=False)
            >>> moved = model.with_action_rate(0.1, items)
            >>> round(float(moved.predict_proba("action", items)[:, 1].mean()), 3)
            0.1
        """
        out = DecisionModel(self.embedder, dict(self.heads), dict(self.info))
        head = self.heads["action"]
        if items is None or len(items) == 0:
            out.heads["action"] = head.with_base_rate(rate)
            return out
        z = head.decision_function(self.features("action", items), observed_rate=False)
        logit = z[:, 1] - z[:, 0]
        lo, hi = -40.0, 40.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if np.mean(expit(logit + mid)) < rate:
                lo = mid
            else:
                hi = mid
        moved = copy.copy(head)
        moved.prior_shift_ = (lo + hi) / 2
        moved.base_rate_ = float(rate)
        out.heads["action"] = moved
        return out

    def __repr__(self) -> str:
        return f"DecisionModel({self.embedder.name}, heads={sorted(self.heads)})"
