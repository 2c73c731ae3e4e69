"""Text utilities (core layer): the one language detector, and a repost chain's words.

Every "is this Chinese?" question in s3kit goes through :func:`detect_language`: a prompt's
content, a network's posts, a benchmark task's texts, a set of users, a classifier's training
texts. One rule for all of them: ``"zh"`` when at least 20% of the non-space characters are
CJK ideographs. A share of characters (not "any text with a CJK character") keeps one
Japanese or Chinese tweet in an English corpus from turning the corpus Chinese; unlike a share
of texts, it is not fooled by the empty reposts of a Weibo cascade, and it lets a short Chinese
topic decide a prompt whose other fields are codes like ``"female"``. (20%: the lowest share in
the first 50 posts of a CED event is 22%, Weibo posts that quote English or list links; the
English datasets have none.) :func:`post_words` is what models read of a post.

Examples:
    >>> detect_language(["开放二胎", "hello"])
    'zh'
    >>> detect_language(["the policy is out", "so is this one", "開放"])
    'en'
    >>> has_cjk("hello"), has_cjk("开放二胎")
    (False, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

__all__ = ["has_cjk", "detect_language", "post_words", "CJK_SHARE", "DETECT_LIMIT"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

#: Share of CJK ideographs among the non-space characters from which texts count as Chinese.
CJK_SHARE = 0.2
#: How many texts :func:`detect_language` reads at most (the first ones).
DETECT_LIMIT = 500


def has_cjk(text: str | None) -> bool:
    """Whether ``text`` contains CJK ideographs.

    Examples:
        >>> has_cjk("hello"), has_cjk("开放二胎")
        (False, True)
    """
    return bool(_CJK.search(text or ""))


def detect_language(texts: str | Iterable[str | None], *, limit: int = DETECT_LIMIT) -> str:
    """``"zh"`` if at least :data:`CJK_SHARE` of the characters are CJK ideographs, else ``"en"``.

    Args:
        texts: one text or several (``None`` and non-strings are skipped); the first ``limit``
            texts are read.
        limit: how many texts to read at most.

    Returns:
        ``"zh"`` or ``"en"`` (``"en"`` when there is no text).
    """
    if isinstance(texts, str):
        texts = [texts]
    kept: list[str] = []
    for t in texts:
        if isinstance(t, str):
            kept.append(t)
            if len(kept) >= limit:
                break
    joined = "".join(kept)
    n_chars = sum(not c.isspace() for c in joined)
    if not n_chars:
        return "en"
    return "zh" if len(_CJK.findall(joined)) / n_chars >= CJK_SHARE else "en"


_REPOST_MARK = re.compile(r"//@[^:：\s]{1,40}[:：]")


def post_words(text) -> str:
    """A post's words without the ``//@user:`` marks of a repost chain (what models read).

    A repost without a comment then reads exactly as the post it shares, so its vectors (the
    decision heads', the memory pools') are the ones already computed, cached by content,
    instead of a new pass per reposter; the heads were trained on posts without such marks.

    Examples:
        >>> post_words("so true //@ann: it rains")
        'so true it rains'
        >>> post_words(" //@bob: //@ann: it rains") == post_words("it rains")
        True
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return " ".join(_REPOST_MARK.sub(" ", str(text)).split())
