"""Fuzz scenario YAML / config parsing: a ConfigError or a valid config, never a crash or hang.

Covers ``ReplayConfig.from_dict``, ``ReplayConfig.from_yaml`` and
``s3kit.scenarios.load_scenario`` with random mappings (known and unknown keys, values of every
YAML type), random YAML text, random bytes, and YAML alias bombs. CI runs
``S3KIT_FUZZ_EXAMPLES`` (default 150) cases per test; the dedicated run::

    S3KIT_FUZZ_EXAMPLES=1000 python -m pytest -m fuzz tests/test_fuzz_config.py -p no:cacheprovider
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from _helpers import time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3kit.config import ReplayConfig
from s3kit.errors import ConfigError
from s3kit.scenarios import load_scenario

CI_EXAMPLES = int(os.environ.get("S3KIT_FUZZ_EXAMPLES", "150"))
FUZZ_EXAMPLES = int(os.environ.get("S3KIT_FUZZ_EXAMPLES", "1000"))
#: reproducible by default; S3KIT_FUZZ_RANDOM=1 explores new cases on every run
DERANDOMIZE = not os.environ.get("S3KIT_FUZZ_RANDOM")
TIME_LIMIT_S = 5
FIELDS = ReplayConfig.fields()




scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(), st.text(max_size=10),
                    st.sampled_from(["openai", "fake", "embedded", "none", "popular", "en",
                                     "zh", "auto", "sample", "1e3", "-0", ".inf"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(st.text(max_size=6), st.integers()),
                                                 inner, max_size=3)), max_leaves=8)
good_values = {
    "source_weights": st.fixed_dictionaries({k: st.floats(0, 2) for k in
                                             ("mutual", "followee", "recommended", "own")}),
    "interventions": st.lists(st.fixed_dictionaries(
        {"step": st.integers(0, 5), "kind": st.sampled_from(["ban_user", "remove_post"])},
        optional={"user": st.text(max_size=5)}), max_size=2),
}
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12), st.integers(), st.none())
mappings = st.dictionaries(keys, st.one_of(values, *good_values.values()), max_size=8)


def check_config(values_: object) -> ReplayConfig | None:
    """A config or a ConfigError; anything else fails the test."""
    try:
        with time_limit(TIME_LIMIT_S, "config parsing"):
            cfg = ReplayConfig.from_dict(values_)
    except ConfigError as err:
        assert str(err), "empty error message"
        return None
    # a config that was accepted must be usable: validated, round-trips, writable to a manifest
    assert cfg == ReplayConfig.from_dict(cfg.to_dict())
    for key in ("n_steps", "seed", "batch_size"):
        assert isinstance(getattr(cfg, key), int) and not isinstance(getattr(cfg, key), bool)
    for key in ("step_hours", "half_life_hours", "activation_rate"):
        assert math.isfinite(float(getattr(cfg, key))), key
    return cfg


def check_yaml_text(data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="s3kit_fuzz_") as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_bytes(data)
        for parse in (ReplayConfig.from_yaml, load_scenario):
            try:
                with time_limit(TIME_LIMIT_S, "config parsing"):
                    parse(path)
            except ConfigError as err:
                assert str(path) in str(err), f"error does not name the file: {err}"


def _run(strategy, check, examples):
    @settings(max_examples=examples, deadline=None, database=None, derandomize=DERANDOMIZE,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        check(case)

    run()


yaml_docs = mappings.map(lambda m: yaml.safe_dump(m, allow_unicode=True).encode("utf-8"))
yaml_texts = st.one_of(
    st.text(alphabet=st.sampled_from(list("abn_steps:seed- \n\t[]{}&*!|>'\"#%@`,?0123.e")),
            max_size=80).map(str.encode),
    st.binary(max_size=60),
    yaml_docs,
    st.builds(lambda doc, cut: doc[:cut], yaml_docs, st.integers(0, 200)),
)


def test_config_dict_fuzz_ci():
    _run(st.one_of(mappings, values), check_config, CI_EXAMPLES)


def test_config_yaml_fuzz_ci():
    _run(yaml_texts, check_yaml_text, CI_EXAMPLES)


@pytest.mark.fuzz
def test_config_dict_fuzz_long():
    _run(st.one_of(mappings, values), check_config, FUZZ_EXAMPLES)


@pytest.mark.fuzz
def test_config_yaml_fuzz_long():
    _run(yaml_texts, check_yaml_text, FUZZ_EXAMPLES)


def test_non_finite_and_huge_numbers_are_rejected():
    for key, value in [("step_hours", float("inf")), ("step_hours", float("nan")),
                       ("half_life_hours", float("inf")), ("activation_rate", float("nan")),
                       ("w_time", float("inf")), ("temperature", float("nan"))]:
        with pytest.raises(ConfigError, match=key):
            ReplayConfig.from_dict({key: value})


def test_source_weights_must_be_numbers():
    weights = {"mutual": "high", "followee": 0.7, "recommended": 0.4, "own": 0.2}
    with pytest.raises(ConfigError, match="source_weights"):
        ReplayConfig.from_dict({"source_weights": weights})


def test_yaml_alias_bomb_is_rejected_fast(tmp_path):
    """A 'billion laughs' YAML inside a valid key must fail at once, not expand on to_dict()."""
    lines = ["interventions:", "  - step: 1", "    kind: ban_user",
             "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("    user: *a11")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with time_limit(TIME_LIMIT_S, "config parsing"), pytest.raises(ConfigError, match="alias"):
        ReplayConfig.from_yaml(path).to_dict()  # a hang guard, not a speed claim


def test_interventions_must_hold_plain_values():
    with pytest.raises(ConfigError, match="interventions"):
        ReplayConfig.from_dict({"interventions": [{"step": 1, "kind": "ban_user",
                                                    "user": {"nested": [[1]]}}]})
    with pytest.raises(ConfigError, match="interventions"):
        ReplayConfig.from_dict({"interventions": [{"step": "soon", "kind": "ban_user"}]})
    cfg = ReplayConfig.from_dict({"interventions": [{"step": 3, "kind": "inject_post",
                                                      "user": "most_followed", "text": "hi"}]})
    assert cfg.interventions[0]["text"] == "hi"


def test_errors_name_file_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("n_steps: -3\n")
    with pytest.raises(ConfigError) as info:
        ReplayConfig.from_yaml(path)
    assert str(path) in str(info.value) and "n_steps" in str(info.value)
    path.write_bytes(b"n_steps: 3\nseed: \xff\n")
    with pytest.raises(ConfigError, match=str(path)):
        ReplayConfig.from_yaml(path)
