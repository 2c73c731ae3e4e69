"""Interactive panels (ipywidgets) for notebooks and Voila apps.

* :class:`ReplayDashboard`: start / pause / step / reset a replay, parameters as sliders, live
  spread / emotion / attitude curves and a network view of who is active.
* :class:`MemoryInspector`: a user's memory pool with the per-factor breakdown
  (``MemoryPool.explain()``).
* :class:`AgentInspector`: an agent's profile, state history and last decision.
* :class:`InterventionPanel`: inject a debunking post, ban a user or switch the recommender,
  and compare the run against its baseline.

Each panel takes a ``simulation_factory(config) -> Simulation`` (default:
:func:`build_simulation`) so tests and classrooms can use the deterministic ``"fake"`` backend.
Importing this package needs ``ipywidgets`` (the ``notebooks`` extra); ``import s3kit`` does not
import it.
"""

from ._sim import build_simulation
from .dashboard import ReplayDashboard
from .inspectors import AgentInspector, MemoryInspector
from .interventions import InterventionPanel

__all__ = ["AgentInspector", "InterventionPanel", "MemoryInspector", "ReplayDashboard",
           "build_simulation"]
