"""One model server for a classroom (``s3kit serve``): every kernel shares one model.

One process holds the embedded model (:class:`~s3kit.llm.embedded.EmbeddedLLM`), the
embedders the calibrated heads read (the model's hidden states and multilingual e5) and the
answer cache. Notebook and dashboard kernels reach it over HTTP through
:class:`~s3kit.llm.remote.ServerLLM` (found through ``$S3KIT_SERVER``) and stay small: they
never import torch and hold no weights.

Protocol (JSON over HTTP):

============================== ===========================================================
``GET  /v1/models``            the model served (OpenAI format; ``s3kit`` adds the adapter,
                               dtype, layer count and hidden size)
``POST /v1/chat/completions``  OpenAI chat completions (one system + one user turn;
                               ``logprobs`` / ``top_logprobs`` supported)
``POST /v1/completions``       OpenAI completions on raw text (``echo`` + ``logprobs``: the
                               log-probability of every prompt token)
``POST /v1/embeddings``        e5 vectors (``model: multilingual-e5-small-q4``, OpenAI
                               format, ``encoding_format`` float or base64)
``POST /v1/s3kit/score``       ``LLM.score`` (prompts, options, system)
``POST /v1/s3kit/generate``    ``LLM.generate``
``POST /v1/s3kit/logprob``     ``LLM.logprob``
``POST /v1/s3kit/hidden_states`` ``EmbeddedLLM.hidden_states(texts, layers, max_tokens)``
``GET  /v1/s3kit/layer_info``  ``EmbeddedLLM.layer_info()``
``GET  /v1/stats``             batches (requests per forward pass, per kind), memo hits,
                               the server's memory
============================== ===========================================================

The OpenAI endpoints are what :class:`~s3kit.llm.openai_backend.OpenAILLM` needs (echo
scoring, chat log-probs, generation), so any OpenAI client works too.

**Coalescing.** Request threads hand their work to one batcher thread, which collects what
arrives within ``window_ms`` (and everything that queued while the model was busy) and runs
it together:

* identical requests (the same texts, the same prompts: students stepping the same scenario)
  are computed once and answered together; hidden states and e5 vectors of a request are
  also kept in a memo (``memo_mb``), so a session that lags behind reads what the others
  already computed;
* different ``score`` / ``generate`` / ``logprob`` requests with the same options, system
  and settings are merged into one batched call;
* different ``hidden_states`` / e5 requests are each computed as their own forward pass,
  exactly as the kernel's own embedded backend would compute that call: the calibrated
  agents' answers through the server are bit-identical to a session's with the model
  in-process (the model's numbers move with the batch's composition, by up to ~1e-2 in
  bfloat16, which would flip a few sampled decisions).

**Security.** Binds 127.0.0.1 by default. Any other address needs ``allow_remote`` *and* a
token (``$S3KIT_SERVER_TOKEN``, at least 16 characters); with a token every request must
carry ``Authorization: Bearer <token>``.

Examples:
    >>> from s3kit.llm.serve import ModelServer
    >>> with ModelServer() as server:  # doctest: +SKIP
    ...     print(server.base_url)  # the kernels: S3KIT_SERVER=<this URL>
    http://127.0.0.1:...
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import BackendError, ConfigError
from .models import DEFAULT_MODEL

__all__ = ["ModelServer", "Batcher", "check_bind", "is_loopback", "DEFAULT_PORT",
           "SERVER_ENV", "TOKEN_ENV", "E5_MODEL", "MIN_TOKEN_LENGTH", "serve_url",
           "encode_array", "decode_array"]

log = logging.getLogger(__name__)

#: The environment variable the kernels read the server's URL from.
SERVER_ENV = "S3KIT_SERVER"
#: The environment variable holding the bearer token (server and kernels).
TOKEN_ENV = "S3KIT_SERVER_TOKEN"
#: ``s3kit serve``'s port unless told otherwise.
DEFAULT_PORT = 8765
#: Name of the e5 embedder on ``/v1/embeddings`` (``E5Embedder.name``).
E5_MODEL = "multilingual-e5-small-q4"
#: Shortest token accepted for listening beyond 127.0.0.1.
MIN_TOKEN_LENGTH = 16
_MAX_BODY = 64 << 20


# ----------------------------------------------------------------------------- binding
def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only reaches this machine.

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("10.1.2.3")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_bind(host: str, token: str | None, allow_remote: bool) -> None:
    """Refuse to listen beyond this machine without an explicit flag and a token.

    Raises:
        ConfigError: ``host`` is not a loopback address and ``allow_remote`` is off, or no
            token (of at least :data:`MIN_TOKEN_LENGTH` characters) is set.

    Examples:
        >>> check_bind("127.0.0.1", None, False)
        >>> check_bind("10.1.2.3", None, True)
        Traceback (most recent call last):
        ...
        s3kit.errors.ConfigError: listening on 10.1.2.3 (beyond this machine) needs a token ...
    """
    if is_loopback(host):
        return
    if not allow_remote:
        raise ConfigError(f"refusing to listen on {host}: the server binds 127.0.0.1 unless "
                          f"told otherwise (--allow-remote, with a token in ${TOKEN_ENV})")
    if not token or len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"listening on {host} (beyond this machine) needs a token of at "
                          f"least {MIN_TOKEN_LENGTH} characters in ${TOKEN_ENV}, e.g. "
                          "export S3KIT_SERVER_TOKEN=$(python -c 'import secrets; "
                          "print(secrets.token_urlsafe(24))')")


# ----------------------------------------------------------------------------- batching
@dataclass
class _Job:
    kind: str
    key: tuple
    payload: Any
    n_items: int
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class BatchStats:
    """How the batcher coalesced: per kind, the requests each model pass answered."""

    def __init__(self):
        self._lock = threading.Lock()
        self.kinds: dict[str, dict] = {}

    def _entry(self, kind: str) -> dict:
        return self.kinds.setdefault(kind, {"passes": 0, "requests": 0, "items": 0,
                                            "memo_requests": 0, "seconds": 0.0,
                                            "requests_per_pass": {}, "max_requests": 0,
                                            "max_items": 0})

    def record(self, kind: str, n_requests: int, n_items: int, seconds: float) -> None:
        """One model pass (call) that answered ``n_requests`` requests of ``n_items`` items."""
        with self._lock:
            e = self._entry(kind)
            e["passes"] += 1
            e["requests"] += n_requests
            e["items"] += n_items
            e["seconds"] += seconds
            hist = e["requests_per_pass"]
            hist[n_requests] = hist.get(n_requests, 0) + 1
            e["max_requests"] = max(e["max_requests"], n_requests)
            e["max_items"] = max(e["max_items"], n_items)

    def memo(self, kind: str, n_requests: int) -> None:
        """``n_requests`` answered from the memo (no pass)."""
        with self._lock:
            e = self._entry(kind)
            e["memo_requests"] += n_requests
            e["requests"] += n_requests

    def as_dict(self) -> dict:
        """A JSON-able copy (histogram keys as strings, sorted)."""
        with self._lock:
            out = {}
            for kind, e in self.kinds.items():
                e = dict(e)
                e["requests_per_pass"] = {str(k): v for k, v in
                                          sorted(e["requests_per_pass"].items())}
                e["seconds"] = round(e["seconds"], 3)
                out[kind] = e
            return out


class Batcher:
    """One thread runs every model call; requests arriving together are run together.

    ``submit`` blocks the calling (request) thread until its job is done. The batcher takes
    the first job waiting, then whatever arrives within ``window_s`` (and whatever queued
    while the model was busy, up to ``max_items`` items), groups the jobs by ``(kind,
    key)`` and calls ``run(kind, key, jobs)`` once per group; ``run`` sets each job's
    ``result``.

    Args:
        run: ``run(kind, key, jobs)``.
        window_s: how long to wait for more requests after the first.
        max_items: stop collecting at this many items.
    """

    def __init__(self, run: Callable[[str, tuple, list], None], window_s: float = 0.005,
                 max_items: int = 512):
        self._run = run
        self.window_s = float(window_s)
        self.max_items = int(max_items)
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="s3kit-batcher", daemon=True)
        self._started = False

    def start(self) -> Batcher:
        """Start the thread (once)."""
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the jobs queued, then end the thread."""
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(self, kind: str, key: tuple, payload: Any, n_items: int = 1,
               timeout: float | None = None) -> Any:
        """Queue one job and wait for its result (its exception is re-raised here)."""
        job = _Job(kind, key, payload, max(1, int(n_items)))
        self._queue.put(job)
        if not job.done.wait(timeout):
            raise TimeoutError(f"no answer within {timeout} s")
        if job.error is not None:
            raise job.error
        return job.result

    def _collect(self) -> list[_Job] | None:
        first = self._queue.get()
        if first is None:
            return None
        jobs, items = [first], first.n_items
        deadline = time.monotonic() + self.window_s
        while items < self.max_items:
            remaining = deadline - time.monotonic()
            try:
                job = (self._queue.get(timeout=remaining) if remaining > 0
                       else self._queue.get_nowait())
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # stop after this round
                break
            jobs.append(job)
            items += job.n_items
        return jobs

    def _loop(self) -> None:
        while True:
            jobs = self._collect()
            if jobs is None:
                return
            groups: dict[tuple, list[_Job]] = {}
            for job in jobs:
                groups.setdefault((job.kind, job.key), []).append(job)
            for (kind, key), group in groups.items():
                try:
                    self._run(kind, key, group)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting threads
                    log.exception("s3kit serve: %s failed", kind)
                    for job in group:
                        job.error = exc
                finally:
                    for job in group:
                        job.done.set()


