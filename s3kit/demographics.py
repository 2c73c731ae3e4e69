"""Gender, age and occupation of users from their bio and posts (S3 section 4.1).

Two ways, one object:

* **zero-shot**: :func:`infer_demographics` (or an unfitted :class:`DemographicClassifier`)
  asks the LLM with the prompts of :mod:`s3kit.prompts` and reads the answer-word
  probabilities through one batched ``llm.score`` call per task;
* **PEFT-tuned**: ``DemographicClassifier(...).fit(X, y)`` tunes a prefix (P-Tuning v2, the
  default), prompt or LoRA adapter of the embedded model with :mod:`s3kit.tuning`, saves it
  under ``adapter_path(name)``, and ``DemographicClassifier.from_adapter(name)`` loads it back.

:func:`demographic_examples` turns a loaded dataset (``load_twitter_gender``, ``load_ced``)
into ``bio, posts, label`` rows. The tuning experiment (held-out split, TF-IDF baseline,
zero-shot vs tuned) is in :mod:`s3kit.evaluation.demographics`.

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

from .classification import classification_report
from .llm import load_llm
from .prompts import DEMOGRAPHICS_SYSTEM, demographic_prompt, options, resolve_language
from .text import detect_language
from .tuning import LORA_TARGETS, apply_bias, fit_label_adapter, head_info
from .vocabulary import LABELS

__all__ = ["DemographicClassifier", "infer_demographics", "demographic_examples",
           "demographic_prompts", "as_inputs", "user_names", "clean_text",
           "DEMOGRAPHIC_TASKS"]

#: What S3 infers about a user from a profile (each a label set of :data:`s3kit.vocabulary.LABELS`).
DEMOGRAPHIC_TASKS = ("gender", "age", "occupation")
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


def demographic_prompts(task: str, X, language: str) -> tuple[list[str], str]:
    """The demographic prompts of users ``X`` (:func:`as_inputs`) and their language.

    Args:
        task: ``"gender"``, ``"age"`` or ``"occupation"``.
        X: users.
        language: ``"auto"`` (from the users' bios and posts), ``"en"`` or ``"zh"``.
    """
    pairs = as_inputs(X)
    names = user_names(X)
    if language == "auto":  # the users' bios and posts, one text per user
        lang = detect_language([" ".join([b or ""] + ps) for b, ps in pairs])
    else:
        lang = resolve_language(language)
    return [demographic_prompt(task, bio, posts, lang, name=name)
            for (bio, posts), name in zip(pairs, names, strict=True)], lang


def infer_demographics(llm, X, tasks: Sequence[str] = DEMOGRAPHIC_TASKS,
                       language: str = "auto",
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
        prompts, lang = demographic_prompts(task, X, language)
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
        gradient_checkpointing: recompute activations in the backward pass (LoRA only; less
            memory, ~30% more time per step, see :func:`s3kit.tuning.fit_label_adapter`).
        micro_batch_size: examples per forward/backward pass while tuning (``None``:
            ``batch_size``); each step accumulates its batch's gradient over such passes.
        prefix_cache_mb: memory bound of the embedded model's prefix key/value cache when
            predicting (0, the default: off; users' prompts share only the system line, and
            each cached prompt holds several MB).
        predict_batch_size: prompts per forward pass of the embedded model when predicting
            (smaller: less memory; the activations of 16 long prompts take ~0.4 GB).
        seed: seed for the split, batch order and adapter initialisation.
        progress: show a progress bar while tuning.
    """

    def __init__(self, task: str = "gender", *, llm=None, adapter: str | None = None,
                 method: str = "prefix", num_virtual_tokens: int = 16, steps: int = 100,
                 batch_size: int = 8, learning_rate: float | None = None,
                 val_fraction: float = 0.1, eval_every: int = 20, language: str = "auto",
                 dtype: str = "float32", lora_r: int = 8,
                 lora_targets: str | Sequence[str] = LORA_TARGETS, threads: int | None = None,
                 gradient_checkpointing: bool = False, micro_batch_size: int | None = None,
                 prefix_cache_mb: int = 0, predict_batch_size: int = 8,
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
        self.gradient_checkpointing = gradient_checkpointing
        self.micro_batch_size = micro_batch_size
        self.prefix_cache_mb = prefix_cache_mb
        self.predict_batch_size = predict_batch_size
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
        clf.llm_ = load_llm("embedded", adapter=name, dtype=clf.dtype,
                            prefix_cache_mb=clf.prefix_cache_mb,
                            batch_size=clf.predict_batch_size)
        clf.language_ = info.get("language", "en")
        clf.bias_ = info.get("bias")
        return clf

    def _llm(self):
        if getattr(self, "llm_", None) is not None:
            return self.llm_
        if self.llm is None:
            self.llm = load_llm("embedded", dtype=self.dtype,
                                prefix_cache_mb=self.prefix_cache_mb,
                                batch_size=self.predict_batch_size)
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
        prompts, lang = demographic_prompts(self.task, X, self.language)
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
            gradient_checkpointing=self.gradient_checkpointing,
            micro_batch_size=self.micro_batch_size, seed=self.seed,
            threads=self.threads, progress=self.progress)
        if hasattr(result.llm, "prefix_cache"):  # the embedded backend's key/value cache
            result.llm.prefix_cache.max_bytes = int(self.prefix_cache_mb) << 20
            result.llm.batch_size = int(self.predict_batch_size)
        self.tuning_ = result
        self.fit_rows_ = np.sort(tr)
        self.llm_ = result.llm
        self.bias_ = result.bias
        self.language_ = lang
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``(n, n_classes)`` probabilities (columns = ``classes_``), one batched score call."""
        lang = getattr(self, "language_", None) or self.language
        prompts, lang = demographic_prompts(self.task, X, lang)
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
        """The metric bundle on ``(X, y)``: ``n``, ``acc``, ``macro_f1``, ``f1``, ``auc``.

        See :func:`s3kit.classification.classification_report`.
        """
        return classification_report(self._labels(y), self.predict_proba(X), self.classes_)


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
