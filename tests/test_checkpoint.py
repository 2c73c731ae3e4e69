"""Kill a simulation with SIGKILL mid-run, resume it, and get the uninterrupted results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd

from s3kit.embeddings import HashingEmbedder
from s3kit.errors import CheckpointError
from s3kit.llm import FakeLLM
from s3kit.simulation import Simulation, read_checkpoint

SCRIPT = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from s3kit.embeddings import HashingEmbedder
    from s3kit.environment import SocialNetwork
    from s3kit.llm import FakeLLM
    from s3kit.sample import generate_sample
    from s3kit.simulation import Simulation

    def build(checkpoint=None, delay=0.0):
        ds = generate_sample(n_users=120, seed=4)
        ds.posts = ds.posts[ds.posts["event_id"] == "e0"]
        net = SocialNetwork.from_dataset(ds, until=ds.posts["time"].min() + pd.Timedelta(hours=1))
        cfg = {"progress": False, "backend": "fake", "n_steps": 8, "n_replicates": 2,
               "activation_rate": 0.05, "generate_posts": True, "checkpoint_every": 1,
               "interventions": [{"step": 3, "kind": "ban_user", "user": "most_followed"}]}
        return Simulation(net, cfg, llm=FakeLLM(seed=1), event_id="e0",
                          embedder=HashingEmbedder(dim=64), checkpoint_path=checkpoint,
                          on_step=(lambda *a: time.sleep(delay)) if delay else None)

    if __name__ == "__main__":
        build(sys.argv[1], float(sys.argv[2])).run()
""")


def test_sigkill_then_resume_is_identical(tmp_path):
    script = tmp_path / "run_sim.py"
    script.write_text(SCRIPT)
    ckpt = tmp_path / "state.s3k"
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), "0.25"], cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if ckpt.exists():
                state = read_checkpoint(ckpt)
                rep = state["replicate"]
                # kill during the second replicate, after a few of its steps
                if len(state["done"]) == 1 and rep is not None and rep.step >= 3:
                    break
            assert proc.poll() is None, "the simulation finished before it could be killed"
            time.sleep(0.05)
        else:
            raise AssertionError("no checkpoint appeared")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    state = read_checkpoint(ckpt)  # still a valid file: writes are atomic
    assert state["replicate"] is not None and state["replicate"].step < 8

    resumed = Simulation.resume(ckpt, llm=FakeLLM(seed=1), embedder=HashingEmbedder(dim=64))
    got = resumed.run()

    sys.path.insert(0, str(tmp_path))
    try:
        import run_sim
    finally:
        sys.path.remove(str(tmp_path))
    full = run_sim.build(str(tmp_path / "uninterrupted.s3k")).run()
    pd.testing.assert_frame_equal(got.results, full.results)
    pd.testing.assert_frame_equal(got.curves, full.curves)
    pd.testing.assert_frame_equal(got.posts, full.posts)
    assert got.results["replicate"].nunique() == 2
    assert (got.results["step"].groupby(got.results["replicate"]).nunique() == 8).all()


def test_resume_refuses_a_truncated_checkpoint(tmp_path):
    path = tmp_path / "state.s3k"
    path.write_bytes(b"S3KCKPT1" + b"\0" * 10)
    try:
        Simulation.resume(path, llm=FakeLLM())
    except CheckpointError as exc:
        assert "truncated" in str(exc)
    else:
        raise AssertionError("expected CheckpointError")
