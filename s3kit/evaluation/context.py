"""What one benchmark run shares between its tasks: :class:`BenchContext`.

The agents (the LLM and, for calibrated agents, the decision heads), the seed, and what is
expensive to make twice: one embedder per language and one replay per event (the ``spread``,
``emotion_trend`` and ``attitude_trend`` tasks read the same replays). A context is made
once per run and passed to :func:`s3kit.evaluation.runner.evaluate`; nothing is kept between
runs at module level.

Examples:
    >>> from s3kit.llm import FakeLLM
    >>> context = BenchContext(FakeLLM(seed=0))
    >>> context.decision_mode, context.heads_for("spread") is None
    ('zero_shot', True)
"""

from __future__ import annotations

from typing import Any

from ..embeddings import get_embedder
from ..heads import DecisionModel
from .replays import EventReplay, replay_event
from .sizes import BenchSizes
from .tasks import REPLAY_TASKS

__all__ = ["BenchContext"]


class BenchContext:
    """The agents of a benchmark run, its seed, and the caches its tasks share.

    Args:
        llm: the agents' LLM backend.
        heads: calibrated decision heads for the label tasks (``None``: the agents answer
            with the LLM's answer words).
        replay_heads: heads the replays' agents decide with (default: ``heads``; ``None``
            when the heads lack one the simulation needs: the replays then decide zero-shot).
        seed: master seed (item samples, replays, generation).
        progress: progress bars.
    """

    _UNSET: Any = object()

    def __init__(self, llm, heads: DecisionModel | None = None,
                 replay_heads: DecisionModel | None = _UNSET, *, seed: int = 0,
                 progress: bool = False):
        self.llm = llm
        self.heads = heads
        self.replay_heads = heads if replay_heads is BenchContext._UNSET else replay_heads
        self.seed = seed
        self.progress = progress
        self._embedders: dict[str, Any] = {}
        self._replays: dict[tuple, EventReplay] = {}

    @property
    def decision_mode(self) -> str:
        """``"calibrated"`` when the label tasks use heads, else ``"zero_shot"``."""
        return "calibrated" if self.heads is not None else "zero_shot"

    def heads_for(self, task: str) -> DecisionModel | None:
        """The heads the agents decide with in ``task`` (replays or label items)."""
        return self.replay_heads if task in REPLAY_TASKS else self.heads

    def embedder(self, language: str):
        """One embedder per language for the whole run (loading MiniLM takes seconds)."""
        if language not in self._embedders:
            self._embedders[language] = get_embedder(language)
        return self._embedders[language]

    def replay(self, dataset: str, ds, event_id: str, sizes: BenchSizes) -> EventReplay:
        """The replay of ``event_id`` of ``dataset`` (eval side ``ds``), made once per run."""
        key = (dataset, event_id, tuple(sorted(sizes.as_dict().items())))
        if key not in self._replays:
            self._replays[key] = replay_event(ds, str(event_id), self.llm, sizes, self.seed,
                                              progress=False, heads=self.replay_heads,
                                              embedder=self.embedder)
        return self._replays[key]
