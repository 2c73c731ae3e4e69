"""Run a notebook with papermill and read back the peak memory of its kernel.

The kernel is a separate process, so the runner's own RSS says nothing about it. A cell
appended to a copy of the notebook writes the kernel's peak RSS (``VmHWM``; and the largest
of the processes it started) to a file once every other cell has run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["execute_with_peak_rss"]

# Linux keeps ru_maxrss across execve: a kernel started by a 3 GB test runner would report 3 GB.
# VmHWM (peak RSS of the process's own address space, new at exec) is the kernel's own figure.
_PROBE = """\
import json as _json, resource as _resource
def _hwm_kb():
    try:
        with open("/proc/self/status") as _fh:
            return next(int(l.split()[1]) for l in _fh if l.startswith("VmHWM:"))
    except (OSError, StopIteration):  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        return _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
_json.dump({{"self_kb": _hwm_kb(),
            "children_kb": _resource.getrusage(_resource.RUSAGE_CHILDREN).ru_maxrss}},
           open({path!r}, "w"))"""


def execute_with_peak_rss(notebook: str | os.PathLike, output: str | os.PathLike,
                          parameters: dict | None = None, *, cwd: str | os.PathLike | None = None,
                          extra_cells: tuple[str, ...] = (), **kwargs: Any) -> dict:
    """Execute ``notebook`` into ``output``; return the kernel's peak RSS in MB.

    Args:
        notebook: the notebook to run (left untouched: a copy gets the probe cell).
        output: where papermill writes the executed notebook.
        parameters: papermill parameters.
        cwd: the kernel's working folder.
        extra_cells: code run after the notebook's own cells and before the probe (e.g.
            stepping a dashboard the way a user's clicks would).
        **kwargs: passed to ``papermill.execute_notebook``.

    Returns:
        ``{"kernel_mb": ..., "children_mb": ...}`` (peak resident set sizes).
    """
    import nbformat
    import papermill

    nb = nbformat.read(str(notebook), as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "peak_rss.json"
        for code in (*extra_cells, _PROBE.format(path=str(probe))):
            nb.cells.append(nbformat.v4.new_code_cell(code))
        source = Path(tmp) / Path(notebook).name
        nbformat.write(nb, str(source))
        kwargs.setdefault("kernel_name", "python3")
        kwargs.setdefault("progress_bar", False)
        papermill.execute_notebook(str(source), str(output), parameters=parameters or {},
                                   cwd=str(cwd) if cwd is not None else None, **kwargs)
        peaks = json.loads(probe.read_text())
    return {"kernel_mb": peaks["self_kb"] / 1024, "children_mb": peaks["children_kb"] / 1024}
