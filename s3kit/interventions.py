"""Interventions (S3 section 5.4): typed, checked when the config loads, applied between steps.

One frozen dataclass per kind of :data:`~s3kit.vocabulary.INTERVENTION_KINDS`:
:class:`InjectPost`, :class:`RemovePost`, :class:`BanUser`, :class:`SetRecommender`. A
scenario's ``interventions`` entries (``{"step": 3, "kind": "ban_user", "user": ...}``) stay
plain mappings in :class:`~s3kit.config.ReplayConfig` (YAML, manifests), and the config checks
each with :func:`intervention_from_config` when it loads: an unknown kind, a missing or an
unknown parameter is a :class:`~s3kit.errors.ConfigError` then, not in the middle of a run.
:meth:`s3kit.simulation.Simulation.intervene` applies one by hand.

Examples:
    >>> intervention_from_config({"step": 2, "kind": "ban_user", "user": "most_followed"})
    BanUser(user='most_followed')
    >>> make_intervention("ban_user", {"usr": "u1"})
    Traceback (most recent call last):
    ...
    s3kit.errors.ConfigError: intervention 'ban_user' needs parameter 'user'
    >>> make_intervention("mute_planet", {})
    Traceback (most recent call last):
    ...
    s3kit.errors.ConfigError: unknown intervention kind 'mute_planet'; use one of ('inject_post', 'remove_post', 'ban_user', 'set_recommender')
"""  # noqa: E501

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .environment import SocialNetwork
from .errors import ConfigError
from .population import Population
from .recommenders import make_recommender
from .vocabulary import INTERVENTION_KINDS

__all__ = ["InjectPost", "RemovePost", "BanUser", "SetRecommender", "Intervention",
           "make_intervention", "intervention_from_config", "scheduled", "event_root",
           "SIMULATED_EVENT"]


class _SimulatedEvent:
    """The default ``event_id`` of an injected post: the event the simulation follows."""

    def __repr__(self) -> str:
        return "SIMULATED_EVENT"


#: ``InjectPost.event_id`` default: the simulated event (``None`` means no event).
SIMULATED_EVENT: Any = _SimulatedEvent()


@dataclass(frozen=True)
class InjectPost:
    """Publish a post now and push it to the author's followers (new input this step).

    Attributes:
        user: a user id, ``"most_followed"`` or ``"source"`` (the event's first author).
        text: the post's text.
        event_id: its event (default: the simulated event; ``None``: no event).
        labels: extra columns of the post (``emotion=``, ``stance=``): any other parameter.
    """

    kind: ClassVar[str] = "inject_post"
    user: Any
    text: Any
    event_id: Any = SIMULATED_EVENT
    labels: dict = field(default_factory=dict)

    def apply(self, network: SocialNetwork, population: Population, event: str | None,
              adopters: set[str]) -> str:
        """Publish the post; returns its id (its author adopts when it is in ``event``)."""
        user = _user_ref(network, self.user, event)
        ev = event if self.event_id is SIMULATED_EVENT else self.event_id
        pid = network.add_post(user, str(self.text), kind="original", event_id=ev,
                               **self.labels)
        if ev is not None and ev == event:
            adopters.add(user)
        population.push(network, pid)
        return pid


@dataclass(frozen=True)
class RemovePost:
    """Remove a post (``"root"``: the event's first post) from every feed and unread inbox.

    Memories keep what was read.
    """

    kind: ClassVar[str] = "remove_post"
    post_id: Any

    def apply(self, network: SocialNetwork, population: Population, event: str | None,
              adopters: set[str]) -> str:
        """Remove the post; returns its id."""
        pid = self.post_id
        if pid == "root":
            pid = event_root(network, event)
        if pid is None or not network.has_post(pid):
            raise ConfigError(f"remove_post: unknown post {pid!r}")
        network.remove_post(pid)
        for box in population.inbox:
            if pid in box:
                box[:] = [p for p in box if p != pid]
        return pid


