"""The openai backend: any OpenAI-compatible server (llama.cpp, vLLM, Ollama, OpenAI ...).

Discrete decisions (``score``) use log-probabilities, in the first mode the server supports:

``"echo"``
    ``/v1/completions`` with ``echo=True, logprobs`` on ``<chat-templated prompt><option>``:
    the exact summed log-probability of every option token, as the embedded backend computes
    it. Needs the model's chat template client-side (known for registry models, or pass
    ``chat_template``) and a server that returns prompt log-probs (llama.cpp server with
    ``--logits_all true``, vLLM). One request per (prompt, option).
``"chat_logprobs"``
    ``/v1/chat/completions`` with ``max_tokens=1, logprobs=True, top_logprobs=k``: each option
    gets the log-probability of the most specific returned token that its text starts with
    (exact for options whose first tokens differ; an option absent from the top-k gets the
    lowest returned log-prob, an upper bound). One request per prompt.
``"parse"`` (fallback)
    a constrained instruction ("Answer with exactly one of: ...") and validated parsing of the
    greedy answer: the chosen option gets probability 1 (an unparseable answer gives a uniform
    row and a warning). Each such decision is counted in ``stats.fallbacks``.

``score_mode="auto"`` tries them in that order and remembers the first that works.
Requests run in a bounded thread pool; 429/5xx/timeouts/connection errors are retried with
exponential backoff (honouring ``Retry-After``) by tenacity. The API key is read from the
environment variable named by ``api_key_env`` when the client is created and is never stored
in an attribute that is pickled, shown by ``repr`` or written to the cache.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import BackendError
from .base import CallStats, normalise_log_scores
from .cache import CachedBackend, ResponseCache, open_cache
from .models import MODELS

__all__ = ["OpenAILLM"]

_MODES = ("echo", "chat_logprobs", "parse")


class _Unsupported(Exception):
    """The server does not support a scoring mode."""


def _retry_after(exc) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                continue
        if name == "retry-after-ms":
            seconds /= 1000.0
        return max(0.0, min(seconds, 120.0))
    return None


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | openai.RateLimitError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    # a 200 whose body was cut off in transit: the same request is worth another try
    import json

    return isinstance(exc, json.JSONDecodeError | openai.APIResponseValidationError)


class OpenAILLM(CachedBackend):
    """``LLM`` protocol over an OpenAI-compatible HTTP API.

    Args:
        model: model name sent to the server (``$OPENAI_MODEL`` if ``None``).
        base_url: server URL, e.g. ``http://127.0.0.1:8000/v1`` (``$OPENAI_BASE_URL`` if
            ``None``; the OpenAI API if neither).
        api_key_env: name of the environment variable with the key (the key itself is never
            an argument). Local servers need none.
        cache: response cache (``True``: default file; path; ``False``).
        concurrency: parallel requests.
        timeout: seconds per request.
        max_retries: attempts per request on 429/5xx/timeouts.
        score_mode: ``"auto"``, ``"echo"``, ``"chat_logprobs"`` or ``"parse"``.
        chat_template: Jinja chat template for echo mode (default: the registry's, when
            ``model`` or ``template_model`` is a registry name).
        template_model: registry name whose template the served model uses.
        top_logprobs: k for ``chat_logprobs`` mode (OpenAI allows up to 20).
        seed: default sampling seed for ``generate``.
        adapter: label only (servers load their own adapters); part of cache keys.

    Examples:
        >>> llm = OpenAILLM("smollm2-135m-instruct", base_url="http://127.0.0.1:9/v1",
        ...                 cache=False)
        >>> llm.base_url, llm.score_mode
        ('http://127.0.0.1:9/v1', 'auto')
    """

    backend = "openai"

    def __init__(self, model: str | None = None, *, base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", cache=True, concurrency: int = 4,
                 timeout: float = 60.0, max_retries: int = 5, score_mode: str = "auto",
                 chat_template: str | None = None, template_model: str | None = None,
                 top_logprobs: int = 20, seed: int = 0, adapter: str | None = None):
        model = model or os.environ.get("OPENAI_MODEL")
        if not model:
            raise BackendError("openai backend needs a model name (argument or $OPENAI_MODEL)")
        if score_mode not in ("auto", *_MODES):
            raise BackendError(f"score_mode {score_mode!r} must be 'auto' or one of {_MODES}")
        self.model = str(model)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.api_key_env = api_key_env
        self.adapter = adapter
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.max_retries = max(1, int(max_retries))
        self.score_mode = score_mode
        self.top_logprobs = int(top_logprobs)
        self.seed = seed
        spec = MODELS.get(template_model or self.model)
        self.chat_template = chat_template or (spec.chat_template if spec else None)
        self._default_system = spec.default_system if spec else None
        self.stats = CallStats()
        self._cache: ResponseCache | None = open_cache(cache)
        self._client = None
        self._lock = threading.Lock()
        self._mode = None if score_mode == "auto" else score_mode

    # ------------------------------------------------------------------ plumbing
    def __repr__(self) -> str:
        """Model, server and scoring mode (never the key)."""
        return (f"OpenAILLM(model={self.model!r}, base_url={self.base_url!r}, "
                f"score_mode={self._mode or self.score_mode!r})")

    def __getstate__(self):
        """Pickle without the client (it holds the key), the lock or the cache connection."""
        state = dict(self.__dict__)
        state["_client"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state):
        """Restore; the client is re-created (key re-read from the environment) on use."""
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def client(self):
        """The ``openai.OpenAI`` client (created lazily; its retries are off: tenacity's rule)."""
        if self._client is None:
            import openai

            key = os.environ.get(self.api_key_env) or "sk-no-key-required"
            self._client = openai.OpenAI(base_url=self.base_url, api_key=key,
                                         timeout=self.timeout, max_retries=0)
        return self._client

    def _request(self, fn, **kwargs):
        """One API call with retries (429/5xx/timeouts), honouring Retry-After."""
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential_jitter,
        )

        backoff = wait_exponential_jitter(multiplier=0.5, max=30.0)

        def wait(retry_state):
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            hinted = _retry_after(exc) if exc is not None else None
            return hinted if hinted is not None else backoff(retry_state)

        def attempt():
            with self._lock:
                self.stats.calls += 1
            return fn(**kwargs)

        retrying = Retrying(stop=stop_after_attempt(self.max_retries), wait=wait,
                            retry=retry_if_exception(_retryable), reraise=False)
        try:
            response = retrying(attempt)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise BackendError(
                f"openai backend: request to {self.base_url or 'api.openai.com'} failed after "
                f"{self.max_retries} attempts: {last}") from last
        usage = getattr(response, "usage", None)
        if usage is not None:
            with self._lock:
                self.stats.prompt_tokens += int(usage.prompt_tokens or 0)
                self.stats.completion_tokens += int(usage.completion_tokens or 0)
        return response

    def _map(self, fn, items):
        if self.concurrency == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(fn, items))

    def _messages(self, prompt: str, system: str | None) -> list[dict]:
        system = self._default_system if system is None else system
        messages = [{"role": "user", "content": prompt}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        return messages

    def _render(self, prompt: str, system: str | None) -> str:
        if not self.chat_template:
            raise _Unsupported("no chat template known for echo mode")
        import jinja2

        template = jinja2.Environment().from_string(self.chat_template)
        # BOS is left to the server, which adds it when the model wants one.
        return template.render(messages=self._messages(prompt, system),
                               add_generation_prompt=True, bos_token="")

    def _key_identity(self) -> dict:
        return {"base_url": self.base_url, "adapter": self.adapter}

    # ------------------------------------------------------------------ scoring modes
    def _echo_logprob(self, prompt_text: str, answer: str) -> tuple[float, int]:
        """Summed log-prob (and token count) of ``answer`` right after ``prompt_text``."""
        import openai

        try:
            response = self._request(
                self.client.completions.create, model=self.model,
                prompt=prompt_text + answer, max_tokens=1, temperature=0.0, echo=True,
                logprobs=1)
        except openai.BadRequestError as exc:
            raise _Unsupported(str(exc)) from exc
        choice = response.choices[0]
        lp = choice.logprobs
        if lp is None or not lp.token_logprobs or not lp.tokens:
            raise _Unsupported("server returned no prompt logprobs for echo")
        # text_offset is unreliable around special tokens (llama.cpp renders them as ""), so
        # walk back from the end: drop the generated token(s), then collect the answer's.
        usage = getattr(response, "usage", None)
        n_gen = int(getattr(usage, "completion_tokens", 1) or 0) if usage else 1
        tokens = list(lp.tokens)[: len(lp.tokens) - n_gen]
        values = list(lp.token_logprobs)[: len(lp.tokens) - n_gen]
        joined, total, count = "", 0.0, 0
        while tokens and len(joined) < len(answer):
            token, value = tokens.pop(), values.pop()
            if value is None:
                raise _Unsupported("server returned null logprobs for echoed tokens")
            joined = token + joined
            total += float(value)
            count += 1
        if joined != answer:
            raise _Unsupported(f"echoed tokens {joined!r} do not match the answer {answer!r} "
                               "(token merged across the prompt/answer boundary)")
        return total, count

    def _score_echo(self, prompt: str, options: list[str], system) -> np.ndarray:
        text = self._render(prompt, system)
        return np.array([self._echo_logprob(text, o)[0] for o in options])

    def _score_chat(self, prompt: str, options: list[str], system) -> np.ndarray:
        import openai

        try:
            response = self._request(
                self.client.chat.completions.create, model=self.model,
                messages=self._messages(prompt, system), max_tokens=1, temperature=0.0,
                logprobs=True, top_logprobs=self.top_logprobs)
        except openai.BadRequestError as exc:
            raise _Unsupported(str(exc)) from exc
        lp = response.choices[0].logprobs
        if lp is None or not lp.content or not lp.content[0].top_logprobs:
            raise _Unsupported("server returned no top_logprobs for chat")
        top = {}
        for entry in lp.content[0].top_logprobs:
            top[entry.token] = max(entry.logprob, top.get(entry.token, -math.inf))
        floor = min(top.values())
        scores = []
        matched = 0
        for option in options:
            best = None
            for token, value in top.items():
                t = token.lstrip()
                if t and option.strip().startswith(t) and (best is None or len(t) > len(best[0])):
                    best = (t, value)
            if best is None:
                scores.append(floor)
            else:
                matched += 1
                scores.append(best[1])
        if matched == 0:
            raise _NoMatch()
        return np.array(scores)

    def _score_parse(self, prompt: str, options: list[str], system) -> np.ndarray:
        instruction = "Answer with exactly one of: " + ", ".join(options) + "."
        system = self._default_system if system is None else system
        system = f"{system}\n{instruction}" if system else instruction
        longest = max(len(o) for o in options)
        response = self._request(
            self.client.chat.completions.create, model=self.model,
            messages=self._messages(prompt, system), temperature=0.0,
            max_tokens=min(64, 4 + longest))
        answer = response.choices[0].message.content or ""
        with self._lock:
            self.stats.fallbacks += 1
        choice = parse_choice(answer, options)
        row = np.full(len(options), -math.inf)
        if choice is None:
            warnings.warn(f"openai backend: could not parse {answer!r} as one of {options}; "
                          "using a uniform distribution", stacklevel=3)
            return np.zeros(len(options))
        row[choice] = 0.0
        return row

    def _score_one(self, args) -> np.ndarray:
        prompt, options, system = args
        modes = [self._mode] if self._mode else (
            ["echo", "chat_logprobs", "parse"] if self.chat_template else
            ["chat_logprobs", "parse"])
        for mode in modes:
            try:
                fn = {"echo": self._score_echo, "chat_logprobs": self._score_chat,
                      "parse": self._score_parse}[mode]
                log_scores = fn(prompt, options, system)
            except _NoMatch:
                # this answer's top tokens matched no option: parse it instead (counted)
                log_scores = self._score_parse(prompt, options, system)
            except _Unsupported as exc:
                if self._mode:
                    raise BackendError(f"score_mode {mode!r} unsupported by server: {exc}") \
                        from exc
                continue
            if self.score_mode == "auto" and self._mode is None:
                self._mode = mode
            return normalise_log_scores(log_scores)
        raise BackendError("no scoring mode worked")  # parse never raises _Unsupported

    # ------------------------------------------------------------------ public API
    def score(self, prompts: Sequence[str], options: Sequence[str], *,
              system: str | None = None) -> np.ndarray:
        """Probability of each option as the assistant's answer (see the module docstring).

        Args:
            prompts: user messages.
            options: distinct non-empty candidate answers.
            system: shared instruction (``None``: the registry model's default system line,
                matching what the server's own template inserts).

        Returns:
            Array (n_prompts, n_options); rows sum to 1.
        """
        prompts, options, result, keys, todo = self._cached_scores(prompts, options, system)
        if todo:
            t0 = time.perf_counter()
            if self._mode is None:  # settle the mode on one prompt before fanning out
                result[todo[0]] = self._score_one((prompts[todo[0]], options, system))
                rest = todo[1:]
            else:
                rest = todo
            rows = self._map(self._score_one, [(prompts[i], options, system) for i in rest])
            for i, row in zip(rest, rows, strict=True):
                result[i] = row
            self.stats.prompts += len(todo)
            self.stats.seconds += time.perf_counter() - t0
            self._store({keys[i]: result[i].tolist() for i in todo})
        return result

    def generate(self, prompts: Sequence[str], *, system: str | None = None,
                 max_new_tokens: int = 40, temperature: float = 0.0,
                 seed: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """Chat completion for each prompt (concurrent requests).

        Args:
            prompts: user messages.
            system: shared instruction.
            max_new_tokens: length cap.
            temperature: sampling temperature (0 = greedy).
            seed: sampling seed sent to the server (default: the backend's ``seed``).
            stop: strings the answer ends before (the server's ``stop``).

        Returns:
            One stripped string per prompt.
        """
        prompts, result, keys, todo, seed = self._cached_generations(
            prompts, system, max_new_tokens, temperature, seed, stop)
        extra = {"stop": list(stop)} if stop else {}

        def one(i):
            response = self._request(
                self.client.chat.completions.create, model=self.model,
                messages=self._messages(prompts[i], system), max_tokens=int(max_new_tokens),
                temperature=float(temperature), seed=seed, **extra)
            return (response.choices[0].message.content or "").strip()

        if todo:
            t0 = time.perf_counter()
            for i, text in zip(todo, self._map(one, todo), strict=True):
                result[i] = text
            self.stats.prompts += len(todo)
            self.stats.seconds += time.perf_counter() - t0
            self._store({keys[i]: result[i] for i in todo})
        return [r if r is not None else "" for r in result]

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str], *,
                system: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Summed log-prob and token count of each continuation (needs echo support).

        Raises:
            BackendError: the server returns no prompt log-probs or no template is known.
        """
        prompts, continuations, sums, counts, keys, found = self._cached_logprobs(
            prompts, continuations, system)
        todo = [i for i, k in enumerate(keys) if k not in found and continuations[i]]

        def one(i):
            try:
                return self._echo_logprob(self._render(prompts[i], system), continuations[i])
            except _Unsupported as exc:
                raise BackendError(f"logprob needs a server that echoes prompt log-probs and "
                                   f"a known chat template: {exc}") from exc

        if todo:
            t0 = time.perf_counter()
            for i, (total, count) in zip(todo, self._map(one, todo), strict=True):
                sums[i], counts[i] = total, count
            self.stats.prompts += len(todo)
            self.stats.seconds += time.perf_counter() - t0
            self._store({keys[i]: [sums[i], int(counts[i])] for i in todo})
        return sums, counts


class _NoMatch(Exception):
    """No top-logprob token matched any option."""


def parse_choice(answer: str, options: Sequence[str]) -> int | None:
    """Index of the option a free-text answer names, or ``None``.

    The answer must start with an option (case-insensitive, ignoring quotes, markdown and
    leading "answer:"); otherwise the single option mentioned as a whole word is taken.

    Examples:
        >>> parse_choice("**Calm.** I think", ["calm", "intense"])
        0
        >>> parse_choice("It is intense for sure", ["calm", "intense"])
        1
        >>> parse_choice("Either calm or intense", ["calm", "intense"]) is None
        True
        >>> parse_choice("calm", [" calm", " intense"])  # options as scored, with their space
        0
    """
    text = re.sub(r"^[\s\"'*`_>#-]*(answer\s*:\s*)?[\s\"'*`_]*", "", answer.lower())
    lowered = [o.strip().lower() for o in options]
    starts = [i for i, o in enumerate(lowered) if text.startswith(o)
              and (len(text) == len(o) or not text[len(o)].isalnum())]
    if starts:
        return max(starts, key=lambda i: len(lowered[i]))
    mentioned = [i for i, o in enumerate(lowered)
                 if re.search(r"(?<!\w)" + re.escape(o) + r"(?!\w)", text)]
    return mentioned[0] if len(mentioned) == 1 else None
