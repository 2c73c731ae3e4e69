"""Shared pytest fixtures (keep this small and generic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from s3kit.testing.pytest_policy import data_root


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared real-data folder from ``$S3KIT_DATA_DIR``.

    Fails when ``CI`` is set and the folder is missing (CI must test on real data); skips
    otherwise (a laptop without the data).
    """
    return data_root()


def pytest_configure(config):
    """Make a relative ``S3KIT_DATA_DIR`` absolute: notebook tests run kernels in tmp folders."""
    value = os.environ.get("S3KIT_DATA_DIR")
    if value and not os.path.isabs(value):
        os.environ["S3KIT_DATA_DIR"] = str(Path(value).resolve())


@pytest.fixture(autouse=True)
def _long_fuzz_only_on_request(request):
    """The ``fuzz``-marked long runs are not default: they run only under ``-m fuzz``."""
    if request.node.get_closest_marker("fuzz") and "fuzz" not in (
            request.config.getoption("markexpr") or "").replace("not fuzz", ""):
        pytest.skip("opt-in: long fuzz run, select it with -m fuzz")
