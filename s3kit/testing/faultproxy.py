"""A seeded fault-injecting HTTP proxy for OpenAI-compatible servers (tests and benchmarks).

:class:`FaultProxy` listens on 127.0.0.1 and forwards every request to a real server
(``upstream``), except that a seeded share of them get a fault instead:

``"429"``
    ``429 Too Many Requests`` with a ``Retry-After`` header;
``"500"``, ``"503"``
    a server error with a JSON error body;
``"hang"``
    no answer for ``hang_seconds`` (longer than the client's timeout), then the connection is
    closed;
``"truncated"``
    the real answer, status 200, cut in the middle of its JSON body;
``"off_vocab"``
    the real answer with the generated text replaced by an answer that is none of the options
    (only for decision requests: ``echo``/``logprobs`` completions or a constrained
    "Answer with exactly one of" prompt; generation requests never get it).

Whether a request is faulted depends only on ``seed``, the request body and how many times
that same body was seen before (not on thread timing), so two runs with the same seed inject
the same faults. Attempt number ``max_faults_per_request`` and later of one body are always
forwarded, so a client with enough retries always gets an answer. The proxy binds to the
loopback interface only, serves at most ``max_requests`` requests and shuts itself down
``deadline`` seconds after :meth:`FaultProxy.start`.

Examples:
    >>> proxy = FaultProxy("http://127.0.0.1:9/v1", fault_rate=0.5, seed=1, deadline=5)
    >>> proxy.plan(b'{"prompt": "x"}', attempt=0) in (None, *FAULT_KINDS)
    True
    >>> proxy.host
    '127.0.0.1'
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["FAULT_KINDS", "FaultProxy"]

#: Every kind of fault the proxy can inject.
FAULT_KINDS = ("429", "500", "503", "hang", "truncated", "off_vocab")
#: The answer substituted by an ``off_vocab`` fault.
OFF_VOCAB_ANSWER = "As an AI model I would rather talk about bananas."


def _is_decision(body: dict) -> bool:
    """A request that asks the model to pick one of a few options."""
    if body.get("echo") or body.get("logprobs"):
        return True
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and "Answer with exactly one of" in content:
            return True
    return False


class FaultProxy:
    """Seeded fault injection in front of an OpenAI-compatible server, on 127.0.0.1.

    Args:
        upstream: base URL of the real server, e.g. ``http://127.0.0.1:8000/v1``.
        fault_rate: probability that one attempt of a request is faulted (0..1).
        kinds: the fault kinds to draw from (uniformly; ``off_vocab`` only on decisions).
        seed: seed of the fault plan.
        hang_seconds: how long a ``hang`` fault keeps the client waiting (make it longer than
            the client's timeout).
        retry_after: value of the ``Retry-After`` header of ``429`` faults, in seconds.
        max_faults_per_request: attempts of one request body that may be faulted; later
            attempts are always forwarded.
        port: port to listen on (0: a free one).
        deadline: seconds after :meth:`start` when the proxy shuts itself down.
        max_requests: requests served before the proxy answers everything with 503 and stops.
        upstream_timeout: seconds to wait for the real server.

    Attributes:
        counts: ``Counter`` with ``requests``, ``forwarded`` and one entry per fault kind.
        events: ``(request number, path, fault kind or "ok")`` in arrival order.
    """

    host = "127.0.0.1"

    def __init__(self, upstream: str, *, fault_rate: float = 0.3,
                 kinds: tuple[str, ...] = FAULT_KINDS, seed: int = 0, hang_seconds: float = 4.0,
                 retry_after: float = 1.0, max_faults_per_request: int = 2, port: int = 0,
                 deadline: float = 900.0, max_requests: int = 100_000,
                 upstream_timeout: float = 120.0):
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)} (known: {FAULT_KINDS})")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be in [0, 1]")
        self.upstream = upstream.rstrip("/")
        self.fault_rate = float(fault_rate)
        self.kinds = tuple(kinds)
        self.seed = int(seed)
        self.hang_seconds = float(hang_seconds)
        self.retry_after = retry_after
        self.max_faults_per_request = int(max_faults_per_request)
        self.port = int(port)
        self.deadline = float(deadline)
        self.max_requests = int(max_requests)
        self.upstream_timeout = float(upstream_timeout)
        self.counts: Counter = Counter()
        self.events: list[tuple[int, str, str]] = []
        self._seen: Counter = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ the plan
    def _uniform(self, body: bytes, attempt: int, salt: str) -> float:
        digest = hashlib.sha256(f"{self.seed}|{attempt}|{salt}|".encode() + body).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    def plan(self, body: bytes, attempt: int, decision: bool = True) -> str | None:
        """The fault for the ``attempt``-th (0-based) sight of this request body, or ``None``."""
        if attempt >= self.max_faults_per_request:
            return None
        if self._uniform(body, attempt, "rate") >= self.fault_rate:
            return None
        kinds = [k for k in self.kinds if decision or k != "off_vocab"]
        if not kinds:
            return None
        return kinds[int(self._uniform(body, attempt, "kind") * len(kinds))]

    @property
    def faults(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        return {k: self.counts[k] for k in FAULT_KINDS if self.counts[k]}

    @property
    def n_faults(self) -> int:
        """Total faults injected so far."""
        return sum(self.faults.values())

    # ------------------------------------------------------------------ serving
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` + the upstream's path (e.g. ``/v1``)."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return f"http://{self.host}:{self.port}{urlsplit(self.upstream).path}"

    def start(self) -> FaultProxy:
        """Bind to 127.0.0.1, serve in a background thread, and arm the self-stop deadline."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                proxy._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                proxy._handle(self, "POST")

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name="faultproxy", daemon=True)
        serve.start()
        watchdog = threading.Thread(target=self._watchdog, name="faultproxy-deadline",
                                    daemon=True)
        watchdog.start()
        self._threads = [serve, watchdog]
        return self

    def _watchdog(self) -> None:
        if not self._stop.wait(self.deadline):
            self._shutdown()

    def _shutdown(self) -> None:
        self._stop.set()
        server = self._server
        if server is not None:
            server.shutdown()
            server.server_close()

    def stop(self) -> None:
        """Stop serving (idempotent); pending hangs end at once."""
        if self._server is not None and not self._stop.is_set():
            self._shutdown()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """Whether the proxy still serves."""
        return self._server is not None and not self._stop.is_set()

    def __enter__(self) -> FaultProxy:
        """Start."""
        return self.start()

    def __exit__(self, *exc) -> None:
        """Stop."""
        self.stop()

    # ------------------------------------------------------------------ one request
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length > 0 else b""
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
        with self._lock:
            self.counts["requests"] += 1
            number = self.counts["requests"]
            attempt = self._seen[body]
            self._seen[body] += 1
            over = number > self.max_requests
            kind = None if method == "GET" or over else self.plan(
                body, attempt, decision=isinstance(parsed, dict) and _is_decision(parsed))
            if kind is not None:
                self.counts[kind] += 1
            self.events.append((number, handler.path, kind or ("over" if over else "ok")))
        if over:
            self._send(handler, 503, b'{"error": {"message": "fault proxy: request budget '
                                     b'spent"}}')
            threading.Thread(target=self._shutdown, daemon=True).start()
            return
        if kind == "429":
            self._send(handler, 429, b'{"error": {"message": "rate limited (injected)"}}',
                       {"Retry-After": str(self.retry_after)})
            return
        if kind in ("500", "503"):
            self._send(handler, int(kind), b'{"error": {"message": "server error (injected)"}}')
            return
        if kind == "hang":
            self._stop.wait(self.hang_seconds)  # bounded; ends early when the proxy stops
            handler.close_connection = True
            return
        status, headers, data = self._forward(handler, method, body)
        with self._lock:
            self.counts["forwarded"] += 1
        if status == 200 and kind == "truncated":
            data = data[: max(1, len(data) // 2)]
        elif status == 200 and kind == "off_vocab":
            data = _off_vocab(data)
        self._send(handler, status, data,
                   {"Content-Type": headers.get("Content-Type", "application/json")})

    def _forward(self, handler, method: str, body: bytes) -> tuple[int, dict, bytes]:
        path = handler.path
        prefix = urlsplit(self.upstream).path
        if prefix and path.startswith(prefix):
            path = path[len(prefix):]
        request = urllib.request.Request(self.upstream + path, data=body or None,
                                         method=method)
        for name in ("Content-Type", "Authorization", "Accept"):
            if handler.headers.get(name):
                request.add_header(name, handler.headers[name])
        try:
            with urllib.request.urlopen(request, timeout=self.upstream_timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers or {}), err.read()
        except (urllib.error.URLError, OSError) as err:
            return 502, {}, json.dumps({"error": {"message": f"upstream: {err}"}}).encode()

    @staticmethod
    def _send(handler, status: int, data: bytes, headers: dict | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                if name.lower() != "content-type":
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up (its timeout): nothing to answer
            pass
        handler.close_connection = True


def _off_vocab(data: bytes) -> bytes:
    """Replace the generated answer of a completion/chat response by an off-vocabulary one."""
    try:
        payload = json.loads(data)
    except ValueError:
        return data
    for choice in payload.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        if isinstance(choice.get("message"), dict):
            choice["message"]["content"] = OFF_VOCAB_ANSWER
        if "text" in choice:
            lp = choice.get("logprobs")
            tokens = lp.get("tokens") if isinstance(lp, dict) else None
            n_gen = int((payload.get("usage") or {}).get("completion_tokens") or 0)
            text = choice["text"]
            if tokens and n_gen and isinstance(text, str):
                # echo: the text is prompt + generated tokens; replace the generated tail
                generated = "".join(tokens[-n_gen:])
                if text.endswith(generated):
                    choice["text"] = text[: len(text) - len(generated)] + OFF_VOCAB_ANSWER
                tokens[-1] = OFF_VOCAB_ANSWER
                for t in range(len(tokens) - n_gen, len(tokens) - 1):
                    tokens[t] = ""
            else:
                choice["text"] = OFF_VOCAB_ANSWER
    return json.dumps(payload).encode()

