"""Paths (core layer: imports nothing from s3kit): the user cache folder.

Examples:
    >>> cache_dir().is_dir()
    True
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """The user cache folder (``$S3KIT_CACHE_DIR`` or ``~/.cache/s3kit``), created on demand."""
    path = Path(os.environ.get("S3KIT_CACHE_DIR") or Path.home() / ".cache" / "s3kit")
    path.mkdir(parents=True, exist_ok=True)
    return path
