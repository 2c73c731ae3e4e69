"""The replay dashboard: run a population replay step by step and watch it spread.

Changing a model parameter (a slider, the backend, the seed) defines a new run: the dashboard
rebuilds the simulation at step 0 with the new configuration (as Mesa's visualisation does), so
every curve on screen comes from one configuration. ``continuous_update=False`` on every control
makes that happen once, when the slider is released.

Long work (building a simulation, loading a model, stepping) runs in a background thread: the
notebook stays responsive, the status line follows a step while it runs (decisions done of
to do, agents active with new input / by the activation rate, model time), and *pause*
abandons the running step at its next progress report (the step starts over later, with the
same result), so it takes effect within about a second. ``wait()`` blocks until the
background work is done (tests, scripts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd
import traitlets

from ..config import ReplayConfig
from ..errors import StepInterrupted
from . import _base
from ._sim import (
    DEFAULT_SIMULATION_FACTORY,
    as_config,
    curves_frame,
    draw_curves,
    draw_network,
    population_of,
    records_frame,
    replicate,
    summary_text,
)

__all__ = ["ReplayDashboard"]

#: Controls that are ReplayConfig fields, in display order.
PARAMETERS = ("emotion_decay", "half_life_hours", "w_time", "w_relevance", "w_source",
              "feed_size", "activation_rate", "n_steps", "backend", "model", "seed", "dataset")


class ReplayDashboard(widgets.VBox):
    """Start / pause / step / reset a replay; parameters as sliders; live curves and network.

    Args:
        config: the starting configuration (a ``ReplayConfig`` or a mapping of its fields).
        simulation_factory: ``factory(config) -> Simulation``. Default: build the dataset's
            network, the configured LLM backend and an ``s3kit.simulation.Simulation``.
        network_size: at most this many users in the network view (the most followed).
        autostart: build the first simulation immediately (in the background).

    Attributes:
        simulation_: the current simulation (``None`` until built).
        current_step: steps taken by the current simulation (a trait: observe it to follow).
        config: the configuration of the current run (read-only; change it with the controls
            or :meth:`set_config`).

    Examples:
        >>> dash = ReplayDashboard({"backend": "fake", "n_steps": 3}, autostart=False)
        >>> dash.emotion_decay.value, dash.step_button.description
        (0.5, 'step')
    """

    current_step = traitlets.Int(0)
    generation = traitlets.Int(0)  # bumped whenever a new simulation replaces the old one

    def __init__(self, config: ReplayConfig | dict | None = None,
                 simulation_factory: Callable[[ReplayConfig], Any] | None = None, *,
                 network_size: int = 60, autostart: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.config = as_config(config)
        self.simulation_factory = simulation_factory or DEFAULT_SIMULATION_FACTORY
        self.network_size = int(network_size)
        self.simulation_ = None
        self.runner = _base.BackgroundRunner(on_error=self._show_error)
        self._building = False
        self._layout_cache: dict = {}
        self.last_step_: dict = {}  # the last progress report of the running / last step
        self.step_report_: dict = {}  # the last one shown on the status line
        self._last_report = 0.0
        self._build_controls()
        self._layout()
        self.add_class("s3kit-dashboard")
        if autostart:
            self.reset()

    # ------------------------------------------------------------------ construction
    def _build_controls(self) -> None:
        c = self.config
        style = {"description_width": "120px"}
        lay = widgets.Layout(width="340px")

        def fslider(name, lo, hi, step, desc):
            return widgets.FloatSlider(value=float(getattr(c, name)), min=lo, max=hi, step=step,
                                       description=desc, continuous_update=False, style=style,
                                       layout=lay, readout_format=".2f")

        self.emotion_decay = fslider("emotion_decay", 0.0, 1.0, 0.05, "emotion decay")
        self.half_life_hours = fslider("half_life_hours", 0.5, 72.0, 0.5, "half-life (h)")
        self.w_time = fslider("w_time", 0.0, 3.0, 0.1, "w time")
        self.w_relevance = fslider("w_relevance", 0.0, 3.0, 0.1, "w relevance")
        self.w_source = fslider("w_source", 0.0, 3.0, 0.1, "w source")
        self.activation_rate = fslider("activation_rate", 0.0, 1.0, 0.05, "activation rate")
        self.feed_size = widgets.IntSlider(value=c.feed_size, min=1, max=30,
                                           description="feed size", continuous_update=False,
                                           style=style, layout=lay)
        self.n_steps = widgets.IntSlider(value=c.n_steps, min=1, max=max(72, c.n_steps),
                                         description="steps", continuous_update=False,
                                         style=style, layout=lay)
        self.backend = widgets.Dropdown(options=["fake", "embedded", "server", "openai"],
                                        value=c.backend,
                                        description="backend", style=style, layout=lay)
        self.model = widgets.Combobox(value=c.model, options=_model_names(), description="model",
                                      ensure_option=False, continuous_update=False, style=style,
                                      layout=lay)
        self.seed = widgets.BoundedIntText(value=c.seed, min=0, max=2**31 - 1,
                                           description="seed", continuous_update=False,
                                           style=style, layout=lay)
        self.dataset = widgets.Text(value=c.dataset, description="dataset",
                                    placeholder="sample, a dataset name, or a tidy folder",
                                    continuous_update=False, style=style, layout=lay)
        for name in PARAMETERS:
            control = getattr(self, name)
            control.add_class(f"s3kit-{name.replace('_', '-')}")
            control.observe(self._on_parameter, names="value")

        def button(desc, icon, css, tip):
            b = widgets.Button(description=desc, icon=icon, tooltip=tip,
                               layout=widgets.Layout(width="90px"))
            b.add_class(css)
            return b

        self.start_button = button("start", "play", "s3kit-start", "run the remaining steps")
        self.pause_button = button("pause", "pause", "s3kit-pause", "stop now")
        self.step_button = button("step", "step-forward", "s3kit-step", "one step")
        self.reset_button = button("reset", "refresh", "s3kit-reset", "back to step 0")
        self.start_button.on_click(lambda _: self.start())
        self.pause_button.on_click(lambda _: self.pause())
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self.progress = widgets.IntProgress(value=0, min=0, max=c.n_steps, description="step 0",
                                            layout=widgets.Layout(width="340px"))
        self.progress.add_class("s3kit-progress")
        self.status = widgets.HTML(value="")
        self.status.add_class("s3kit-status")
        self.plots = widgets.Output(layout=widgets.Layout(min_height="250px"))
        self.plots.add_class("s3kit-plots")
        self.network_view = widgets.Output(layout=widgets.Layout(min_height="250px"))
        self.network_view.add_class("s3kit-network")
        self.summary = widgets.HTML(value="")
        self.summary.add_class("s3kit-summary")
        self.run_info = widgets.HTML(value="")  # what the kernel's current run was built with
        self.run_info.add_class("s3kit-run-config")

    def _layout(self) -> None:
        left = widgets.VBox([getattr(self, n) for n in PARAMETERS[:6]])
        right = widgets.VBox([getattr(self, n) for n in PARAMETERS[6:]])
        buttons = widgets.HBox([self.start_button, self.pause_button, self.step_button,
                                self.reset_button, self.progress])
        self.children = [
            widgets.HTML("<h3 style='margin:4px 0'>s3kit replay</h3>"),
            widgets.HBox([left, right]),
            buttons,
            self.status,
            widgets.HBox([self.plots, self.network_view]),
            self.summary,
            self.run_info,
        ]

    # ------------------------------------------------------------------ configuration
    def _control_values(self) -> dict[str, Any]:
        return {name: getattr(self, name).value for name in PARAMETERS}

    def _on_parameter(self, change) -> None:
        if self._building:
            return
        self.reset()

    def set_config(self, **changes: Any) -> None:
        """Change configuration fields (controls follow) and start a new run at step 0."""
        self._building = True
        try:
            for name, value in changes.items():
                if name in PARAMETERS:
                    getattr(self, name).value = value
            self.config = self.config.replace(**changes)
        finally:
            self._building = False
        self.reset()

    # ------------------------------------------------------------------ actions
    def reset(self) -> None:
        """Discard the current run and build a new simulation from the controls (step 0)."""
        self.runner.stop()  # the running step finishes first; the rebuild is queued after it
        try:
            self.config = self.config.replace(**self._control_values())
        except Exception as exc:  # a bad value from a control: say so, keep the old run
            self._set_status(f"not applied: {exc}", error=True)
            return
        config = self.config
        self.progress.max = config.n_steps
        self._set_status(f"building the simulation ({config.backend})...")
        self.runner.submit(lambda stop: self._build(config))

    def _build(self, config: ReplayConfig) -> None:
        t0 = time.perf_counter()
        sim = self.simulation_factory(config)
        self._layout_cache.clear()
        self.last_step_, self.step_report_ = {}, {}
        self.simulation_ = sim
        self.current_step = 0
        self.generation += 1
        self.run_info.value = run_config_html(sim)
        self._refresh()
        self._set_status(f"ready: {config.backend}/{config.model}, seed {config.seed} "
                         f"(built in {time.perf_counter() - t0:.1f} s)")

    def step(self, n: int = 1) -> None:
        """Advance ``n`` steps in the background (queued after work already running)."""
        self.runner.submit(lambda stop: self._advance(stop, n))

    def start(self) -> None:
        """Run the remaining steps in the background (pause stops the running step)."""
        if self.runner.busy:
            return  # already running (or building): one start is enough
        self.runner.submit(lambda stop: self._advance(stop, None))

    def pause(self) -> None:
        """Stop now: the running step is abandoned (it starts over on the next step/start)."""
        self.runner.stop()

    def wait(self, timeout: float | None = 120) -> bool:
        """Block until the background work ends; raises if it failed.

        Returns:
            True if no work is running any more.
        """
        done = self.runner.wait(timeout)
        if self.runner.error:
            raise RuntimeError(f"dashboard background work failed:\n{self.runner.error}")
        return done

    def _advance(self, stop, n: int | None) -> None:
        sim = self.simulation_
        if sim is None:
            raise RuntimeError("no simulation: press reset")
        total = self.config.n_steps
        todo = total - self.current_step if n is None else min(n, total - self.current_step)
        if todo <= 0:
            self._set_status(f"all {total} steps done: press reset for a new run")
            return
        for i in range(todo):
            if stop.is_set():
                self._set_status(f"paused at step {self.current_step}")
                break
            label = (f"running step {self.current_step + 1} of {total}"
                     + (f" ({i + 1}/{todo})" if todo > 1 else ""))
            self._set_status(label)
            self._last_report = 0.0
            try:
                sim.step(progress=lambda report, label=label:
                         self._on_progress(report, stop, label))
            except StepInterrupted:
                self._set_status(f"paused at step {self.current_step} (step "
                                 f"{self.current_step + 1} was stopped and will start over)")
                break
            rep = replicate(sim)
            self.current_step = rep.step if rep is not None else self.current_step + 1
            self._refresh()
        else:
            self._set_status(f"step {self.current_step} of {total} done")

    def _on_progress(self, report: dict, stop, label: str) -> None:
        """Inside a step: stop at once when paused, else show how far the step has come."""
        if stop.is_set():
            raise StepInterrupted("paused")
        self.last_step_ = report
        now = time.perf_counter()
        if now - self._last_report < 0.2 and report["phase"] == self.step_report_.get("phase"):
            return  # at most five status updates a second
        self._last_report = now
        self.step_report_ = report
        self.status.value = progress_html(label, report, self.config.activation_rate)

    # ------------------------------------------------------------------ display
    def _refresh(self) -> None:
        """Redraw plots, network view, progress; the summary comes last."""
        sim = self.simulation_
        curves = curves_frame(sim)
        self.curves_ = curves
        self.progress.value = min(self.current_step, self.progress.max)
        self.progress.description = f"step {self.current_step}"
        _base.show_figure(self.plots, draw_curves(
            curves, self.config.n_steps, population=population_of(sim),
            real=getattr(sim, "real_curve_", None), step_hours=self.config.step_hours))
        _base.show_figure(self.network_view,
                          draw_network(sim, self.network_size, cache=self._layout_cache))
        self.summary.value = summary_text(sim, curves, self.current_step, self.config,
                                          self.last_step_)

    def _set_status(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#444"
        self.status.value = f"<span style='color:{color}'>{_base.escape(text)}</span>"

    def _show_error(self, tb: str) -> None:
        last = tb.strip().splitlines()[-1] if tb.strip() else "error"
        self._set_status(f"failed: {last}", error=True)

    @property
    def records_(self) -> pd.DataFrame:
        """The current run's per-step, per-agent frame."""
        return records_frame(self.simulation_)


