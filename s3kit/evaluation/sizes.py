"""How much of each benchmark task is evaluated: :class:`BenchSizes` (``--quick`` or full).

Examples:
    >>> BenchSizes(quick=True).n_label, BenchSizes().n_label
    (120, 400)
"""

from __future__ import annotations

__all__ = ["BenchSizes"]


class BenchSizes:
    """How many items each task evaluates (``quick`` or full).

    Attributes:
        n_label: eval items per dataset for classification tasks.
        n_calibrate: train items scored to calibrate the agents' label bias.
        n_content: eval items per dataset for content generation.
        n_events: eval events per dataset for spread / trends.
        n_steps: simulated steps per event.
        max_agents: population cap of a replay.
        max_new_tokens: length of generated replies.
        tune_steps: PEFT prefix-tuning steps per label task and dataset (0: no tuning; the
            agents are then calibrated only, see :func:`s3kit.tuning.fit_bias`).
        step_hours: cascade step of the graph models' training cascades (spread baselines).
        n_train_heads: training items per dataset for the calibrated heads.
        zero_shot_row: with calibrated agents, also score the zero-shot answer words.
    """

    def __init__(self, quick: bool = False):
        self.quick = quick
        # measured (docs/benchmark.md): quick 466 s on 2 idle threads, full 42.8 min on one
        # thread with the other core busy (the 60-minute budget of the full run)
        self.n_label = 120 if quick else 400
        self.n_calibrate = 48 if quick else 150
        self.n_content = 40 if quick else 120
        self.n_events = 2 if quick else 3
        self.n_steps = 8 if quick else 10
        self.max_agents = 60 if quick else 80
        self.max_new_tokens = 32 if quick else 40
        self.tune_steps = 0
        self.step_hours = 1.0
        # training items per dataset for the calibrated heads (representations are cached
        # on disk by text digest, so a second run encodes nothing)
        self.n_train_heads = 400 if quick else 2000
        # with calibrated agents, also score the zero-shot answer words (the comparison row);
        # --quick leaves them out to stay within its time budget
        self.zero_shot_row = not quick

    def as_dict(self) -> dict:
        """Plain dict (recorded in the JSON)."""
        return dict(self.__dict__)
