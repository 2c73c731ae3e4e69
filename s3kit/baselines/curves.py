"""Spread as a curve: :class:`LogisticGrowth` and :class:`HawkesProcess` (exponential kernel).

Both are fitted on the early part of one cascade and extrapolated.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LogisticGrowth", "HawkesProcess"]


# ----------------------------------------------------------------------------- curve fits


def _cumulative_points(times) -> tuple[np.ndarray, np.ndarray]:
    t = np.sort(np.asarray(times, dtype=float).reshape(-1))
    t = t[~np.isnan(t)]
    if len(t) < 3:
        raise ValueError(f"need at least 3 adoption times to fit a curve, got {len(t)}")
    return t, np.arange(1, len(t) + 1, dtype=float)


class LogisticGrowth:
    """Logistic growth of the cumulative number of adopters, fitted to a cascade's early part.

    ``N(t) = K / (1 + exp(-r (t - t0)))``: final size ``K``, growth rate ``r``, inflection time
    ``t0``. Fitted by least squares (``scipy.optimize.curve_fit``) to the empirical cumulative
    count (``N(t_i) = i`` at the ``i``-th adoption time), with ``K`` bounded between the
    observed count and ``max_growth`` times it.

    Args:
        max_growth: upper bound of ``K`` relative to the observed count.

    Attributes:
        K_, r_, t0_: fitted parameters. n_obs_, t_max_: size and end of the fitted window.

    Examples:
        >>> t = np.linspace(0, 20, 200)
        >>> N = 100 / (1 + np.exp(-0.5 * (t - 8)))
        >>> m = LogisticGrowth().fit_curve(t, N)
        >>> round(m.K_), round(m.r_, 2), round(m.t0_, 1)
        (100, 0.5, 8.0)
    """

    def __init__(self, max_growth: float = 1000.0):
        self.max_growth = max_growth

    @staticmethod
    def _f(t, k, r, t0):
        return k / (1.0 + np.exp(-np.clip(r * (t - t0), -500, 500)))

    def fit(self, times) -> LogisticGrowth:
        """Fit to adoption times (any unit, e.g. hours since the source post).

        Args:
            times: adoption times of the observed (early) part of a cascade.

        Returns:
            ``self``.
        """
        t, n = _cumulative_points(times)
        return self.fit_curve(t, n)

    def fit_curve(self, t, cumulative) -> LogisticGrowth:
        """Fit to a cumulative curve sampled at times ``t``.

        Args:
            t: sample times.
            cumulative: cumulative adopters at ``t``.

        Returns:
            ``self``.
        """
        from scipy.optimize import curve_fit

        t = np.asarray(t, dtype=float)
        y = np.asarray(cumulative, dtype=float)
        n_obs = float(np.nanmax(y))
        span = float(t.max() - t.min()) or 1.0
        lo = [n_obs, 1e-6 / span, t.min() - 10 * span]
        hi = [max(n_obs * self.max_growth, n_obs + 1), 1e3 / span, t.max() + 100 * span]
        best, best_err = None, np.inf
        for kf in (1.05, 2.0, 10.0):
            for rf in (1.0, 10.0):
                p0 = [n_obs * kf, rf / span, t.min() + span * (0.5 if kf < 1.5 else 1.0)]
                p0 = np.clip(p0, np.array(lo) * (1 + 1e-9), np.array(hi) * (1 - 1e-9))
                try:
                    par, _ = curve_fit(self._f, t, y, p0=p0, bounds=(lo, hi), maxfev=20000)
                except RuntimeError:
                    continue
                err = float(np.sum((self._f(t, *par) - y) ** 2))
                if err < best_err:
                    best, best_err = par, err
        if best is None:
            raise RuntimeError("logistic fit did not converge")
        self.K_, self.r_, self.t0_ = (float(v) for v in best)
        self.n_obs_, self.t_max_ = n_obs, float(t.max())
        return self

    def predict(self, grid) -> np.ndarray:
        """Cumulative adopters predicted at the times in ``grid``."""
        if not hasattr(self, "K_"):
            raise RuntimeError("LogisticGrowth is not fitted")
        return self._f(np.asarray(grid, dtype=float), self.K_, self.r_, self.t0_)


class HawkesProcess:
    """Self-exciting (Hawkes) process with exponential kernel, for one cascade's adoption times.

    Intensity ``lambda(t) = mu + alpha * beta * sum_{t_i < t} exp(-beta (t - t_i))``: background
    rate ``mu``, branching ratio ``alpha`` (expected direct offspring per adoption), decay
    ``beta``. Fitted by maximum likelihood on ``[t_1, t_max]`` conditioning on the first event
    (the source post). :meth:`predict` returns the observed count up to ``t_max`` and the
    expected count after it, in closed form from the mean-intensity ODE
    ``dZ/dt = -beta (1 - alpha) Z + alpha beta mu`` of the excitation ``Z``.

    Args:
        max_alpha: upper bound of the branching ratio.

    Attributes:
        mu_, alpha_, beta_: fitted parameters. times_, t_max_: the fitted history.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> m = HawkesProcess().fit(np.sort(rng.uniform(0, 10, 50)))
        >>> round(float(m.predict([10.0])[0]))
        50
    """

    def __init__(self, max_alpha: float = 10.0):
        self.max_alpha = max_alpha

    @staticmethod
    def _loglik(mu, alpha, beta, t, t_max) -> float:
        ll = 0.0
        a = 0.0
        prev = t[0]
        ab = alpha * beta
        for ti in t[1:]:
            a = math.exp(-beta * (ti - prev)) * (1.0 + a)
            prev = ti
            ll += math.log(mu + ab * a)
        comp = mu * (t_max - t[0]) + alpha * float(np.sum(-np.expm1(-beta * (t_max - t))))
        return ll - comp

    def fit(self, times, t_max: float | None = None) -> HawkesProcess:
        """Fit to the adoption times of the observed part of a cascade.

        Args:
            times: adoption times (the first is the source).
            t_max: end of the observation window (default: the last time).

        Returns:
            ``self``.
        """
        from scipy.optimize import minimize

        t, _ = _cumulative_points(times)
        t_max = float(t[-1] if t_max is None else t_max)
        span = max(t_max - t[0], 1e-9)
        n = len(t)

        def negll(x):
            mu, alpha, beta = math.exp(x[0]), math.exp(x[1]), math.exp(x[2])
            if alpha > self.max_alpha:
                return 1e300
            return -self._loglik(mu, alpha, beta, t, t_max)

        best = None
        for a0 in (0.3, 0.9):
            for b0 in (1.0, 10.0):
                x0 = [math.log(max(n * (1 - a0) / span, 1e-6)), math.log(a0),
                      math.log(b0 * n / span / 10)]
                res = minimize(negll, x0, method="Nelder-Mead",
                               options={"xatol": 1e-5, "fatol": 1e-7, "maxiter": 3000})
                if best is None or res.fun < best.fun:
                    best = res
        self.mu_, self.alpha_, self.beta_ = (math.exp(v) for v in best.x)
        self.times_, self.t_max_ = t, t_max
        self.loglik_ = -float(best.fun)
        return self

    def predict(self, grid) -> np.ndarray:
        """Expected cumulative count at the times in ``grid`` (observed count up to ``t_max``)."""
        if not hasattr(self, "mu_"):
            raise RuntimeError("HawkesProcess is not fitted")
        g = np.asarray(grid, dtype=float)
        t, tm = self.times_, self.t_max_
        mu, alpha, beta = self.mu_, self.alpha_, self.beta_
        out = np.searchsorted(t, g, side="right").astype(float)
        after = g > tm
        if after.any():
            x = g[after] - tm
            z_t = alpha * beta * float(np.exp(-beta * (tm - t)).sum())
            c = beta * (1.0 - alpha)
            small = np.abs(c * x) < 1e-8
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                h = np.where(small, x - c * x**2 / 2, -np.expm1(-c * x) / np.where(c, c, 1))
                h2 = np.where(small, x**2 / 2 - c * x**3 / 6, (x - h) / np.where(c, c, 1))
            out[after] = len(t) + mu * x + z_t * h + alpha * beta * mu * h2
        return out

    @property
    def expected_final_size_(self) -> float:
        """Expected final size when subcritical (``alpha < 1``) and ``mu`` is ignored."""
        if self.alpha_ >= 1:
            return float("inf")
        z_t = self.alpha_ * self.beta_ * float(np.exp(-self.beta_ * (self.t_max_ - self.times_))
                                               .sum())
        return len(self.times_) + z_t / (self.beta_ * (1 - self.alpha_))
