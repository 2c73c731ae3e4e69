import numpy as np
import pytest

from s3kit.embeddings import CharNgramEmbedder, Embedder, HashingEmbedder, get_embedder
from s3kit.text import has_cjk


def test_hashing_embedder_normalised_deterministic_and_cached(tmp_path):
    e = HashingEmbedder(dim=64, cache_dir=tmp_path)
    v = e.embed(["rumour about the election", "rumour about the election", ""])
    assert v.shape == (3, 64) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:2], axis=1), 1.0)
    assert np.allclose(v[2], 0.0)             # empty text -> zero vector (relevance 0)
    assert e.n_encoded == 2                   # duplicate encoded once
    e.embed(["rumour about the election"])
    assert e.n_encoded == 2                   # cache hit
    again = HashingEmbedder(dim=64, cache_dir=tmp_path)   # on-disk cache reloads
    assert np.allclose(again.embed(["rumour about the election"]), v[0])
    assert again.n_encoded == 0


def test_char_ngram_fallback_groups_chinese_by_content():
    e = CharNgramEmbedder()
    a, b, c = e.embed(["支持开放二胎政策", "开放二胎我支持", "今天的天气真好"])
    assert a @ b > a @ c + 0.1
    assert has_cjk("开放二胎") and not has_cjk("open")
    assert isinstance(get_embedder("zh"), CharNgramEmbedder)


@pytest.mark.llm
def test_minilm_embedder_is_semantic():
    e = Embedder()
    v = e.embed(["The cat sat on the mat.", "A kitten is sitting on a rug.",
                 "Stock markets fell sharply today."])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
