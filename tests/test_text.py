"""The one language rule (s3kit.text.detect_language) and the call sites that use it."""

from __future__ import annotations

from s3kit.baselines import TextBaseline
from s3kit.prompts import resolve_language
from s3kit.text import detect_language, has_cjk


def test_share_of_characters_decides():
    assert detect_language("开放二胎") == "zh" and detect_language("open") == "en"
    assert detect_language([]) == "en" and detect_language([None, "", "  "]) == "en"
    # one Chinese tweet among English ones does not make the set Chinese
    assert detect_language(["the policy is out today"] * 5 + ["开放"]) == "en"
    # empty reposts of a Weibo cascade do not make it English
    assert detect_language(["求扩散，今天上午被人拐走了"] + [""] * 50) == "zh"
    assert has_cjk("a 字") and not has_cjk(None)


def test_call_sites_use_the_same_rule():
    texts = ["the policy is out today"] * 5 + ["开放"]
    assert resolve_language("auto", texts) == detect_language(texts) == "en"
    zh = ["今天天气很好", "我们去公园散步吧", "好的"] * 4
    assert TextBaseline().fit(zh, ["a", "b", "a"] * 4).analyzer_ == "char_wb"
    assert TextBaseline().fit(texts, ["a", "b"] * 3).analyzer_ == "word"
