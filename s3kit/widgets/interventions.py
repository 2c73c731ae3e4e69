"""Policy what-if (S3 section 5.4): run a replay with and without an intervention, compare.

The panel runs the *baseline* (the configuration as it is) and the *intervention* run (the
same configuration, seed included, plus one scheduled intervention: ``config.interventions``
gets ``{"step": k, "kind": ..., ...}``) and draws both curves side by side. Both runs use the
same seed, so until step ``k`` they are identical and every difference after it is the
intervention's effect (for this seed). Baselines are cached per configuration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..config import ReplayConfig
from . import _base
from ._sim import DEFAULT_SIMULATION_FACTORY, as_config, curves_frame, population_of

__all__ = ["InterventionPanel", "DEBUNK_TEXT"]

DEBUNK_TEXT = ("Fact check: this claim is false. Official sources confirm it did not happen; "
               "please do not share it.")
KINDS = {"inject a debunking post": "inject_post", "ban a user": "ban_user",
         "switch the recommender": "set_recommender"}


class InterventionPanel(widgets.VBox):
    """Inject a debunking post, ban a user or switch the recommender; compare with baseline.

    Args:
        config: the configuration of both runs (ignored when ``source`` is given).
        simulation_factory: ``factory(config) -> Simulation`` (ignored with ``source``).
        source: a :class:`~s3kit.widgets.ReplayDashboard`: take its current configuration
            and factory at every run.

    Attributes:
        comparison_: tidy curves of the last comparison, with a ``scenario`` column
            (``"baseline"`` / ``"intervention"``).
        effect_: final adopters and positive share of both runs and their difference.

    Examples:
        >>> panel = InterventionPanel({"backend": "fake", "n_steps": 4})
        >>> panel.intervention()
        {'step': 1, 'kind': 'inject_post', 'user': 'most_followed', 'text': 'Fact check: this claim is false. Official sources confirm it did not happen; please do not share it.'}
    """  # noqa: E501

    def __init__(self, config: ReplayConfig | dict | None = None,
                 simulation_factory: Callable[[ReplayConfig], Any] | None = None, *,
                 source: Any = None, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.config = as_config(config)
        self.simulation_factory = simulation_factory or DEFAULT_SIMULATION_FACTORY
        self.runner = _base.BackgroundRunner(on_error=self._show_error)
        self.comparison_ = pd.DataFrame()
        self.effect_: dict[str, Any] = {}
        self._baselines: dict[str, pd.DataFrame] = {}
        self.population_: int | None = None
        style = {"description_width": "110px"}

        def lay():
            return widgets.Layout(width="420px")  # one Layout per control: display is per control
        n_steps = self._config().n_steps
        self.kind = widgets.Dropdown(options=list(KINDS.items()), value="inject_post",
                                     description="intervention", style=style, layout=lay())
        self.at_step = widgets.IntSlider(value=min(1, n_steps - 1), min=0,
                                         max=max(0, n_steps - 1), description="at step",
                                         continuous_update=False, style=style, layout=lay())
        self.user = widgets.Combobox(value="most_followed",
                                     options=["most_followed", "source"],
                                     description="user", ensure_option=False,
                                     continuous_update=False, style=style, layout=lay())
        self.text = widgets.Textarea(value=DEBUNK_TEXT, description="debunk text",
                                     continuous_update=False, style=style,
                                     layout=widgets.Layout(width="420px", height="60px"))
        self.recommender = widgets.Dropdown(options=["none", "popular", "random"],
                                            value="popular", description="recommender",
                                            style=style, layout=lay())
        self.run_button = widgets.Button(description="compare", icon="play",
                                         button_style="primary")
        self.progress = widgets.IntProgress(value=0, min=0, max=2 * n_steps,
                                            layout=widgets.Layout(width="300px"))
        self.status = widgets.HTML()
        self.plots = widgets.Output(layout=widgets.Layout(min_height="240px"))
        self.summary = widgets.HTML()
        for name in ("kind", "at_step", "user", "text", "recommender", "run_button",
                     "progress", "status", "plots", "summary"):
            getattr(self, name).add_class(f"s3kit-intervention-{name.replace('_', '-')}")
        self.add_class("s3kit-intervention")
        self.run_button.on_click(lambda _: self.run())
        self.kind.observe(lambda change: self._show_fields(), names="value")
        self.children = [widgets.HTML("<b>Intervention vs baseline</b>"), self.kind,
                         self.at_step, self.user, self.text, self.recommender,
                         widgets.HBox([self.run_button, self.progress]), self.status,
                         self.plots, self.summary]
        self._show_fields()

    # ------------------------------------------------------------------ configuration
    def _config(self) -> ReplayConfig:
        if self.source is not None:
            return self.source.config
        return self.config

    def _factory(self):
        if self.source is not None:
            return self.source.simulation_factory
        return self.simulation_factory

    def _show_fields(self) -> None:
        kind = self.kind.value
        self.user.layout.display = None if kind in ("inject_post", "ban_user") else "none"
        self.text.layout.display = None if kind == "inject_post" else "none"
        self.recommender.layout.display = None if kind == "set_recommender" else "none"

    def intervention(self) -> dict[str, Any]:
        """The intervention the controls describe (a ``config.interventions`` entry)."""
        item: dict[str, Any] = {"step": int(self.at_step.value), "kind": self.kind.value}
        if self.kind.value in ("inject_post", "ban_user"):
            item["user"] = self.user.value.strip() or "most_followed"
        if self.kind.value == "inject_post":
            item["text"] = self.text.value
        if self.kind.value == "set_recommender":
            item["recommender"] = self.recommender.value
        return item

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        """Run baseline (cached) and intervention in the background, then draw both."""
        cfg = self._config()
        item = self.intervention()
        if item["step"] >= cfg.n_steps:
            self._set_status(f"the intervention step must be < n_steps ({cfg.n_steps})", True)
            return
        treated = cfg.replace(interventions=[*cfg.interventions, item])
        self.progress.max = 2 * cfg.n_steps
        self.progress.value = 0
        self.runner.submit(lambda stop: self._run_comparison(cfg, treated, self._factory(), stop))

    def wait(self, timeout: float | None = 300) -> bool:
        """Block until the comparison ends; raises if it failed."""
        done = self.runner.wait(timeout)
        if self.runner.error:
            raise RuntimeError(f"intervention run failed:\n{self.runner.error}")
        return done

    def _run_one(self, cfg: ReplayConfig, factory, label: str, stop) -> pd.DataFrame:
        sim = factory(cfg)
        self.population_ = population_of(sim)
        for i in range(cfg.n_steps):
            if stop.is_set():
                raise RuntimeError("stopped")
            self._set_status(f"{label}: step {i + 1} of {cfg.n_steps}")
            sim.step()
            self.progress.value = self.progress.value + 1
        return curves_frame(sim).assign(scenario=label)

    def _run_comparison(self, cfg: ReplayConfig, treated: ReplayConfig, factory, stop) -> None:
        t0 = time.perf_counter()
        key = repr(sorted(cfg.to_dict().items(), key=lambda kv: kv[0])) + repr(factory)
        base = self._baselines.get(key)
        if base is None:
            base = self._baselines[key] = self._run_one(cfg, factory, "baseline", stop)
        else:
            self.progress.value = cfg.n_steps
        treat = self._run_one(treated, factory, "intervention", stop)
        self.comparison_ = pd.concat([base, treat], ignore_index=True)
        self.effect_ = _effect(base, treat)
        _base.show_figure(self.plots, draw_comparison(
            self.comparison_, int(treated.interventions[-1]["step"]),
            population=self.population_, step_hours=cfg.step_hours))
        self.summary.value = _effect_html(self.effect_, treated.interventions[-1])
        self._set_status(f"done in {time.perf_counter() - t0:.1f} s")

    def _set_status(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#444"
        self.status.value = f"<span style='color:{color}'>{_base.escape(text)}</span>"

    def _show_error(self, tb: str) -> None:
        self._set_status("failed: " + tb.strip().splitlines()[-1], error=True)


def _final(curves: pd.DataFrame, column: str) -> float:
    values = curves[column].dropna() if column in curves else pd.Series(dtype=float)
    return float(values.iloc[-1]) if len(values) else float("nan")


def _effect(base: pd.DataFrame, treat: pd.DataFrame) -> dict[str, Any]:
    out = {}
    for col in ("adopters", "positive_share"):
        b, t = _final(base, col), _final(treat, col)
        out[col] = {"baseline": b, "intervention": t, "difference": t - b}
    return out


def _effect_html(effect: dict, item: dict) -> str:
    a = effect["adopters"]
    p = effect["positive_share"]
    rel = (a["difference"] / a["baseline"]) if a["baseline"] else float("nan")
    what = _base.escape(f"{item['kind']} at step {item['step']}")
    return (f"<b>{what}</b>: final adopters {a['baseline']:.0f} &rarr; "
            f"<b>{a['intervention']:.0f}</b> ({a['difference']:+.0f}, {rel:+.0%}); "
            f"positive share {p['baseline']:.0%} &rarr; <b>{p['intervention']:.0%}</b>")


def draw_comparison(comparison: pd.DataFrame, at_step: int | None = None,
                    population: int | None = None, step_hours: float = 1.0):
    """Baseline vs intervention: adopters and positive-attitude share against hours.

    Step ``t`` is drawn at its end (``hours``, as on the dashboard); the dotted line marks
    when the intervention happens (the start of step ``at_step``); the spread axis starts at
    0 with the population as a line.
    """
    fig, (ax_spread, ax_att) = _base.new_figure(9.0, 2.9, ncols=2)
    colors = {"baseline": "#777", "intervention": "#c03030"}
    for label, df in comparison.groupby("scenario", sort=False):
        color = colors.get(label)
        x = df["hours"] if "hours" in df else (df["step"] + 1) * step_hours
        ax_spread.plot(x, df["adopters"], marker="o", label=label, color=color)
        if "positive_share" in df:
            ax_att.plot(x, df["positive_share"], marker=".", label=label, color=color)
    if population:
        ax_spread.axhline(population, color="#4c9be8", linestyle=":", linewidth=1.2,
                          label=f"population {population}")
    ax_spread.set_ylim(0, max([population or 0, *comparison["adopters"].tolist(), 1]) * 1.08)
    for ax in (ax_spread, ax_att):
        if at_step is not None:
            ax.axvline(at_step * step_hours, color="#c03030", linestyle=":", linewidth=1)
        ax.legend(fontsize=7)
        ax.set_xlabel("hours since the first post")
        ax.set_xlim(left=0)
    ax_spread.set(title="spread" + (f" (of {population} users)" if population else ""),
                  ylabel="adopters (cumulative)")
    ax_att.set(title="attitude (active agents)", ylabel="positive share", ylim=(-0.02, 1.02))
    return fig
