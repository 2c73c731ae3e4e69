"""The suite's skip policy (s3kit.testing.pytest_policy), run as a user runs pytest.

Each case runs pytest in a subprocess: on a throwaway test folder that loads the policy the way
the repository's conftest.py does, or on the repository itself (the dataset loaders' doctests
on a fresh clone without the shared data).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MISSING_COMPONENT = '''
import pytest

def test_needs_a_server():
    pytest.importorskip("s3kit_no_such_component")
'''
DATA_TEST = '''
from s3kit.testing.pytest_policy import data_root

def test_reads_ced():
    assert (data_root("ced") / "ced" / "x.txt").read_text() == "ok"
'''
DATA_DOCTEST = '''
def f():
    """Read a dataset.

    >>> import os
    >>> root = os.environ.get("S3KIT_DATA_DIR")
    >>> open(f"{root}/ced/x.txt").read() if root else None
    'ok'
    """
'''
OPT_IN = '''
import pytest

def test_long_run():
    pytest.skip("opt-in: set LONG=1")
'''


def run_pytest(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CI", "S3KIT_ALLOW_SKIP", "S3KIT_DATA_DIR", "PYTEST_ADDOPTS")}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path):
    """A test folder with its own conftest.py loading the policy, like the repository's."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["s3kit.testing.pytest_policy"]\n')
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra\n")
    return tmp_path


def test_unavailable_component_fails_unless_opted_out(project):
    (project / "test_component.py").write_text(MISSING_COMPONENT)
    strict = run_pytest(project)
    assert strict.returncode == 1, strict.stdout
    assert "1 failed" in strict.stdout
    assert "a real component cannot run" in strict.stdout
    assert "set S3KIT_ALLOW_SKIP=1 to let it skip" in strict.stdout  # the summary names it

    relaxed = run_pytest(project, S3KIT_ALLOW_SKIP="1")
    assert relaxed.returncode == 0, relaxed.stdout
    assert "1 skipped" in relaxed.stdout
    assert "S3KIT_ALLOW_SKIP=1: 1 test(s) of unavailable real components skipped" in \
        relaxed.stdout


def test_module_level_importorskip_is_a_collection_error(project):
    (project / "test_module.py").write_text(
        'import pytest\npytest.importorskip("s3kit_no_such_component")\n\n'
        'def test_x():\n    pass\n')
    result = run_pytest(project)
    assert result.returncode != 0
    assert "a real component cannot run" in result.stdout
    relaxed = run_pytest(project, S3KIT_ALLOW_SKIP="1")
    assert relaxed.returncode == 5 and "1 skipped" in relaxed.stdout  # 5: nothing else to run


def test_opt_in_skip_is_not_a_failure(project):
    (project / "test_long.py").write_text(OPT_IN)
    result = run_pytest(project)
    assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout


@pytest.mark.parametrize("kind", ["test", "doctest"])
def test_absent_data_skips_outside_ci_and_fails_under_ci(project, kind):
    if kind == "test":
        (project / "test_data.py").write_text(DATA_TEST)
        args = ()
    else:
        (project / "reader.py").write_text(DATA_DOCTEST)
        args = ("--doctest-modules", "reader.py")
    empty = project / "no_data"
    empty.mkdir()

    local = run_pytest(project, *args, S3KIT_DATA_DIR=str(empty))
    assert local.returncode == 0, local.stdout
    assert "1 skipped" in local.stdout
    assert "no shared data: shared dataset 'ced' not found" in local.stdout
    assert "s3kit data fetch --dest DIR" in local.stdout  # how to get the data

    ci = run_pytest(project, *args, S3KIT_DATA_DIR=str(empty), CI="true")
    assert ci.returncode == 1 and "CI needs the shared data" in ci.stdout, ci.stdout
    # unset S3KIT_DATA_DIR under CI fails too (the doctest would otherwise pass on `None`)
    assert run_pytest(project, *args, CI="true").returncode == 1

    (empty / "ced").mkdir()
    (empty / "ced" / "x.txt").write_text("ok")
    assert run_pytest(project, *args, S3KIT_DATA_DIR=str(empty), CI="true").returncode == 0


def test_loader_doctests_on_a_fresh_clone_without_shared_data(tmp_path):
    """The README test command beside no ../shared: the loaders' doctests skip, with reason."""
    missing = str(tmp_path / "shared" / "data")
    result = run_pytest(ROOT, "--doctest-modules", "s3kit/datasets", "-q",
                        S3KIT_DATA_DIR=missing)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "9 skipped" in result.stdout
    assert "9 skipped: the shared datasets are absent" in result.stdout
    assert run_pytest(ROOT, "--doctest-modules", "s3kit/datasets", "-q",
                      S3KIT_DATA_DIR=missing, CI="true").returncode == 1
