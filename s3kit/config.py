"""Run configuration: one flat, frozen dataclass.

A scenario YAML, the papermill ``parameters`` cell of ``04_population_replay.ipynb`` and the
fields below share the same names, so ``papermill ... -f data/scenarios/x.yaml`` and
``ReplayConfig.from_yaml("data/scenarios/x.yaml")`` mean the same run.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .interventions import intervention_from_config
from .memory import DEFAULT_SOURCE_WEIGHTS, MemoryParams
from .paths import cache_dir
from .vocabulary import SOURCE_KINDS

__all__ = ["ReplayConfig", "cache_dir", "read_scenario_yaml"]


@dataclass(frozen=True)
class ReplayConfig:
    """Everything that defines a population replay.

    Attributes:
        name: run name (folder under ``runs/``).
        dataset: ``"sample"`` (the shipped synthetic sample), a shared dataset name
            (``"mcid_twitter"``, ``"ced"``, ``"twitter15"`` ...) or the path of a folder in
            the tidy format (your own data, docs/datasets.md).
        data_dir: folder of the shared data (default: ``$S3KIT_DATA_DIR``).
        event_id: which event/cascade to replay (``None``: the first/largest).
        n_steps: number of simulation steps.
        step_hours: length of one step in hours.
        seed: master seed; replicates use ``numpy.random.SeedSequence(seed).spawn(n)``.
        n_replicates: number of replicates.
        activation_rate: probability that an agent with no new input still decides in a step.
        feed_size: posts an agent reads per step.
        recommender: ``"none"``, ``"popular"`` or ``"random"`` (platform recommendation).
        emotion_decay: per-step pull of emotion towards calm when nothing new arrives (0..1).
        half_life_hours: memory half-life (temporal decay of influence).
        memory_size: top-k messages kept in each memory pool.
        w_time, w_relevance, w_source: weights of the three influence factors.
        source_weights: authenticity weight per source kind (mutual, followee, recommended, own).
        backend: ``"embedded"``, ``"openai"``, ``"server"`` (the shared model of ``s3kit
            serve``; ``"embedded"`` goes there too when ``$S3KIT_SERVER`` is set) or
            ``"fake"`` (deterministic, tests only).
        model: embedded model name or the server's model name.
        base_url: OpenAI-compatible server URL (``None``: ``$OPENAI_BASE_URL``); with
            ``backend: server``, the ``s3kit serve`` URL (``None``: ``$S3KIT_SERVER``).
        api_key_env: name of the environment variable holding the API key (never the key).
        adapter: PEFT adapter name to load on the embedded model.
        dtype: embedded-model dtype: ``"auto"`` (bfloat16 where the CPU has native bf16,
            else float32), ``"float32"`` or ``"bfloat16"``.
        llm_cache: keep a disk cache of LLM answers (re-runs are identical and free).
        language: prompt language, ``"auto"``, ``"en"`` or ``"zh"``.
        max_new_tokens: length cap of generated posts.
        temperature: sampling temperature for generated posts (0 = greedy).
        batch_size: prompts per forward pass.
        generate_posts: whether ``post``/``repost`` actions generate text with the LLM.
        decisions: ``"auto"`` (calibrated heads on the backends with hidden states,
            embedded and server; zero-shot on the others), ``"calibrated"`` (the trained
            decision heads, :mod:`s3kit.heads`) or ``"zero_shot"`` (the LLM's probabilities of
            the answer words).
        heads: name (or folder) of the decision heads (``"default"``: the packaged ones).
        repost_rate: how often a calibrated agent reposts what it is exposed to, on average
            (the action head ranks who): ``"observed"`` (default) estimates it from the
            event's posts before the replay starts (exposed followers of the adopters so far
            that adopted too), falling back to the heads' own rate (the rate of the real
            exposures they were trained on) when there is nothing to estimate from;
            ``"heads"``; or a number in (0, 1).
        checkpoint_every: write a checkpoint every k steps (0 = never).
        interventions: list of ``{"step": int, "kind": ..., ...}`` dicts (inject_post,
            remove_post, ban_user, set_recommender; the parameters of each kind are those of
            its class in :mod:`s3kit.interventions`, checked here).
        progress: show progress bars.

    Examples:
        >>> cfg = ReplayConfig.from_dict({"n_steps": 6, "seed": 1})
        >>> (cfg.n_steps, cfg.seed, cfg.backend)
        (6, 1, 'embedded')
        >>> ReplayConfig.from_dict({"n_stepz": 6})
        Traceback (most recent call last):
        ...
        s3kit.errors.ConfigError: unknown config key 'n_stepz' (did you mean 'n_steps'?)
    """

    name: str = "default"
    dataset: str = "sample"
    data_dir: str | None = None
    event_id: str | None = None
    n_steps: int = 12
    step_hours: float = 1.0
    seed: int = 0
    n_replicates: int = 1
    activation_rate: float = 0.0
    feed_size: int = 5
    recommender: str = "none"
    emotion_decay: float = 0.5
    # the memory fields take their defaults from s3kit.memory (one place)
    half_life_hours: float = MemoryParams.half_life_hours
    memory_size: int = MemoryParams.memory_size
    w_time: float = MemoryParams.w_time
    w_relevance: float = MemoryParams.w_relevance
    w_source: float = MemoryParams.w_source
    source_weights: dict = field(default_factory=lambda: dict(DEFAULT_SOURCE_WEIGHTS))
    backend: str = "embedded"
    model: str = "smollm2-135m-instruct"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    adapter: str | None = None
    dtype: str = "auto"
    llm_cache: bool = True
    language: str = "auto"
    max_new_tokens: int = 24
    temperature: float = 0.0
    batch_size: int = 16
    generate_posts: bool = True
    decisions: str = "auto"
    heads: str = "default"
    repost_rate: Any = "observed"
    checkpoint_every: int = 0
    interventions: list = field(default_factory=list)
    progress: bool = True

    def __post_init__(self):
        self._check()

    def _check(self) -> None:
        def bad(key, why):
            raise ConfigError(f"config key {key!r} = {getattr(self, key)!r}: {why}")

        for key in ("n_steps", "n_replicates", "feed_size", "memory_size", "max_new_tokens",
                    "batch_size", "checkpoint_every", "seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                bad(key, "must be a non-negative integer")
        for key in ("n_replicates", "batch_size", "n_steps"):
            if getattr(self, key) < 1:
                bad(key, "must be >= 1")
        for key in ("activation_rate", "emotion_decay"):
            value = getattr(self, key)
            if not _finite(value) or not 0.0 <= float(value) <= 1.0:
                bad(key, "must be a number in [0, 1]")
        for key in ("step_hours", "half_life_hours"):
            value = getattr(self, key)
            if not _finite(value) or float(value) <= 0:
                bad(key, "must be a positive (finite) number")
        for key in ("w_time", "w_relevance", "w_source", "temperature"):
            value = getattr(self, key)
            if not _finite(value) or float(value) < 0:
                bad(key, "must be a non-negative (finite) number")
        if self.decisions not in ("auto", "calibrated", "zero_shot"):
            bad("decisions", "must be 'auto', 'calibrated' or 'zero_shot'")
        if not isinstance(self.heads, str) or not self.heads:
            bad("heads", "must be a heads name or folder")
        rate = self.repost_rate
        if isinstance(rate, str):
            if rate not in ("observed", "heads"):
                bad("repost_rate", "must be 'observed', 'heads' or a number in (0, 1)")
        elif isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < 1:
            bad("repost_rate", "must be 'observed', 'heads' or a number in (0, 1)")
        if self.backend not in ("embedded", "openai", "server", "fake"):
            bad("backend", "must be 'embedded', 'openai', 'server' or 'fake'")
        if self.recommender not in ("none", "popular", "random"):
            bad("recommender", "must be 'none', 'popular' or 'random'")
        if self.dtype not in ("auto", "float32", "bfloat16"):
            bad("dtype", "must be 'auto', 'float32' or 'bfloat16'")
        if not isinstance(self.llm_cache, bool):
            bad("llm_cache", "must be true or false")
        if self.language not in ("auto", "en", "zh"):
            bad("language", "must be 'auto', 'en' or 'zh'")
        if not isinstance(self.source_weights, dict) or set(self.source_weights) != set(
                SOURCE_KINDS):
            bad("source_weights", f"must map exactly {SOURCE_KINDS} to weights")
        if not all(_finite(w) and float(w) >= 0 for w in self.source_weights.values()):
            bad("source_weights", "weights must be non-negative (finite) numbers")
        if not isinstance(self.interventions, list) or not all(
                isinstance(i, dict) and "step" in i and "kind" in i for i in self.interventions):
            bad("interventions", "must be a list of mappings with 'step' and 'kind'")
        for item in self.interventions:
            step = item["step"]
            if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
                bad("interventions", f"step must be a non-negative integer, got {step!r}")
            if not all(isinstance(k, str) and _plain(v) for k, v in item.items()):
                bad("interventions", "intervention parameters must be named by strings and "
                    "hold plain values (text, numbers, booleans, null or lists of them)")
            try:  # the kind is known and its parameters are complete (typed)
                intervention_from_config(item)
            except ConfigError as exc:
                bad("interventions", str(exc))

    @classmethod
    def fields(cls) -> list[str]:
        """Names of all config keys (= YAML keys = notebook parameters)."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReplayConfig:
        """Build a config from a mapping, rejecting unknown keys with a suggestion."""
        if not isinstance(values, dict):
            raise ConfigError(f"config must be a mapping, got {type(values).__name__}")
        known = cls.fields()
        for key in values:
            if key not in known:
                import difflib

                hint = difflib.get_close_matches(str(key), known, n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ConfigError(f"unknown config key {key!r}{extra}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> ReplayConfig:
        """Read a scenario YAML file (keys = config fields)."""
        values = read_scenario_yaml(path)
        try:
            return cls.from_dict(values)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict view (safe to write to a manifest: holds no secret)."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ReplayConfig:
        """A copy with some fields changed (validated like ``from_dict``)."""
        return self.from_dict({**self.to_dict(), **changes})


def _finite(value: Any) -> bool:
    """A real, finite number (``bool`` is not a number here)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _plain(value: Any) -> bool:
    """A scalar or a flat list of scalars (what an intervention parameter may hold)."""
    scalar = (str, numbers.Number, type(None))
    return isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(v, scalar) for v in value))


def _no_alias_loader():
    """A ``yaml.SafeLoader`` that refuses anchors/aliases (no 'billion laughs' expansion)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"YAML aliases (*{event.anchor}) are not allowed in scenario "
                    "files", event.start_mark)
            return super().compose_node(parent, index)

    return Loader


class _LazyLoader:
    """Build the loader class on first use (``import s3kit.config`` stays free of yaml)."""

    _cls = None

    def __call__(self, stream):
        if _LazyLoader._cls is None:
            _LazyLoader._cls = _no_alias_loader()
        return _LazyLoader._cls(stream)


_NoAliasLoader = _LazyLoader()


def read_scenario_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a scenario YAML file (YAML aliases refused: no "billion laughs").

    Raises:
        ConfigError: naming the file when it cannot be read or does not hold a mapping.
    """
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
        values = yaml.load(text, Loader=_NoAliasLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{path}: cannot read scenario YAML: {exc}") from exc
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a scenario YAML must hold a mapping, got "
                          f"{type(values).__name__}")
    return values
