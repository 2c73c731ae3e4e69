"""Look inside a running replay: one user's memory pool, one agent's state and decisions.

Both panels take a *source*: a :class:`~s3kit.widgets.ReplayDashboard` (they then follow its
current simulation and refresh after every step) or a
:class:`~s3kit.simulation.Simulation` (refresh by hand with :meth:`refresh`).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from . import _base
from ._sim import agent_history, last_decision, memory_table, network_of, records_frame

__all__ = ["MemoryInspector", "AgentInspector"]

_STYLE = {"description_width": "60px"}


def _simulation(source):
    return getattr(source, "simulation_", source)


def _user_options(sim, limit: int = 400) -> list[str]:
    """Users to pick from: those active so far first, then the most followed."""
    if sim is None:
        return []
    g = network_of(sim).graph
    rec = records_frame(sim)
    active = []
    if len(rec):
        act = rec[rec["active"].astype(bool)]
        active = list(dict.fromkeys(act["user_id"].astype(str).tolist()[::-1]))
    rest = sorted((u for u in g.nodes if u not in set(active)),
                  key=lambda u: (-len(g.pred[u]), str(u)))
    return (active + rest)[:limit]


def _frame_html(df: pd.DataFrame, css: str, floats: str = "{:.3f}") -> str:
    if df is None or df.empty:
        return "<i>empty</i>"
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else floats.format(v))
    return out.to_html(index=False, classes=css, border=0, escape=True)


class _Inspector(widgets.VBox):
    css = "s3kit-inspector"
    title = ""

    def __init__(self, source: Any, user_id: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.source = source
        self.user = widgets.Dropdown(description="user", style=_STYLE,
                                     layout=widgets.Layout(width="260px"))
        self.user.add_class(f"{self.css}-user")
        self.refresh_button = widgets.Button(description="refresh", icon="refresh",
                                             layout=widgets.Layout(width="100px"))
        self.refresh_button.add_class(f"{self.css}-refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self._updating = False
        self.user.observe(self._on_user, names="value")
        self.add_class(self.css)
        self._build()
        if hasattr(source, "observe") and hasattr(source, "current_step"):
            source.observe(lambda change: self.refresh(), names=["current_step", "generation"])
        self.refresh(user_id)

    @property
    def simulation(self):
        """The simulation being inspected."""
        return _simulation(self.source)

    def refresh(self, user_id: str | None = None) -> None:
        """Re-read the simulation (user list and the selected user's view)."""
        options = _user_options(self.simulation)
        keep = user_id if user_id is not None else self.user.value
        self._updating = True  # one redraw below, not one per trait change
        try:
            if tuple(options) != tuple(self.user.options):
                self.user.options = options
            if keep in options:
                self.user.value = keep
            elif options:
                self.user.value = options[0]
        finally:
            self._updating = False
        self._draw()

    def _on_user(self, change) -> None:
        if not self._updating:
            self._draw()

    def _build(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class MemoryInspector(_Inspector):
    """Pick a user: their memory pool, best first, with the per-factor breakdown.

    The table is ``MemoryPool.explain()`` at the current clock time: the weighted
    contributions ``time`` (forgetting curve), ``relevance`` (profile-message similarity) and
    ``source`` (authenticity of the source kind) sum to ``score``; the bar chart shows the same
    split per message.

    Args:
        source: a ``ReplayDashboard`` (followed live) or a ``Simulation``.
        user_id: the user to show first (default: the most recently active).

    Attributes:
        table_: the ``explain()`` frame on display.
    """

    css = "s3kit-memory"

    def _build(self) -> None:
        self.table = widgets.HTML()
        self.table.add_class("s3kit-memory-table")
        self.chart = widgets.Output()
        self.chart.add_class("s3kit-memory-chart")
        self.table_ = pd.DataFrame()
        self.children = [widgets.HTML("<b>Memory pool</b>"),
                         widgets.HBox([self.user, self.refresh_button]), self.table,
                         self.chart]

    def _draw(self) -> None:
        sim, user = self.simulation, self.user.value
        if sim is None or user is None:
            self.table.value = "<i>no simulation yet</i>"
            return
        df = memory_table(sim, user)
        self.table_ = df
        if df.empty:
            self.table.value = (f"<i>{_base.escape(user)} remembers nothing yet (memories "
                                "form when an agent reads its feed)</i>")
            self.chart.outputs = ()
            return
        cols = [c for c in ("text", "kind", "age_hours", "time", "relevance", "source", "score")
                if c in df.columns]
        shown = df[cols].copy()
        if "text" in shown:
            shown["text"] = shown["text"].astype(str).str.slice(0, 70)
        self.table.value = _frame_html(shown, "s3kit-table")
        fig, (ax,) = _base.new_figure(6.0, 0.5 + 0.35 * len(df))
        y = list(range(len(df)))[::-1]
        left = [0.0] * len(df)
        for factor, color in (("time", "#4c9be8"), ("relevance", "#f0a030"),
                              ("source", "#2a8a4a")):
            vals = df[factor].astype(float).tolist()
            ax.barh(y, vals, left=left, color=color, label=factor)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_yticks(y, [f"#{i + 1}" for i in range(len(df))], fontsize=7)
        ax.set_xlabel("influence score")
        ax.legend(fontsize=7, loc="lower right")
        _base.show_figure(self.chart, fig)


class AgentInspector(_Inspector):
    """Pick an agent: profile, state history (emotion, attitude, action per step), and the
    prompt and option probabilities of its last decision (when the simulation records them).

    Args:
        source: a ``ReplayDashboard`` (followed live) or a ``Simulation``.
        user_id: the agent to show first (default: the most recently active).

    Attributes:
        history_: the agent's state history frame on display.
        decision_: the last decision trace (``None`` if not recorded).
    """  # noqa: D205

    css = "s3kit-agent"

    def _build(self) -> None:
        self.profile = widgets.HTML()
        self.profile.add_class("s3kit-agent-profile")
        self.history = widgets.HTML()
        self.history.add_class("s3kit-agent-history")
        self.decision = widgets.HTML()
        self.decision.add_class("s3kit-agent-decision")
        self.history_ = pd.DataFrame()
        self.decision_ = None
        self.children = [widgets.HTML("<b>Agent</b>"),
                         widgets.HBox([self.user, self.refresh_button]), self.profile,
                         self.history, self.decision]

    def _draw(self) -> None:
        sim, user = self.simulation, self.user.value
        if sim is None or user is None:
            self.profile.value = "<i>no simulation yet</i>"
            return
        net = network_of(sim)
        attrs = dict(net.graph.nodes[user])
        attrs = {k: v for k, v in attrs.items() if v is not None and not (
            isinstance(v, float) and pd.isna(v))}
        attrs["followers"] = len(net.graph.pred[user])
        attrs["followees"] = len(net.graph.succ[user])
        if user in net.banned:
            attrs["status"] = "BANNED"
        self.profile.value = "<br>".join(
            f"<b>{_base.escape(k)}</b>: {_base.escape(v)}" for k, v in attrs.items())
        hist = agent_history(sim, user)
        self.history_ = hist
        self.history.value = ("<b>state history</b>" + _frame_html(hist, "s3kit-table")
                              if len(hist) else "<i>no steps yet</i>")
        trace = last_decision(sim, user)
        self.decision_ = trace
        if not trace:
            self.decision.value = "<i>no decision recorded for this agent yet</i>"
            return
        parts = ["<b>last decision</b>"]
        for kind, item in trace.items():
            probs = item.get("probs") or []
            opts = item.get("options") or []
            rows = "".join(f"<tr><td>{_base.escape(o)}</td><td>{float(p):.3f}</td></tr>"
                           for o, p in zip(opts, probs, strict=False))
            parts.append(
                f"<details><summary>{_base.escape(kind)}: <b>"
                f"{_base.escape(item.get('choice', '?'))}</b></summary>"
                f"<table class='s3kit-table'>{rows}</table>"
                f"<pre style='white-space:pre-wrap;font-size:11px'>"
                f"{_base.escape(item.get('prompt', ''))}</pre></details>")
        self.decision.value = "".join(parts)
