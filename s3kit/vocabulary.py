"""The S3 label sets, defined once (core layer: imports nothing from s3kit).

Every other module imports these names from here. The order of each tuple is part of its
meaning: agent state arrays store indices into :data:`EMOTIONS` and :data:`ATTITUDES`,
memory pools store indices into :data:`SOURCE_KINDS`, and the answer words of
:data:`s3kit.prompts.OPTIONS` are aligned with :data:`LABELS`.

Examples:
    >>> EMOTIONS.index("intense")
    2
    >>> LABELS["action"]
    ('repost', 'post', 'nothing')
    >>> "reply" in POST_KINDS
    True
"""

from __future__ import annotations

__all__ = [
    "EMOTIONS", "ATTITUDES", "ACTIONS", "REPOST_LABELS", "GENDERS", "AGE_BRACKETS",
    "OCCUPATIONS", "LABELS", "SOURCE_KINDS", "POST_KINDS", "INTERVENTION_KINDS",
]

#: An agent's emotion intensity (S3's three levels).
EMOTIONS = ("calm", "moderate", "intense")
#: An agent's attitude towards the event (binary; ``None`` in state means not yet formed).
ATTITUDES = ("negative", "positive")
#: What an agent does in a step.
ACTIONS = ("repost", "post", "nothing")
#: The binary repost decision (labels of the ``repost`` task and of the action head).
REPOST_LABELS = ("nothing", "repost")
#: User demographics S3 infers from a profile.
GENDERS = ("male", "female")
AGE_BRACKETS = ("<20", "20-29", "30-39", "40-49", "50+")
#: The 10 occupation categories of S3 (label -> description).
OCCUPATIONS = {
    "education": "education",
    "administration": "administrative / manager / officer",
    "student": "unemployed / student",
    "engineer": "engineer",
    "worker": "labour technician / worker",
    "logistics": "logistics",
    "medical": "medical",
    "financial": "financial",
    "media": "media",
    "arts": "entertainment / arts",
}

#: Decision / inference task -> its label set.
LABELS = {
    "emotion": EMOTIONS,
    "attitude": ATTITUDES,
    "action": ACTIONS,
    "gender": GENDERS,
    "age": AGE_BRACKETS,
    "occupation": tuple(OCCUPATIONS),
}

#: Where a message in an agent's memory came from (the source-authenticity factor).
SOURCE_KINDS = ("mutual", "followee", "recommended", "own")
#: What a post is: a new post, a repost (share) of its parent, or a reply to it.
POST_KINDS = ("original", "repost", "reply")
#: What an intervention does (``Simulation.intervene``, scenario ``interventions``).
INTERVENTION_KINDS = ("inject_post", "remove_post", "ban_user", "set_recommender")
