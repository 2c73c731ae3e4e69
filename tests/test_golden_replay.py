"""Behaviour unchanged: fixed-seed replays give the frames saved from main before refactoring.

The frames in ``tests/fixtures/golden`` come from ``tests/_golden.py`` run on main at 4d2119a
(deterministic fake model, hashing embedder, zero-shot and calibrated decisions, generated
posts, interventions). A refactor that changes them changed behaviour. Saved again for two
changes of behaviour (not refactors): a repost's comment reads only the post it shares
(``s3kit.agent.sharing_context``: calibrated frames), and the heads and memory pools read a
post's words without the ``//@user:`` marks of repost chains (``s3kit.text.post_words``: both).
And again when a written text that copies any part of its prompt was dropped as an echo
(``s3kit.agent.echoes_prompt``, was: only the prompt's opening; both: the fake model's words
repeat texts of earlier posts) and a repost comment got its own prompt with the shared post
first (``s3kit.prompts.share_prompt``: calibrated).
"""

from __future__ import annotations

import pandas as pd
import pytest
from _golden import CASES, GOLDEN, replay


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_seed_replay_gives_the_saved_frames(case):
    for part, frame in replay(case).items():
        saved = pd.read_parquet(GOLDEN / f"{case}_{part}.parquet")
        pd.testing.assert_frame_equal(frame, saved, check_exact=True)