class _Memo:
    """Least-recently-used arrays, bounded in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self.bytes = 0

    def get(self, key: str) -> np.ndarray | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes or key in self._items:
            return
        self._items[key] = value
        self.bytes += value.nbytes
        while self.bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.bytes -= old.nbytes


def _digest(*parts) -> str:
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        data = str(part).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def encode_array(arr: np.ndarray) -> dict:
    """An array as JSON: dtype, shape and its little-endian bytes in base64 (bit-exact)."""
    arr = np.ascontiguousarray(arr)
    little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return {"dtype": arr.dtype.name, "shape": list(arr.shape),
            "data": base64.b64encode(little.tobytes()).decode("ascii")}


def decode_array(obj: dict) -> np.ndarray:
    """Inverse of :func:`encode_array`."""
    dtype = np.dtype(obj["dtype"]).newbyteorder("<")
    raw = base64.b64decode(obj["data"])
    return np.frombuffer(raw, dtype=dtype).reshape(obj["shape"]).astype(obj["dtype"])


class _BadRequest(Exception):
    """A request the server cannot answer as asked (HTTP 400)."""

    status = 400


class _NotAvailable(_BadRequest):
    """The backend served cannot do this (HTTP 501)."""

    status = 501


def _str_list(value, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list) or not all(
            isinstance(v, str) for v in value):
        raise _BadRequest(f"{name} must be a list of strings")
    return value


# ----------------------------------------------------------------------------- the server
class ModelServer:
    """The classroom's model server (see the module docstring).

    Args:
        llm: the backend to serve (default: the embedded ``model``, loaded on start).
            Anything following the ``LLM`` protocol works; ``hidden_states`` /
            ``layer_info`` (and the OpenAI raw endpoints) need an
            :class:`~s3kit.llm.embedded.EmbeddedLLM`.
        model: embedded model name (when ``llm`` is ``None``).
        adapter: PEFT adapter of the embedded model.
        dtype: embedded weights' dtype (``"auto"``, ``"float32"``, ``"bfloat16"``).
        cache: the answer cache (``True``: the default file; a path; ``False``).
        batch_size: prompts per forward pass inside one merged call.
        host: address to bind (127.0.0.1; see :func:`check_bind` for anything else).
        port: TCP port (0: a free one).
        token: bearer token every request must carry (``None``: none, loopback only).
        allow_remote: allow a non-loopback ``host`` (a token is required as well).
        window_ms: how long the batcher waits for more requests after the first.
        memo_mb: memory bound of the memo of hidden states and e5 vectors.
        e5: serve the e5 embedder (``/v1/embeddings``); loaded on first use.
        request_timeout: seconds a request may wait for its answer.

    Attributes:
        base_url: ``http://host:port`` once started (the kernels' ``$S3KIT_SERVER``).
        stats: the batcher's :class:`BatchStats`.
    """

    def __init__(self, llm=None, *, model: str = DEFAULT_MODEL, adapter: str | None = None,
                 dtype: str = "auto", cache=True, batch_size: int = 16,
                 host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 allow_remote: bool = False, window_ms: float = 5.0, memo_mb: int = 256,
                 e5: bool = True, request_timeout: float = 1800.0):
        check_bind(host, token, allow_remote)
        self.llm = llm
        self.model = str(getattr(llm, "model", model))
        self.adapter = getattr(llm, "adapter", adapter) if llm is not None else adapter
        self.dtype = dtype
        self.cache = cache
        self.batch_size = int(batch_size)
        self.host = host
        self.port = int(port)
        self._token = token or None
        self.window_ms = float(window_ms)
        self.serve_e5 = bool(e5)
        self.request_timeout = float(request_timeout)
        self.stats = BatchStats()
        self._memo = _Memo(int(memo_mb) << 20)
        self._e5 = None
        self._info = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._batcher = Batcher(self._run_group, window_s=self.window_ms / 1000.0)
        self._started = time.time()
        self._requests = 0
        self._requests_lock = threading.Lock()
        self.base_url: str | None = None

    def __repr__(self) -> str:
        """Model and address (never the token)."""
        return (f"ModelServer(model={self.model!r}, adapter={self.adapter!r}, "
                f"url={self.base_url or f'http://{self.host}:{self.port}'!r}, "
                f"token={'set' if self._token else 'none'})")

    # -- lifecycle ----------------------------------------------------------------------
    def load(self) -> ModelServer:
        """Load the model (unless given) and read its layer layout."""
        if self.llm is None:
            from .embedded import EmbeddedLLM

            self.llm = EmbeddedLLM(self.model, adapter=self.adapter, cache=self.cache,
                                   batch_size=self.batch_size, dtype=self.dtype).load()
        info = {"model": self.model, "adapter": self.adapter, "backend": self.llm.backend}
        layer_info = getattr(self.llm, "layer_info", None)
        if callable(layer_info):
            info.update(layer_info())
        info["embedders"] = [E5_MODEL] if self.serve_e5 else []
        self._info = info
        return self

    def start(self) -> ModelServer:
        """Load, bind and serve from background threads; returns self."""
        if self._httpd is not None:
            return self
        self.load()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class _Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            request_queue_size = 128

        self._httpd = _Server((self.host, self.port), _Handler)
        self._httpd.app = self
        self.port = self._httpd.server_address[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{shown}:{self.port}"
        self._batcher.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="s3kit-serve-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self, ready: Callable[[ModelServer], None] | None = None) -> None:
        """Start, call ``ready(self)``, then block until SIGINT / SIGTERM; then stop."""
        self.start()
        stop = threading.Event()

        def handler(signum, frame):
            stop.set()

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            if ready is not None:
                ready(self)
            while not stop.wait(0.5):
                pass
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            self.stop()

    def stop(self) -> None:
        """Stop serving (waits for the requests in progress)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._batcher.stop()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> ModelServer:
        """Start."""
        return self.start()

    def __exit__(self, *exc) -> None:
        """Stop."""
        self.stop()

    # -- what the handler asks ------------------------------------------------------------
    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries the token (always, without one)."""
        if self._token is None:
            return True
        scheme, _, value = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self._token.encode())

    def counted(self) -> None:
        """Count one request."""
        with self._requests_lock:
            self._requests += 1

    def info(self) -> dict:
        """What ``/v1/models`` says about the model."""
        return dict(self._info or {})

    def server_stats(self) -> dict:
        """``/v1/stats``: batches per kind, memo, requests, uptime and peak memory."""
        rss = hwm = None
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024
                    elif line.startswith("VmHWM:"):
                        hwm = int(line.split()[1]) / 1024
        except OSError:
            pass
        return {"model": self.model, "batches": self.stats.as_dict(),
                "requests": self._requests, "memo_mb": round(self._memo.bytes / 2**20, 1),
                "window_ms": self.window_ms, "uptime_s": round(time.time() - self._started, 1),
                "rss_mb": rss, "peak_rss_mb": hwm}

    def submit(self, kind: str, key: tuple, payload: Any, n_items: int) -> Any:
        """Hand work to the batcher and wait for it."""
        return self._batcher.submit(kind, key, payload, n_items, timeout=self.request_timeout)

    # -- the batcher's side -----------------------------------------------------------------
    def _run_group(self, kind: str, key: tuple, jobs: list[_Job]) -> None:
        getattr(self, f"_run_{kind}")(key, jobs)

    def _exact(self, kind: str, key: tuple, jobs: list[_Job], compute) -> None:
        """Identical requests once (or from the memo); different ones each as its own pass."""
        by_request: dict[str, list[_Job]] = {}
        for job in jobs:
            by_request.setdefault(_digest(kind, key, *job.payload), []).append(job)
        for digest, same in by_request.items():
            texts = same[0].payload
            value = self._memo.get(digest)
            if value is None:
                t0 = time.perf_counter()
                value = np.asarray(compute(texts))
                self.stats.record(kind, len(same), len(texts), time.perf_counter() - t0)
                self._memo.put(digest, value)
            else:
                self.stats.memo(kind, len(same))
            for job in same:
                job.result = value

    def _run_hidden_states(self, key: tuple, jobs: list[_Job]) -> None:
        layers, max_tokens = key
        self._exact("hidden_states", key, jobs,
                    lambda texts: self.llm.hidden_states(list(texts), list(layers), max_tokens))

    def _e5_model(self):
        if self._e5 is None:
            from ..embeddings import E5Embedder

            self._e5 = E5Embedder()
        return self._e5

    def _run_e5(self, key: tuple, jobs: list[_Job]) -> None:
        # the raw encoder output, as E5Embedder's own cache receives it (normalised there)
        self._exact("e5", key, jobs,
                    lambda texts: np.asarray(self._e5_model().encode_raw(texts),
                                             dtype=np.float32))

    def _merged(self, kind: str, jobs: list[_Job], rows: Callable[[Any], list],
                call: Callable[[list], list], use_cache: bool) -> None:
        """Every job's rows in one call (identical rows once); each job gets its own back."""
        unique: dict = {}
        for job in jobs:
            for row in rows(job.payload):
                unique.setdefault(row, len(unique))
        t0 = time.perf_counter()
        saved = getattr(self.llm, "response_cache", None)
        if not use_cache and saved is not None:
            self.llm.response_cache = None
        try:
            answers = call(list(unique))
        finally:
            if not use_cache and saved is not None:
                self.llm.response_cache = saved
        self.stats.record(kind, len(jobs), len(unique), time.perf_counter() - t0)
        for job in jobs:
            job.result = [answers[unique[row]] for row in rows(job.payload)]

    def _run_score(self, key: tuple, jobs: list[_Job]) -> None:
        system, options, use_cache = key

        def call(prompts):
            return list(self.llm.score(prompts, list(options), system=system))

        self._merged("score", jobs, lambda p: p, call, use_cache)

    def _run_generate(self, key: tuple, jobs: list[_Job]) -> None:
        system, max_new_tokens, temperature, seed, stop, use_cache = key

        def call(prompts):
            return self.llm.generate(prompts, system=system, max_new_tokens=max_new_tokens,
                                     temperature=temperature, seed=seed, stop=stop)

        self._merged("generate", jobs, lambda p: p, call, use_cache)

    def _run_logprob(self, key: tuple, jobs: list[_Job]) -> None:
        system, use_cache = key

        def call(pairs):
            sums, counts = self.llm.logprob([p for p, _ in pairs], [c for _, c in pairs],
                                            system=system)
            return list(zip(sums.tolist(), counts.tolist(), strict=True))

        self._merged("logprob", jobs, lambda pairs: [tuple(p) for p in pairs], call,
                     use_cache)

    def _run_raw(self, key: tuple, jobs: list[_Job]) -> None:
        llm = self._embedded()
        for job in jobs:  # raw text passes (OpenAI endpoints): one request at a time
            t0 = time.perf_counter()
            args = dict(job.payload)
            text = args.pop("text", None)
            if "chat" in args:  # (system, prompt) in the model's chat template
                system, prompt = args.pop("chat")
                before, after = llm.prompt_template(system)
                text = before + prompt + after
            ids = llm.tokenizer(text, add_special_tokens=False)["input_ids"]
            job.result = _raw_generate(llm, ids, **args)
            self.stats.record("raw", 1, 1, time.perf_counter() - t0)

    def _run_count(self, key: tuple, jobs: list[_Job]) -> None:
        # the tokenizer is used from this thread only (fast tokenizers are not re-entrant)
        tok = self._embedded().tokenizer
        for job in jobs:
            job.result = [len(tok(t, add_special_tokens=False)["input_ids"])
                          for t in job.payload]

    def _embedded(self):
        if getattr(self.llm, "hf_model", None) is None:
            raise _NotAvailable("this endpoint needs the embedded model")
        return self.llm


