"""Classical baselines on the same data as the agents (docs/evaluation.md).

* Spread on the follow graph: :class:`IndependentCascade` and :class:`LinearThreshold`, with
  parameters fitted by maximum likelihood on observed cascades, Monte-Carlo replicates and
  per-step cumulative adopter curves.
* Spread as a curve: :class:`LogisticGrowth` and :class:`HawkesProcess` (exponential kernel),
  fitted on the early part of one cascade and extrapolated.
* Trends: :class:`SIRTrend` (share of emotional posts as the infected share of a mean-field SIR)
  and :class:`VoterModel` (noisy voter model for the share of positive attitudes).
* Text labels: :class:`TextBaseline` (TF-IDF + logistic regression).

One family per module: :mod:`~s3kit.baselines.graph` (with the graph convention and steps),
:mod:`~s3kit.baselines.curves`, :mod:`~s3kit.baselines.trends`, :mod:`~s3kit.baselines.text`;
every public name is importable from ``s3kit.baselines``.
"""

from .curves import HawkesProcess, LogisticGrowth
from .graph import IndependentCascade, LinearThreshold, cascade_steps, exposure_matrix
from .text import TextBaseline
from .trends import SIRTrend, VoterModel

__all__ = [
    "exposure_matrix",
    "cascade_steps",
    "IndependentCascade",
    "LinearThreshold",
    "LogisticGrowth",
    "HawkesProcess",
    "SIRTrend",
    "VoterModel",
    "TextBaseline",
]
