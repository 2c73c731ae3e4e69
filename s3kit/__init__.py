"""s3kit: simulate social networks with LLM-driven agents (a rebuild of S3, Gao et al. 2023).

The flat public API re-exports the few names a notebook needs. They are loaded on first use, so
``import s3kit`` stays fast, and heavy dependencies (torch, transformers, peft) are imported only
by the backends that need them.

Examples:
    >>> import s3kit
    >>> cfg = s3kit.ReplayConfig(n_steps=3, backend="fake")
    >>> cfg.n_steps
    3
"""

from importlib import import_module

from ._version import __version__
from .config import ReplayConfig
from .datasets.base import SocialDataset
from .errors import (
    BackendError,
    CheckpointError,
    ConfigError,
    DataFormatError,
    HeadError,
    S3kitError,
)

_LAZY = {
    "load_dataset": "s3kit.datasets",
    "available_datasets": "s3kit.datasets",
    "summarize_datasets": "s3kit.datasets",
    "load_sample": "s3kit.sample",
    "generate_sample": "s3kit.sample",
    "SocialNetwork": "s3kit.environment",
    "MemoryPool": "s3kit.memory",
    "MemoryBank": "s3kit.memory",
    "AgentState": "s3kit.agent",
    "DemographicClassifier": "s3kit.demographics",
    "DecisionModel": "s3kit.heads",
    "fit_decision_model": "s3kit.evaluation.calibrate",
    "load_llm": "s3kit.llm",
    "Simulation": "s3kit.simulation",
    "run_replay": "s3kit.replay",
    "run_bench": "s3kit.evaluation.bench",
    "run_scenarios": "s3kit.scenarios",
    "collect_runs": "s3kit.scenarios",
    "plot_spread": "s3kit.plotting",
    "plot_trend": "s3kit.plotting",
    "plot_degree_distribution": "s3kit.plotting",
    "spread_curve": "s3kit.cascades",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 's3kit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BackendError",
    "CheckpointError",
    "ConfigError",
    "DataFormatError",
    "HeadError",
    "ReplayConfig",
    "S3kitError",
    "SocialDataset",
    "__version__",
    *sorted(_LAZY),
]
