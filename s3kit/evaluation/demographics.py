"""The demographic tuning experiment: zero-shot vs PEFT-tuned vs TF-IDF + LR on one split.

Its steps, each one call (notebook 02 runs them cell by cell, :func:`gender_tuning_experiment`
runs them in one go for ``benchmarks/gender_tuning.py``):

1. :func:`load_gender_dataset` and :func:`s3kit.demographics.demographic_examples`: users with
   a known gender as ``bio, posts, label`` rows;
2. :func:`split_examples`: the held-out rows are drawn first and never reach the tuning;
3. :func:`zero_shot_proba`: the embedded model before tuning (loaded for the call, then freed);
4. :meth:`s3kit.demographics.DemographicClassifier.fit`: tune an adapter on the training rows;
5. :func:`tfidf_baseline`: TF-IDF + logistic regression on exactly the rows tuned on;
6. :func:`experiment_metrics`: acc / F1 / AUC of each model on the held-out rows.

Examples:
    >>> ex = pd.DataFrame({"user_id": [str(i) for i in range(8)], "bio": ["mum", "dad"] * 4,
    ...                    "posts": [["hi"]] * 8, "label": ["female", "male"] * 4})
    >>> train, test = split_examples(ex, n_eval=4)
    >>> len(train), len(test), sorted(test["label"])
    (4, 4, ['female', 'female', 'male', 'male'])
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..classification import classification_report
from ..datasets.base import SocialDataset
from ..datasets.base import data_dir as resolve_data_dir
from ..datasets.ced import load_ced
from ..datasets.twitter_gender import load_twitter_gender
from ..demographics import DemographicClassifier, as_inputs, demographic_examples, user_names
from ..tuning import LORA_TARGETS, peak_rss_mb, return_freed_memory
from ..vocabulary import LABELS

__all__ = ["GENDER_LANGUAGE", "load_gender_dataset", "split_examples", "zero_shot_proba",
           "tfidf_baseline", "experiment_metrics", "gender_tuning_experiment"]

#: Gender datasets of the experiment and the language of their users' profiles.
GENDER_LANGUAGE = {"twitter_gender": "en", "ced": "zh"}


def load_gender_dataset(data_dir=None, dataset: str = "twitter_gender",
                        progress: bool = True) -> SocialDataset:
    """Load a dataset with users' gender: ``twitter_gender`` (CrowdFlower) or ``ced`` (Weibo).

    Args:
        data_dir: shared data folder (default ``$S3KIT_DATA_DIR``).
        dataset: a key of :data:`GENDER_LANGUAGE`.
        progress: progress bar (``ced``).

    Raises:
        ValueError: another dataset.
    """
    root = resolve_data_dir(data_dir)
    if dataset == "twitter_gender":
        return load_twitter_gender(root / "twitter_gender")
    if dataset == "ced":
        return load_ced(root / "ced", progress=progress)
    raise ValueError(f"unknown gender dataset {dataset!r}; known: {sorted(GENDER_LANGUAGE)}")


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


def zero_shot_proba(X, task: str = "gender", language: str = "auto") -> np.ndarray:
    """The embedded model's zero-shot probabilities (float32), freed after the call.

    One model is alive at a time: the model is loaded for this call and released before it
    returns (what keeps notebook 02 within a 2 GB kernel).
    """
    clf = DemographicClassifier(task, language=language)
    try:
        return clf.predict_proba(X)
    finally:
        del clf
        return_freed_memory()


def _flat_text(X) -> list[str]:
    return [" ".join([n or "", b or ""] + ps)
            for (b, ps), n in zip(as_inputs(X), user_names(X), strict=True)]


def tfidf_baseline(X_train, y_train, X_test, y_test, classes: Sequence[str]) -> dict:
    """TF-IDF (word 1-2-grams + char 2-5-grams) + logistic regression on the same split.

    Returns:
        :func:`~s3kit.classification.classification_report` on the test rows (``n``,
        ``acc``, ``macro_f1``, ``f1``, ``auc``), plus ``proba`` (list of lists).
    """
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tr, te = _flat_text(X_train), _flat_text(X_test)
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    features_train = hstack([word.fit_transform(tr), char.fit_transform(tr)]).tocsr()
    features_test = hstack([word.transform(te), char.transform(te)]).tocsr()
    classes = list(classes)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(features_train, [classes.index(v) for v in y_train])
    proba = np.zeros((len(te), len(classes)))
    proba[:, clf.classes_] = clf.predict_proba(features_test)
    return classification_report(list(y_test), proba, classes) | {"proba": proba.tolist()}


def experiment_metrics(y_true, proba: dict[str, np.ndarray], classes: Sequence[str]
                       ) -> dict[str, dict]:
    """``{model: classification_report}`` of each model's probabilities on the same rows."""
    return {name: classification_report(list(y_true), p, classes) for name, p in proba.items()}