def run_config_html(sim) -> str:
    """The parameters the running simulation was built with (read from it, not the controls)."""
    cfg = getattr(sim, "cfg", None)
    if cfg is None:
        return ""
    return ("<small style='color:#666'>this run: " + _base.escape(
        f"emotion decay {cfg.emotion_decay:.2f} · half-life {cfg.half_life_hours:g} h · "
        f"activation rate {cfg.activation_rate:.2f} · recommender {cfg.recommender} · "
        f"feed {cfg.feed_size} · {cfg.n_steps} steps of {cfg.step_hours:g} h · "
        f"{cfg.backend}/{cfg.model} · seed {cfg.seed}") + "</small>")


def progress_html(label: str, report: dict, activation_rate: float) -> str:
    """The status line while a step runs: decisions, who is active and why, model time."""
    esc = _base.escape
    parts = [f"<b>{esc(label)}</b>",
             f"decisions <b>{report['decisions_done']}</b> of {report['decisions_total']}",
             f"active {report['active']} ({report['with_input']} with new input, "
             f"{report['by_rate']} by activation rate {activation_rate:.2f})"]
    if report.get("texts_read"):
        parts.append(f"model read {report['texts_read']:,} texts")
    parts.append(f"model time {report['model_seconds']:.1f} s")
    parts.append(f"{esc(report['phase'])} ({report['seconds']:.1f} s into the step)")
    return "<span class='s3kit-step-progress' style='color:#444'>" + " · ".join(parts) + \
        "</span>"


def _model_names() -> list[str]:
    try:
        from ..llm import MODELS

        return sorted(MODELS)
    except Exception:  # the list is a convenience only
        return []
