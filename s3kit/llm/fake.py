"""A deterministic stand-in LLM for unit tests of plumbing (never for results).

Examples:
    >>> llm = FakeLLM(seed=1)
    >>> p = llm.score(["a", "b"], ["yes", "no"])
    >>> p.shape, bool(abs(p.sum(axis=1) - 1).max() < 1e-12)
    ((2, 2), True)
    >>> bool((llm.score(["a"], ["yes", "no"]) == p[:1]).all())
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from .base import CallStats, as_str_list, cut_at_stop, text_pairs

__all__ = ["FakeLLM"]

_WORDS = ("news", "today", "people", "really", "think", "agree", "sad", "great", "wow", "why")


def _u64(*parts) -> int:
    text = "\x00".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


class FakeLLM:
    """Hash-based probabilities and canned generations; ``backend == "fake"``.

    Args:
        model: label.
        seed: changes every answer.
        adapter: label.
    """

    backend = "fake"

    def __init__(self, model: str = "fake", *, seed: int = 0, adapter: str | None = None):
        self.model = model
        self.adapter = adapter
        self.seed = seed
        self.stats = CallStats()

    def __repr__(self) -> str:
        """Show the seed."""
        return f"FakeLLM(seed={self.seed})"

    def score(self, prompts: Sequence[str], options: Sequence[str], *,
              system: str | None = None) -> np.ndarray:
        """Deterministic probabilities from a hash of (seed, system, prompt, options)."""
        prompts = as_str_list(prompts, "prompts")
        options = as_str_list(options, "options")
        if not options or len(set(options)) != len(options):
            raise ValueError("options must be distinct non-empty strings")
        out = np.empty((len(prompts), len(options)))
        for i, prompt in enumerate(prompts):
            rng = np.random.default_rng(_u64(self.seed, system, prompt, *options))
            out[i] = rng.dirichlet(np.ones(len(options)))
        self.stats.calls += 1 if prompts else 0
        self.stats.prompts += len(prompts)
        self.stats.prompt_tokens += sum(len(p.split()) for p in prompts)
        self.stats.completion_tokens += len(prompts)
        return out

    def generate(self, prompts: Sequence[str], *, system: str | None = None,
                 max_new_tokens: int = 40, temperature: float = 0.0,
                 seed: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """Canned text: a few words picked by a hash of the prompt (cut at ``stop``)."""
        prompts = as_str_list(prompts, "prompts")
        seed = self.seed if seed is None else seed
        out = []
        for prompt in prompts:
            rng = np.random.default_rng(_u64(seed, system, prompt, temperature))
            n = int(min(max_new_tokens, rng.integers(3, 9)))
            text = " ".join(_WORDS[j] for j in rng.integers(0, len(_WORDS), n))
            out.append(cut_at_stop(text, stop)[0])
        self.stats.calls += 1 if prompts else 0
        self.stats.prompts += len(prompts)
        self.stats.completion_tokens += sum(len(t.split()) for t in out)
        return out

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str], *,
                system: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Minus 2 nats per whitespace token (perplexity e^2), deterministically."""
        prompts, continuations = text_pairs(prompts, continuations)
        counts = np.array([len(c.split()) for c in continuations], dtype=np.int64)
        self.stats.calls += 1 if prompts else 0
        self.stats.prompts += len(prompts)
        return -2.0 * counts.astype(float), counts