def gender_tuning_experiment(data_dir=None, *, dataset: str = "twitter_gender",
                             n_train: int | None = 256, n_eval: int = 200, steps: int = 60,
                             batch_size: int = 8, method: str = "prefix",
                             learning_rate: float | None = None, num_virtual_tokens: int = 16,
                             lora_r: int = 8, lora_targets: str | Sequence[str] = LORA_TARGETS,
                             val_fraction: float = 0.1, eval_every: int = 10,
                             adapter: str | None = "gender-prefix", clean: bool = True,
                             with_name: bool = False, gradient_checkpointing: bool = False,
                             threads: int | None = None, seed: int = 0,
                             progress: bool = True) -> dict:
    """Zero-shot vs PEFT-tuned vs TF-IDF + LR on gender, on one held-out split.

    The held-out rows (``n_eval``) are drawn first and never reach the tuning (whose curve is
    monitored on ``val_fraction`` of the ``n_train`` training rows). TF-IDF + LR is fitted on
    exactly the rows the adapter was tuned on.

    Memory: one model is alive at a time. The zero-shot model is loaded, scores the held-out
    rows and is freed before the tuning loads its own; neither keeps a prefix key/value cache
    (it only pays off when prompts repeat, and holds up to 1 GiB per model).

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
        clean: drop URLs and mojibake from bios/posts (:func:`s3kit.demographics.clean_text`),
            for all models.
        with_name: show every model the user's profile name too (bio + post otherwise).
        gradient_checkpointing: recompute activations while tuning (LoRA only: less memory,
            more time).
        threads: torch CPU threads for scoring and tuning (``None``: leave as is).
        seed: split and tuning seed.
        progress: progress bars.

    Returns:
        Dict with ``metrics`` (``zero_shot``, ``tuned``, ``tfidf_lr``: acc/f1/auc),
        ``tuning`` (time, peak memory, hyper-parameters), ``curve`` (tuning-curve frame),
        ``y_true`` and ``pred`` (per model, for confusion matrices), ``split`` sizes,
        ``timing`` (seconds of each scoring pass). ``metrics["tfidf_lr_raw"]`` is the same
        baseline on the uncleaned text (so cleaning cannot flatter the comparison).
        :func:`s3kit.reports.write_experiment` writes it.
    """
    import torch

    ds = load_gender_dataset(data_dir, dataset, progress=progress)
    language = GENDER_LANGUAGE[dataset]
    ex = demographic_examples(ds, "gender", clean=clean, with_name=with_name)
    train, test = split_examples(ex, n_train=n_train, n_eval=n_eval, seed=seed)
    classes = LABELS["gender"]
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        t0 = time.perf_counter()
        p_zero = zero_shot_proba(test, "gender", language)
        t_zero = time.perf_counter() - t0
        clf = DemographicClassifier("gender", adapter=adapter, method=method, steps=steps,
                                    batch_size=batch_size, learning_rate=learning_rate,
                                    num_virtual_tokens=num_virtual_tokens, lora_r=lora_r,
                                    lora_targets=lora_targets, val_fraction=val_fraction,
                                    eval_every=eval_every, language=language,
                                    gradient_checkpointing=gradient_checkpointing,
                                    threads=threads, seed=seed, progress=progress)
        clf.fit(train, train["label"])
        t0 = time.perf_counter()
        p_tuned = clf.predict_proba(test)
        t_tuned = time.perf_counter() - t0
    finally:
        torch.set_num_threads(old_threads)
    seen = train.iloc[clf.fit_rows_]
    base = tfidf_baseline(seen, seen["label"], test, test["label"], classes)
    proba = {"zero_shot": p_zero, "tuned": p_tuned, "tfidf_lr": np.asarray(base["proba"])}
    metrics = experiment_metrics(test["label"], proba, classes)
    if clean:
        raw = demographic_examples(ds, "gender", clean=False,
                                   with_name=with_name).set_index("user_id")
        raw_tr, raw_te = raw.loc[seen["user_id"]], raw.loc[test["user_id"]]
        metrics["tfidf_lr_raw"] = {k: v for k, v in tfidf_baseline(
            raw_tr, raw_tr["label"], raw_te, raw_te["label"], classes).items() if k != "proba"}
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
                   "peak_rss_mb": round(peak_rss_mb(), 1)},
        "curve": clf.tuning_.history,
        "y_true": test["label"].tolist(),
        "pred": {name: [classes[i] for i in np.asarray(p).argmax(1)]
                 for name, p in proba.items()},
        "classes": list(classes),
    }
