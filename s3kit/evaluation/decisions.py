"""The agents' answers on benchmark items: prompts, answer-word probabilities, tuned heads.

A benchmark item (a row of a :class:`~s3kit.evaluation.tasks.Task`) becomes the prompt an agent
of the simulation would read: :func:`build_prompts` fills the templates of
:mod:`s3kit.prompts` (the ones the simulation's agents use) and :func:`predict_labels` reads
the answer-word probabilities with one batched ``llm.score`` call. :func:`content_prompts`
asks for the post an agent would write (the ``content`` task), and :func:`prefix_tuned_probs`
prefix-tunes the answer-word head on the train items (``s3kit bench --tune``).

Examples:
    >>> import pandas as pd
    >>> from s3kit.llm import FakeLLM
    >>> items = pd.DataFrame({"text": ["so happy today"], "language": ["en"]})
    >>> prompts, question, system = build_prompts("emotion", items)
    >>> question, len(prompts)
    ('emotion', 1)
    >>> predict_labels(FakeLLM(seed=0), "emotion", items, ["calm", "moderate", "intense"]).shape
    (1, 3)
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..llm import adapter_path, load_llm
from ..prompts import (
    DEMOGRAPHICS_SYSTEM,
    SYSTEM,
    action_prompt,
    attitude_prompt,
    emotion_prompt,
    gender_prompt,
    post_prompt,
)
from ..prompts import options as answer_options
from ..tuning import fit_label_adapter
from ..vocabulary import LABELS
from .sizes import BenchSizes
from .tasks import Task, balanced_sample

__all__ = ["build_prompts", "predict_labels", "answer_language", "content_prompts",
           "prefix_tuned_probs", "topic_line"]

# How the attitude_change prompt names the stance of the message replied to.
_STANCE_WORDS = {"support": "supports the claim", "deny": "denies the claim",
                 "query": "questions the claim", "comment": "comments on the claim"}


def _received(text, source: str = "own") -> list[dict]:
    """One item of an agent's context: the text and where it came from (a source kind)."""
    return [{"text": "" if text is None or (isinstance(text, float) and math.isnan(text))
             else str(text), "kind": source}]


def _str(x) -> str | None:
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return None
    return str(x)


def topic_line(topic) -> str | None:
    """The topic as a prompt shows it: one line, at most 160 characters (``None``: no topic).

    Examples:
        >>> topic_line("  climate   change ")
        'climate change'
    """
    t = _str(topic)
    if t is None:
        return None
    t = " ".join(t.split())
    if len(t) > 160:
        t = t[:159] + "…"
    return t


def build_prompts(task: str, items: pd.DataFrame) -> tuple[list[str], str, str]:
    """Prompts of the agents for a task's items, the question asked and the system line.

    The prompts come from :mod:`s3kit.prompts` (the same templates the simulation's agents
    use): ``emotion`` -> emotion prompt with the post as the agent's own; ``attitude`` ->
    attitude prompt about the topic; ``attitude_change`` -> attitude prompt after reading the
    message replied to (its stance written in front of it) and the agent's own reply;
    ``repost`` -> action prompt with one received item per exposing followee and the user's
    activity as bio; ``gender`` -> the demographic prompt (bio + post).

    Returns:
        ``(prompts, question, system)`` where ``question`` names the answer-word set in
        :data:`s3kit.prompts.OPTIONS` (``emotion``, ``attitude``, ``action`` or ``gender``).
    """
    lang = str(items["language"].iloc[0]) if len(items) and "language" in items else "en"
    out = []
    if task == "emotion":
        for text in items["text"]:
            out.append(emotion_prompt(None, "calm", None, None, None, _received(text),
                                      language=lang))
        return out, "emotion", SYSTEM[lang]
    if task == "attitude":
        for text, topic in zip(items["text"], items["topic"], strict=True):
            out.append(attitude_prompt(None, "calm", None, topic_line(topic), None,
                                       _received(text), language=lang))
        return out, "attitude", SYSTEM[lang]
    if task == "attitude_change":
        for text, ctx, pst, topic in zip(items["text"], items["context"],
                                         items["parent_stance"], items["topic"], strict=True):
            marker = _STANCE_WORDS.get(str(pst), str(pst))
            received = [{"text": f"[this post {marker}] {ctx}", "kind": "followee"},
                        {"text": str(text), "kind": "own"}]
            out.append(attitude_prompt(None, "calm", None, topic_line(topic), None,
                                       received, language=lang))
        return out, "attitude", SYSTEM[lang]
    if task == "repost":
        for row in items.itertuples(index=False):
            bio = (f"shared {row.history} posts in the past weeks; follows {row.n_followees} "
                   f"accounts; {row.n_followers} followers")
            k = max(1, int(row.n_exposures))
            mutual = int(row.mutual_exposures)
            received = [{"text": "shared a post (its text is not available)",
                         "kind": "mutual" if j < mutual else "followee"} for j in range(k)]
            profile = {"bio": bio}
            if _str(getattr(row, "name", None)):
                profile["name"] = "@" + str(row.name)
            out.append(action_prompt(profile, "calm", None, None, None, received,
                                     language="en"))
        return out, "action", SYSTEM["en"]
    if task == "gender":
        for bio, text in zip(items["bio"], items["text"], strict=True):
            posts = [_str(text)] if _str(text) else []
            out.append(gender_prompt(_str(bio), posts, language=lang))
        return out, "gender", DEMOGRAPHICS_SYSTEM[lang]
    raise ValueError(f"no agent prompt for task {task!r}")


