"""The embedded backend: a small instruct model run in-process with transformers.

Every call renders the model's chat template as three token pieces::

    [adapter virtual tokens][system prefix]  [prompt + end of user turn + open assistant turn]
     computed once per system, kept as KV     batched, left-padded        [answer tokens]

The shared prefix (PEFT virtual tokens + system turn) is run once and its key/value cache is
broadcast over each batch. Beyond it, ``score`` and ``generate`` start each prompt from the
longest token prefix whose key/values a previous call left in the prefix cache
(:class:`~s3kit.llm.kvcache.PrefixKVCache`): the three decisions and the post of one agent
share its persona, memory and posts read, which are then computed once.

Bodies are left-padded; positions are passed explicitly (``prefix_len + cumsum(mask) - 1``)
so a prompt gets the same positions, hence (in fp32) the same probabilities to ~1e-6, alone
or inside any batch (or after a cached head). Prefix-tuning, prompt-tuning and
P-tuning adapters are applied by computing their virtual tokens into that prefix, at the same
positions PEFT uses in training (real tokens start at ``num_virtual_tokens``); LoRA acts
inside the layers.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import BackendError
from .base import CallStats, cut_at_stop, normalise_log_scores
from .cache import CachedBackend, ResponseCache, open_cache
from .kvcache import PrefixKVCache
from .models import DEFAULT_MODEL, MODELS, adapter_path, load_base_model, release_heap

__all__ = ["EmbeddedLLM"]

_SENTINEL = "\x00S3KIT_PROMPT\x00"


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.suffix in (".json", ".safetensors", ".bin")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class EmbeddedLLM(CachedBackend):
    """A local causal LM behind the ``LLM`` protocol (see ``load_llm``).

    Args:
        model: registry name (``s3kit.llm.models.MODELS``) or a folder holding a Hugging Face
            causal LM.
        adapter: name of a PEFT adapter under ``adapter_path(name)``, or a folder.
        cache: response cache: ``True`` (default file), a path, a ``ResponseCache`` or
            ``False``.
        batch_size: prompts per forward pass (``generate``: up to four times as many, as
            long as they hold at most ``512 * batch_size`` tokens).
        dtype: ``"auto"``, ``"float32"`` or ``"bfloat16"`` (see ``resolve_dtype``).
        seed: default seed for sampled generation.
        prefix_cache_mb: memory bound of the prefix key/value cache (0: off).

    Attributes:
        backend: ``"embedded"``.
        model: the model name (str).
        adapter: the adapter name or ``None``.
        stats: ``CallStats`` counters.
        hf_model: the transformers module (the PEFT model when an adapter is loaded).
        tokenizer: its tokenizer (left padding, s3kit's chat template).
        prefix_cache: the :class:`~s3kit.llm.kvcache.PrefixKVCache` (``clear()`` it to make
            the next calls independent of the previous ones).

    Examples:
        >>> from s3kit.llm import load_llm
        >>> llm = load_llm("embedded", dtype="float32")  # doctest: +SKIP
        >>> llm.score(["Are you a bot?"], ["yes", "no"]).shape  # doctest: +SKIP
        (1, 2)
    """

    backend = "embedded"

    def __init__(self, model: str = DEFAULT_MODEL, *, adapter: str | None = None,
                 cache=True, batch_size: int = 16, dtype: str = "auto", seed: int = 0,
                 prefix_cache_mb: int = 1024):
        self.model = str(model)
        self.adapter = adapter
        self.batch_size = int(batch_size)
        self.dtype = dtype
        self.seed = seed
        self.stats = CallStats()
        self._cache: ResponseCache | None = open_cache(cache)
        self.hf_model = None
        self.tokenizer = None
        self._net = None
        self._prefixes: OrderedDict = OrderedDict()
        self.prefix_cache = PrefixKVCache(int(prefix_cache_mb) << 20)
        self._timing = {"score": [0, 0.0], "generate": [0, 0.0]}
        self._adapter_id = None
        self._dtype_name = None

    # ------------------------------------------------------------------ loading
    def load(self) -> EmbeddedLLM:
        """Load the weights (converting the GGUF on first use) and the adapter; returns self."""
        if self._net is not None:
            return self
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        net, tokenizer = load_base_model(self.model, self.dtype)
        self._attach(net, tokenizer)
        if self.adapter is not None:
            from peft import PeftModel

            folder = Path(self.adapter).expanduser()
            if not (folder.is_dir() and (folder / "adapter_config.json").exists()):
                folder = adapter_path(self.adapter)
            if not (folder / "adapter_config.json").exists():
                raise BackendError(
                    f"adapter {self.adapter!r} not found: expected a PEFT adapter saved with "
                    f"save_pretrained in {folder}")
            peft_model = PeftModel.from_pretrained(net, str(folder), is_trainable=False)
            peft_model.eval()
            self._attach(peft_model, tokenizer)
            self._adapter_id = f"{self.adapter}@{_fingerprint(folder)}"
        return self

    @classmethod
    def from_model(cls, hf_model, tokenizer, *, name: str = "custom", cache=False,
                   batch_size: int = 16, seed: int = 0) -> EmbeddedLLM:
        """Wrap an in-memory model (e.g. a ``PeftModel`` being trained) in the protocol.

        Args:
            hf_model: a transformers causal LM or a PEFT model around one.
            tokenizer: its tokenizer (a chat template is required).
            name: model name used in cache keys and reports.
            cache: response cache (off by default: in-memory weights change while training).
            batch_size: prompts per forward pass.
            seed: default sampling seed.
        """
        llm = cls(name, cache=cache, batch_size=batch_size, seed=seed)
        llm._attach(hf_model, tokenizer)
        if hasattr(hf_model, "peft_config"):
            llm.adapter = "in-memory"
            llm._adapter_id = f"in-memory@{id(hf_model)}"
        return llm

    def _attach(self, hf_model, tokenizer) -> None:
        import torch

        self.hf_model = hf_model
        self.tokenizer = tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._peft = hf_model if hasattr(hf_model, "peft_config") else None
        self._net = self._peft.get_base_model() if self._peft is not None else hf_model
        self._dtype_name = str(next(self._net.parameters()).dtype).replace("torch.", "")
        self._prefixes.clear()
        self.prefix_cache.clear()
        self._torch = torch
        spec = MODELS.get(self.model)
        self._default_system = spec.default_system if spec else None
        eos = {tokenizer.eos_token_id}
        if spec is not None:
            eos.add(tokenizer.convert_tokens_to_ids(spec.end_of_turn))
        for tok in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>"):
            tid = tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != tokenizer.unk_token_id:
                eos.add(tid)
        self._eos = {int(t) for t in eos if t is not None and t >= 0}

    def ensure_loaded(self) -> None:
        """Load the weights unless they are loaded (a no-op afterwards)."""
        if self._net is None:
            self.load()

    @property
    def base_model(self):
        """The transformers model under the adapter, if any (``None`` until loaded)."""
        return self._net

    @property
    def eos_token_ids(self) -> frozenset[int]:
        """Token ids that end a generated answer (end of text, end of turn); set once loaded."""
        return frozenset(self._eos)

    @property
    def loaded_dtype(self) -> str | None:
        """The dtype of the loaded weights (e.g. ``"bfloat16"``; ``None`` until loaded)."""
        return self._dtype_name

    def __repr__(self) -> str:
        """Name, adapter and dtype."""
        return (f"EmbeddedLLM(model={self.model!r}, adapter={self.adapter!r}, "
                f"dtype={self._dtype_name or self.dtype!r}, batch_size={self.batch_size})")

    # ------------------------------------------------------------------ templates
    def prompt_template(self, system: str | None) -> tuple[str, str]:
        """(prefix text, suffix text) around the user prompt, assistant turn open.

        ``prefix + prompt + suffix`` is what the model reads for ``prompt`` under ``system``
        (``None``: the default system turn); the tuning code trains on the same wrapping.
        """
        system = self._default_system if system is None else system
        tok = self.tokenizer
        if tok.chat_template:
            messages = [{"role": "user", "content": _SENTINEL}]
            if system:
                messages.insert(0, {"role": "system", "content": system})
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            prefix, _, suffix = text.partition(_SENTINEL)
            return prefix, suffix
        return (f"{system}\n\n" if system else ""), "\n"

    def token_ids(self, text: str) -> list[int]:
        """The tokenizer's ids for ``text``, without special tokens (load the model first)."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _prefix(self, system: str | None):
        """KV cache of [virtual tokens][system prefix], computed once per system text."""
        key = system
        if key in self._prefixes:
            self._prefixes.move_to_end(key)
            return self._prefixes[key]
        torch = self._torch
        prefix_text, suffix_text = self.prompt_template(system)
        ids = self.token_ids(prefix_text)
        n_virtual = 0
        past = None
        embeds = None
        if self._peft is not None:
            cfg = self._peft.active_peft_config
            if cfg.is_prompt_learning:
                n_virtual = int(cfg.num_virtual_tokens)
                virtual = self._peft.get_prompt(batch_size=1, max_cache_len=n_virtual + len(ids))
                if cfg.peft_type in ("PREFIX_TUNING",) or str(cfg.peft_type).endswith(
                        "PREFIX_TUNING"):
                    past = virtual
                else:
                    embeds = virtual.to(next(self._net.parameters()).dtype)
        layers = None
        if ids or embeds is not None:
            input_ids = torch.tensor([ids], dtype=torch.long)
            start = n_virtual if past is not None else 0
            kwargs = {}
            if embeds is not None:
                tok_embeds = self._net.get_input_embeddings()(input_ids)
                kwargs["inputs_embeds"] = torch.cat([embeds, tok_embeds], dim=1)
            else:
                kwargs["input_ids"] = input_ids
            total = n_virtual + len(ids)
            out = self._net(
                **kwargs, past_key_values=past, use_cache=True,
                attention_mask=torch.ones(1, total, dtype=torch.long),
                position_ids=torch.arange(start, total).unsqueeze(0), logits_to_keep=1)
            self.stats.calls += 1
            layers = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        elif past is not None:
            layers = [(layer.keys, layer.values) for layer in past.layers]
        state = {"layers": layers, "length": n_virtual + len(ids),
                 "n_prefix_tokens": len(ids), "suffix": suffix_text}
        self._prefixes[key] = state
        while len(self._prefixes) > 8:
            self._prefixes.popitem(last=False)
        return state

    def _expanded_cache(self, state, batch: int):
        from transformers import DynamicCache

        if state["layers"] is None:
            return None
        data = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1))
                for k, v in state["layers"]]
        return DynamicCache(ddp_cache_data=data, config=self._net.config)

    # ------------------------------------------------------------------ forward pieces
    @staticmethod
    def _kv_key(system):
        """Prefix-cache key of the bodies that follow ``system`` (``None`` is its own key)."""
        return ("system", system)

    def _reuse(self, kv_key, bodies: dict) -> dict:
        """Longest cached prefix of each body: ``{i: (n, kv)}`` (at least one token left)."""
        return {i: self.prefix_cache.match(kv_key, b[:-1]) for i, b in bodies.items()}

    def _forward_bodies(self, state, bodies: list[list[int]], keep: int, found=None,
                        store=None):
        """Run left-padded bodies after the shared prefix -> (logits, cache, mask, last_pos).

        ``found`` gives each body's cached prefix (:meth:`_reuse`); the bodies start after
        it. With ``store`` (the :meth:`_kv_key` given to :meth:`_reuse`), the bodies that
        reused nothing are stored in the prefix cache under it.
        """
        torch = self._torch
        batch = len(bodies)
        plen = state["length"]
        found = found or [(0, None)] * batch
        news = [b[n:] for b, (n, _) in zip(bodies, found, strict=True)]
        held = max(n for n, _ in found)
        width = max(len(b) for b in news)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((batch, width), pad, dtype=torch.long)
        body_mask = torch.zeros((batch, width), dtype=torch.long)
        held_mask = torch.zeros((batch, held), dtype=torch.long)
        for i, body in enumerate(news):
            input_ids[i, width - len(body):] = torch.tensor(body, dtype=torch.long)
            body_mask[i, width - len(body):] = 1
            held_mask[i, held - found[i][0]:] = 1
        mask = torch.cat([torch.ones(batch, plen, dtype=torch.long), held_mask, body_mask], dim=1)
        start = torch.tensor([plen + n for n, _ in found], dtype=torch.long).unsqueeze(1)
        positions = torch.maximum(start + body_mask.cumsum(-1) - 1, start)
        past = self._expanded_cache(state, batch) if held == 0 else self._held_cache(
            state, found, held)
        out = self._net(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                        past_key_values=past, use_cache=True, logits_to_keep=keep)
        self.stats.calls += 1
        self.stats.reused_tokens += sum(n for n, _ in found)
        if store is not None and self.prefix_cache.max_bytes:
            layers = out.past_key_values.layers
            for i, (n, _) in enumerate(found):
                if n == 0 and len(bodies[i]) >= self.prefix_cache.min_tokens:
                    size = len(bodies[i])
                    kv = torch.stack([torch.stack([layer.keys[i, :, -size:],
                                                   layer.values[i, :, -size:]])
                                      for layer in layers])
                    self.prefix_cache.put(store, bodies[i], kv)
        return out.logits, out.past_key_values, mask, positions[:, -1]

    def _held_cache(self, state, found, held: int):
        """Batch cache of [shared prefix][left-padded cached body prefixes]."""
        from transformers import DynamicCache

        torch = self._torch
        sample = next(kv for n, kv in found if n)
        shape = sample.shape  # layers, 2, heads, n, head dim
        batch = len(found)
        ctx = torch.zeros((batch, shape[0], 2, shape[2], held, shape[4]), dtype=sample.dtype)
        for i, (n, kv) in enumerate(found):
            if n:
                ctx[i, :, :, :, held - n:] = kv
        data = []
        for layer in range(shape[0]):
            k, v = ctx[:, layer, 0], ctx[:, layer, 1]
            if state["layers"] is not None:
                pk, pv = state["layers"][layer]
                k = torch.cat([pk.expand(batch, -1, -1, -1), k], dim=2)
                v = torch.cat([pv.expand(batch, -1, -1, -1), v], dim=2)
            data.append((k.contiguous(), v.contiguous()))
        return DynamicCache(ddp_cache_data=data, config=self._net.config)

    def _step(self, cache, mask, last_pos, tokens):
        """Feed ``tokens`` (batch, t) after the cache; returns (logits, mask, last_pos)."""
        torch = self._torch
        batch, t = tokens.shape
        mask = torch.cat([mask, torch.ones(batch, t, dtype=torch.long)], dim=1)
        positions = last_pos.unsqueeze(1) + torch.arange(1, t + 1).unsqueeze(0)
        out = self._net(input_ids=tokens, attention_mask=mask, position_ids=positions,
                        past_key_values=cache, use_cache=True)
        self.stats.calls += 1
        return out.logits, mask, positions[:, -1]

    # ------------------------------------------------------------------ cache helpers
    def _key_identity(self) -> dict:
        return {"adapter": self._adapter_id, "dtype": self._dtype_name}

    @staticmethod
    def _new_lengths(lengths: list[int], found: dict) -> list[int]:
        return [n - found[i][0] if i in found else n for i, n in enumerate(lengths)]

    def _order(self, todo: list[int], lengths: list[int], size: int | None = None,
               max_tokens: int | None = None):
        """Batches of ``todo``, longest first, ``size`` rows (and ``max_tokens`` padded)."""
        size = size or self.batch_size
        order = sorted(todo, key=lambda i: -lengths[i])
        chunk: list[int] = []
        for i in order:
            if chunk and (len(chunk) == size or max_tokens and
                          (len(chunk) + 1) * lengths[chunk[0]] > max_tokens):
                yield chunk
                chunk = []
            chunk.append(i)
        if chunk:
            yield chunk

    # ------------------------------------------------------------------ public API
    def score(self, prompts: Sequence[str], options: Sequence[str], *,
              system: str | None = None) -> np.ndarray:
        """Probability of each option as the assistant's whole answer.

        Multi-token options are scored by the sum of their token log-probabilities (then a
        softmax over the options). One forward pass per batch reads the first option token;
        each multi-token option adds one short pass over its remaining tokens on top of the
        batch's KV cache.

        Args:
            prompts: user messages.
            options: candidate answers (distinct, non-empty).
            system: shared instruction (its KV cache is computed once). ``None`` uses the
                model's default system line.

        Returns:
            Array (n_prompts, n_options); rows sum to 1.
        """
        prompts, options, result, keys, todo = self._cached_scores(prompts, options, system)
        if todo:
            torch = self._torch
            t0 = time.perf_counter()
            state = self._prefix(system)
            opt_ids = [self.token_ids(o) for o in options]
            bodies = {i: self.token_ids(prompts[i] + state["suffix"]) for i in todo}
            lengths = [len(bodies.get(i, ())) for i in range(len(prompts))]
            kv_key = self._kv_key(system)
            found = self._reuse(kv_key, bodies)
            fresh = {}
            multi = any(len(ids) > 1 for ids in opt_ids)
            with torch.inference_mode():
                for chunk in self._order(todo, self._new_lengths(lengths, found)):
                    logits, cache, mask, last = self._forward_bodies(
                        state, [bodies[i] for i in chunk], keep=1,
                        found=[found[i] for i in chunk], store=kv_key)
                    logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
                    lp = torch.stack([logp[:, ids[0]] for ids in opt_ids], dim=1)
                    if multi:
                        for j, ids in enumerate(opt_ids):
                            if len(ids) == 1:
                                continue
                            rest = torch.tensor([ids[:-1]] * len(chunk), dtype=torch.long)
                            step_logits, _, _ = self._step(cache, mask, last, rest)
                            step_logp = torch.log_softmax(step_logits.float(), dim=-1)
                            targets = torch.tensor(ids[1:], dtype=torch.long)
                            lp[:, j] += step_logp[:, torch.arange(len(ids) - 1), targets].sum(-1)
                            cache.crop(-(len(ids) - 1))
                    probs = normalise_log_scores(lp.double().numpy())
                    for row, i in enumerate(chunk):
                        result[i] = probs[row]
                        fresh[keys[i]] = probs[row].tolist()
            n_prefix = state["n_prefix_tokens"]
            self.stats.prompts += len(todo)
            self.stats.prompt_tokens += sum(n_prefix + lengths[i] for i in todo)
            self.stats.completion_tokens += len(todo)
            elapsed = time.perf_counter() - t0
            self.stats.seconds += elapsed
            self._timing["score"][0] += len(todo)
            self._timing["score"][1] += elapsed
            self._store(fresh)
        return result

    def generate(self, prompts: Sequence[str], *, system: str | None = None,
                 max_new_tokens: int = 40, temperature: float = 0.0,
                 seed: int | None = None, stop: Sequence[str] = ()) -> list[str]:
        """Generate the assistant's answer to each prompt (batched, shared system prefix).

        Greedy when ``temperature == 0``. With sampling, each prompt draws from its own
        generator seeded by ``(seed, prompt)``, so an answer does not depend on the batch.
        Generation reads the prefix cache (an agent's head that its decisions scored before)
        but does not fill it: a writing prompt is asked once, and storing hundreds of them
        per replay step cost memory and copies for no reuse.

        Args:
            prompts: user messages.
            system: shared instruction (``None``: the model's default system line).
            max_new_tokens: length cap.
            temperature: sampling temperature (0 = greedy).
            seed: sampling seed (default: the backend's ``seed``).
            stop: strings the answer ends before; a row stops generating when its text
                holds one (so a one-line comment costs its line, not the length cap).

        Returns:
            One string per prompt (stripped, without the end-of-turn token).
        """
        prompts, result, keys, todo, seed = self._cached_generations(
            prompts, system, max_new_tokens, temperature, seed, stop)
        if todo and max_new_tokens > 0:
            torch = self._torch
            t0 = time.perf_counter()
            state = self._prefix(system)
            bodies = {i: self.token_ids(prompts[i] + state["suffix"]) for i in todo}
            lengths = [len(bodies.get(i, ())) for i in range(len(prompts))]
            kv_key = self._kv_key(system)
            found = self._reuse(kv_key, bodies)
            fresh = {}
            n_generated = 0
            with torch.inference_mode():
                # decoding reads every weight once per token for all rows of a batch: more
                # rows per pass pay (256 comments: 32.7 s at 16 rows, 22.7 s at 64), as many
                # as fit the tokens of batch_size 512-token prompts (the key/values' memory)
                for chunk in self._order(todo, self._new_lengths(lengths, found),
                                         4 * self.batch_size, 512 * self.batch_size):
                    gens = None
                    if temperature > 0:
                        gens = []
                        for i in chunk:
                            h = hashlib.sha256(f"{seed}\x00{prompts[i]}".encode()).digest()
                            gens.append(torch.Generator().manual_seed(
                                int.from_bytes(h[:8], "little") & (2**63 - 1)))
                    logits, cache, mask, last = self._forward_bodies(
                        state, [bodies[i] for i in chunk], keep=1,
                        found=[found[i] for i in chunk], store=None)
                    out_tokens = [[] for _ in chunk]
                    active = list(range(len(chunk)))  # rows still generating
                    for _ in range(int(max_new_tokens)):
                        act_gens = [gens[r] for r in active] if gens is not None else None
                        nxt = self._choose(logits[:, -1].float(), temperature, act_gens)
                        keep = []
                        for pos, tok in enumerate(nxt.tolist()):
                            if tok not in self._eos:
                                out_tokens[active[pos]].append(tok)
                                if not (stop and self._stopped(out_tokens[active[pos]], stop)):
                                    keep.append(pos)
                        if not keep:
                            break
                        if len(keep) < len(active):  # drop finished rows from the batch
                            sel = torch.tensor(keep, dtype=torch.long)
                            cache.batch_select_indices(sel)
                            mask, last, nxt = mask[sel], last[sel], nxt[sel]
                            active = [active[pos] for pos in keep]
                        logits, mask, last = self._step(cache, mask, last, nxt.unsqueeze(1))
                    for row, i in enumerate(chunk):
                        text = self.tokenizer.decode(out_tokens[row], skip_special_tokens=True)
                        result[i] = cut_at_stop(text.lstrip(), stop)[0].strip()
                        fresh[keys[i]] = result[i]
                        n_generated += len(out_tokens[row])
            self.stats.prompts += len(todo)
            self.stats.prompt_tokens += sum(state["n_prefix_tokens"] + lengths[i] for i in todo)
            self.stats.completion_tokens += n_generated
            elapsed = time.perf_counter() - t0
            self.stats.seconds += elapsed
            self._timing["generate"][0] += n_generated
            self._timing["generate"][1] += elapsed
            self._store(fresh)
        return [r if r is not None else "" for r in result]

    def _stopped(self, tokens: list[int], stop: Sequence[str]) -> bool:
        """Whether the text of ``tokens`` holds a stop string (checked in its last 64 tokens)."""
        text = self.tokenizer.decode(tokens[-64:], skip_special_tokens=True)
        return cut_at_stop(text.lstrip(), stop)[1]  # answers are stripped: lead is not a stop

    def _choose(self, logits, temperature: float, gens):
        torch = self._torch
        if temperature <= 0:
            return logits.argmax(-1)
        probs = torch.softmax(logits / temperature, dim=-1)
        return torch.stack([torch.multinomial(probs[r], 1, generator=g)[0]
                            for r, g in enumerate(gens)])

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str], *,
                system: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Log-probability of each continuation as the assistant's answer to its prompt.

        Args:
            prompts: user messages.
            continuations: answer texts, one per prompt.
            system: shared instruction (``None``: the model's default system line).

        Returns:
            ``(summed log-prob, number of tokens)`` arrays; perplexity = ``exp(-sum / n)``.
        """
        prompts, continuations, sums, counts, keys, found = self._cached_logprobs(
            prompts, continuations, system)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            torch = self._torch
            t0 = time.perf_counter()
            state = self._prefix(system)
            conts = {i: self.token_ids(continuations[i]) for i in todo}
            bodies = {i: self.token_ids(prompts[i] + state["suffix"]) + conts[i] for i in todo}
            lengths = [len(bodies.get(i, ())) for i in range(len(prompts))]
            fresh = {}
            # rows of similar reply length, at most 1,024 scored positions (the logits are
            # rows x positions x vocabulary) and 256 x batch_size tokens (key/values of long
            # Chinese prompts) per pass: 120 CED content items took 894 MB over the model at
            # 2,048 positions and 431 MB so; scoring is a benchmark's pass, memory matters
            # more than rows per pass
            scored = [len(conts[i]) + 1 if i in conts else 0 for i in range(len(prompts))]
            passes = [part for group in self._order(todo, scored, max_tokens=1024)
                      for part in self._order(group, lengths, max_tokens=256 * self.batch_size)]
            with torch.inference_mode():
                for chunk in passes:
                    keep = max(len(conts[i]) for i in chunk) + 1
                    logits, _, _, _ = self._forward_bodies(
                        state, [bodies[i] for i in chunk], keep=keep)
                    for row, i in enumerate(chunk):
                        c = len(conts[i])
                        if c:  # one row's positions in float at a time
                            logp = torch.log_softmax(
                                logits[row, keep - c - 1:keep - 1].float(), dim=-1)
                            tgt = torch.tensor(conts[i], dtype=torch.long)
                            sums[i] = float(logp[torch.arange(c), tgt].double().sum())
                        counts[i] = c
                        fresh[keys[i]] = [sums[i], int(c)]
            self.stats.prompts += len(todo)
            self.stats.prompt_tokens += sum(
                state["n_prefix_tokens"] + lengths[i] - len(conts[i]) for i in todo)
            self.stats.completion_tokens += sum(len(conts[i]) for i in todo)
            self.stats.seconds += time.perf_counter() - t0
            self._store(fresh)
        return sums, counts

    # ------------------------------------------------------------------ representations
    def layer_info(self) -> dict:
        """``{"n_layers", "hidden_size", "dtype"}`` of the loaded network (loads it)."""
        self.ensure_loaded()
        config = self._net.config
        return {"n_layers": int(config.num_hidden_layers),
                "hidden_size": int(config.hidden_size), "dtype": self._dtype_name}

    def hidden_states(self, texts: Sequence[str], layers: Sequence[int],
                      max_tokens: int = 96) -> np.ndarray:
        """What the model makes of each raw text: one forward pass, no template, no question.

        The masked mean over tokens of the hidden states of each layer in ``layers`` (0 is
        the embeddings, ``n_layers`` the last), concatenated: ``(n, len(layers) *
        hidden_size)`` float32. Texts are truncated to ``max_tokens``; an empty text reads as
        one space. The adapter, if any, is part of the pass. Read by
        :class:`s3kit.embeddings.LLMStateEmbedder`.
        """
        self.ensure_loaded()
        torch = self._torch
        texts = [t or " " for t in texts]
        if not texts:
            return np.zeros((0, len(layers) * self.layer_info()["hidden_size"]), np.float32)
        t0 = time.perf_counter()
        batch = self.tokenizer(texts, add_special_tokens=False, padding=True, truncation=True,
                               max_length=int(max_tokens), return_tensors="pt")
        # positions count real tokens only, so a text reads the same in any batch
        positions = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.hf_model(input_ids=batch["input_ids"],
                                attention_mask=batch["attention_mask"],
                                position_ids=positions, output_hidden_states=True,
                                logits_to_keep=1)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = [(out.hidden_states[i].float() * mask).sum(1) / mask.sum(1).clamp(min=1)
                  for i in layers]
        self.stats.calls += 1
        self.stats.prompt_tokens += int(batch["attention_mask"].sum())
        self.stats.seconds += time.perf_counter() - t0
        return torch.cat(pooled, dim=1).numpy().astype(np.float32, copy=False)

    def reset_prefix_cache(self) -> None:
        """Forget the prefix key/values, so later answers do not depend on earlier calls.

        Their memory goes back to the system (:func:`~s3kit.llm.models.release_heap`).
        """
        self.prefix_cache.clear()
        release_heap()

    def throughput(self) -> dict:
        """Rates measured on this backend so far (used by ``estimate``)."""
        rates = {}
        n, secs = self._timing["score"]
        if n and secs > 0:
            rates["score_prompts_per_s"] = n / secs
        n, secs = self._timing["generate"]
        if n and secs > 0:
            rates["generate_tokens_per_s"] = n / secs
        return rates

