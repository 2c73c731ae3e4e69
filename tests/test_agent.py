import numpy as np
import pytest

from s3kit.agent import (
    ACTIONS,
    EMOTIONS,
    AgentContext,
    AgentState,
    choose,
    decay_distribution,
    decay_emotions,
    decay_matrix,
    decide_action,
    decide_attitude,
    decide_emotion,
    initial_attitude,
    reader_context,
    update_states,
    write_posts,
)
from s3kit.llm import FakeLLM


def _contexts(n=6):
    out = []
    for i in range(n):
        received = [{"text": f"post {i} about the vaccine", "kind": "followee"}] if i % 2 else []
        state = AgentState(EMOTIONS[i % 3], "positive" if i % 3 else "negative", aware=i > 0)
        out.append(AgentContext({"gender": "male", "age": 20 + i}, state, ["old news"],
                                received, topic="the vaccine"))
    return out


def test_emotion_decays_towards_calm_without_input():
    assert decay_emotions(["intense", "moderate", "calm"], 1.0).tolist() == \
        ["moderate", "calm", "calm"]
    assert decay_emotions(["intense"], 0.4).tolist() == ["intense"]   # argmax: stays
    rng = np.random.default_rng(0)
    after = decay_emotions(["intense"] * 4000, 0.3, rng)
    assert np.mean(after == "moderate") == pytest.approx(0.3, abs=0.03)
    # expected distribution converges to calm; rows are stochastic
    p = decay_distribution(np.array([[0, 0, 1.0]]), 0.5, steps=20)
    assert p[0, 0] > 0.99 and np.allclose(decay_matrix(0.2).sum(1), 1)
    with pytest.raises(ValueError):
        decay_matrix(1.5)


def test_decide_emotion_one_batched_call_and_quiet_agents_decay():
    llm = FakeLLM(seed=1)
    ctx = _contexts()
    labels, proba = decide_emotion(llm, ctx, emotion_decay=1.0)
    assert llm.stats.calls == 1 and llm.stats.prompts == 3       # only agents with input
    assert proba.shape == (6, 3) and np.allclose(proba.sum(1), 1)
    for i in (0, 2, 4):                                           # quiet: one level down
        cur = EMOTIONS.index(ctx[i].state.emotion)
        assert labels[i] == EMOTIONS[max(cur - 1, 0)]
    for i in (1, 3, 5):
        assert labels[i] == EMOTIONS[int(proba[i].argmax())]
    assert ctx[0].state.emotion == "calm"                         # inputs not mutated


def test_sampling_is_reproducible_with_generator():
    llm = FakeLLM(seed=2)
    ctx = _contexts(40)
    a, _ = decide_action(llm, ctx, np.random.default_rng(5), sample=True)
    b, _ = decide_action(llm, ctx, np.random.default_rng(5), sample=True)
    assert a.tolist() == b.tolist() and set(a) <= set(ACTIONS)
    with pytest.raises(ValueError):
        choose(np.ones((1, 2)) / 2, ["a", "b"], None, sample=True)
    rng = np.random.default_rng(0)
    draws = choose(np.tile([[0.2, 0.8]], (5000, 1)), ["a", "b"], rng, sample=True)
    assert np.mean(draws == "b") == pytest.approx(0.8, abs=0.02)


def test_attitude_and_action_keep_state_for_quiet_agents():
    llm = FakeLLM(seed=3)
    ctx = _contexts()
    att, p = decide_attitude(llm, ctx)
    assert att[0] == "negative" and att[2] == "positive" and p[0].tolist() == [1.0, 0.0]
    act, pa = decide_action(llm, ctx)
    assert all(act[i] == "nothing" for i in (0, 2, 4)) and pa.shape == (6, 3)
    assert llm.stats.calls == 2
    new = update_states(ctx, *decide_emotion(llm, ctx)[:1], att)
    assert new[0].aware is False and new[1].aware is True


def test_languages_grouped_one_call_each_and_posts_generated():
    llm = FakeLLM()
    ctx = [AgentContext({"gender": "female"}, received=["开放二胎政策出台"], topic="开放二胎"),
           AgentContext({"gender": "male"}, received=["the policy is out"], topic="the policy")]
    labels, proba = decide_emotion(llm, ctx)
    assert llm.stats.calls == 2 and proba.shape == (2, 3)
    texts = write_posts(llm, ctx, ["post", "repost"], max_new_tokens=8)
    assert len(texts) == 2 and all(isinstance(t, str) and t for t in texts)
    lab, pr = initial_attitude(llm, [{"gender": "male"}], [["I love policy X"]], "policy X")
    assert lab[0] in ("negative", "positive") and pr.shape == (1, 2)


@pytest.mark.llm
def test_real_model_decisions_are_distributions():
    from s3kit.llm import load_llm

    llm = load_llm("embedded", cache=False)
    ctx = _contexts(4)
    labels, proba = decide_emotion(llm, ctx)
    assert np.allclose(proba.sum(1), 1) and set(labels) <= set(EMOTIONS)
    act, pa = decide_action(llm, ctx, only_with_input=False)
    assert pa.shape == (4, 3) and np.allclose(pa.sum(1), 1)


def test_a_comment_that_only_echoes_the_persona_is_dropped():
    class Echo:  # a small model's failure: it copies its prompt's first line
        def generate(self, prompts, **kw):
            return [p.splitlines()[0] if i % 2 else "So true, sharing." for i, p in
                    enumerate(prompts)]

    ctxs = [reader_context(["big news"], profile={"gender": "female", "age": 30, "bio": b},
                           language="en") for b in ("nurse", "teacher")]
    assert write_posts(Echo(), ctxs, "repost") == ["So true, sharing.", ""]


def test_a_share_comment_is_its_first_line_and_a_copy_of_the_shared_post_is_dropped():
    class Writer:  # small models run on into a second block, or copy the post they share
        def generate(self, prompts, **kw):
            assert all(p.startswith("You share this post:") for p in prompts)
            return ["Stay safe, everyone.\n\nYou: 30, female", "Big news for everyone, read it!"]

    ctxs = [reader_context(["Big news for everyone, read it!"], profile={"gender": "female"},
                           language="en") for _ in range(2)]
    assert write_posts(Writer(), ctxs, "share") == ["Stay safe, everyone.", ""]
