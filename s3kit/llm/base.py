"""The protocol every LLM backend follows, call counters and the cost preview.

Examples:
    >>> stats = CallStats(calls=2, prompts=10, prompt_tokens=1500, completion_tokens=0)
    >>> stats.as_dict()["prompt_tokens"]
    1500
    >>> est = estimate(100, 10, decisions_per_step=2, posts_per_step=0.1,
    ...                score_prompts_per_s=5.0, generate_tokens_per_s=40.0)
    >>> est.score_prompts, est.generate_prompts
    (2000, 100)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .models import DEFAULT_MODEL, MODELS

__all__ = ["CallStats", "CostEstimate", "LLM", "estimate", "normalise_log_scores", "as_str_list",
           "text_pairs", "cut_at_stop"]


@dataclass
class CallStats:
    """Counters of the work a backend did (cache hits cost nothing and are not in ``prompts``).

    Attributes:
        calls: model invocations (forward passes for the embedded backend, HTTP requests for
            the openai backend).
        prompts: prompts answered by the model (not from the cache).
        prompt_tokens: input tokens sent to the model.
        completion_tokens: tokens generated (or scored as options/continuations).
        cache_hits: prompts answered from the response cache.
        fallbacks: openai decisions that had no log-probabilities and were answered by the
            constrained-prompt + parsing fallback (0 for the embedded backend).
        seconds: wall time spent inside the model (not in the cache).
        reused_tokens: prompt tokens whose key/value states came from the embedded backend's
            prefix cache instead of being computed (counted in ``prompt_tokens`` too).
    """

    calls: int = 0
    prompts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    fallbacks: int = 0
    seconds: float = 0.0
    reused_tokens: int = 0

    def as_dict(self) -> dict:
        """Plain dict (for manifests)."""
        return dataclasses.asdict(self)

    def reset(self) -> None:
        """Set every counter back to zero."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, f.default)


@runtime_checkable
class LLM(Protocol):
    """What agents, demographics and evaluation code may rely on.

    Attributes:
        backend: ``"embedded"``, ``"openai"``, ``"server"`` or ``"fake"``.
        model: model name.
        adapter: PEFT adapter name, if any.
        stats: running counters (``CallStats``).
    """

    backend: str
    model: str
    adapter: str | None
    stats: CallStats

    def score(self, prompts: Sequence[str], options: Sequence[str], *,
              system: str | None = None) -> np.ndarray:
        """Probability of each option as the assistant's answer; shape (n_prompts, n_options)."""
        ...

    def generate(self, prompts: Sequence[str], *, system: str | None = None,
                 max_new_tokens: int = 40, temperature: float = 0.0,
                 seed: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """Generate the assistant's answer to each prompt (cut before the first ``stop``)."""
        ...

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str], *,
                system: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Summed log-probability and token count of each continuation as the answer."""
        ...


def cut_at_stop(text: str, stop: Sequence[str] = ()) -> tuple[str, bool]:
    """``text`` up to the first of the ``stop`` strings, and whether one occurred.

    Examples:
        >>> cut_at_stop("So true. You: 25, male", [" You:"])
        ('So true.', True)
        >>> cut_at_stop("So true.", [" You:"])
        ('So true.', False)
    """
    at = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:at], True) if at >= 0 else (text, False)


def normalise_log_scores(log_scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of summed option log-probabilities (rows sum to 1).

    Examples:
        >>> normalise_log_scores(np.log(np.array([[1.0, 3.0]]))).round(3).tolist()
        [[0.25, 0.75]]
    """
    log_scores = np.asarray(log_scores, dtype=np.float64)
    shifted = log_scores - log_scores.max(axis=-1, keepdims=True)
    expd = np.exp(shifted)
    return expd / expd.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class CostEstimate:
    """What a run will cost before it starts (see ``estimate``).

    Attributes:
        calls: model invocations (batches for the embedded backend, requests for openai).
        score_prompts: discrete decisions (``score`` prompts).
        generate_prompts: generated posts.
        prompt_tokens: input tokens.
        completion_tokens: generated tokens.
        seconds: expected model time from measured throughput (0 if a prompt cache answers).
    """

    calls: int
    score_prompts: int
    generate_prompts: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float

    def __str__(self) -> str:
        """One line for a notebook."""
        return (f"{self.score_prompts:,} decisions + {self.generate_prompts:,} generated posts: "
                f"{self.calls:,} calls, {self.prompt_tokens:,} prompt tokens, "
                f"{self.completion_tokens:,} completion tokens, ~{self.seconds / 60:.1f} min")


