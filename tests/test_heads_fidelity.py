"""The shipped calibrated heads keep their fidelity on real held-out data (CI guard).

The packaged heads were fitted on the train side of ../shared/data's deterministic split;
here they score a fixed small sample of its validation side with the real embedded model at
its default dtype, and each head must stay above the floor written in its manifest
(validation figure minus a stated tolerance). A change that makes the decisions meaningless
(a broken representation, a dtype drift, a mis-ordered label) turns this red.
"""

from __future__ import annotations

import numpy as np
import pytest

from s3kit.evaluation.calibrate import HEAD_TASK, PRIMARY, action_items, head_tasks, label_metrics
from s3kit.evaluation.tasks import DatasetPairs
from s3kit.heads import HEAD_CLASSES, DecisionModel

pytestmark = [pytest.mark.llm, pytest.mark.slow]

N_EVAL = 120  # per dataset (a subset of the manifest's 400 validation items)


@pytest.fixture(scope="module")
def shipped(shared_data_dir):
    pytest.importorskip("torch")
    from s3kit.llm import load_llm

    llm = load_llm("embedded", cache=False)
    model = DecisionModel.load("default", llm=llm)
    data = DatasetPairs(shared_data_dir, None, progress=False)
    return model, data


@pytest.mark.parametrize("head", list(HEAD_CLASSES))
def test_shipped_head_stays_above_its_floor(shipped, head):
    model, data = shipped
    floors = model.info["fidelity_floors"][head]
    tasks, _ = head_tasks(data, head, n_train=None, n_eval=N_EVAL, seed=0)
    assert tasks, f"no validation items for the {head} head ({HEAD_TASK[head]})"
    for task in tasks:
        if head == "action":
            task = action_items(task)
        probs = model.predict_proba(head, task.eval, observed_rate=False)
        assert np.allclose(probs.sum(axis=1), 1.0)
        got = label_metrics(task.eval["label"], probs, list(HEAD_CLASSES[head]))[PRIMARY[head]]
        floor = floors[task.dataset]["floor"]
        assert got >= floor, (f"{head} on {task.dataset}: {PRIMARY[head]} {got:.3f} below the "
                              f"floor {floor:.3f} (validation "
                              f"{floors[task.dataset]['validation']:.3f})")