# ----------------------------------------------------------------------------- raw passes
def _raw_generate(llm, ids: list[int], max_tokens: int, temperature: float = 0.0,
                  seed: int | None = None, echo: bool = False, top_k: int = 0) -> dict:
    """Greedy (or sampled) continuation of raw token ids, with per-token log-probs.

    Returns ``{"prompt": [(token, logprob, top)], "generated": [...], "finish": ...}`` where
    ``top`` is the ``top_k`` most likely ``(token, logprob)`` at that position.
    """
    import torch

    tok = llm.tokenizer
    net = llm.hf_model
    eos = llm.eos_token_ids

    def piece(i):
        return tok.decode([int(i)], skip_special_tokens=False)

    def tops(logp):
        if not top_k:
            return None
        values, idx = torch.topk(logp, int(top_k))
        return [(piece(i), float(v)) for v, i in zip(values.tolist(), idx.tolist(), strict=True)]

    if not ids:
        raise _BadRequest("empty prompt")
    gen = torch.Generator().manual_seed(int(seed or 0)) if temperature > 0 else None
    with torch.inference_mode():
        out = net(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=True)
        logits = out.logits[0].float()
        prompt = []
        if echo:
            logp_all = torch.log_softmax(logits, dim=-1)
            prompt.append((piece(ids[0]), None, None))
            for i in range(1, len(ids)):
                prompt.append((piece(ids[i]), float(logp_all[i - 1, ids[i]]),
                               tops(logp_all[i - 1])))
        last = torch.log_softmax(logits[-1], dim=-1)
        past = out.past_key_values
        generated, finish = [], "length"
        for _ in range(int(max_tokens)):
            if temperature > 0:
                probs = torch.softmax(last / float(temperature), dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=gen)[0])
            else:
                nxt = int(last.argmax())
            if nxt in eos:
                finish = "stop"
                break
            generated.append((nxt, piece(nxt), float(last[nxt]), tops(last)))
            out = net(input_ids=torch.tensor([[nxt]], dtype=torch.long), past_key_values=past,
                      use_cache=True)
            past = out.past_key_values
            last = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    text = tok.decode([g[0] for g in generated], skip_special_tokens=True)
    return {"prompt": prompt, "generated": [g[1:] for g in generated], "text": text,
            "finish": finish, "n_prompt": len(ids)}


