"""Gender, age and occupation of users from their bio and posts (S3 section 4.1).

Two ways, one object:

* **zero-shot**: :func:`infer_demographics` (or an unfitted :class:`DemographicClassifier`)
  asks the LLM with the prompts of :mod:`s3kit.prompts` and reads the answer-word
  probabilities through one batched ``llm.score`` call per task;
* **PEFT-tuned**: ``DemographicClassifier(...).fit(X, y)`` tunes a prefix (P-Tuning v2, the
  default), prompt or LoRA adapter of the embedded model with :mod:`s3kit.tuning`, saves it
  under ``adapter_path(name)``, and ``DemographicClassifier.from_adapter(name)`` loads it back.

:func:`tfidf_baseline` is the classical baseline (TF-IDF + logistic regression) on the same
split; :func:`demographic_examples` turns a loaded dataset (``load_twitter_gender``,
``load_ced``) into ``bio, posts, label`` rows.

Examples:
    >>> from s3kit.llm import FakeLLM
    >>> clf = DemographicClassifier("gender", llm=FakeLLM(seed=0), language="en")
    >>> X = pd.DataFrame({"bio": ["dad, golfer", "mum of two"], "text": ["golf!", "school run"]})
    >>> clf.predict_proba(X).shape
    (2, 2)
    >>> set(clf.predict(X)) <= {"male", "female"}
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .datasets.base import data_dir as _data_dir
from .datasets.ced import load_ced
from .datasets.twitter_gender import load_twitter_gender
from .llm import load_llm
from .prompts import DEMOGRAPHICS_SYSTEM, demographic_prompt, options, resolve_language
from .text import detect_language
from .tuning import (
    LORA_TARGETS,
    apply_bias,
    classification_metrics,
    fit_label_adapter,
    head_info,
    peak_rss_mb,
)
from .vocabulary import LABELS

__all__ = ["DemographicClassifier", "infer_demographics", "demographic_examples",
           "tfidf_baseline", "split_examples", "as_inputs", "user_names",
           "gender_tuning_experiment", "clean_text", "TASKS"]

TASKS = ("gender", "age", "occupation")
_GENDER_ALIASES = {"m": "male", "f": "female", "male": "male", "female": "female",
                   "男": "male", "女": "female"}
_URL = re.compile(r"https?://\S+")
# Mis-decoded UTF-8 in the CrowdFlower export ("‰ÛÏ" for a quote, "_Ù÷â" for an emoji):
# a run of Latin-1 / Arabic-range characters that contains one of the tell-tale ones.
_MOJIBAKE = re.compile(r"_?[\u0080-\u06ff\u2000-\u206f]*[‰Ù÷Û•ÔÊُ][\u0080-\u06ff\u2000-\u206f]*")


def clean_text(text: str) -> str:
    """Drop URLs and mis-decoded byte runs (mojibake) from a post or bio.

    Both cost tokens (a mojibake run is one token per character, up to ~400-token prompts)
    and carry no readable content. CJK and plain accented text are left alone.

    Examples:
        >>> clean_text("so good ‰ÛÏreally‰Û https://t.co/abc  #tbt")
        'so good really #tbt'
    """
    text = _MOJIBAKE.sub(" ", _URL.sub(" ", text))
    return " ".join(text.split())


def as_inputs(X) -> list[tuple[str | None, list[str]]]:
    """Normalise inputs to ``(bio, posts)`` pairs.

    Accepts a DataFrame with a ``bio`` (or ``description``) column and a ``posts`` (list) or
    ``text`` column, a sequence of dicts with the same keys, or a sequence of strings (taken as
    bios).
    """
    if isinstance(X, pd.DataFrame):
        records = X.to_dict("records")
    else:
        records = [x if isinstance(x, dict) else {"bio": x} for x in X]
    out = []
    for r in records:
        bio = r.get("bio", r.get("description"))
        posts = r.get("posts")
        if posts is None or (not isinstance(posts, list | tuple | np.ndarray)):
            text = r.get("text") if posts is None else posts
            posts = [] if text is None or (isinstance(text, float) and np.isnan(text)) \
                else [text]
        bio = None if bio is None or (isinstance(bio, float) and np.isnan(bio)) or \
            pd.isna(bio) else str(bio)
        out.append((bio, [str(p) for p in posts if p is not None and not pd.isna(p)]))
    return out


def user_names(X) -> list[str | None]:
    """The ``name`` of each user in ``X`` (``None`` where absent), aligned with :func:`as_inputs`.

    Only a DataFrame with a ``name`` column or dicts with a ``name`` key carry names; they
    are shown to the model (and the TF-IDF baseline) only when the rows have them, e.g.
    ``demographic_examples(ds, with_name=True)``.
    """
    if isinstance(X, pd.DataFrame):
        vals = X["name"].tolist() if "name" in X else [None] * len(X)
    else:
        vals = [x.get("name") if isinstance(x, dict) else None for x in X]
    return [None if v is None or pd.isna(v) or not str(v).strip() else str(v) for v in vals]


def _prompts(task: str, X, language: str) -> tuple[list[str], str]:
    pairs = as_inputs(X)
    names = user_names(X)
    if language == "auto":  # the users' bios and posts, one text per user
        lang = detect_language([" ".join([b or ""] + ps) for b, ps in pairs])
    else:
        lang = resolve_language(language)
    return [demographic_prompt(task, bio, posts, lang, name=name)
            for (bio, posts), name in zip(pairs, names, strict=True)], lang


def infer_demographics(llm, X, tasks: Sequence[str] = TASKS, language: str = "auto",
                       batch_size: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Zero-shot demographics: one batched ``llm.score`` call per task.

    Args:
        llm: an LLM backend (``s3kit.llm.load_llm(...)``).
        X: users (see :func:`as_inputs`).
        tasks: subset of ``("gender", "age", "occupation")``.
        language: ``"auto"``, ``"en"`` or ``"zh"``.
        batch_size: unused (the backend batches); kept for symmetry.
        progress: unused (one call per task).

    Returns:
        One row per user: ``<task>`` (most likely label) and ``<task>_p`` (its probability).

    Examples:
        >>> from s3kit.llm import FakeLLM
        >>> df = infer_demographics(FakeLLM(), ["teacher and mum"], tasks=["gender", "age"])
        >>> list(df.columns)
        ['gender', 'gender_p', 'age', 'age_p']
    """
    out = {}
    for task in tasks:
        prompts, lang = _prompts(task, X, language)
        proba = llm.score(prompts, options(task, lang), system=DEMOGRAPHICS_SYSTEM[lang])
        classes = LABELS[task]
        out[task] = [classes[i] for i in proba.argmax(axis=1)]
        out[f"{task}_p"] = proba.max(axis=1)
    return pd.DataFrame(out)


