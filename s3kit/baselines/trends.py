"""Trends: :class:`SIRTrend` and :class:`VoterModel`.

:class:`SIRTrend` reads the share of emotional posts as the infected share of a mean-field SIR;
:class:`VoterModel` is a noisy voter model for the share of positive attitudes.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np
import pandas as pd

from .graph import exposure_matrix

__all__ = ["SIRTrend", "VoterModel"]


# ----------------------------------------------------------------------------- trends


class SIRTrend:
    """Mean-field SIR curve for the share of emotional (``"infected"``) posts per step.

    Discrete time: ``s_{t+1} = s_t - beta s_t i_t``, ``i_{t+1} = i_t + beta s_t i_t -
    gamma i_t``, with ``s_0 = 1 - i0``. The observed share at step ``t`` is modelled as
    ``i_t``; ``beta``, ``gamma``, ``i0`` are fitted by bounded least squares.

    Attributes:
        beta_, gamma_, i0_: fitted parameters.

    Examples:
        >>> truth = SIRTrend()._curve(0.8, 0.2, 0.05, np.arange(30))
        >>> m = SIRTrend().fit(np.arange(30), truth)
        >>> round(m.beta_, 2), round(m.gamma_, 2), round(m.i0_, 3)
        (0.8, 0.2, 0.05)
    """

    def __init__(self):
        pass

    @staticmethod
    def _curve(beta, gamma, i0, steps) -> np.ndarray:
        steps = np.asarray(steps)
        n = int(steps.max()) + 1 if len(steps) else 1
        s, i = 1.0 - i0, i0
        out = np.empty(n)
        for k in range(n):
            out[k] = i
            new = beta * s * i
            s, i = s - new, i + new - gamma * i
        return out[steps.astype(int)]

    def fit(self, steps, share) -> SIRTrend:
        """Fit to a share per integer step (NaN steps ignored).

        Args:
            steps: integer steps (``>= 0``).
            share: observed share (0..1) at each step.

        Returns:
            ``self``.
        """
        from scipy.optimize import least_squares

        steps = np.asarray(steps, dtype=int)
        y = np.asarray(share, dtype=float)
        keep = ~np.isnan(y)
        steps, y = steps[keep], y[keep]
        if len(y) < 3:
            raise ValueError("need at least 3 observed steps to fit SIRTrend")
        best = None
        for b0, g0 in ((0.5, 0.1), (1.5, 0.5), (0.2, 0.02)):
            i0 = float(np.clip(y[0], 1e-4, 0.99))
            res = least_squares(lambda x: self._curve(x[0], x[1], x[2], steps) - y,
                                [b0, g0, i0], bounds=([0, 0, 1e-6], [5, 1, 1]))
            if best is None or res.cost < best.cost:
                best = res
        self.beta_, self.gamma_, self.i0_ = (float(v) for v in best.x)
        return self

    def predict(self, steps) -> np.ndarray:
        """Share predicted at integer ``steps``."""
        if not hasattr(self, "beta_"):
            raise RuntimeError("SIRTrend is not fitted")
        return self._curve(self.beta_, self.gamma_, self.i0_, np.asarray(steps, dtype=int))


class VoterModel:
    """Noisy voter model for the share of users holding a positive attitude.

    Each step every user, with probability ``noise``, re-draws its attitude (positive with
    probability ``target``), else copies the attitude of a random user it is exposed to
    (a followee with ``direction="follows"``; a random member of the population without a
    graph). Users exposed to nobody keep their attitude. In mean field the expected share
    relaxes geometrically, ``x_t = target + (x_0 - target)(1 - noise)^t``; :meth:`fit`
    estimates ``noise`` and ``target`` from an observed share trend by least squares on that
    curve, and :meth:`simulate` runs the agent model on the graph.

    Args:
        noise: re-draw probability per step (``None``: fitted).
        target: long-run share (``None``: fitted).
        direction: exposure convention (module docstring).
        n_agents: population size without a graph.
        n_replicates: Monte-Carlo replicates.
        seed: master seed.

    Attributes:
        noise_, target_, x0_: fitted parameters and initial share.

    Examples:
        >>> vm = VoterModel(n_agents=2000, n_replicates=4, seed=0)
        >>> vm = vm.fit([0.2, 0.35, 0.4625, 0.546875])
        >>> round(vm.target_, 2), round(vm.noise_, 2)
        (0.8, 0.25)
        >>> round(float(vm.simulate(3)["share"].iloc[-1]), 1)
        0.5
    """

    def __init__(self, noise: float | None = None, target: float | None = None,
                 direction: str | Callable = "follows", n_agents: int = 1000,
                 n_replicates: int = 20, seed: int | None = None):
        self.noise = noise
        self.target = target
        self.direction = direction
        self.n_agents = n_agents
        self.n_replicates = n_replicates
        self.seed = seed

    def fit(self, share, steps=None, graph: nx.DiGraph | None = None) -> VoterModel:
        """Fit ``noise``/``target`` to a share trend and set the population.

        Args:
            share: observed share of positive attitudes per step (NaN allowed).
            steps: integer steps of ``share`` (default ``0, 1, ...``); the first is ``x_0``.
            graph: follow graph to run on (default: a well-mixed population of ``n_agents``).

        Returns:
            ``self``.
        """
        from scipy.optimize import least_squares

        y = np.asarray(share, dtype=float)
        steps = np.arange(len(y)) if steps is None else np.asarray(steps, dtype=float)
        keep = ~np.isnan(y)
        y, steps = y[keep], steps[keep] - steps[keep].min()
        if len(y) == 0:
            raise ValueError("no observed share to fit")
        self.x0_ = float(y[0])
        free = [self.noise is None, self.target is None]

        def unpack(x):
            it = iter(x)
            nz = next(it) if free[0] else float(self.noise)
            tg = next(it) if free[1] else float(self.target)
            return nz, tg

        def resid(x):
            nz, tg = unpack(x)
            return tg + (self.x0_ - tg) * (1 - nz) ** steps - y

        x0 = [0.1] * free[0] + [float(y[-1])] * free[1]
        if any(free) and len(y) >= 2:
            res = least_squares(resid, x0, bounds=([0] * sum(free), [1] * sum(free)))
            self.noise_, self.target_ = (float(v) for v in unpack(res.x))
        else:
            self.noise_ = float(self.noise) if self.noise is not None else 0.0
            self.target_ = float(self.target) if self.target is not None else self.x0_
        if graph is not None:
            m, nodes = exposure_matrix(graph, self.direction)
            self.sources_ = m.T.tocsr()  # row v: the users v is exposed to
            self.nodes_ = nodes
        else:
            self.sources_ = None
            self.nodes_ = None
        return self

    def simulate(self, n_steps: int, initial_share: float | None = None,
                 n_replicates: int | None = None, seed=None) -> pd.DataFrame:
        """Mean share of positive attitudes per step over replicates.

        Args:
            n_steps: last step (curve covers ``0..n_steps``).
            initial_share: share at step 0 (default: the fitted ``x0_``).
            n_replicates: replicates (default ``self.n_replicates``).
            seed: master seed (default ``self.seed``).

        Returns:
            DataFrame ``step, share, std``.
        """
        if not hasattr(self, "noise_"):
            raise RuntimeError("VoterModel is not fitted")
        x0 = self.x0_ if initial_share is None else float(initial_share)
        n_rep = int(self.n_replicates if n_replicates is None else n_replicates)
        n = len(self.nodes_) if self.sources_ is not None else int(self.n_agents)
        children = np.random.SeedSequence(self.seed if seed is None else seed).spawn(n_rep)
        curves = np.empty((n_rep, n_steps + 1))
        if self.sources_ is not None:
            indptr = self.sources_.indptr
            deg = np.diff(indptr)
            has = deg > 0
        for r in range(n_rep):
            rng = np.random.default_rng(children[r])
            op = rng.random(n) < x0
            curves[r, 0] = op.mean()
            for t in range(1, n_steps + 1):
                if self.sources_ is None:
                    new = op[rng.integers(0, n, size=n)]
                else:
                    new = op.copy()
                    pick = indptr[:-1][has] + (rng.random(int(has.sum())) * deg[has]).astype(int)
                    new[has] = op[self.sources_.indices[pick]]
                redraw = rng.random(n) < self.noise_
                new[redraw] = rng.random(int(redraw.sum())) < self.target_
                op = new
                curves[r, t] = op.mean()
        return pd.DataFrame({"step": np.arange(n_steps + 1), "share": curves.mean(axis=0),
                             "std": curves.std(axis=0)})