def answer_language(question: str, items: pd.DataFrame) -> str:
    """Language of the answer words (action prompts are English in every dataset)."""
    if question == "action" or "language" not in items:
        return "en"
    return str(items["language"].iloc[0])


def predict_labels(llm, task: str, items: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    """Agents' probabilities over ``labels`` for each item (one batched ``llm.score`` call).

    Args:
        llm: an ``s3kit.llm`` backend.
        task: ``emotion``, ``attitude``, ``attitude_change``, ``repost`` or ``gender``.
        items: the task's items (see :mod:`s3kit.evaluation.tasks`).
        labels: the task's label order.

    Returns:
        Array ``(n, len(labels))`` of probabilities (rows sum to 1). For ``repost`` the action
        set is (repost, post, nothing): ``repost`` keeps its probability and ``nothing`` gets
        the rest.
    """
    if len(items) == 0:
        return np.zeros((0, len(labels)))
    prompts, question, system = build_prompts(task, items)
    opts = answer_options(question, answer_language(question, items))
    names = LABELS[question]
    probs = np.asarray(llm.score(prompts, list(opts), system=system), dtype=float)
    if task == "repost":
        rep = probs[:, names.index("repost")]
        return np.column_stack([1.0 - rep, rep])
    cols = [names.index(lab) for lab in labels]
    sub = probs[:, cols]
    return sub / sub.sum(axis=1, keepdims=True)


def content_prompts(items: pd.DataFrame) -> tuple[list[str], str]:
    """Prompts asking an agent to share each item's parent post with its own words.

    Returns:
        ``(prompts, system)`` in the items' language.
    """
    lang = str(items["language"].iloc[0])
    prompts = [post_prompt(None, "calm", None, topic_line(tp), None,
                           [{"text": str(c), "kind": "followee"}], language=lang,
                           mode="repost")
               for c, tp in zip(items["context"], items["topic"], strict=True)]
    return prompts, SYSTEM[lang]


def prefix_tuned_probs(task: Task, llm, sizes: BenchSizes, seed: int, progress: bool):
    """Prefix-tune (P-Tuning v2) the agents' head for ``task`` and score the eval items.

    Trains on the task's train items; returns ``(probs, method)``, or ``None`` when the train
    side is too small. The adapter is saved as ``bench-<task>-<dataset>-<digest>`` (digest
    of the training prompts, labels and hyper-parameters) and reused when it already exists.
    """
    labels = list(task.labels)
    batch = 8
    train = balanced_sample(task.train, sizes.tune_steps * batch, seed=seed + 2)
    if len(train) < 4 * len(labels) or train["label"].nunique() < len(labels):
        return None
    prompts, question, system = build_prompts(task.name, train)
    lang = answer_language(question, train)
    words, names = answer_options(question, lang), LABELS[question]
    if task.name == "repost":  # binary head: "nothing" vs "repost"
        options = [words[names.index("nothing")], words[names.index("repost")]]
    else:
        options = [words[names.index(lab)] for lab in labels]
    y = train["label"].astype(str).tolist()
    digest = hashlib.sha256("\x00".join(
        [llm.model, system, *options, str(sizes.tune_steps), str(seed), *prompts, *y]
    ).encode()).hexdigest()[:10]
    name = f"bench-{task.name}-{task.dataset}-{digest}"
    reused = (adapter_path(name) / "adapter_config.json").exists()
    if not reused:
        fit_label_adapter(prompts, y, options, classes=labels, system=system, method="prefix",
                          steps=sizes.tune_steps, batch_size=batch, name=name, task=task.name,
                          language=lang, model=llm.model, seed=seed, progress=progress)
    tuned = load_llm("embedded", llm.model, adapter=name, cache=False,
                     dtype=getattr(llm, "dtype", "auto"))
    eval_prompts, _, _ = build_prompts(task.name, task.eval)
    probs = np.asarray(tuned.score(eval_prompts, options, system=system), dtype=float)
    how = "reused" if reused else "trained"
    return probs, (f"PEFT prefix tuning ({sizes.tune_steps} steps x {batch} of {len(train)} "
                   f"train items, adapter {name} {how})")