# ----------------------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3kit-serve"

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def _send(self, status: int, payload: dict, close: bool = False) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, kind: str, close: bool = False) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}},
                   close=close)

    def _dispatch(self, method: str) -> None:
        app: ModelServer = self.server.app
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        if not app.authorized(self.headers.get("Authorization")):
            # the body is not read: the connection is closed after the answer
            self._error(401, "missing or wrong bearer token", "authentication_error",
                        close=True)
            return
        if length > _MAX_BODY:
            self._error(413, f"request body over {_MAX_BODY >> 20} MB", "invalid_request_error",
                        close=True)
            return
        raw = self.rfile.read(length) if length else b""
        route = _ROUTES.get((method, path))
        if route is None:
            self._error(404, f"no {method} {path}", "not_found_error")
            return
        app.counted()
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise _BadRequest("the request body must be a JSON object")
            payload = route(app, body)
        except json.JSONDecodeError as exc:
            self._error(400, f"invalid JSON: {exc}", "invalid_request_error")
        except _BadRequest as exc:
            self._error(exc.status, str(exc), "invalid_request_error")
        except (ValueError, TypeError) as exc:
            self._error(400, str(exc), "invalid_request_error")
        except TimeoutError as exc:
            self._error(504, str(exc), "timeout")
        except Exception as exc:  # noqa: BLE001 - the client gets the message
            log.exception("s3kit serve: %s failed", path)
            self._error(500, f"{type(exc).__name__}: {exc}", "server_error")
        else:
            self._send(200, payload)