class DemographicClassifier:
    """Gender / age bracket / occupation classifier: zero-shot LLM or PEFT-tuned adapter.

    scikit-learn style: ``__init__`` stores parameters; ``fit`` tunes; learned state ends in
    ``_``. Before ``fit`` (or without ``adapter``), predictions are zero-shot.

    Args:
        task: ``"gender"``, ``"age"`` or ``"occupation"``.
        llm: a backend for zero-shot use (default: the embedded model, loaded lazily).
        adapter: name to save the tuned adapter under (``fit``) or to load it from.
        method: ``"prefix"`` (P-Tuning v2, default), ``"prompt"`` or ``"lora"``.
        num_virtual_tokens: virtual tokens of prefix/prompt tuning.
        steps: optimisation steps.
        batch_size: examples per step.
        learning_rate: ``None`` = the method's default (:data:`s3kit.tuning.DEFAULT_LR`).
        val_fraction: share of the *training* data kept aside to monitor the tuning curve,
            choose the kept weights (lowest monitoring loss) and calibrate the label bias.
        eval_every: steps between tuning-curve evaluations.
        language: ``"auto"``, ``"en"`` or ``"zh"``.
        dtype: dtype of the embedded model (``"float32"`` for training).
        lora_r: LoRA rank (``method="lora"``).
        lora_targets: LoRA target modules (``"all-linear"`` or names; default query/value).
        threads: torch CPU threads while tuning (``None``: leave as is).
        seed: seed for the split, batch order and adapter initialisation.
        progress: show a progress bar while tuning.
    """

    def __init__(self, task: str = "gender", *, llm=None, adapter: str | None = None,
                 method: str = "prefix", num_virtual_tokens: int = 16, steps: int = 100,
                 batch_size: int = 8, learning_rate: float | None = None,
                 val_fraction: float = 0.1, eval_every: int = 20, language: str = "auto",
                 dtype: str = "float32", lora_r: int = 8,
                 lora_targets: str | Sequence[str] = LORA_TARGETS, threads: int | None = None,
                 seed: int = 0, progress: bool = True):
        self.task = task
        self.llm = llm
        self.adapter = adapter
        self.method = method
        self.num_virtual_tokens = num_virtual_tokens
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.val_fraction = val_fraction
        self.eval_every = eval_every
        self.language = language
        self.dtype = dtype
        self.lora_r = lora_r
        self.lora_targets = lora_targets
        self.threads = threads
        self.seed = seed
        self.progress = progress

    @property
    def classes_(self) -> tuple[str, ...]:
        """Label names, in the column order of ``predict_proba``."""
        return LABELS[self.task]

    @classmethod
    def from_adapter(cls, name: str, **kwargs) -> DemographicClassifier:
        """Load a classifier tuned earlier and saved as adapter ``name``."""
        info = head_info(name)
        clf = cls(info["task"], adapter=name, language=info.get("language", "auto"), **kwargs)
        clf.llm_ = load_llm("embedded", adapter=name, dtype=clf.dtype)
        clf.language_ = info.get("language", "en")
        clf.bias_ = info.get("bias")
        return clf

    def _llm(self):
        if getattr(self, "llm_", None) is not None:
            return self.llm_
        if self.llm is None:
            self.llm = load_llm("embedded", dtype=self.dtype)
        return self.llm

    def _labels(self, y) -> list[str]:
        y = [str(v).strip().lower() if not isinstance(v, str) or v not in ("男", "女")
             else v for v in y]
        if self.task == "gender":
            y = [_GENDER_ALIASES.get(v, v) for v in y]
        bad = sorted({v for v in y if v not in self.classes_})
        if bad:
            raise ValueError(f"labels {bad[:5]} are not {self.task} classes {self.classes_}")
        return y

    def fit(self, X, y) -> DemographicClassifier:
        """Tune a PEFT adapter on ``(X, y)``; saves it if ``adapter`` is set.

        Args:
            X: users (see :func:`as_inputs`).
            y: labels (class names; for gender also ``m``/``f``).

        Returns:
            self, with ``llm_`` (the tuned model), ``tuning_`` (a ``TuningResult``: curve,
            time, memory), ``fit_rows_`` (positions of the rows tuned on, the rest monitored
            the curve, chose the kept weights and fitted ``bias_``), ``bias_`` (per-class
            log-bias applied by ``predict_proba``; ``None`` without a monitoring split) and
            ``language_``.
        """
        y = self._labels(y)
        prompts, lang = _prompts(self.task, X, self.language)
        rng = np.random.default_rng(self.seed)
        n = len(prompts)
        n_val = int(round(self.val_fraction * n)) if self.val_fraction else 0
        perm = rng.permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        result = fit_label_adapter(
            [prompts[i] for i in tr], [y[i] for i in tr], options(self.task, lang),
            classes=self.classes_, system=DEMOGRAPHICS_SYSTEM[lang], method=self.method,
            num_virtual_tokens=self.num_virtual_tokens, lora_r=self.lora_r,
            lora_targets=self.lora_targets, steps=self.steps,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            val_prompts=[prompts[i] for i in val] if n_val else None,
            val_labels=[y[i] for i in val] if n_val else None, eval_every=self.eval_every,
            name=self.adapter, task=self.task, language=lang, dtype=self.dtype,
            seed=self.seed, threads=self.threads, progress=self.progress)
        self.tuning_ = result
        self.fit_rows_ = np.sort(tr)
        self.llm_ = result.llm
        self.bias_ = result.bias
        self.language_ = lang
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``(n, n_classes)`` probabilities (columns = ``classes_``), one batched score call."""
        lang = getattr(self, "language_", None) or self.language
        prompts, lang = _prompts(self.task, X, lang)
        llm = self._llm()
        import contextlib

        ctx = contextlib.nullcontext()
        if getattr(llm, "backend", "") == "embedded":
            import torch

            ctx = torch.no_grad()
        with ctx:
            probs = llm.score(prompts, options(self.task, lang),
                              system=DEMOGRAPHICS_SYSTEM[lang])
        bias = getattr(self, "bias_", None)
        return probs if bias is None else apply_bias(np.asarray(probs), np.asarray(bias))

    def predict(self, X) -> np.ndarray:
        """Most likely label per user."""
        return np.array(self.classes_)[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        return float((self.predict(X) == np.array(self._labels(y))).mean())

    def evaluate(self, X, y) -> dict:
        """``{"acc", "f1", "auc", "n"}`` (see :func:`s3kit.tuning.classification_metrics`)."""
        return classification_metrics(self._labels(y), self.predict_proba(X), self.classes_)


def demographic_examples(ds, task: str = "gender", min_confidence: float | None = 1.0,
                         max_posts: int = 1, clean: bool = True,
                         with_name: bool = False) -> pd.DataFrame:
    """Labelled users of a dataset as ``user_id, bio, posts, label`` rows.

    Args:
        ds: a ``SocialDataset`` whose ``users`` frame has the task column (``gender``: from
            ``load_twitter_gender`` or ``load_ced``); posts are joined by ``user_id``.
        task: the users column to use as label.
        min_confidence: keep only rows with ``gender_confidence >= min_confidence`` when the
            column exists (CrowdFlower annotator agreement).
        max_posts: posts kept per user.
        clean: apply :func:`clean_text` to bios and posts (URLs and mojibake removed).
        with_name: add the profile's ``name`` column (twitter_gender: the screen name), which
            the prompts and the TF-IDF baseline then include.

    Returns:
        DataFrame sorted by ``user_id`` (deterministic); gender labels normalised to
        ``male``/``female`` (``brand``/``unknown`` dropped).
    """
    users = ds.users.copy()
    if task not in users:
        raise ValueError(f"dataset {ds.name!r} has no {task!r} column in users")
    users = users[users[task].notna()]
    if min_confidence is not None and "gender_confidence" in users and task == "gender":
        users = users[pd.to_numeric(users["gender_confidence"], errors="coerce")
                      >= min_confidence]
    label = users[task].astype(str).str.strip().str.lower()
    if task == "gender":
        label = label.map(_GENDER_ALIASES)
    users = users.assign(label=label)
    users = users[users["label"].isin(LABELS[task])]
    posts = ds.posts
    if len(posts):
        own = posts[posts["user_id"].isin(users["user_id"]) & posts["text"].notna()]
        own = own.sort_values(["user_id", "time"], kind="stable")
        grouped = own.groupby("user_id")["text"].apply(lambda s: list(s.astype(str))[:max_posts])
    else:
        grouped = pd.Series(dtype=object)
    bio = users["bio"] if "bio" in users else pd.Series(pd.NA, index=users.index)
    fix = clean_text if clean else str
    bios = [None if pd.isna(b) else fix(str(b)) for b in bio]
    posts = [[t for t in (fix(p) for p in grouped.get(u, [])) if t]
             for u in users["user_id"]]
    out = pd.DataFrame({
        "user_id": users["user_id"].astype(str).to_numpy(),
        "bio": [b or None for b in bios],
        "posts": posts,
        "label": users["label"].to_numpy(),
    })
    if with_name:
        if "name" not in users:
            raise ValueError(f"dataset {ds.name!r} has no 'name' column in users")
        out.insert(1, "name", users["name"].astype("string").to_numpy())
    return out.sort_values("user_id", kind="stable").reset_index(drop=True)


def split_examples(df: pd.DataFrame, n_train: int | None = None, n_eval: int = 200,
                   seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train / held-out split (the held-out rows are never used for tuning).

    The evaluation rows are drawn first, so growing ``n_train`` never changes them.

    Returns:
        ``(train, test)`` frames.
    """
    from sklearn.model_selection import train_test_split

    rest, test = train_test_split(df, test_size=n_eval, stratify=df["label"], random_state=seed)
    if n_train is not None and n_train < len(rest):
        rest, _ = train_test_split(rest, train_size=n_train, stratify=rest["label"],
                                   random_state=seed)
    return rest.reset_index(drop=True), test.reset_index(drop=True)


