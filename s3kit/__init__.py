"""s3kit: simulate social networks with LLM-driven agents (a rebuild of S3, Gao et al. 2023).

The flat public API re-exports the few names a notebook needs. Heavy dependencies (torch,
transformers, peft) are imported lazily by the backends that need them.
"""

from .config import ReplayConfig
from .datasets.base import SocialDataset
from .errors import BackendError, CheckpointError, ConfigError, DataFormatError, S3kitError

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CheckpointError",
    "ConfigError",
    "DataFormatError",
    "ReplayConfig",
    "S3kitError",
    "SocialDataset",
    "__version__",
]
