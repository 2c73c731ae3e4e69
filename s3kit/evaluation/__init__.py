"""Evaluation: metrics, task builders and the benchmark (``s3kit bench``).

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


def __getattr__(name):
    # bench pulls in the task builders (pandas, sklearn): load it on first use only
    if name in ("run_bench", "TASKS"):
        from . import bench

        return getattr(bench, name)
    if name in ("validate_results", "RESULTS_SCHEMA"):
        from . import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RESULTS_SCHEMA",
    "TASKS",
    "run_bench",
    "validate_results",
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
