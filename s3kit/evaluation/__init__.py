"""Evaluation: the benchmark metrics (and, in time, task builders and ``s3kit bench``).

Examples:
    >>> from s3kit.evaluation import accuracy, spread_nrmse
    >>> accuracy([1, 0], [1, 1])
    0.5
"""

from .metrics import (
    MetricUndefinedWarning,
    accuracy,
    align_curves,
    as_curve,
    auc,
    classification_report,
    embedding_cosine,
    f1,
    final_size_error,
    macro_f1,
    pearson_r,
    perplexity,
    spread_nrmse,
    trend_rmse,
)

__all__ = [
    "MetricUndefinedWarning",
    "accuracy",
    "align_curves",
    "as_curve",
    "auc",
    "classification_report",
    "embedding_cosine",
    "f1",
    "final_size_error",
    "macro_f1",
    "pearson_r",
    "perplexity",
    "spread_nrmse",
    "trend_rmse",
]