@dataclass(frozen=True)
class BanUser:
    """Ban a user: they stop deciding, cannot post, and their posts leave feeds and inboxes."""

    kind: ClassVar[str] = "ban_user"
    user: Any

    def apply(self, network: SocialNetwork, population: Population, event: str | None,
              adopters: set[str]) -> str:
        """Ban the user; returns their id."""
        user = _user_ref(network, self.user, event)
        network.ban_user(user)
        for box in population.inbox:
            if box:
                box[:] = [p for p in box if network.author(p) != user]
        return user


@dataclass(frozen=True)
class SetRecommender:
    """Replace the platform's recommender: ``"none"``, ``"popular"``, ``"random"`` or a callable."""

    kind: ClassVar[str] = "set_recommender"
    recommender: str | Callable | None

    def __post_init__(self):
        try:
            make_recommender(self.recommender)
        except ValueError as exc:
            raise ConfigError(f"intervention 'set_recommender': {exc}") from None

    def apply(self, network: SocialNetwork, population: Population, event: str | None,
              adopters: set[str]) -> Any:
        """Set the recommender; returns it as given."""
        network.set_recommender(self.recommender)
        return self.recommender


Intervention = InjectPost | RemovePost | BanUser | SetRecommender
_BY_KIND: dict[str, type] = {cls.kind: cls for cls in
                             (InjectPost, RemovePost, BanUser, SetRecommender)}


def make_intervention(kind: str, params: Mapping[str, Any]) -> Intervention:
    """The typed intervention of ``kind`` with ``params`` (as ``Simulation.intervene`` takes).

    Raises:
        ConfigError: unknown kind, missing parameter, or a parameter the kind does not take
            (``inject_post`` takes any other parameter as a label of the post).
    """
    cls = _BY_KIND.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(f"unknown intervention kind {kind!r}; use one of "
                          f"{INTERVENTION_KINDS}")
    names = [f.name for f in dataclasses.fields(cls) if f.name != "labels"]
    for f in dataclasses.fields(cls):
        if (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                and f.name not in params):
            raise ConfigError(f"intervention {kind!r} needs parameter {f.name!r}")
    extra = {k: v for k, v in params.items() if k not in names}
    if cls is InjectPost:
        return InjectPost(**{k: v for k, v in params.items() if k in names}, labels=extra)
    if extra:
        raise ConfigError(f"intervention {kind!r} takes {', '.join(map(repr, names))}, not "
                          f"{', '.join(map(repr, extra))}")
    return cls(**params)


def intervention_from_config(item: Mapping[str, Any]) -> Intervention:
    """The typed intervention of a config entry ``{"step": ..., "kind": ..., **params}``."""
    return make_intervention(item["kind"], {k: v for k, v in item.items()
                                            if k not in ("step", "kind")})


def scheduled(items: list[Mapping[str, Any]], step: int) -> list[Intervention]:
    """The interventions of config entries ``items`` due at ``step``, in their order."""
    return [intervention_from_config(item) for item in items if int(item["step"]) == step]


def event_root(network: SocialNetwork, event_id: str | None) -> str | None:
    """The first post of the event (or of the network when ``event_id`` is None)."""
    posts = network.event_posts(event_id, visible_only=False)
    return posts[0] if posts else None


def _user_ref(network: SocialNetwork, ref: Any, event_id: str | None) -> str:
    """Resolve ``most_followed`` / ``source`` / a user id."""
    if ref == "most_followed":
        g = network.graph
        return max(g.nodes, key=lambda u: (len(g.pred[u]), str(u)))
    if ref == "source":
        post = event_root(network, event_id)
        if post is None:
            raise ConfigError("intervention user 'source' needs an event with posts")
        return network.post(post)["user_id"]
    ref = str(ref)
    if ref not in network:
        raise ConfigError(f"intervention refers to unknown user {ref!r}")
    return ref