def _cache_flag(body: dict) -> bool:
    return bool(body.get("cache", True))


def _route_models(app: ModelServer, body: dict) -> dict:
    info = app.info()
    return {"object": "list", "data": [{"id": app.model, "object": "model",
                                        "owned_by": "s3kit", "s3kit": info}]
            + [{"id": name, "object": "model", "owned_by": "s3kit"}
               for name in info.get("embedders", [])]}


def _route_stats(app: ModelServer, body: dict) -> dict:
    return app.server_stats()


def _route_layer_info(app: ModelServer, body: dict) -> dict:
    info = app.info()
    if "n_layers" not in info:
        raise _NotAvailable(f"the {info.get('backend')} backend served has no hidden states")
    return {k: info[k] for k in ("n_layers", "hidden_size", "dtype")}


def _route_hidden_states(app: ModelServer, body: dict) -> dict:
    texts = _str_list(body.get("texts"), "texts")
    layers = body.get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, int) for x in layers):
        raise _BadRequest("layers must be a list of integers")
    if "n_layers" not in app.info():
        raise _NotAvailable("the backend served has no hidden states")
    max_tokens = int(body.get("max_tokens", 96))
    value = app.submit("hidden_states", (tuple(layers), max_tokens), tuple(texts), len(texts))
    return {"vectors": encode_array(np.asarray(value, dtype=np.float32))}


