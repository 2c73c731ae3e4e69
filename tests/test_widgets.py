"""Widget panels: set traits and click buttons in Python, check the simulation state.

All runs use the deterministic ``fake`` backend on the shipped sample (plumbing only).
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from s3kit.widgets import (  # noqa: E402
    AgentInspector,
    InterventionPanel,
    MemoryInspector,
    ReplayDashboard,
    build_simulation,
)
from s3kit.widgets._sim import records_frame, replicate  # noqa: E402

FAKE = {"backend": "fake", "n_steps": 4, "generate_posts": False, "seed": 0}


def _png(out) -> bytes:
    assert len(out.outputs) == 1, out.outputs
    data = out.outputs[0]["data"]["image/png"]
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return raw


@pytest.fixture
def dash():
    d = ReplayDashboard(FAKE)
    assert d.wait(60)
    yield d
    d.pause()
    d.wait(60)


def test_controls_are_stable_and_do_not_update_continuously(dash):
    for name, css in (("start_button", "s3kit-start"), ("pause_button", "s3kit-pause"),
                      ("step_button", "s3kit-step"), ("reset_button", "s3kit-reset"),
                      ("summary", "s3kit-summary"), ("plots", "s3kit-plots"),
                      ("network_view", "s3kit-network"), ("emotion_decay", "s3kit-emotion-decay"),
                      ("progress", "s3kit-progress")):
        assert css in getattr(dash, name)._dom_classes
    for name in ("emotion_decay", "half_life_hours", "w_time", "w_relevance", "w_source",
                 "feed_size", "activation_rate", "n_steps", "seed", "model"):
        assert getattr(dash, name).continuous_update is False, name


def test_step_button_advances_the_simulation_and_redraws(dash):
    sim = dash.simulation_
    assert dash.current_step == 0 and "step 0/4" in dash.summary.value
    before_plot, before_net = _png(dash.plots), _png(dash.network_view)
    dash.step_button.click()
    assert dash.wait(60)
    assert dash.simulation_ is sim  # same run, one step further
    assert replicate(sim).step == 1 and dash.current_step == 1
    assert dash.progress.value == 1
    assert "step 1/4" in dash.summary.value and "adopters" in dash.summary.value
    rec = records_frame(sim)
    assert rec["step"].unique().tolist() == [0] and rec["active"].any()
    assert _png(dash.plots) != before_plot
    assert _png(dash.network_view) != before_net
    n_adopters = int(dash.curves_["adopters"].iloc[-1])
    assert f"adopters <b>{n_adopters}</b>" in dash.summary.value


def test_slider_change_starts_a_new_run_with_the_new_value(dash):
    dash.step_button.click()
    dash.wait(60)
    old = dash.simulation_
    gen = dash.generation
    dash.emotion_decay.value = 0.9
    dash.wait(60)
    assert dash.simulation_ is not old and dash.generation == gen + 1
    assert dash.simulation_.cfg.emotion_decay == 0.9 and dash.config.emotion_decay == 0.9
    assert dash.current_step == 0
    dash.feed_size.value = 2
    dash.half_life_hours.value = 3.0
    dash.wait(60)
    cfg = dash.simulation_.cfg
    assert (cfg.feed_size, cfg.half_life_hours) == (2, 3.0)
    assert replicate(dash.simulation_) is None or replicate(dash.simulation_).step == 0


def test_seed_changes_the_run_and_same_seed_reproduces_it(dash):
    dash.step(2)
    dash.wait(60)
    first = records_frame(dash.simulation_).reset_index(drop=True)
    dash.seed.value = 7
    dash.step(2)  # queued behind the rebuild: runs on the new simulation
    dash.wait(60)
    assert dash.current_step == 2 and dash.simulation_.cfg.seed == 7
    other = records_frame(dash.simulation_).reset_index(drop=True)
    assert not first[["emotion", "attitude", "action"]].equals(
        other[["emotion", "attitude", "action"]])
    dash.seed.value = 0
    dash.wait(60)
    dash.step(2)
    dash.wait(60)
    again = records_frame(dash.simulation_).reset_index(drop=True)
    assert first.drop(columns=["seed"]).equals(again.drop(columns=["seed"]))


def _slow_factory(delay: float):
    def factory(cfg):
        sim = build_simulation(cfg)
        step = sim.step

        def slow_step(**kwargs):
            time.sleep(delay)
            return step(**kwargs)

        sim.step = slow_step
        return sim

    return factory


def test_start_runs_in_background_and_pause_stops_it():
    d = ReplayDashboard({**FAKE, "n_steps": 6}, simulation_factory=_slow_factory(0.1))
    d.wait(60)
    d.start_button.click()
    assert d.runner.busy  # the click returned while the steps run: the UI stays live
    assert d.runner.busy
    deadline = time.monotonic() + 60
    while d.current_step < 1 and time.monotonic() < deadline:  # pause stops inside a step:
        time.sleep(0.05)  # let one step finish first
    d.pause_button.click()
    assert d.wait(60)
    paused_at = d.current_step
    assert 1 <= paused_at < 6
    assert "paused" in d.status.value
    assert d.progress.value == paused_at
    d.start_button.click()  # resume to the end
    d.wait(60)
    assert d.current_step == 6 and d.progress.value == 6
    d.step_button.click()  # nothing left to do: says so, does not raise
    d.wait(60)
    assert d.current_step == 6 and "press reset" in d.status.value
    d.reset_button.click()
    d.wait(60)
    assert d.current_step == 0 and replicate(d.simulation_) is None


def test_factory_errors_are_shown_not_swallowed():
    def broken(cfg):
        raise ValueError("no network today")

    d = ReplayDashboard(FAKE, simulation_factory=broken)
    d.runner.wait(60)
    assert "failed" in d.status.value and "no network today" in d.status.value
    with pytest.raises(RuntimeError, match="no network today"):
        d.wait(1)


def test_memory_inspector_shows_explain_breakdown(dash):
    dash.step(2)
    dash.wait(60)
    mem = MemoryInspector(dash)
    user = mem.user.value
    assert user is not None and mem.user.index == list(mem.user.options).index(user)
    pool = replicate(dash.simulation_).memory.pool(user)
    expected = pool.explain(now=replicate(dash.simulation_).network.now)
    assert len(mem.table_) == len(expected) > 0
    np.testing.assert_allclose(mem.table_["score"], expected["score"])
    np.testing.assert_allclose(mem.table_[["time", "relevance", "source"]].sum(axis=1),
                               mem.table_["score"], rtol=1e-9)
    assert "<table" in mem.table.value and "s3kit-memory-table" in mem.table._dom_classes
    _png(mem.chart)
    other = next(u for u in mem.user.options if u != user)
    mem.user.value = other
    assert mem.table_ is not None and (mem.table_.empty or not mem.table_.equals(expected))
    # it follows the dashboard: a step refreshes it
    step_before = dash.current_step
    dash.step()
    dash.wait(60)
    assert dash.current_step == step_before + 1


def test_agent_inspector_history_and_last_decision(dash):
    dash.step(3)
    dash.wait(60)
    agent = AgentInspector(dash)
    user = agent.user.value
    hist = agent.history_
    assert hist["step"].tolist() == [0, 1, 2]
    assert hist["active"].iloc[-1]  # the default pick is a recently active agent
    trace = agent.decision_
    assert set(trace) == {"emotion", "attitude", "action"}
    for task, item in trace.items():
        assert abs(sum(item["probs"]) - 1) < 1e-9
        assert len(item["probs"]) == len(item["options"])
        assert item["choice"] == hist[task].iloc[-1]
        assert item["prompt"] and item["choice"] in item["options"]
    bio = str(dash.simulation_.network.graph.nodes[user].get("bio") or "")
    if bio:
        assert bio[:20] in trace["emotion"]["prompt"]
    assert "followers" in agent.profile.value


def test_intervention_panel_compares_against_cached_baseline():
    calls = []

    def counting(cfg):
        calls.append(cfg)
        return build_simulation(cfg)

    panel = InterventionPanel({**FAKE, "n_steps": 5}, simulation_factory=counting)
    panel.kind.value = "inject_post"
    panel.at_step.value = 2
    panel.run_button.click()
    assert panel.wait(120)
    comp = panel.comparison_
    assert comp.groupby("scenario")["step"].apply(list).to_dict() == {
        "baseline": [0, 1, 2, 3, 4], "intervention": [0, 1, 2, 3, 4]}
    base = comp[comp.scenario == "baseline"].set_index("step")
    treat = comp[comp.scenario == "intervention"].set_index("step")
    cols = ["adopters", "n_active", "n_posts"]
    assert base.loc[[0, 1], cols].equals(treat.loc[[0, 1], cols])  # same seed until step 2
    assert not base.loc[[2, 3, 4], cols].equals(treat.loc[[2, 3, 4], cols])
    assert calls[-1].interventions[-1]["kind"] == "inject_post"
    assert panel.effect_["adopters"]["baseline"] == base["adopters"].iloc[-1]
    assert "final adopters" in panel.summary.value
    _png(panel.plots)
    # a second intervention reuses the baseline: one new simulation only
    n = len(calls)
    panel.kind.value = "ban_user"
    panel.at_step.value = 0
    panel.run_button.click()
    panel.wait(120)
    assert len(calls) == n + 1
    item = calls[-1].interventions[-1]
    assert item == {"step": 0, "kind": "ban_user", "user": "most_followed"}
    treat = panel.comparison_[panel.comparison_.scenario == "intervention"]
    base = panel.comparison_[panel.comparison_.scenario == "baseline"]
    assert not treat[cols].reset_index(drop=True).equals(base[cols].reset_index(drop=True))


def test_intervention_panel_follows_dashboard_config(dash):
    dash.n_steps.value = 3
    dash.wait(60)
    panel = InterventionPanel(source=dash)
    panel.kind.value = "set_recommender"
    panel.recommender.value = "popular"
    panel.at_step.value = 1
    panel.run()
    panel.wait(120)
    assert len(panel.comparison_) == 2 * 3
    assert panel.intervention() == {"step": 1, "kind": "set_recommender",
                                    "recommender": "popular"}
    assert panel.user.layout.display == "none" and panel.recommender.layout.display is None


def test_panels_do_not_block_the_caller_thread():
    d = ReplayDashboard(FAKE, simulation_factory=_slow_factory(0.3), autostart=False)
    assert threading.active_count() >= 1
    d.reset()
    d.step()  # queued behind the build
    d.step()
    assert d.runner.busy  # the calls returned while the build still runs
    assert d.runner.busy
    d.wait(60)
    assert d.simulation_ is not None and d.current_step == 2


# ---------------------------------------------------------------------------- honest plots
def _line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label().startswith(label)]
    assert found, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def test_curves_put_steps_at_their_end_hour_from_zero_with_population_and_real():
    from s3kit.widgets._sim import draw_curves, population_of

    sim = build_simulation({**FAKE, "step_hours": 2.0})
    sim.step()
    population = population_of(sim)
    assert population == sim.current_network.graph.number_of_nodes() > 0
    curves = sim.curves()
    fig = draw_curves(curves, 4, population=population, real=sim.real_curve_, step_hours=2.0)
    spread, emo, att = fig.axes[:3]
    sim_line = _line(spread, "simulated")
    assert sim_line.get_xdata().tolist() == [2.0]  # step 1 of 4 ends 2 h after the first post
    assert emo.get_lines()[0].get_xdata().tolist() == [2.0]
    assert spread.get_ylim()[0] == 0  # no cropped axis exaggerating the jump
    pop = _line(spread, f"population {population}")
    assert set(pop.get_ydata()) == {population}
    assert spread.get_ylim()[1] >= population
    real = _line(spread, "real (data)")
    assert real.get_xdata()[0] == 0.0 and max(real.get_xdata()) <= 4 * 2.0
    adopters = int(curves["adopters"].iloc[-1])
    assert f"{adopters} of {population}" in spread.get_title()
    assert all(ax.get_xlabel() == "hours since the first post" for ax in (spread, emo, att))


def test_network_view_has_a_legend_for_colours_and_rings():
    from s3kit.widgets._sim import draw_network

    sim = build_simulation(FAKE)
    sim.step()
    fig = draw_network(sim, 30)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert {"active: calm", "active: moderate", "active: intense", "not active",
            "ring: adopted"} <= set(texts)
    fig.canvas.draw()  # the legend fits in the figure (not cut at its right edge)
    box = fig.axes[0].get_legend().get_window_extent()
    assert box.x1 <= fig.bbox.x1


def test_summary_gives_denominators_why_agents_are_active_and_model_use(dash):
    dash.set_config(activation_rate=0.1)
    dash.step()
    assert dash.wait(60)
    sim, population = dash.simulation_, 300
    assert sim.current_network.graph.number_of_nodes() == population
    last = dash.curves_.iloc[-1]
    text = dash.summary.value
    assert f"adopters <b>{int(last['adopters'])}</b> of {population}" in text
    report = dash.last_step_
    assert report["with_input"] + report["by_rate"] == report["active"] == last["n_active"]
    assert report["by_rate"] > 0
    assert (f"active {int(last['n_active'])} of {population} ({report['with_input']} with new "
            f"input, {report['by_rate']} by activation rate 0.10)") in text
    prompts = sim.llm.stats.prompts
    assert prompts > 0
    n_real = len(sim.network.posts_frame())
    assert f"model prompts {prompts:,} / cached 0 / replayed from data {n_real} posts" in text


# ---------------------------------------------------------------------------- live progress
class _SlowLLM:
    """The fake backend, ``delay`` seconds per score call (a slow model)."""

    def __init__(self, llm, delay):
        self.llm, self.delay = llm, delay

    def __getattr__(self, name):
        return getattr(self.llm, name)

    def score(self, *args, **kwargs):
        time.sleep(self.delay)
        return self.llm.score(*args, **kwargs)


def _slow_llm_factory(delay: float):
    def factory(cfg):
        sim = build_simulation(cfg)
        sim.llm.llm = _SlowLLM(sim.llm.llm, delay)
        sim.chunk_size = 8  # decisions reported every 8 agents
        return sim

    return factory


def test_status_follows_a_running_step_and_pause_stops_it_within_a_second():
    d = ReplayDashboard(FAKE, simulation_factory=_slow_llm_factory(0.05))
    assert d.wait(60)
    seen = []
    d.status.observe(lambda change: seen.append(change["new"]), names="value")
    d.step_button.click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len({s for s in seen if "decisions" in s}) < 3:
        time.sleep(0.05)
    running = [s for s in seen if "decisions" in s]
    assert len(set(running)) >= 3, seen  # several updates while the step runs
    assert "running step 1 of 4" in running[-1] and "model time" in running[-1]
    report = d.step_report_
    assert 0 < report["decisions_done"] < report["decisions_total"] == report["active"]
    assert d.current_step == 0
    d.pause_button.click()
    assert d.wait(5)
    assert d.current_step == 0  # pause acted inside the step, not after it
    assert d.current_step == 0 and replicate(d.simulation_).step == 0
    assert "paused at step 0" in d.status.value
    # the abandoned step starts over and gives what an uninterrupted run gives
    d.simulation_.llm.llm = d.simulation_.llm.llm.llm  # full speed again
    d.step_button.click()
    assert d.wait(60)
    reference = build_simulation(FAKE)
    reference.step()
    cols = ["user_id", "active", "emotion", "attitude", "action"]
    assert records_frame(d.simulation_)[cols].equals(records_frame(reference)[cols])


# ---------------------------------------------------------------------------- activities
from test_heads import tuned_heads  # noqa: E402, F401 - the calibrated heads fixture

from s3kit.widgets.activities import ACTIVITIES, compare, effect  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("activity", ACTIVITIES, ids=lambda a: a.key)
def test_each_classroom_activity_differs_by_more_than_the_seed_spread(activity, tuned_heads):  # noqa: F811, E501
    """Both settings of each activity, three seeds, calibrated agents (toy heads on a hashing
    representation: the real agents' code path, not their model) on the sample.
    """  # noqa: D205
    config = {"backend": "fake", "decisions": "calibrated", "heads": str(tuned_heads),
              "generate_posts": False}
    frame = compare(activity, config, seeds=(0, 1, 2), n_steps=activity.shows_from_step)
    assert set(frame["arm"]) == {"before", "after"}
    result = effect(frame, activity.shows_from_step)
    assert abs(result["difference"]) > result["spread"], (result, frame)


def test_intervention_comparison_is_drawn_in_hours_from_zero_with_the_population():
    from s3kit.widgets.interventions import draw_comparison

    sim = build_simulation(FAKE)
    sim.step()
    sim.step()
    base = sim.curves().assign(scenario="baseline")
    comp = pd.concat([base, base.assign(scenario="intervention")], ignore_index=True)
    fig = draw_comparison(comp, at_step=1, population=300, step_hours=1.0)
    spread = fig.axes[0]
    assert _line(spread, "baseline").get_xdata().tolist() == base["hours"].tolist() == [1.0, 2.0]
    assert spread.get_ylim()[0] == 0 and spread.get_ylim()[1] >= 300
    assert set(_line(spread, "population 300").get_ydata()) == {300}
    assert spread.get_xlabel() == "hours since the first post"
