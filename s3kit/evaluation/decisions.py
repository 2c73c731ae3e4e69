"""The agents' answers on benchmark items: prompts, answer-word probabilities, tuned heads.

A benchmark item (a row of a :class:`~s3kit.evaluation.tasks.Task`) becomes the context of an
agent of the simulation (:func:`item_contexts`, an :class:`~s3kit.agent.AgentContext` per
item) and :func:`build_prompts` asks :func:`s3kit.agent.decision_prompt` for its prompt, the
one the simulation's agents send; :func:`predict_labels` reads the answer-word probabilities
with one batched ``llm.score`` call. :func:`content_prompts`
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

from ..agent import AgentContext, decision_prompt, message, reader_context, writing_prompt
from ..llm import adapter_path, load_llm
from ..prompts import DEMOGRAPHICS_SYSTEM, gender_prompt, system_prompt
from ..prompts import options as answer_options
from ..tuning import fit_label_adapter
from ..vocabulary import LABELS
from .sizes import BenchSizes
from .tasks import Task, balanced_sample

__all__ = ["item_contexts", "build_prompts", "predict_labels", "answer_language", "content_prompts",
           "prefix_tuned_probs", "topic_line"]

# How the attitude_change prompt names the stance of the message replied to.
_STANCE_WORDS = {"support": "supports the claim", "deny": "denies the claim",
                 "query": "questions the claim", "comment": "comments on the claim"}


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


def _language(items: pd.DataFrame) -> str:
    return str(items["language"].iloc[0]) if len(items) and "language" in items else "en"


def item_contexts(task: str, items: pd.DataFrame) -> tuple[list[AgentContext], str]:
    """The agent's context for each of a task's items, and the decision it is asked.

    Every agent is a reader who has just become aware (:func:`s3kit.agent.reader_context`):
    ``emotion`` -> the post as the agent's own; ``attitude`` -> the post as its own, about the
    topic; ``attitude_change`` -> the message replied to (its stance written in front of it)
    from a followee, then the agent's own reply; ``repost`` -> one received item per exposing
    followee (mutual ones first), the user's activity as bio and ``@name`` as name, in English.

    Returns:
        ``(contexts, decision)`` with ``decision`` in ``emotion``, ``attitude``, ``action``.
    """
    lang = _language(items)
    if task == "emotion":
        return [reader_context([message(t, "own")], language=lang)
                for t in items["text"]], "emotion"
    if task == "attitude":
        return [reader_context([message(t, "own")], topic=topic_line(tp), language=lang)
                for t, tp in zip(items["text"], items["topic"], strict=True)], "attitude"
    if task == "attitude_change":
        out = []
        for text, ctx, pst, topic in zip(items["text"], items["context"],
                                         items["parent_stance"], items["topic"], strict=True):
            marker = _STANCE_WORDS.get(str(pst), str(pst))
            received = [message(f"[this post {marker}] {ctx}", "followee"),
                        message(text, "own")]
            out.append(reader_context(received, topic=topic_line(topic), language=lang))
        return out, "attitude"
    if task == "repost":
        out = []
        for row in items.itertuples(index=False):
            bio = (f"shared {row.history} posts in the past weeks; follows {row.n_followees} "
                   f"accounts; {row.n_followers} followers")
            mutual = int(row.mutual_exposures)
            received = [message("shared a post (its text is not available)",
                                "mutual" if j < mutual else "followee")
                        for j in range(max(1, int(row.n_exposures)))]
            profile = {"bio": bio}
            if _str(getattr(row, "name", None)):
                profile["name"] = "@" + str(row.name)
            out.append(reader_context(received, profile=profile, language="en"))
        return out, "action"
    raise ValueError(f"no agent context for task {task!r}")


def build_prompts(task: str, items: pd.DataFrame) -> tuple[list[str], str, str]:
    """Prompts of the agents for a task's items, the question asked and the system line.

    The decision tasks' prompts are :func:`s3kit.agent.decision_prompt` of
    :func:`item_contexts` (what the simulation's agents send); ``gender`` -> the demographic
    prompt (bio + post).

    Returns:
        ``(prompts, question, system)`` where ``question`` names the answer-word set in
        :data:`s3kit.prompts.OPTIONS` (``emotion``, ``attitude``, ``action`` or ``gender``).
    """
    lang = _language(items)
    if task == "gender":
        out = []
        for bio, text in zip(items["bio"], items["text"], strict=True):
            posts = [_str(text)] if _str(text) else []
            out.append(gender_prompt(_str(bio), posts, language=lang))
        return out, "gender", DEMOGRAPHICS_SYSTEM[lang]
    contexts, question = item_contexts(task, items)
    if question == "action":
        lang = "en"
    return [decision_prompt(question, c) for c in contexts], question, system_prompt(lang)


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

    The agent shares the parent post (:func:`s3kit.agent.writing_prompt`, ``mode="share"``,
    as a replay's calibrated agents write their repost comments).

    Returns:
        ``(prompts, system)`` in the items' language.
    """
    lang = str(items["language"].iloc[0])
    prompts = [writing_prompt(reader_context([message(c, "followee")], topic=topic_line(tp),
                                             language=lang), "share")
               for c, tp in zip(items["context"], items["topic"], strict=True)]
    return prompts, system_prompt(lang)


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
