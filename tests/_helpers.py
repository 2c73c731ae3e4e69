"""Assertions shared by several test modules (import as ``from _helpers import ...``)."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PNG = b"\x89PNG\r\n\x1a\n"


def read_clean_notebook(path: Path, number: str):
    """Read a tutorial notebook and check it is committed in its clean form.

    Checks: a markdown title cell ``# <number>...``, a ``parameters``-tagged second cell, a
    closing "Try this" cell, no outputs or execution counts (and ``nbstripout --verify`` when
    nbstripout is installed).

    Returns:
        The notebook (``nbformat`` v4), for further checks.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {number}")
    assert nb.cells[1].metadata.get("tags") == ["parameters"]
    assert "Try this" in nb.cells[-1].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    if shutil.which("nbstripout"):
        subprocess.run(["nbstripout", "--verify", str(path)], check=True)
    return nb


def assert_png_figures(folder: Path, names) -> None:
    """Each of ``names`` under ``folder`` is a real PNG (magic bytes, more than 10 kB)."""
    for name in names:
        data = (Path(folder) / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, name


class CaseTimeout(Exception):
    """A fuzz case ran past its time limit (a hang, reported as a failure)."""


@contextlib.contextmanager
def time_limit(seconds: int, what: str):
    """Raise :class:`CaseTimeout` if the block is still running after ``seconds`` (SIGALRM)."""
    def on_alarm(signum, frame):
        raise CaseTimeout(f"{what} still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing (base of the tests' stub servers)."""

    def log_message(self, *args):
        pass

    def send_json(self, status: int, payload, headers: dict | None = None) -> None:
        """Answer ``payload`` (JSON-encoded unless bytes) with ``status`` and ``headers``."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def serve_http(handler):
    """Serve ``handler`` on 127.0.0.1 (free port) from a daemon thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
