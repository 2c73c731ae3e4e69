"""Text labels: :class:`TextBaseline` (TF-IDF + logistic regression)."""

from __future__ import annotations

import math

import numpy as np

from ..text import detect_language

__all__ = ["TextBaseline"]


# ----------------------------------------------------------------------------- text


class TextBaseline:
    """TF-IDF + logistic regression text classifier (scikit-learn ``Pipeline``).

    Args:
        analyzer: ``"word"``, ``"char_wb"`` (character n-grams, for Chinese and other text
            without spaces) or ``"auto"`` (``"char_wb"`` when the training texts are Chinese by
            :func:`s3kit.text.detect_language`, else ``"word"``).
        ngram_range: n-gram range (default ``(1, 2)`` for words, ``(1, 3)`` for characters).
        C: inverse regularisation strength of the logistic regression.
        max_features: vocabulary cap.
        class_weight: ``None`` or ``"balanced"``.
        seed: passed to the logistic regression as ``random_state``.

    Attributes:
        pipeline_: the fitted ``Pipeline``. classes_: label order of :meth:`predict_proba`.
        analyzer_: the analyzer used.

    Examples:
        >>> tb = TextBaseline().fit(["good fun", "great fun", "bad awful", "awful sad"],
        ...                         ["pos", "pos", "neg", "neg"])
        >>> tb.predict(["fun and good", "sad and bad"]).tolist()
        ['pos', 'neg']
    """

    def __init__(self, analyzer: str = "auto", ngram_range: tuple[int, int] | None = None,
                 C: float = 1.0, max_features: int | None = 100_000,  # noqa: N803
                 class_weight: str | None = None, seed: int | None = 0):
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.C = C
        self.max_features = max_features
        self.class_weight = class_weight
        self.seed = seed

    def fit(self, texts, labels) -> TextBaseline:
        """Fit on texts and their labels.

        Args:
            texts: iterable of strings.
            labels: labels, one per text (at least two distinct).

        Returns:
            ``self``.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline

        texts = ["" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t)
                 for t in texts]
        labels = list(labels)
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if len(set(labels)) < 2:
            raise ValueError("TextBaseline needs at least two distinct labels")
        analyzer = self.analyzer
        if analyzer == "auto":
            analyzer = "char_wb" if detect_language(texts) == "zh" else "word"
        if analyzer not in ("word", "char", "char_wb"):
            raise ValueError(f"analyzer must be 'auto', 'word', 'char' or 'char_wb', "
                             f"got {self.analyzer!r}")
        ngram = self.ngram_range or ((1, 2) if analyzer == "word" else (1, 3))
        self.analyzer_ = analyzer
        self.pipeline_ = Pipeline([
            ("tfidf", TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngram),
                                      max_features=self.max_features, sublinear_tf=True,
                                      min_df=1)),
            ("clf", LogisticRegression(C=self.C, max_iter=2000, class_weight=self.class_weight,
                                       random_state=self.seed)),
        ])
        self.pipeline_.fit(texts, labels)
        self.classes_ = self.pipeline_.classes_
        return self

    def _texts(self, texts) -> list[str]:
        if not hasattr(self, "pipeline_"):
            raise RuntimeError("TextBaseline is not fitted")
        return ["" if t is None or (isinstance(t, float) and math.isnan(t)) else str(t)
                for t in texts]

    def predict(self, texts) -> np.ndarray:
        """Most likely label of each text."""
        return self.pipeline_.predict(self._texts(texts))

    def predict_proba(self, texts) -> np.ndarray:
        """Probabilities ``(n, len(classes_))`` in the order of ``classes_``."""
        return self.pipeline_.predict_proba(self._texts(texts))
