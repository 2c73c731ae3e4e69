"""Start a local OpenAI-compatible server (llama.cpp) on the embedded model's GGUF.

Useful to try the openai backend offline, and used by the test that checks the openai backend
against the embedded one on the same weights. Needs ``llama-cpp-python[server]`` (see
``.ci/llama_server.sh`` for a portable build).

Examples:
    >>> from s3kit.llm.server import LlamaCppServer
    >>> with LlamaCppServer("smollm2-135m-instruct") as server:  # doctest: +SKIP
    ...     llm = load_llm("openai", base_url=server.base_url)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import BackendError
from .models import DEFAULT_MODEL, gguf_path

__all__ = ["LlamaCppServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaCppServer:
    """``python -m llama_cpp.server`` on 127.0.0.1, as a context manager.

    Args:
        model: registry name (its GGUF is served) or a path to a ``.gguf`` file.
        port: TCP port (default: a free one).
        n_threads: CPU threads for llama.cpp.
        n_ctx: context size.
        startup_timeout: seconds to wait for ``/v1/models``.
        logits_all: keep logits of prompt tokens (needed for echo log-probs).

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1`` once started.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, port: int | None = None,
                 n_threads: int = 2, n_ctx: int = 2048, startup_timeout: float = 120.0,
                 logits_all: bool = True):
        self.model = model
        self.port = port
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.startup_timeout = startup_timeout
        self.logits_all = logits_all
        self.base_url: str | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> LlamaCppServer:
        """Launch the server and wait until it answers ``/v1/models``."""
        path = Path(self.model)
        gguf = path if path.suffix == ".gguf" and path.exists() else gguf_path(self.model)
        self.port = self.port or free_port()
        self._log = tempfile.NamedTemporaryFile("w+", prefix="llama_server_", suffix=".log",
                                                delete=False)
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
               "--host", "127.0.0.1", "--port", str(self.port),
               "--n_threads", str(self.n_threads), "--n_ctx", str(self.n_ctx),
               "--logits_all", str(self.logits_all).lower()]
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                      env=dict(os.environ))
        url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BackendError(f"llama_cpp.server exited with {self._proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as response:
                    if response.status == 200:
                        self.base_url = url
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        self.stop()
        raise BackendError(f"llama_cpp.server did not answer within {self.startup_timeout}s")

    def log_tail(self, n: int = 2000) -> str:
        """Last characters of the server log."""
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
        return text[-n:]

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (kill after ``timeout`` seconds)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=timeout)
        self._proc = None
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LlamaCppServer:
        """Start."""
        return self.start()

    def __exit__(self, *exc) -> None:
        """Stop."""
        self.stop()
