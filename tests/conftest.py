"""Shared pytest fixtures (keep this small and generic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared real-data folder from ``$S3KIT_DATA_DIR``.

    Fails when ``CI`` is set and the folder is missing (CI must test on real data); skips
    otherwise (a laptop without the data).
    """
    value = os.environ.get("S3KIT_DATA_DIR")
    path = Path(value) if value else None
    if path is None or not path.is_dir():
        msg = f"S3KIT_DATA_DIR is not set to an existing folder (got {value!r})"
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI needs the shared data (../shared/data)")
        pytest.skip(msg)
    return path.resolve()


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
        pytest.skip("long fuzz run: select it with -m fuzz")
