"""Evaluation: metrics, task builders, the benchmark runner and ``s3kit bench``.

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

# the benchmark pulls in the task builders, the simulation and sklearn: each name below is
# loaded from its module on first use only
_LAZY = {
    "run_bench": "bench",
    "TASKS": "tasks",
    "evaluate": "runner",
    "BenchContext": "context",
    "BenchSizes": "sizes",
    "TaskResult": "results",
    "results_table": "results",
    "write_results": "results",
    "validate_results": "schema",
    "RESULTS_SCHEMA": "schema",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RESULTS_SCHEMA",
    "TASKS",
    "BenchContext",
    "BenchSizes",
    "TaskResult",
    "evaluate",
    "results_table",
    "run_bench",
    "validate_results",
    "write_results",
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