def _flat_text(X) -> list[str]:
    return [" ".join([n or "", b or ""] + ps)
            for (b, ps), n in zip(as_inputs(X), user_names(X), strict=True)]


def tfidf_baseline(X_train, y_train, X_test, y_test, classes: Sequence[str]) -> dict:
    """TF-IDF (word 1-2-grams + char 2-5-grams) + logistic regression on the same split.

    Returns:
        ``{"acc", "f1", "auc", "n"}`` on the test rows, plus ``proba`` (list of lists).
    """
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tr, te = _flat_text(X_train), _flat_text(X_test)
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    Xtr = hstack([word.fit_transform(tr), char.fit_transform(tr)]).tocsr()
    Xte = hstack([word.transform(te), char.transform(te)]).tocsr()
    classes = list(classes)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(Xtr, [classes.index(v) for v in y_train])
    proba = np.zeros((len(te), len(classes)))
    proba[:, clf.classes_] = clf.predict_proba(Xte)
    return classification_metrics(list(y_test), proba, classes) | {"proba": proba.tolist()}


def gender_tuning_experiment(data_dir=None, *, dataset: str = "twitter_gender",
                             n_train: int | None = 256, n_eval: int = 200, steps: int = 60,
                             batch_size: int = 8, method: str = "prefix",
                             learning_rate: float | None = None, num_virtual_tokens: int = 16,
                             lora_r: int = 8, lora_targets: str | Sequence[str] = LORA_TARGETS,
                             val_fraction: float = 0.1, eval_every: int = 10,
                             adapter: str | None = "gender-prefix", clean: bool = True,
                             with_name: bool = False,
                             threads: int | None = None, seed: int = 0,
                             progress: bool = True) -> dict:
    """Zero-shot vs PEFT-tuned vs TF-IDF + LR on gender, on one held-out split.

    The held-out rows (``n_eval``) are drawn first and never reach the tuning (whose curve is
    monitored on ``val_fraction`` of the ``n_train`` training rows). TF-IDF + LR is fitted on
    exactly the rows the adapter was tuned on.

    Memory: one model is alive at a time. The tuning runs first in a fresh process state; the
    tuned model scores without a prefix key/value cache (it only pays off when prompts
    repeat, and holds up to 1 GiB per model) and is freed before the zero-shot model (also
    without a prefix cache) is loaded and scored.

    Args:
        data_dir: shared data folder (default ``$S3KIT_DATA_DIR``).
        dataset: ``"twitter_gender"`` (male/female, annotator confidence 1) or ``"ced"``
            (Weibo source authors, gender m/f).
        n_train: training users (stratified; ``None`` = every row outside the held-out split).
        n_eval: held-out users (stratified).
        steps: tuning steps.
        batch_size: examples per step.
        method: ``"prefix"``, ``"prompt"`` or ``"lora"``.
        learning_rate: ``None`` = the method's default.
        num_virtual_tokens: virtual tokens (prefix/prompt).
        lora_r: LoRA rank (``method="lora"``).
        lora_targets: LoRA target modules (``"all-linear"`` or names).
        val_fraction: share of the training rows kept aside to monitor the tuning curve,
            choose the kept weights and calibrate the label bias (0 = tune on all of them, keep
            the last weights, no bias).
        eval_every: steps between tuning-curve points.
        adapter: name to save the adapter under (``None``: not saved).
        clean: drop URLs and mojibake from bios/posts (:func:`clean_text`), for all models.
        with_name: show every model the user's profile name too (bio + post otherwise).
        threads: torch CPU threads for scoring and tuning (``None``: leave as is).
        seed: split and tuning seed.
        progress: progress bars.

    Returns:
        Dict with ``metrics`` (``zero_shot``, ``tuned``, ``tfidf_lr``: acc/f1/auc),
        ``tuning`` (time, peak memory, hyper-parameters), ``curve`` (tuning-curve frame),
        ``y_true`` and ``pred`` (per model, for confusion matrices), ``split`` sizes,
        ``timing`` (seconds of each scoring pass). ``metrics["tfidf_lr_raw"]`` is the same
        baseline on the uncleaned text (so cleaning cannot flatter the comparison).
    """
    import gc
    import time

    import torch

    root = _data_dir(data_dir)
    if dataset == "twitter_gender":
        ds = load_twitter_gender(root / "twitter_gender")
    elif dataset == "ced":
        ds = load_ced(root / "ced", progress=progress)
    else:
        raise ValueError(f"unknown gender dataset {dataset!r}")
    language = "zh" if dataset == "ced" else "en"
    ex = demographic_examples(ds, "gender", clean=clean, with_name=with_name)
    train, test = split_examples(ex, n_train=n_train, n_eval=n_eval, seed=seed)
    classes = LABELS["gender"]
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        clf = DemographicClassifier("gender", adapter=adapter, method=method, steps=steps,
                                    batch_size=batch_size, learning_rate=learning_rate,
                                    num_virtual_tokens=num_virtual_tokens, lora_r=lora_r,
                                    lora_targets=lora_targets, val_fraction=val_fraction,
                                    eval_every=eval_every, language=language,
                                    threads=threads, seed=seed, progress=progress)
        clf.fit(train, train["label"])
        clf.llm_.prefix_cache.max_bytes = 0
        clf.llm_.prefix_cache.clear()
        t0 = time.perf_counter()
        p_tuned = clf.predict_proba(test)
        t_tuned = time.perf_counter() - t0
        rss_tuned = peak_rss_mb()
        clf.llm_ = None  # free the tuned model before the zero-shot one is loaded
        gc.collect()
        t0 = time.perf_counter()
        zero = DemographicClassifier("gender", language=language,
                                     llm=load_llm("embedded", dtype="float32", prefix_cache_mb=0))
        p_zero = zero.predict_proba(test)
        t_zero = time.perf_counter() - t0
        del zero
        gc.collect()
    finally:
        torch.set_num_threads(old_threads)
    seen = train.iloc[clf.fit_rows_]
    base = tfidf_baseline(seen, seen["label"], test, test["label"], classes)
    metrics = {"zero_shot": classification_metrics(test["label"].tolist(), p_zero, classes),
               "tuned": classification_metrics(test["label"].tolist(), p_tuned, classes),
               "tfidf_lr": {k: v for k, v in base.items() if k != "proba"}}
    if clean:
        raw = demographic_examples(ds, "gender", clean=False,
                                   with_name=with_name).set_index("user_id")
        raw_tr, raw_te = raw.loc[seen["user_id"]], raw.loc[test["user_id"]]
        metrics["tfidf_lr_raw"] = {k: v for k, v in tfidf_baseline(
            raw_tr, raw_tr["label"], raw_te, raw_te["label"], classes).items() if k != "proba"}
    y = test["label"].tolist()
    tuning = clf.tuning_.summary()
    tuning["seconds_per_step"] = round(clf.tuning_.seconds / max(1, steps), 3)
    return {
        "dataset": dataset,
        "inputs": "name + bio + post" if with_name else "bio + post",
        "split": {"n_train": int(len(train)), "n_eval": int(len(test)), "seed": seed,
                  "n_tuned_on": int(clf.tuning_.n_train),
                  "train_balance": train["label"].value_counts().to_dict()},
        "metrics": metrics,
        "tuning": tuning,
        "timing": {"zero_shot_score_s": round(t_zero, 1), "tuned_score_s": round(t_tuned, 1),
                   "peak_rss_mb_after_tuned_scoring": round(rss_tuned, 1),
                   "peak_rss_mb": round(peak_rss_mb(), 1)},
        "curve": clf.tuning_.history,
        "y_true": y,
        "pred": {"zero_shot": [classes[i] for i in p_zero.argmax(1)],
                 "tuned": [classes[i] for i in p_tuned.argmax(1)],
                 "tfidf_lr": [classes[i] for i in np.asarray(base["proba"]).argmax(1)]},
        "classes": list(classes),
    }
