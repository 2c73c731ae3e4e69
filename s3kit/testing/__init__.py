"""Test utilities shipped with s3kit (nothing here is imported by ``import s3kit``).

- :class:`~s3kit.testing.faultproxy.FaultProxy`: a seeded fault-injecting proxy for
  OpenAI-compatible servers, bound to 127.0.0.1 (see ``docs/reliability.md``).
"""

from __future__ import annotations

from .faultproxy import FAULT_KINDS, FaultProxy
from .notebooks import execute_with_peak_rss

__all__ = ["FAULT_KINDS", "FaultProxy", "execute_with_peak_rss"]
