"""Execution engines of a :class:`~s3kit.simulation.Simulation`: local, or sharded over Ray.

A simulation step has two very different kinds of work: the *environment* (feeds, memories,
propagation, interventions: cheap bookkeeping on the follow graph) and the *decisions* (one LLM
prompt per active agent and decision kind: more than 99% of the time). The engines differ only
in where the decisions run:

* :class:`LocalEngine` sends each batch to one in-process backend (``llm.score`` /
  ``llm.generate``).
* :class:`RayEngine` keeps the environment and the agents' state in the driver and shards the
  prompts of every batch over ``n_workers`` Ray actors, each holding its own model replica
  (embedded backend) or its own client of an OpenAI-compatible server (openai backend; give
  several ``base_urls`` to spread the workers over a server fleet). Shards are contiguous
  slices of the batch in agent order and the answers are concatenated back in the same order,
  so as long as the backend answers a prompt independently of its batch (true of the fake and
  openai backends and, to ~1e-6, of the embedded backend, whose response cache then makes
  re-runs exact) the Ray engine gives exactly the local engine's results: all random draws
  stay in the driver.

Ray is imported only when a :class:`RayEngine` starts (``pip install "s3kit[ray]"``).

Examples:
    >>> from s3kit.llm import FakeLLM
    >>> engine = LocalEngine(FakeLLM(seed=0))
    >>> engine.llm.score(["hi"], ["a", "b"]).shape
    (1, 2)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .llm import llm_from_config
from .llm.base import CallStats

__all__ = ["LocalEngine", "RayEngine", "ShardedLLM", "make_engine"]


class LocalEngine:
    """Run every decision batch on one in-process LLM backend.

    Args:
        llm: any object following the ``s3kit.llm`` protocol.
    """

    name = "local"

    def __init__(self, llm: Any):
        self._llm = llm

    @property
    def llm(self) -> Any:
        """The backend decisions are sent to."""
        return self._llm

    def start(self) -> LocalEngine:
        """Nothing to start; returns self."""
        return self

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"LocalEngine({self._llm!r})"


def _split(n: int, parts: int, weights: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """Contiguous ``[lo, hi)`` slices of ``range(n)`` with balanced total weight.

    Examples:
        >>> _split(5, 2)
        [(0, 3), (3, 5)]
        >>> _split(4, 2, [10, 1, 1, 1])
        [(0, 1), (1, 4)]
    """
    parts = max(1, min(parts, n))
    if n == 0:
        return []
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    cum = np.cumsum(w)
    bounds = [0]
    for k in range(1, parts):
        cut = int(np.searchsorted(cum, cum[-1] * k / parts, side="left")) + 1
        cut = min(max(cut, bounds[-1] + 1), n - (parts - k))
        bounds.append(cut)
    bounds.append(n)
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


class _LLMWorker:
    """Body of a Ray actor: one backend replica built by ``factory`` inside the worker."""

    def __init__(self, factory: Callable[[], Any], threads: int | None = None):
        if threads:
            import os

            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
            try:
                import torch

                torch.set_num_threads(int(threads))
            except ImportError:  # pragma: no cover - torch-less worker (openai / fake)
                pass
        self.llm = factory()

    def describe(self) -> dict:
        return {"backend": self.llm.backend, "model": self.llm.model,
                "adapter": getattr(self.llm, "adapter", None)}

    def reset_prefix_cache(self) -> None:
        reset = getattr(self.llm, "reset_prefix_cache", None)
        if reset is not None:
            reset()

    def call(self, method: str, args: tuple, kwargs: dict):
        before = self.llm.stats.as_dict()
        out = getattr(self.llm, method)(*args, **kwargs)
        after = self.llm.stats.as_dict()
        return out, {k: after[k] - before[k] for k in after}


class ShardedLLM:
    """The ``s3kit.llm`` protocol in front of a pool of Ray actors (see :class:`RayEngine`).

    ``score``, ``generate``, ``logprob`` and ``hidden_states`` split their prompts into
    contiguous shards (balanced by prompt length), run the shards in parallel on the actors
    and concatenate the answers in the original order. ``stats`` adds up the workers' counters.
    """

    def __init__(self, actors: list, backend: str, model: str, adapter: str | None,
                 min_shard: int = 1):
        self._actors = actors
        self.backend = backend
        self.model = model
        self.adapter = adapter
        self.min_shard = int(min_shard)
        self.stats = CallStats()
        self._layer_info = None

    def _run(self, method: str, prompts: list[str], args_of: Callable[[int, int], tuple],
             kwargs: dict) -> list:
        import ray

        n_parts = max(1, min(len(self._actors), len(prompts) // max(1, self.min_shard)))
        slices = _split(len(prompts), n_parts, [len(p) for p in prompts])
        refs = [self._actors[i].call.remote(method, args_of(lo, hi), kwargs)
                for i, (lo, hi) in enumerate(slices)]
        outs = ray.get(refs)
        for _, delta in outs:
            for key, value in delta.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)
        return [out for out, _ in outs]

    def reset_prefix_cache(self) -> None:
        """Clear every worker's prefix cache (see ``EmbeddedLLM.reset_prefix_cache``)."""
        import ray

        ray.get([actor.reset_prefix_cache.remote() for actor in self._actors])

    def score(self, prompts: Sequence[str], options: Sequence[str], *,
              system: str | None = None) -> np.ndarray:
        """Sharded ``score``: array (n_prompts, n_options)."""
        prompts = list(prompts)
        if not prompts:
            return np.zeros((0, len(options)))
        parts = self._run("score", prompts, lambda lo, hi: (prompts[lo:hi], list(options)),
                          {"system": system})
        return np.concatenate([np.asarray(p) for p in parts], axis=0)

    def generate(self, prompts: Sequence[str], *, system: str | None = None,
                 max_new_tokens: int = 40, temperature: float = 0.0,
                 seed: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """Sharded ``generate``: one string per prompt, in order."""
        prompts = list(prompts)
        if not prompts:
            return []
        parts = self._run("generate", prompts, lambda lo, hi: (prompts[lo:hi],),
                          {"system": system, "max_new_tokens": max_new_tokens,
                           "temperature": temperature, "seed": seed, "stop": stop})
        return [text for part in parts for text in part]

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str], *,
                system: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sharded ``logprob``: (summed log-probs, token counts)."""
        prompts, continuations = list(prompts), list(continuations)
        if not prompts:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        parts = self._run("logprob", prompts,
                          lambda lo, hi: (prompts[lo:hi], continuations[lo:hi]),
                          {"system": system})
        return (np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]))

    def layer_info(self) -> dict:
        """The workers' network shape (see ``EmbeddedLLM.layer_info``)."""
        import ray

        if self._layer_info is None:
            self._layer_info, _ = ray.get(self._actors[0].call.remote("layer_info", (), {}))
        return self._layer_info

    def hidden_states(self, texts: Sequence[str], layers: Sequence[int],
                      max_tokens: int = 96) -> np.ndarray:
        """Sharded ``hidden_states``: ``(n, len(layers) * hidden_size)``, in order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(layers) * self.layer_info()["hidden_size"]), np.float32)
        parts = self._run("hidden_states", texts, lambda lo, hi: (texts[lo:hi], list(layers)),
                          {"max_tokens": max_tokens})
        return np.concatenate([np.asarray(p) for p in parts], axis=0)

    def __repr__(self) -> str:
        return (f"ShardedLLM({len(self._actors)} workers, backend={self.backend!r}, "
                f"model={self.model!r})")


def _factory_from_config(config: Any, base_url: str | None = None) -> Any:
    if base_url is not None:
        config = dataclasses.replace(config, base_url=base_url)
    return llm_from_config(config)


class RayEngine:
    """Shard each decision batch over Ray actors, each with its own model replica or client.

    The driver (your notebook or script) keeps the network, the agents' memories and all random
    draws; each step's prompts of one decision kind are split into ``n_workers`` contiguous
    shards answered in parallel. With the embedded backend every worker loads the model (about
    0.6 GB of RAM per worker in fp32 for the default model); with the openai backend every worker
    is a client of ``base_urls[i % len(base_urls)]``, so a vLLM fleet is used in parallel.

    Connecting to a multi-machine cluster: start Ray on the machines (``ray start --head`` on
    one, ``ray start --address=<head>:6379`` on the others, each with s3kit installed), then pass
    ``address="auto"`` (on a cluster node) or ``address="ray://<head>:10001"`` (Ray Client) and
    ``n_workers`` = the number of replicas you want. See ``docs/simulation.md``.

    Args:
        llm_factory: picklable zero-argument callable building the backend inside a worker
            (e.g. ``functools.partial(FakeLLM, seed=0)``). ``None``: built from ``config``.
        config: a :class:`~s3kit.config.ReplayConfig` (used when ``llm_factory`` is ``None``).
        n_workers: number of actors (model replicas).
        address: Ray address (``None``: connect to a running local instance or start one;
            ``"auto"``: the cluster this machine belongs to; ``"ray://host:10001"``: Ray Client).
        num_cpus_per_worker: CPUs reserved per actor (also torch threads in the worker).
        num_gpus_per_worker: GPUs reserved per actor (embedded backend on GPU machines).
        base_urls: OpenAI-compatible server URLs, assigned round-robin to the workers.
        init_kwargs: extra ``ray.init`` arguments when this engine starts Ray (e.g.
            ``{"num_cpus": 2, "include_dashboard": False}``).
        min_shard: do not split a batch into shards smaller than this many prompts.

    Examples:
        >>> import functools
        >>> from s3kit.llm import FakeLLM
        >>> engine = RayEngine(functools.partial(FakeLLM, seed=0), n_workers=2)
        >>> engine  # nothing starts before ``start()`` (or the simulation's first step)
        RayEngine(n_workers=2, address=None, started=False)
    """

    name = "ray"

    def __init__(self, llm_factory: Callable[[], Any] | None = None, *, config: Any = None,
                 n_workers: int = 2, address: str | None = None, num_cpus_per_worker: float = 1,
                 num_gpus_per_worker: float = 0, base_urls: Sequence[str] | None = None,
                 init_kwargs: dict | None = None, min_shard: int = 1):
        self.llm_factory = llm_factory
        self.config = config
        self.n_workers = int(n_workers)
        self.address = address
        self.num_cpus_per_worker = num_cpus_per_worker
        self.num_gpus_per_worker = num_gpus_per_worker
        self.base_urls = list(base_urls) if base_urls else None
        self.init_kwargs = dict(init_kwargs or {})
        self.min_shard = min_shard
        self._actors: list | None = None
        self._llm: ShardedLLM | None = None
        self._started_ray = False

    def _factories(self) -> list[Callable[[], Any]]:
        if self.llm_factory is not None:
            return [self.llm_factory] * self.n_workers
        if self.config is None:
            raise ValueError("RayEngine needs llm_factory or config")
        urls = self.base_urls or [None]
        return [functools.partial(_factory_from_config, self.config, urls[i % len(urls)])
                for i in range(self.n_workers)]

    def start(self) -> RayEngine:
        """Connect to (or start) Ray and create the actors; returns self."""
        if self._actors is not None:
            return self
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError('the Ray engine needs Ray: pip install "s3kit[ray]"') from exc
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            if self.address is not None:
                kwargs["address"] = self.address
            ray.init(**kwargs)
            self._started_ray = True
        worker_cls = ray.remote(_LLMWorker).options(
            num_cpus=self.num_cpus_per_worker, num_gpus=self.num_gpus_per_worker)
        threads = max(1, int(self.num_cpus_per_worker)) if self.num_cpus_per_worker else None
        self._actors = [worker_cls.remote(f, threads) for f in self._factories()]
        info = ray.get([a.describe.remote() for a in self._actors])
        first = info[0]
        self._llm = ShardedLLM(self._actors, first["backend"], first["model"], first["adapter"],
                               min_shard=self.min_shard)
        return self

    @property
    def llm(self) -> ShardedLLM:
        """The sharded backend (starts the engine on first use)."""
        self.start()
        return self._llm

    def close(self, shutdown: bool | None = None) -> None:
        """Kill the actors; shut Ray down if this engine started it (or ``shutdown=True``)."""
        import ray

        if self._actors is not None:
            for actor in self._actors:
                ray.kill(actor)
        self._actors = None
        self._llm = None
        if shutdown or (shutdown is None and self._started_ray):
            ray.shutdown()
            self._started_ray = False

    def __repr__(self) -> str:
        return (f"RayEngine(n_workers={self.n_workers}, address={self.address!r}, "
                f"started={self._actors is not None})")


def make_engine(engine: str | Any, llm: Any = None, config: Any = None, **kwargs: Any) -> Any:
    """An engine from a name (``"local"``, ``"ray"``) or an engine object (returned as is).

    Args:
        engine: ``"local"``, ``"ray"`` or an object with ``llm``, ``start`` and ``close``.
        llm: the backend of the local engine.
        config: config the Ray workers build their backends from (when no factory is given).
        **kwargs: passed to :class:`RayEngine`.

    Returns:
        The engine.
    """
    if not isinstance(engine, str):
        return engine
    if engine == "local":
        if llm is None:
            raise ValueError("the local engine needs an llm")
        return LocalEngine(llm)
    if engine == "ray":
        return RayEngine(config=config, **kwargs)
    raise ValueError(f"unknown engine {engine!r}: use 'local', 'ray' or an engine object")
