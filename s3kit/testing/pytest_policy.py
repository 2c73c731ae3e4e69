"""The test suite's skip policy (a pytest plugin, loaded by the repository's ``conftest.py``).

Three kinds of skip, told apart by the prefix of the skip reason:

- ``no shared data: ...`` (:func:`skip_without_data`): a test or doctest that reads the public
  datasets in ``$S3KIT_DATA_DIR``. Outside CI it skips when the data is absent (a fresh clone);
  under CI (``CI`` set) it fails.
- ``opt-in: ...``: a run the user asked not to have (the long fuzz run without ``-m fuzz``,
  ``S3KIT_FAULT_REPLAY=0``), ``platform: ...``: a check this OS cannot make, and a doctest
  whose examples are all marked ``+SKIP``.
- anything else (``pytest.importorskip`` of a missing package, no llama.cpp server, no
  Chromium): a real component that cannot run. That **fails**, unless the user opts out with
  ``S3KIT_ALLOW_SKIP=1``; the terminal summary always says so.

Doctests whose examples read ``S3KIT_DATA_DIR`` follow the shared-data rule too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

__all__ = ["ALLOW_SKIP_ENV", "NO_DATA", "allowed_skip", "data_root", "skip_without_data"]

#: The one environment variable that lets tests of unavailable real components skip.
ALLOW_SKIP_ENV = "S3KIT_ALLOW_SKIP"
#: Reason prefix of a skip for absent shared data.
NO_DATA = "no shared data"
# "all tests skipped by +SKIP option": a doctest whose examples are all marked ``+SKIP``.
_ALLOWED_PREFIXES = (NO_DATA + ":", "opt-in:", "platform:", "all tests skipped by +SKIP")
_FETCH_HINT = ("get the public datasets with `s3kit data fetch --dest DIR`, then run "
               "`S3KIT_DATA_DIR=DIR bash scripts/test.sh`")


def _on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def skip_without_data(msg: str):
    """Skip (outside CI) or fail (under ``CI``) a test that needs shared data that is absent."""
    if _on("CI"):
        pytest.fail(f"{msg}; CI needs the shared data (../shared/data)", pytrace=False)
    pytest.skip(f"{NO_DATA}: {msg}")


def data_root(*names: str) -> Path:
    """``$S3KIT_DATA_DIR`` as a Path, after checking that it (and each of ``names``) exists.

    Skips the calling test outside CI and fails it under CI otherwise.
    """
    value = os.environ.get("S3KIT_DATA_DIR")
    root = Path(value) if value else None
    if root is None or not root.is_dir():
        skip_without_data(f"S3KIT_DATA_DIR is not set to an existing folder (got {value!r})")
    for name in names:
        if not (root / name).exists():
            skip_without_data(f"shared dataset {name!r} not found (S3KIT_DATA_DIR={value!r})")
    return root.resolve()


def allowed_skip(reason: str) -> bool:
    """Whether a skip reason is one the policy accepts without ``S3KIT_ALLOW_SKIP``."""
    return reason.startswith(_ALLOWED_PREFIXES)


def _reason(report) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def _fail_instead(report) -> None:
    reason = _reason(report)
    if allowed_skip(reason) or _on(ALLOW_SKIP_ENV):
        return
    report.outcome = "failed"
    report.longrepr = (f"a real component cannot run: {reason}\n(install it, e.g. bash "
                       f"scripts/test.sh sets up the llama.cpp server and Chromium; or set "
                       f"{ALLOW_SKIP_ENV}=1 to let such tests skip)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn a skip of an unavailable real component into a failure (unless opted out)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        _fail_instead(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """The same for a module-level ``pytest.importorskip`` (a collection error, loud)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        _fail_instead(report)


_DATASET_IN_DOCTEST = re.compile(r"\{root\}/([\w.-]+)")


def pytest_runtest_setup(item):
    """Doctests that read ``S3KIT_DATA_DIR``: skip outside CI, fail under CI, without data."""
    dtest = getattr(item, "dtest", None)
    if dtest is None:
        return
    source = "".join(example.source for example in dtest.examples)
    if "S3KIT_DATA_DIR" in source:
        data_root(*_DATASET_IN_DOCTEST.findall(source))


def pytest_terminal_summary(terminalreporter):
    """Say why tests skipped, and how to opt out of (or into) the real-component rule."""
    skipped = [_reason(r) for r in terminalreporter.stats.get("skipped", [])]
    no_data = sum(r.startswith(NO_DATA + ":") for r in skipped)
    components = sum(not allowed_skip(r) for r in skipped)
    write = terminalreporter.write_line
    terminalreporter.section("s3kit skip policy", sep="-")
    if no_data:
        write(f"{no_data} skipped: the shared datasets are absent (S3KIT_DATA_DIR="
              f"{os.environ.get('S3KIT_DATA_DIR')!r}); {_FETCH_HINT}")
    if _on(ALLOW_SKIP_ENV):
        write(f"{ALLOW_SKIP_ENV}=1: {components} test(s) of unavailable real components "
              f"skipped instead of failing (unset it to make them fail)")
    else:
        write(f"a test of a real component that cannot run fails; set {ALLOW_SKIP_ENV}=1 to "
              f"let it skip")
