import glob

import pytest

from s3kit.config import ReplayConfig, cache_dir
from s3kit.errors import ConfigError


def test_scenario_yamls_parse_and_keys_are_config_fields():
    paths = sorted(glob.glob("data/scenarios/*.yaml"))
    assert paths, "scenario YAMLs are shipped"
    for path in paths:
        cfg = ReplayConfig.from_yaml(path)
        assert cfg.name


def test_unknown_key_is_rejected_with_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'emotion_decay'"):
        ReplayConfig.from_dict({"emotion_decy": 0.3})


@pytest.mark.parametrize(
    "key,value",
    [("n_steps", 0), ("n_steps", -1), ("n_steps", 2.5), ("emotion_decay", 1.5),
     ("backend", "gpt"), ("half_life_hours", 0), ("source_weights", {"mutual": 1.0}),
     ("interventions", [{"kind": "ban_user"}]), ("seed", True)],
)
def test_invalid_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        ReplayConfig.from_dict({key: value})


def test_bad_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_steps: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        ReplayConfig.from_yaml(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        ReplayConfig.from_yaml(bad)


def test_replace_and_roundtrip():
    cfg = ReplayConfig(n_steps=3)
    assert ReplayConfig.from_dict(cfg.to_dict()) == cfg.replace()
    assert cfg.replace(seed=7).seed == 7


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("S3KIT_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and cache_dir().is_dir()
