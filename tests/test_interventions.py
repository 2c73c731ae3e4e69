"""Typed interventions: one class per kind, checked when the config loads, applied by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from test_simulation import make_sim, star_net

from s3kit.config import ReplayConfig
from s3kit.errors import ConfigError
from s3kit.interventions import (
    BanUser,
    InjectPost,
    SetRecommender,
    intervention_from_config,
    make_intervention,
    scheduled,
)
from s3kit.vocabulary import INTERVENTION_KINDS


def test_one_class_per_kind_of_the_vocabulary():
    params = {"inject_post": {"user": "u", "text": "t"}, "remove_post": {"post_id": "p"},
              "ban_user": {"user": "u"}, "set_recommender": {"recommender": "none"}}
    assert tuple(params) == INTERVENTION_KINDS
    for kind, values in params.items():
        made = make_intervention(kind, values)
        assert made.kind == kind and type(made).kind == kind


@pytest.mark.parametrize("item,message", [
    ({"step": 0, "kind": "mute_planet"}, "unknown intervention kind 'mute_planet'"),
    ({"step": 0, "kind": ["ban_user"]}, "unknown intervention kind"),
    ({"step": 2, "kind": "inject_post", "user": "source"},
     "intervention 'inject_post' needs parameter 'text'"),
    ({"step": 1, "kind": "remove_post"}, "intervention 'remove_post' needs parameter 'post_id'"),
    ({"step": 1, "kind": "ban_user", "usr": "u1"}, "intervention 'ban_user' needs parameter"),
    ({"step": 1, "kind": "ban_user", "user": "u1", "text": "x"}, "takes 'user', not 'text'"),
    ({"step": 1, "kind": "set_recommender", "recommender": "trending"},
     "unknown recommender 'trending'"),
])
def test_a_bad_intervention_fails_when_the_config_loads(item, message):
    with pytest.raises(ConfigError, match="interventions") as info:
        ReplayConfig.from_dict({"interventions": [item]})
    assert message in str(info.value)


def test_a_bad_intervention_fails_before_the_first_step():
    sim = make_sim(star_net(), n_steps=3, interventions=[
        {"step": 2, "kind": "inject_post", "user": "source"}])
    with pytest.raises(ConfigError, match="needs parameter 'text'"):
        sim.step()
    assert sim.replicate_ is None  # nothing ran


def test_scheduled_gives_the_typed_interventions_of_a_step_in_order():
    items = [{"step": 1, "kind": "ban_user", "user": "a"},
             {"step": 0, "kind": "set_recommender", "recommender": "random"},
             {"step": 1, "kind": "inject_post", "user": "b", "text": "hi", "stance": "positive"}]
    assert scheduled(items, 1) == [BanUser("a"), InjectPost("b", "hi",
                                                             labels={"stance": "positive"})]
    assert scheduled(items, 0) == [SetRecommender("random")] and scheduled(items, 2) == []
    assert intervention_from_config(items[2]).labels == {"stance": "positive"}


def test_intervening_by_hand_with_a_typed_intervention_or_kind_and_parameters():
    runs = []
    for how in ("typed", "named"):
        sim = make_sim(star_net(), n_steps=3)
        sim.step()
        if how == "typed":
            pid = sim.intervene(InjectPost("source", "Fact check: false",
                                           labels={"stance": "negative"}))
        else:
            pid = sim.intervene("inject_post", user="source", text="Fact check: false",
                                stance="negative")
        post = sim.current_network.post(pid)
        assert (post["user_id"], post["event_id"], post["stance"]) == ("a", "e0", "negative")
        assert sim.intervene(BanUser("most_followed")) == "a"
        runs.append(sim.run().results)
    pd.testing.assert_frame_equal(*runs)
    with pytest.raises(ConfigError, match="takes 'user', not 'who'"):
        sim.intervene("ban_user", user="b", who="c")