def _route_embeddings(app: ModelServer, body: dict) -> dict:
    model = body.get("model") or E5_MODEL
    if model not in (E5_MODEL, "e5") or not app.serve_e5:
        raise _BadRequest(f"unknown embedding model {model!r}: this server has "
                          f"{app.info().get('embedders')}")
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else _str_list(texts, "input")
    vectors = np.asarray(app.submit("e5", (E5_MODEL,), tuple(texts), len(texts)),
                         dtype=np.float32)
    fmt = body.get("encoding_format") or "float"
    data = []
    for i, vec in enumerate(vectors):
        emb = (base64.b64encode(vec.astype("<f4").tobytes()).decode("ascii") if fmt == "base64"
               else vec.tolist())
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {"object": "list", "data": data, "model": E5_MODEL,
            "usage": {"prompt_tokens": 0, "total_tokens": 0}}


def _route_score(app: ModelServer, body: dict) -> dict:
    prompts = _str_list(body.get("prompts"), "prompts")
    options = _str_list(body.get("options"), "options")
    if not options or len(set(options)) != len(options) or any(not o for o in options):
        raise _BadRequest("options must be distinct non-empty strings")
    rows = app.submit("score", (body.get("system"), tuple(options), _cache_flag(body)),
                      prompts, len(prompts))
    return {"probs": encode_array(np.asarray(rows, dtype=np.float64).reshape(
        len(prompts), len(options)))}


