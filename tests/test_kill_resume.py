"""SIGKILL a checkpointed replay at random moments, resume it, get the uninterrupted results.

Extends tests/test_checkpoint.py (one kill of a ``Simulation`` at a chosen step) with seeded
*random* kill times over a whole ``run_replay`` (subprocess, checkpoint every step, two
replicates), and with corrupted/truncated real checkpoints.

CI runs ``S3KIT_KILL_TRIALS`` (default 2) trials; the dedicated run::

    S3KIT_KILL_TRIALS=20 python -m pytest tests/test_kill_resume.py -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from s3kit.errors import CheckpointError
from s3kit.replay import CHECKPOINT_NAME, run_replay
from s3kit.simulation import Simulation, read_checkpoint

TRIALS = int(os.environ.get("S3KIT_KILL_TRIALS", "2"))
CONFIG = {"name": "kill", "backend": "fake", "dataset": "sample", "n_steps": 5,
          "n_replicates": 2, "seed": 7, "checkpoint_every": 1, "w_relevance": 0,
          "generate_posts": True, "activation_rate": 0.05, "progress": False,
          "interventions": [{"step": 2, "kind": "ban_user", "user": "most_followed"}]}
RUNNER = ("import json, sys\nfrom s3kit.replay import run_replay\n"
          "run_replay(json.loads(sys.argv[1]), sys.argv[2], progress=False)\n")


def _start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(CONFIG), str(out)],
                            cwd=out.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (in a subprocess, like the killed ones) and its duration."""
    out = tmp_path_factory.mktemp("reference") / "run"
    out.mkdir()
    t0 = time.monotonic()
    proc = _start(out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-2000:]
    return {"results": pd.read_parquet(out / "results.parquet"),
            "curves": pd.read_parquet(out / "curves.parquet"),
            "seconds": time.monotonic() - t0}


def _same(out: Path, reference: dict) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"),
                                  reference["results"])
    pd.testing.assert_frame_equal(pd.read_parquet(out / "curves.parquet"), reference["curves"])


def test_sigkill_at_random_points_then_resume_is_identical(tmp_path, reference):
    rng = np.random.default_rng(20261122)
    report = []
    for trial in range(TRIALS):
        out = tmp_path / f"trial{trial}"
        out.mkdir()
        delay = float(rng.uniform(0.2, 1.0)) * reference["seconds"]
        proc = _start(out)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        killed = proc.returncode == -signal.SIGKILL
        ckpt = out / CHECKPOINT_NAME
        where = None
        if ckpt.exists():
            state = read_checkpoint(ckpt)  # atomic writes: never a half-written file
            rep = state["replicate"]
            where = (len(state["done"]), rep.step if rep is not None else None)
        report.append({"trial": trial, "delay_s": round(delay, 2), "killed": killed,
                       "checkpoint": where})
        if ckpt.exists():
            (out / "killed_checkpoint.s3k").write_bytes(ckpt.read_bytes())
        run_replay(CONFIG, out, progress=False)  # resumes from the checkpoint if any
        try:
            _same(out, reference)
        except AssertionError as exc:
            raise AssertionError(f"trial {trial}: killed after {delay:.2f} s with the "
                                 f"checkpoint at (replicates done, step) = {where}; resumed "
                                 f"results differ from the uninterrupted run: {exc}") from None
        assert not ckpt.exists(), "a finished run leaves no checkpoint behind"
    print("kill/resume trials:", report)
    assert sum(r["killed"] for r in report) >= max(1, TRIALS // 2), report
    if TRIALS >= 10:  # the dedicated run must really hit checkpointed states
        assert sum(r["checkpoint"] is not None for r in report if r["killed"]) >= TRIALS // 3


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    """A genuine mid-run checkpoint (killed from inside via on_step)."""
    from s3kit.replay import build_replay, load_config

    cfg = load_config(CONFIG)
    net, event_id, topic, _, _ = build_replay(cfg)
    path = tmp_path_factory.mktemp("ckpt") / CHECKPOINT_NAME

    class Stop(Exception):
        pass

    def stop(sim, rep, t):
        if rep == 0 and t == 2:
            raise Stop

    sim = Simulation(net, cfg, event_id=event_id, topic=topic, checkpoint_path=path,
                     on_step=stop)
    with pytest.raises(Stop):
        sim.run()
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["truncate_payload", "truncate_header", "flip_byte",
                                    "empty", "append"])
def test_damaged_checkpoint_is_detected(tmp_path, real_checkpoint, damage):
    raw = real_checkpoint
    bad = {
        "truncate_payload": raw[: len(raw) - 100],
        "truncate_header": raw[:20],
        "flip_byte": raw[: len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 0xFF])
        + raw[len(raw) // 2 + 1:],
        "empty": b"",
        "append": raw + b"garbage",
    }[damage]
    path = tmp_path / CHECKPOINT_NAME
    path.write_bytes(bad)
    with pytest.raises(CheckpointError) as info:
        Simulation.resume(path)
    message = str(info.value)
    assert str(path) in message
    assert any(w in message for w in ("truncated", "corrupted", "checksum")), message


def test_replay_never_uses_a_corrupted_checkpoint(tmp_path, real_checkpoint, reference):
    """run_replay with a damaged checkpoint in its folder says so, keeps the damaged file
    aside and starts afresh: same results."""
    out = tmp_path / "run"
    out.mkdir()
    raw = real_checkpoint
    damaged = raw[:-1] + bytes([raw[-1] ^ 0x01])
    (out / CHECKPOINT_NAME).write_bytes(damaged)
    with pytest.warns(UserWarning, match="cannot resume.*damaged file is kept"):
        run_replay(CONFIG, out, progress=False)
    _same(out, reference)
    assert (out / (CHECKPOINT_NAME + ".damaged")).read_bytes() == damaged
