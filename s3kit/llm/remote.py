"""The kernels' side of ``s3kit serve``: the ``LLM`` protocol over the shared model server.

:class:`ServerLLM` answers ``score`` / ``generate`` / ``logprob`` and, unlike a plain
OpenAI-compatible server, ``hidden_states`` / ``layer_info``, so the calibrated heads
(``decisions: auto``) read the same representation they would read in-process; the heads' e5
part is :class:`ServerE5Embedder`. A kernel using it imports neither torch nor transformers
and holds no weights.

Kernels find the server through ``$S3KIT_SERVER`` (and the token, if the server has one,
through ``$S3KIT_SERVER_TOKEN``): with it set, a config asking for the ``embedded`` backend
(the notebooks' and dashboards' default) is answered by the server
(:func:`s3kit.llm.llm_from_config`); ``backend: server`` asks for it explicitly.

Examples:
    >>> from s3kit.llm import load_llm
    >>> llm = load_llm("server", base_url="http://127.0.0.1:8765")  # doctest: +SKIP
    >>> llm.layer_info()  # doctest: +SKIP
    {'n_layers': 30, 'hidden_size': 576, 'dtype': 'bfloat16'}
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import numpy as np

from ..embeddings import E5Embedder
from ..errors import BackendError
from .base import CallStats, as_str_list, text_pairs
from .serve import E5_MODEL, TOKEN_ENV, decode_array, serve_url

__all__ = ["ServerLLM", "ServerE5Embedder"]


class ServerLLM:
    """``LLM`` protocol (plus hidden states) answered by an ``s3kit serve`` process.

    Args:
        url: the server (default ``$S3KIT_SERVER``), e.g. ``http://127.0.0.1:8765``.
        model: the model the run expects (checked against the server's; ``None``: any).
        adapter: the adapter the run expects (checked; ``None`` = no adapter).
        dtype: the dtype the run expects (``"auto"``: the server's).
        cache: whether the server may answer from its answer cache (``llm_cache``).
        seed: default sampling seed for ``generate``.
        token_env: environment variable holding the bearer token (read per request, never
            stored).
        timeout: seconds to wait for one answer (a request may queue behind other
            kernels' work).
        retries: attempts when the connection fails (server restarting).

    Attributes:
        backend: ``"server"``.
        stats: ``CallStats`` (``calls`` = HTTP requests, ``prompts`` = prompts sent).
    """

    backend = "server"

    def __init__(self, url: str | None = None, *, model: str | None = None,
                 adapter: str | None = None, dtype: str = "auto", cache=True, seed: int = 0,
                 token_env: str = TOKEN_ENV, timeout: float = 1800.0, retries: int = 5):
        self.url = serve_url(url)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(f"s3kit server URL {self.url!r} must be http(s)://host:port")
        self._scheme, self._host = parts.scheme, parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self.model = model
        self.adapter = adapter
        self.dtype = dtype
        self.use_cache = bool(cache)
        self.seed = seed
        self.token_env = token_env
        self.timeout = float(timeout)
        self.retries = max(1, int(retries))
        self.stats = CallStats()
        self.server_info: dict | None = None
        self._local = threading.local()

    def __repr__(self) -> str:
        """URL and model (never the token)."""
        return f"ServerLLM(url={self.url!r}, model={self.model!r}, adapter={self.adapter!r})"

    def __getstate__(self):
        """Pickle without the connections (the token is never held)."""
        state = dict(self.__dict__)
        state.pop("_local", None)
        return state

    def __setstate__(self, state):
        """Restore; connections are opened on use."""
        self.__dict__.update(state)
        self._local = threading.local()

    # -- HTTP --------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = (http.client.HTTPSConnection if self._scheme == "https"
                   else http.client.HTTPConnection)
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One JSON request (retried when the connection fails); the decoded answer.

        Raises:
            BackendError: the server is unreachable, refuses the token or reports an error.
        """
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Content-Type": "application/json"}
        token = os.environ.get(self.token_env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        last = None
        for attempt in range(self.retries):
            try:
                conn = self._connection()
                conn.request(method, self._prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except TimeoutError as exc:
                self._drop()
                raise BackendError(f"s3kit server {self.url}: no answer to {path} within "
                                   f"{self.timeout:.0f} s") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                last = exc
                time.sleep(min(0.2 * 2 ** attempt, 5.0))
                continue
            if response.getheader("Connection", "").lower() == "close":
                self._drop()
            if response.status == 200:
                return json.loads(raw)
            try:
                message = json.loads(raw)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = raw[:200].decode("utf-8", "replace")
            if response.status in (502, 503) and attempt + 1 < self.retries:
                last = BackendError(message)
                time.sleep(min(0.2 * 2 ** attempt, 5.0))
                continue
            hint = (f" (set ${self.token_env} to the server's token)"
                    if response.status == 401 else "")
            raise BackendError(f"s3kit server {self.url}{path}: HTTP {response.status}: "
                               f"{message}{hint}")
        raise BackendError(f"no s3kit server answers at {self.url} ({last}); start one with "
                           f"`s3kit serve` or unset $S3KIT_SERVER to load the model in this "
                           f"kernel")

    def _post(self, path: str, body: dict) -> dict:
        t0 = time.perf_counter()
        out = self.request("POST", path, body)
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - t0
        return out

    # -- connecting ----------------------------------------------------------------------
    def connect(self) -> ServerLLM:
        """Ask the server what it holds; refuse a model, adapter or dtype the run did not ask.

        Raises:
            BackendError: unreachable, or it serves another model / adapter / dtype.
        """
        if self.server_info is not None:
            return self
        models = self.request("GET", "/v1/models")
        info = next((m.get("s3kit") for m in models.get("data", []) if m.get("s3kit")), None)
        if info is None:
            raise BackendError(f"{self.url} is not an s3kit model server (no s3kit section in "
                               "/v1/models)")
        held = (info.get("model"), info.get("adapter"))
        if self.model is not None and (self.model, self.adapter) != held:
            raise BackendError(
                f"the s3kit server at {self.url} holds {held[0]!r}"
                f"{' + adapter ' + repr(held[1]) if held[1] else ''}; this run asks for "
                f"{self.model!r}{' + adapter ' + repr(self.adapter) if self.adapter else ''}. "
                "Start a server for it (s3kit serve --model/--adapter) or unset $S3KIT_SERVER")
        if self.dtype not in ("auto", None) and info.get("dtype") not in (None, self.dtype):
            raise BackendError(f"the s3kit server at {self.url} runs {info.get('dtype')}; this "
                               f"run asks for {self.dtype} (dtype: auto takes the server's)")
        self.model, self.adapter = held
        self.server_info = info
        return self

    def ensure_loaded(self) -> None:
        """Connect unless connected."""
        self.connect()

    def layer_info(self) -> dict:
        """``{"n_layers", "hidden_size", "dtype"}`` of the served model."""
        self.connect()
        if "n_layers" not in self.server_info:
            raise BackendError(f"the s3kit server at {self.url} serves no hidden states")
        return {k: self.server_info[k] for k in ("n_layers", "hidden_size", "dtype")}

    # -- the LLM protocol ------------------------------------------------------------------
    def score(self, prompts: Sequence[str], options: Sequence[str], *,
              system: str | None = None) -> np.ndarray:
        """Probability of each option as the answer (the server's ``EmbeddedLLM.score``)."""
        prompts = as_str_list(prompts, "prompts")
        options = as_str_list(options, "options")
        if not options or len(set(options)) != len(options) or any(not o for o in options):
            raise ValueError("options must be distinct non-empty strings")
        if not prompts:
            return np.zeros((0, len(options)))
        out = self._post("/v1/s3kit/score", {"prompts": prompts, "options": options,
                                             "system": system, "cache": self.use_cache})
        self.stats.prompts += len(prompts)
        return decode_array(out["probs"])

    def generate(self, prompts: Sequence[str], *, system: str | None = None,
                 max_new_tokens: int = 40, temperature: float = 0.0,
                 seed: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """The answer to each prompt (the server's ``EmbeddedLLM.generate``)."""
        prompts = as_str_list(prompts, "prompts")
        if not prompts:
            return []
        out = self._post("/v1/s3kit/generate", {
            "prompts": prompts, "system": system, "max_new_tokens": int(max_new_tokens),
            "temperature": float(temperature), "seed": self.seed if seed is None else seed,
            "stop": list(stop), "cache": self.use_cache})
        self.stats.prompts += len(prompts)
        return list(out["texts"])

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str], *,
                system: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Summed log-probability and token count of each continuation."""
        prompts, continuations = text_pairs(prompts, continuations)
        if not prompts:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        out = self._post("/v1/s3kit/logprob", {"prompts": prompts,
                                               "continuations": continuations,
                                               "system": system, "cache": self.use_cache})
        self.stats.prompts += len(prompts)
        return np.asarray(out["sums"], dtype=np.float64), np.asarray(out["counts"],
                                                                     dtype=np.int64)

    # -- representations ------------------------------------------------------------------
    def hidden_states(self, texts: Sequence[str], layers: Sequence[int],
                      max_tokens: int = 96) -> np.ndarray:
        """``EmbeddedLLM.hidden_states`` on the server: ``(n, len(layers) * hidden_size)``."""
        texts = [t or " " for t in as_str_list(texts, "texts")]
        layers = [int(x) for x in layers]
        if not texts:
            return np.zeros((0, len(layers) * self.layer_info()["hidden_size"]), np.float32)
        out = self._post("/v1/s3kit/hidden_states", {"texts": texts, "layers": layers,
                                                     "max_tokens": int(max_tokens)})
        return decode_array(out["vectors"])

    def e5_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """The server's raw e5 vectors of ``texts`` (``/v1/embeddings``)."""
        texts = as_str_list(texts, "texts")
        out = self._post("/v1/embeddings", {"model": E5_MODEL, "input": texts,
                                            "encoding_format": "base64"})
        rows = sorted(out["data"], key=lambda d: d["index"])
        return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4")
                         for d in rows]).astype(np.float32)

    def e5_embedder(self, cache_dir=None) -> ServerE5Embedder:
        """The heads' e5 part, encoded by the server (cached in this kernel like e5's)."""
        return ServerE5Embedder(self, cache_dir=cache_dir)

    def stats_of_server(self) -> dict:
        """The server's ``/v1/stats`` (batches, memo, memory)."""
        return self.request("GET", "/v1/stats")

    def throughput(self) -> dict:
        """No measured rates (the server's depend on the whole class)."""
        return {}


class ServerE5Embedder(E5Embedder):
    """:class:`~s3kit.embeddings.E5Embedder` whose encoder runs on the model server.

    Same name, dimension, normalisation and cache as the in-process e5, so the calibrated
    heads and the memory pools (which share the heads' e5) read the same vectors.
    """

    def __init__(self, llm: ServerLLM, cache_dir=None, batch_size: int = 64):
        self.server = llm
        super().__init__(cache_dir=cache_dir, batch_size=batch_size)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.server.e5_embeddings([t or " " for t in texts])