def _stop_strings(body: dict) -> tuple[str, ...]:
    """The request's ``stop``: a string or a list of non-empty strings (OpenAI's field)."""
    stop = body.get("stop") or ()
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) and s for s in stop):
        raise _BadRequest("stop must be a string or a list of non-empty strings")
    return tuple(stop)


def _route_generate(app: ModelServer, body: dict) -> dict:
    prompts = _str_list(body.get("prompts"), "prompts")
    temperature = float(body.get("temperature", 0.0))
    seed = body.get("seed")
    key = (body.get("system"), int(body.get("max_new_tokens", 40)), temperature,
           None if seed is None else int(seed), _stop_strings(body), _cache_flag(body))
    return {"texts": app.submit("generate", key, prompts, len(prompts))}


def _route_logprob(app: ModelServer, body: dict) -> dict:
    prompts = _str_list(body.get("prompts"), "prompts")
    conts = _str_list(body.get("continuations"), "continuations")
    if len(prompts) != len(conts):
        raise _BadRequest("prompts and continuations must have the same length")
    pairs = list(zip(prompts, conts, strict=True))
    rows = app.submit("logprob", (body.get("system"), _cache_flag(body)), pairs, len(pairs))
    return {"sums": [r[0] for r in rows], "counts": [int(r[1]) for r in rows]}


def _chat_turns(messages) -> tuple[str | None, str]:
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("messages must be a non-empty list")
    system, users = None, []
    for m in messages:
        role, content = (m or {}).get("role"), (m or {}).get("content")
        if isinstance(content, list):  # [{"type": "text", "text": ...}]
            content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
        if not isinstance(content, str):
            raise _BadRequest("message content must be text")
        if role == "system" and system is None and not users:
            system = content
        elif role == "user":
            users.append(content)
        else:
            raise _BadRequest("one optional system message and one user message are served")
    if len(users) != 1:
        raise _BadRequest("one optional system message and one user message are served")
    return system, users[0]


def _top_entries(top) -> list[dict] | None:
    if top is None:
        return None
    return [{"token": t, "logprob": v, "bytes": list(t.encode("utf-8"))} for t, v in top]


def _usage(n_prompt: int, n_completion: int) -> dict:
    return {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
            "total_tokens": n_prompt + n_completion}