def estimate(n_agents: int, n_steps: int, *, decisions_per_step: float = 2.0,
             posts_per_step: float = 0.1, active_fraction: float = 1.0,
             prompt_tokens: int = 150, max_new_tokens: int = 40, batch_size: int = 16,
             llm: LLM | None = None, score_prompts_per_s: float | None = None,
             generate_tokens_per_s: float | None = None, backend: str | None = None,
             openai_concurrency: int = 4) -> CostEstimate:
    """Preview the calls, tokens and time a simulation will need, before running it.

    Throughput comes from (in order): the arguments, the ``llm`` given (its own measured
    rates after it has done some work, else the registry's measured figures for its model),
    else the registry's figures for the default embedded model.

    Args:
        n_agents: agents in the simulation.
        n_steps: simulation steps.
        decisions_per_step: discrete decisions per active agent per step (emotion, attitude,
            action ... each is one ``score`` prompt).
        posts_per_step: generated posts per active agent per step.
        active_fraction: share of agents deciding in a step.
        prompt_tokens: tokens per prompt (persona + memory + question).
        max_new_tokens: tokens per generated post.
        batch_size: prompts per forward pass (embedded backend).
        llm: a loaded backend whose measured speed to use.
        score_prompts_per_s: override of the decision throughput.
        generate_tokens_per_s: override of the generation throughput.
        backend: ``"embedded"`` or ``"openai"`` (default: the ``llm``'s, else embedded).
        openai_concurrency: parallel requests assumed for the openai backend.

    Returns:
        A ``CostEstimate``.

    Examples:
        >>> est = estimate(50, 4, decisions_per_step=1, posts_per_step=0,
        ...                score_prompts_per_s=10)
        >>> (est.calls, est.prompt_tokens, round(est.seconds))
        (13, 30000, 20)
    """
    active = n_agents * n_steps * active_fraction
    n_score = int(round(active * decisions_per_step))
    n_gen = int(round(active * posts_per_step))
    backend = backend or (llm.backend if llm is not None else "embedded")
    spec = MODELS.get(getattr(llm, "model", None) or DEFAULT_MODEL, MODELS[DEFAULT_MODEL])
    measured = getattr(llm, "throughput", None)
    rates = measured() if callable(measured) else {}
    score_rate = score_prompts_per_s or rates.get("score_prompts_per_s") or \
        spec.score_prompts_per_s
    gen_rate = generate_tokens_per_s or rates.get("generate_tokens_per_s") or \
        spec.generate_tokens_per_s
    if backend == "embedded":
        calls = math.ceil(n_score / batch_size) + math.ceil(n_gen / batch_size)
    else:  # one request per decision (per option in echo mode) and per post
        calls = n_score + n_gen
    seconds = n_score / score_rate + n_gen * max_new_tokens / gen_rate
    if backend == "openai":
        seconds /= max(1, openai_concurrency)
    return CostEstimate(
        calls=int(calls), score_prompts=n_score, generate_prompts=n_gen,
        prompt_tokens=int((n_score + n_gen) * prompt_tokens),
        completion_tokens=int(n_score + n_gen * max_new_tokens), seconds=float(seconds))


def as_str_list(values, name: str) -> list[str]:
    """``values`` as a list of strings, or a TypeError naming the argument.

    Examples:
        >>> as_str_list(("a", "b"), "prompts")
        ['a', 'b']
    """
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not a single string")
    values = list(values)
    bad = [v for v in values if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{name} must hold strings; got {type(bad[0]).__name__}")
    return values


def text_pairs(prompts, continuations) -> tuple[list[str], list[str]]:
    """The checked arguments of :meth:`LLM.logprob`: two string lists of the same length.

    Examples:
        >>> text_pairs(["q"], ["a"])
        (['q'], ['a'])
    """
    prompts = as_str_list(prompts, "prompts")
    continuations = as_str_list(continuations, "continuations")
    if len(prompts) != len(continuations):
        raise ValueError("prompts and continuations must have the same length")
    return prompts, continuations