def _route_chat(app: ModelServer, body: dict) -> dict:
    system, prompt = _chat_turns(body.get("messages"))
    max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
    temperature = float(body.get("temperature") or 0.0)
    seed = body.get("seed")
    created = int(time.time())
    head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": created, "model": app.model}
    if body.get("logprobs"):
        app._embedded()
        out = app.submit("raw", ("raw",), {
            "chat": (system, prompt), "max_tokens": max_tokens, "temperature": temperature,
            "seed": seed, "top_k": int(body.get("top_logprobs") or 0)}, 1)
        content = [{"token": t, "logprob": v, "bytes": list(t.encode("utf-8")),
                    "top_logprobs": _top_entries(top) or []}
                   for t, v, top in out["generated"]]
        return {**head, "choices": [{
            "index": 0, "message": {"role": "assistant", "content": out["text"]},
            "finish_reason": out["finish"], "logprobs": {"content": content}}],
            "usage": _usage(out["n_prompt"], len(out["generated"]))}
    key = (system, max_tokens, temperature, None if seed is None else int(seed),
           _stop_strings(body), True)
    text = app.submit("generate", key, [prompt], 1)[0]
    counts = [0, 0]
    if getattr(app.llm, "hf_model", None) is not None:
        counts = app.submit("count", ("count",), [prompt, text], 2)
    return {**head, "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop", "logprobs": None}],
            "usage": _usage(counts[0], counts[1])}


def _route_completions(app: ModelServer, body: dict) -> dict:
    prompts = body.get("prompt")
    prompts = [prompts] if isinstance(prompts, str) else _str_list(prompts, "prompt")
    max_tokens = int(body.get("max_tokens", 16))
    temperature = float(body.get("temperature") or 0.0)
    echo = bool(body.get("echo"))
    k = body.get("logprobs")
    k = None if k is None else int(k)
    choices, n_prompt, n_done = [], 0, 0
    for index, prompt in enumerate(prompts):
        out = app.submit("raw", ("raw",), {
            "text": prompt, "max_tokens": max_tokens, "temperature": temperature,
            "seed": body.get("seed"), "echo": echo, "top_k": k or 0}, 1)
        pieces = (out["prompt"] if echo else []) + list(out["generated"])
        logprobs = None
        if k is not None:
            offsets, at = [], 0
            for t, _, _ in pieces:
                offsets.append(at)
                at += len(t)
            logprobs = {"tokens": [t for t, _, _ in pieces],
                        "token_logprobs": [v for _, v, _ in pieces],
                        "top_logprobs": [None if top is None else dict(top)
                                         for _, _, top in pieces],
                        "text_offset": offsets}
        text = (prompt if echo else "") + out["text"]
        choices.append({"index": index, "text": text, "logprobs": logprobs,
                        "finish_reason": out["finish"]})
        n_prompt += out["n_prompt"]
        n_done += len(out["generated"])
    return {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion",
            "created": int(time.time()), "model": app.model, "choices": choices,
            "usage": _usage(n_prompt, n_done)}


_ROUTES: dict[tuple[str, str], Callable[[ModelServer, dict], dict]] = {
    ("GET", "/v1/models"): _route_models,
    ("GET", "/v1/stats"): _route_stats,
    ("GET", "/v1/s3kit/layer_info"): _route_layer_info,
    ("POST", "/v1/s3kit/hidden_states"): _route_hidden_states,
    ("POST", "/v1/embeddings"): _route_embeddings,
    ("POST", "/v1/s3kit/score"): _route_score,
    ("POST", "/v1/s3kit/generate"): _route_generate,
    ("POST", "/v1/s3kit/logprob"): _route_logprob,
    ("POST", "/v1/chat/completions"): _route_chat,
    ("POST", "/v1/completions"): _route_completions,
}


def serve_url(url: str | None = None) -> str:
    """The server URL to use: ``url``, else ``$S3KIT_SERVER`` (no trailing ``/`` or ``/v1``).

    Raises:
        BackendError: neither is set.

    Examples:
        >>> serve_url("http://127.0.0.1:8765/v1/")
        'http://127.0.0.1:8765'
    """
    url = url or os.environ.get(SERVER_ENV)
    if not url:
        raise BackendError(f"no s3kit model server given: set ${SERVER_ENV} (start one with "
                           "`s3kit serve`)")
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[:-3]
    if "://" not in url:
        url = "http://" + url
    return url
